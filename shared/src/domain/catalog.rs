//! The one catalog of models: what each accepts, what it costs, and what to tell users about it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Offline procedural images: not an AI model, and says so.
    Local,
    OpenAi,
    /// Stability AI's Stable Image API.
    Stability,
    /// Replicate's predictions API.
    Replicate,
    /// fal's queue API.
    Fal,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 5] = [
        Self::Local,
        Self::OpenAi,
        Self::Stability,
        Self::Replicate,
        Self::Fal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::OpenAi => "openai",
            Self::Stability => "stability",
            Self::Replicate => "replicate",
            Self::Fal => "fal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One vendor that serves a catalog model.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    pub vendor: ProviderKind,
    /// The vendor's own name for the model (Replicate's `owner/name`, a fal app id, ...).
    pub id: &'static str,
    /// What one image costs us there, in thousandths of a dollar: routing prefers the cheaper.
    pub cost_mills: u32,
    /// The optional request parameters (`seed`, `style`) this vendor takes for the model; a
    /// request that sets another is not sent here.
    pub params: &'static [&'static str],
}

const fn route(
    vendor: ProviderKind,
    id: &'static str,
    cost_mills: u32,
    params: &'static [&'static str],
) -> Route {
    Route {
        vendor,
        id,
        cost_mills,
        params,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub const fn new(width: u32, height: u32) -> Self {
        Self { width, height }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let (w, h) = s.split_once('x')?;
        Some(Self::new(w.parse().ok()?, h.parse().ok()?))
    }

    pub fn pixels(self) -> u64 {
        self.width as u64 * self.height as u64
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    pub what_is: &'static str,
    pub use_cases: &'static [&'static str],
    pub tips: &'static [&'static str],
}

#[derive(Debug)]
pub struct Model {
    pub id: &'static str,
    /// The vendors that serve it, in the catalog's order (routing reorders them).
    pub vendors: &'static [Route],
    /// Other names accepted for it (the seeds' model names); answers name `id`.
    pub aliases: &'static [&'static str],
    /// Makes images from a prompt alone (an inpainting model only edits).
    pub generates: bool,
    pub owned_by: &'static str,
    pub sizes: &'static [Size],
    pub default_size: Size,
    /// Accepted `quality` values; the first is the default. `auto` maps to the default.
    pub qualities: &'static [&'static str],
    /// Accepted `style` values; empty when the model has no styles.
    pub styles: &'static [&'static str],
    pub max_n: u8,
    pub max_prompt_chars: usize,
    /// Produces transparent backgrounds itself; otherwise we post-process.
    pub native_transparency: bool,
    /// Accepts `output_format`, `output_compression`, `background`, `moderation` upstream.
    pub gpt_image_params: bool,
    /// Credits per image at the smallest size and default quality.
    pub base_cost: i64,
    /// How many input images an edit takes; 0 when the model cannot edit.
    pub max_edit_images: u8,
    /// Sizes an edit may produce (empty: none).
    pub edit_sizes: &'static [Size],
    pub variations: bool,
    /// Too slow for a request's 29 s: always run as a job (answered 202), `Prefer` or not.
    pub async_only: bool,
    /// Sizes beyond `sizes` the model draws (`WxH` within a rule), if any.
    pub any_size: Option<SizeRule>,
    /// Takes `complexity` (layout planning, apart from rendering quality).
    pub complexity: bool,
    /// Accepted `input_fidelity` values for edits (empty: the parameter is refused).
    pub input_fidelity: &'static [&'static str],
    /// Honours `response_format`; GPT image models always answer base64, as OpenAI's do.
    pub response_format: bool,
    /// Writes animated GIF and SVG output.
    pub gif_and_svg: bool,
    pub info: Info,
}

/// The fields most vendor models share; each model spells out what differs.
const VENDOR_MODEL: Model = Model {
    id: "",
    vendors: &[],
    aliases: &[],
    generates: true,
    owned_by: "",
    sizes: MEGAPIXEL_SIZES,
    default_size: Size::new(1024, 1024),
    qualities: &["medium"],
    styles: &[],
    max_n: 4,
    max_prompt_chars: 10000,
    native_transparency: false,
    gpt_image_params: false,
    base_cost: 1,
    max_edit_images: 0,
    edit_sizes: &[],
    variations: false,
    async_only: false,
    any_size: None,
    complexity: false,
    input_fidelity: &[],
    response_format: true,
    gif_and_svg: false,
    info: Info {
        what_is: "",
        use_cases: &[],
        tips: &[],
    },
};

/// The arbitrary sizes a model accepts: both edges multiples of `multiple` within
/// `min_edge..=max_edge`, at most `max_pixels`, and no more than 3:1 either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRule {
    pub multiple: u32,
    pub min_edge: u32,
    pub max_edge: u32,
    pub max_pixels: u64,
}

impl SizeRule {
    /// Why `size` is outside the rule, if it is.
    pub fn refusal(&self, size: Size) -> Option<String> {
        let (w, h) = (size.width, size.height);
        if w % self.multiple != 0 || h % self.multiple != 0 {
            return Some(format!(
                "width and height must be multiples of {}",
                self.multiple
            ));
        }
        if w.min(h) < self.min_edge || w.max(h) > self.max_edge {
            return Some(format!(
                "each edge must be from {} to {} pixels",
                self.min_edge, self.max_edge
            ));
        }
        if size.pixels() > self.max_pixels {
            return Some(format!("at most {} pixels", self.max_pixels));
        }
        if w.max(h) > 3 * w.min(h) {
            return Some("the aspect ratio must be between 1:3 and 3:1".into());
        }
        None
    }
}

/// A model a vendor no longer serves: asking for it is a 400 that names what to use instead.
pub struct Retired {
    pub id: &'static str,
    pub since: &'static str,
    pub instead: &'static str,
}

pub static RETIRED: &[Retired] = &[
    Retired {
        id: "dall-e-2",
        since: "2026-05-12",
        instead: "gpt-image-1-mini (or local-procedural offline)",
    },
    Retired {
        id: "dall-e-3",
        since: "2026-05-12",
        instead: "gpt-image-2.5-flare",
    },
    Retired {
        id: "gpt-image-1",
        since: "2026-10-23",
        instead: "gpt-image-2.5-sunburst or gpt-image-2.5-flare",
    },
];

pub fn retired(id: &str) -> Option<&'static Retired> {
    RETIRED.iter().find(|r| r.id == id)
}

impl Model {
    /// The model's family: its first vendor (the local renderer, OpenAI, ...).
    pub fn provider(&self) -> ProviderKind {
        self.vendors[0].vendor
    }

    pub fn served_by(&self, vendor: ProviderKind) -> bool {
        self.vendors.iter().any(|r| r.vendor == vendor)
    }

    pub fn default_quality(&self) -> &'static str {
        self.qualities[0]
    }

    /// Credits for one image: larger sizes and premium qualities cost more.
    pub fn cost(&self, size: Size, quality: &str) -> i64 {
        let smallest = self
            .sizes
            .iter()
            .map(|s| s.pixels())
            .min()
            .unwrap_or(1)
            .max(1);
        // One step per doubling of pixels over the smallest size (256² → 1024² is 2 steps).
        let steps = (size.pixels() as f64 / smallest as f64)
            .log2()
            .div_euclid(2.0)
            .max(0.0) as i64;
        let quality_factor = match quality {
            "high" => 2,
            "xhigh" => 3,
            "max" => 4,
            _ => 1,
        };
        self.base_cost * (1 + steps) * quality_factor
    }
}

const SQUARE_AND_WIDE: &[Size] = &[
    Size::new(256, 256),
    Size::new(512, 512),
    Size::new(1024, 1024),
    Size::new(1536, 1024),
    Size::new(1024, 1536),
    Size::new(1792, 1024),
    Size::new(1024, 1792),
];

const GPT_SIZES: &[Size] = &[
    Size::new(1024, 1024),
    Size::new(1536, 1024),
    Size::new(1024, 1536),
];

/// OpenAI's arbitrary resolutions (gpt-image-2 and 2.5): edges divisible by 16, up to
/// 3840x2160, between 1:3 and 3:1.
const GPT_ANY_SIZE: SizeRule = SizeRule {
    multiple: 16,
    min_edge: 256,
    max_edge: 3840,
    max_pixels: 3840 * 2160,
};

const GPT_QUALITIES: &[&str] = &["medium", "low", "high"];
const GPT_QUALITIES_XL: &[&str] = &["medium", "low", "high", "xhigh", "max"];

/// OpenAI serves its own models under their ids (an empty vendor id means the model's own).
const OPENAI: &[Route] = &[route(ProviderKind::OpenAi, "", 0, &[])];

/// One of OpenAI's GPT image models: what differs between them, the rest shared.
const fn gpt_image(
    id: &'static str,
    base_cost: i64,
    any_size: Option<SizeRule>,
    qualities: &'static [&'static str],
    complexity: bool,
    input_fidelity: &'static [&'static str],
    info: Info,
) -> Model {
    Model {
        id,
        vendors: OPENAI,
        aliases: &[],
        generates: true,
        owned_by: "openai",
        sizes: GPT_SIZES,
        default_size: Size::new(1024, 1024),
        qualities,
        styles: &[],
        max_n: 10,
        max_prompt_chars: 32000,
        native_transparency: true,
        gpt_image_params: true,
        base_cost,
        max_edit_images: 16,
        edit_sizes: GPT_SIZES,
        variations: false,
        async_only: false,
        any_size,
        complexity,
        input_fidelity,
        response_format: false,
        gif_and_svg: false,
        info,
    }
}

const MINI: Info = Info {
    what_is: "OpenAI's GPT Image 1 mini: the fastest and least expensive GPT image model.",
    use_cases: &["Drafts and thumbnails", "High-volume generation"],
    tips: &[
        "`quality: low` is fastest",
        "Edits take `input_fidelity: low` only",
    ],
};
const V1_5: Info = Info {
    what_is: "OpenAI's GPT Image 1.5: strong instruction following and text rendering, native \
        transparent backgrounds, faithful edits.",
    use_cases: &[
        "Product shots with transparency",
        "Images containing text",
        "Edits of faces",
    ],
    tips: &["`input_fidelity: high` keeps faces and styles of the inputs in edits"],
};
const V2: Info = Info {
    what_is: "OpenAI's GPT Image 2: any resolution up to 3840x2160, planning apart from rendering.",
    use_cases: &[
        "Banners and odd aspect ratios",
        "Layouts with many elements",
    ],
    tips: &[
        "`size` takes any WIDTHxHEIGHT with edges divisible by 16, between 1:3 and 3:1",
        "`complexity` spends more on planning the layout, apart from `quality`",
    ],
};
const SUNBURST: Info = Info {
    what_is: "OpenAI's GPT Image 2.5 Sunburst: the most detailed GPT image model, with `xhigh` and \
        `max` qualities.",
    use_cases: &["Print-quality illustrations", "Dense scenes and fine text"],
    tips: &["`quality: max` is slowest and costs the most; `high` is usually enough"],
};
const FLARE: Info = Info {
    what_is: "OpenAI's GPT Image 2.5 Flare: GPT Image 2.5 tuned for speed.",
    use_cases: &["Interactive tools", "Quick iterations at any resolution"],
    tips: &["Any WIDTHxHEIGHT with edges divisible by 16 up to 3840x2160"],
};
const V2_6: Info = Info {
    what_is: "OpenAI's GPT Image 2.6 (Sunburst: detail; Flare: speed), in the standard sizes.",
    use_cases: &["General illustration", "Marketing visuals"],
    tips: &["Sizes 1024x1024, 1536x1024 and 1024x1536"],
};
const LATEST: Info = Info {
    what_is: "The image model ChatGPT uses now (OpenAI moves it forward without notice).",
    use_cases: &["Matching what users see in ChatGPT"],
    tips: &["Pin a dated model instead when results must stay stable"],
};

pub static MODELS: &[Model] = &[
    Model {
        id: "local-procedural",
        vendors: &[route(ProviderKind::Local, "local-procedural", 0, &["seed"])],
        aliases: &[],
        generates: true,
        owned_by: "imageapi",
        sizes: SQUARE_AND_WIDE,
        default_size: Size::new(1024, 1024),
        qualities: &["medium", "low", "high"],
        styles: &[],
        max_n: 10,
        max_prompt_chars: 4000,
        native_transparency: false,
        gpt_image_params: false,
        base_cost: 1,
        max_edit_images: 16,
        edit_sizes: SQUARE_AND_WIDE,
        variations: true,
        async_only: false,
        any_size: Some(SizeRule {
            multiple: 1,
            min_edge: 16,
            max_edge: 4096,
            max_pixels: 4096 * 4096,
        }),
        complexity: true,
        input_fidelity: &[],
        response_format: true,
        gif_and_svg: true,
        info: Info {
            what_is: "Not an AI model: an offline, deterministic procedural renderer. The prompt and \
                seed choose palette, shapes and layout, so the same prompt and seed always give the same \
                image and different prompts give visibly different ones. It is the default when no vendor \
                key is configured.",
            use_cases: &[
                "Developing and testing against this API without a vendor account",
                "Placeholders, avatars and deterministic fixtures",
            ],
            tips: &[
                "Send the same prompt with a different `seed` for a different image",
                "`quality` is detail: `low` draws fewer shapes, `high` more, with highlights (costs double)",
                "`complexity` is layout: `low` scatters the shapes, `high` composes them on the thirds",
                "Any WIDTHxHEIGHT from 16 to 4096 pixels a side, between 1:3 and 3:1",
                "`output_format: svg` returns the same scene as vector shapes; `gif` animates it \
                 (`frame_count` 2–16, `frame_duration_ms`)",
                "`background: transparent` removes the white backdrop connected to the border",
                "Edits fill the mask's transparent area by classical inpainting (Telea's fast marching \
                 method), one way only (n=1); k input images make up to k different collages",
                "Variations are seeded crops, mirrors and hue/exposure shifts of the input",
            ],
        },
    },
    gpt_image(
        "gpt-image-1-mini",
        2,
        None,
        GPT_QUALITIES,
        false,
        &["low"],
        MINI,
    ),
    gpt_image(
        "gpt-image-1.5",
        4,
        None,
        GPT_QUALITIES,
        false,
        &["low", "high"],
        V1_5,
    ),
    gpt_image(
        "gpt-image-2",
        5,
        Some(GPT_ANY_SIZE),
        GPT_QUALITIES,
        true,
        &[],
        V2,
    ),
    gpt_image(
        "gpt-image-2-2026-04-21",
        5,
        Some(GPT_ANY_SIZE),
        GPT_QUALITIES,
        true,
        &[],
        V2,
    ),
    gpt_image(
        "gpt-image-2.5-sunburst",
        8,
        Some(GPT_ANY_SIZE),
        GPT_QUALITIES_XL,
        true,
        &[],
        SUNBURST,
    ),
    gpt_image(
        "gpt-image-2.5-sunburst-2026-09-08",
        8,
        Some(GPT_ANY_SIZE),
        GPT_QUALITIES_XL,
        true,
        &[],
        SUNBURST,
    ),
    gpt_image(
        "gpt-image-2.5-flare",
        5,
        Some(GPT_ANY_SIZE),
        GPT_QUALITIES_XL,
        true,
        &[],
        FLARE,
    ),
    gpt_image(
        "gpt-image-2.5-flare-2026-09-08",
        5,
        Some(GPT_ANY_SIZE),
        GPT_QUALITIES_XL,
        true,
        &[],
        FLARE,
    ),
    gpt_image(
        "gpt-image-2.6-sunburst",
        8,
        None,
        GPT_QUALITIES,
        true,
        &[],
        V2_6,
    ),
    gpt_image(
        "gpt-image-2.6-flare",
        5,
        None,
        GPT_QUALITIES,
        true,
        &[],
        V2_6,
    ),
    gpt_image(
        "chatgpt-image-latest",
        5,
        None,
        GPT_QUALITIES,
        true,
        &[],
        LATEST,
    ),
    Model {
        id: "stable-image-core",
        vendors: &[route(ProviderKind::Stability, "core", 30, &["seed"])],
        owned_by: "stability-ai",
        base_cost: 3,
        info: Info {
            what_is: "Stability AI's Stable Image Core: fast, inexpensive text-to-image at about a megapixel.",
            use_cases: &["Drafts and illustrations", "High-volume generation"],
            tips: &[
                "`size` is one of the aspect ratios: 1024x1024, 1344x768, 768x1344, 1216x832, 832x1216, 1152x896, 896x1152, 1536x640, 640x1536",
                "Each image has its own seed (`seed`, then the next): the same seed gives the same images",
            ],
        },
        ..VENDOR_MODEL
    },
    Model {
        id: "sd3.5-large",
        vendors: &[
            route(ProviderKind::Stability, "sd3.5-large", 65, &["seed"]),
            route(
                ProviderKind::Replicate,
                "stability-ai/stable-diffusion-3.5-large",
                65,
                &["seed"],
            ),
        ],
        aliases: &["stable_diffusion"],
        owned_by: "stability-ai",
        base_cost: 7,
        info: Info {
            what_is: "Stability AI's Stable Diffusion 3.5 Large (8 billion parameters): detailed, prompt-faithful images at about a megapixel.",
            use_cases: &[
                "Detailed scenes and typography",
                "Styles from photography to illustration",
            ],
            tips: &[
                "Sizes are aspect ratios at about a megapixel",
                "Served by Stability or Replicate, whichever is configured and up",
            ],
        },
        ..VENDOR_MODEL
    },
    Model {
        id: "stable-image-ultra",
        vendors: &[route(ProviderKind::Stability, "ultra", 80, &["seed"])],
        owned_by: "stability-ai",
        base_cost: 8,
        info: Info {
            what_is: "Stability AI's Stable Image Ultra: its highest-quality text-to-image model.",
            use_cases: &["Print and product imagery", "Photorealism"],
            tips: &[
                "Stability renders at a larger size; the image is resized to the size asked for",
            ],
        },
        ..VENDOR_MODEL
    },
    Model {
        id: "stable-image-inpaint",
        vendors: &[route(ProviderKind::Stability, "inpaint", 30, &["seed"])],
        generates: false,
        owned_by: "stability-ai",
        base_cost: 3,
        max_edit_images: 1,
        any_size: Some(SizeRule {
            multiple: 1,
            min_edge: 64,
            max_edge: 4096,
            max_pixels: 9_437_184,
        }),
        info: Info {
            what_is: "Stability AI's Stable Image Inpaint: fills or replaces the masked part of an \
                image to match the prompt.",
            use_cases: &["Removing or replacing objects", "Fixing part of a picture"],
            tips: &[
                "Edits only: the mask's transparent pixels are repainted (without a mask, the \
                 image's own transparent pixels)",
                "The result keeps the input's size (64 to 4096 pixels a side, at most 9.4 megapixels)",
            ],
        },
        ..VENDOR_MODEL
    },
    Model {
        id: "flux-dev",
        vendors: &[
            route(ProviderKind::Fal, "fal-ai/flux/dev", 25, &["seed"]),
            route(
                ProviderKind::Replicate,
                "black-forest-labs/flux-dev",
                25,
                &["seed"],
            ),
        ],
        aliases: &["flux"],
        owned_by: "black-forest-labs",
        base_cost: 3,
        info: Info {
            what_is: "Black Forest Labs' FLUX.1 [dev]: a 12-billion-parameter open-weights model with \
                strong prompt following and detail.",
            use_cases: &["Illustration and concept art", "Photographic scenes"],
            tips: &[
                "The same prompt and `seed` give the same image at the same vendor",
                "Served by fal or Replicate, whichever is configured and up",
            ],
        },
        ..VENDOR_MODEL
    },
    Model {
        id: "flux-schnell",
        vendors: &[
            route(ProviderKind::Fal, "fal-ai/flux/schnell", 3, &["seed"]),
            route(
                ProviderKind::Replicate,
                "black-forest-labs/flux-schnell",
                3,
                &["seed"],
            ),
        ],
        owned_by: "black-forest-labs",
        base_cost: 1,
        info: Info {
            what_is: "Black Forest Labs' FLUX.1 [schnell]: FLUX distilled to four steps, the fastest \
                and least expensive FLUX.",
            use_cases: &["Drafts and previews", "High-volume generation"],
            tips: &["Fast enough for interactive tools; use flux-dev for more detail"],
        },
        ..VENDOR_MODEL
    },
    Model {
        id: "flux-1.1-pro",
        vendors: &[
            route(ProviderKind::Fal, "fal-ai/flux-pro/v1.1", 40, &["seed"]),
            route(
                ProviderKind::Replicate,
                "black-forest-labs/flux-1.1-pro",
                40,
                &["seed"],
            ),
        ],
        owned_by: "black-forest-labs",
        base_cost: 5,
        info: Info {
            what_is: "Black Forest Labs' FLUX1.1 [pro]: faster and better than FLUX.1 [pro], with \
                excellent image quality and prompt adherence.",
            use_cases: &["Marketing and product visuals", "Photorealism"],
            tips: &["Costs more than flux-dev; worth it for final images"],
        },
        ..VENDOR_MODEL
    },
    Model {
        id: "flux-pro-fill",
        vendors: &[
            route(ProviderKind::Fal, "fal-ai/flux-pro/v1/fill", 50, &["seed"]),
            route(
                ProviderKind::Replicate,
                "black-forest-labs/flux-fill-pro",
                50,
                &["seed"],
            ),
        ],
        aliases: &["flux_pro"],
        generates: false,
        owned_by: "black-forest-labs",
        base_cost: 6,
        max_edit_images: 1,
        any_size: Some(SizeRule {
            multiple: 1,
            min_edge: 256,
            max_edge: 2048,
            max_pixels: 2048 * 2048,
        }),
        info: Info {
            what_is: "Black Forest Labs' FLUX.1 Fill [pro]: inpainting that blends new content into \
                the masked part of an image.",
            use_cases: &[
                "Removing or replacing objects",
                "Extending a picture into a transparent border (outpainting)",
            ],
            tips: &[
                "Edits only (POST /v1/images/edits): the mask's transparent pixels are repainted, as \
                 OpenAI's masks mean; without a mask, the image's own transparent pixels are",
                "The result keeps the input's size",
            ],
        },
        ..VENDOR_MODEL
    },
    Model {
        id: "recraft-v3",
        vendors: &[
            route(
                ProviderKind::Fal,
                "fal-ai/recraft/v3/text-to-image",
                40,
                &["style"],
            ),
            route(
                ProviderKind::Replicate,
                "recraft-ai/recraft-v3",
                40,
                &["style"],
            ),
        ],
        aliases: &["recraft"],
        owned_by: "recraft-ai",
        sizes: RECRAFT_SIZES,
        styles: RECRAFT_STYLES,
        base_cost: 5,
        info: Info {
            what_is: "Recraft V3: a model for design work, good at text in images and at \
                consistent styles.",
            use_cases: &["Posters and logos with text", "Brand illustrations"],
            tips: &[
                "`style`: any, realistic_image, digital_illustration",
                "Recraft takes no seed: each request gives new images",
            ],
        },
        ..VENDOR_MODEL
    },
];

/// The sizes of the about-a-megapixel models, and their aspect ratios as the vendors name them.
pub const ASPECT_SIZES: &[(Size, &str)] = &[
    (Size::new(1024, 1024), "1:1"),
    (Size::new(1344, 768), "16:9"),
    (Size::new(768, 1344), "9:16"),
    (Size::new(1216, 832), "3:2"),
    (Size::new(832, 1216), "2:3"),
    (Size::new(1152, 896), "5:4"),
    (Size::new(896, 1152), "4:5"),
    (Size::new(1536, 640), "21:9"),
    (Size::new(640, 1536), "9:21"),
];

/// [`ASPECT_SIZES`]' sizes (a test keeps them the same).
const MEGAPIXEL_SIZES: &[Size] = &[
    Size::new(1024, 1024),
    Size::new(1344, 768),
    Size::new(768, 1344),
    Size::new(1216, 832),
    Size::new(832, 1216),
    Size::new(1152, 896),
    Size::new(896, 1152),
    Size::new(1536, 640),
    Size::new(640, 1536),
];

/// The aspect ratio of one of [`MEGAPIXEL_SIZES`].
pub fn aspect_of(size: Size) -> &'static str {
    ASPECT_SIZES
        .iter()
        .find(|(s, _)| *s == size)
        .map_or("1:1", |(_, a)| a)
}

/// Recraft's sizes that both of its vendors draw.
const RECRAFT_SIZES: &[Size] = &[
    Size::new(1024, 1024),
    Size::new(1365, 1024),
    Size::new(1024, 1365),
    Size::new(1536, 1024),
    Size::new(1024, 1536),
    Size::new(1820, 1024),
    Size::new(1024, 1820),
];

const RECRAFT_STYLES: &[&str] = &["any", "realistic_image", "digital_illustration"];

/// A model by its id or one of its aliases.
pub fn find(id: &str) -> Option<&'static Model> {
    MODELS
        .iter()
        .find(|m| m.id == id || m.aliases.contains(&id))
}

/// The models this deployment can serve: a vendor model when one of its vendors has a key.
pub fn usable(serves: impl Fn(ProviderKind) -> bool) -> impl Iterator<Item = &'static Model> {
    MODELS
        .iter()
        .filter(move |m| m.vendors.iter().any(|r| serves(r.vendor)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(Size::parse("1792x1024"), Some(Size::new(1792, 1024)));
        assert_eq!(Size::parse("1024"), None);
        assert_eq!(Size::parse("axb"), None);
        assert_eq!(Size::new(256, 256).to_string(), "256x256");
    }

    #[test]
    fn cost_grows_with_size_and_quality() {
        let local = find("local-procedural").unwrap();
        assert_eq!(local.cost(Size::new(256, 256), "medium"), 1);
        assert_eq!(local.cost(Size::new(512, 512), "medium"), 2);
        assert_eq!(local.cost(Size::new(1024, 1024), "medium"), 3);
        assert_eq!(local.cost(Size::new(1024, 1024), "high"), 6);
        let sunburst = find("gpt-image-2.5-sunburst").unwrap();
        let medium = sunburst.cost(Size::new(1024, 1024), "medium");
        assert_eq!(sunburst.cost(Size::new(1024, 1024), "max"), 4 * medium);
        // Arbitrary sizes are priced by their pixels, as the listed ones.
        assert_eq!(sunburst.cost(Size::new(3840, 2160), "medium"), 2 * 8);
    }

    #[test]
    fn only_configured_vendors_are_usable() {
        let offline: Vec<_> = usable(|k| k == ProviderKind::Local).map(|m| m.id).collect();
        assert_eq!(offline, vec!["local-procedural"]);
        let stability: Vec<_> =
            usable(|k| matches!(k, ProviderKind::Local | ProviderKind::Stability))
                .map(|m| m.id)
                .collect();
        assert_eq!(
            stability,
            [
                "local-procedural",
                "stable-image-core",
                "sd3.5-large",
                "stable-image-ultra",
                "stable-image-inpaint"
            ]
        );
        // sd3.5-large is served by Replicate too; Stability's own models are not.
        let replicate: Vec<_> = usable(|k| k == ProviderKind::Replicate)
            .map(|m| m.id)
            .collect();
        assert_eq!(
            replicate,
            [
                "sd3.5-large",
                "flux-dev",
                "flux-schnell",
                "flux-1.1-pro",
                "flux-pro-fill",
                "recraft-v3"
            ]
        );
        assert_eq!(usable(|_| true).count(), MODELS.len());
        for m in MODELS {
            assert!(m.sizes.contains(&m.default_size), "{}", m.id);
            assert!(!m.qualities.is_empty(), "{}", m.id);
            assert!(!m.vendors.is_empty(), "{}", m.id);
            assert!(
                m.generates || m.max_edit_images > 0,
                "{} does something",
                m.id
            );
        }
    }

    #[test]
    fn the_seeds_model_names_are_aliases_of_catalog_models() {
        for (alias, id) in [
            ("flux", "flux-dev"),
            ("recraft", "recraft-v3"),
            ("stable_diffusion", "sd3.5-large"),
            ("flux_pro", "flux-pro-fill"),
        ] {
            assert_eq!(find(alias).map(|m| m.id), Some(id), "{alias}");
        }
        // No alias shadows another model's id, and none is used twice.
        let mut names: Vec<&str> = MODELS
            .iter()
            .flat_map(|m| std::iter::once(m.id).chain(m.aliases.iter().copied()))
            .collect();
        let all = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all);
    }

    #[test]
    fn megapixel_sizes_are_the_aspect_sizes() {
        let aspects: Vec<Size> = ASPECT_SIZES.iter().map(|(s, _)| *s).collect();
        assert_eq!(aspects, MEGAPIXEL_SIZES);
        for (size, ratio) in ASPECT_SIZES {
            let (w, h) = ratio.split_once(':').unwrap();
            let (w, h): (f64, f64) = (w.parse().unwrap(), h.parse().unwrap());
            let off = (size.width as f64 / size.height as f64) / (w / h);
            assert!((0.9..1.12).contains(&off), "{size} is about {ratio}");
        }
    }
}
