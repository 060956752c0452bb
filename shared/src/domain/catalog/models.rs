//! The model table: every model this API offers, its vendors' routes and costs, and the size and
//! option lists they share; the retired models and what replaces them.

use super::*;

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

pub(super) const SQUARE_AND_WIDE: &[Size] = &[
    Size::new(256, 256),
    Size::new(512, 512),
    Size::new(1024, 1024),
    Size::new(1536, 1024),
    Size::new(1024, 1536),
    Size::new(1792, 1024),
    Size::new(1024, 1792),
];

pub(super) const GPT_SIZES: &[Size] = &[
    Size::new(1024, 1024),
    Size::new(1536, 1024),
    Size::new(1024, 1536),
];

/// OpenAI's arbitrary resolutions (gpt-image-2 and 2.5): edges divisible by 16, up to
/// 3840x2160, between 1:3 and 3:1.
pub(super) const GPT_ANY_SIZE: SizeRule = SizeRule {
    multiple: 16,
    min_edge: 256,
    max_edge: 3840,
    max_pixels: 3840 * 2160,
};

pub(super) const GPT_QUALITIES: &[&str] = &["medium", "low", "high"];
pub(super) const GPT_QUALITIES_XL: &[&str] = &["medium", "low", "high", "xhigh", "max"];

/// OpenAI serves its own models under their ids (an empty vendor id means the model's own).
pub(super) const OPENAI: &[Route] = &[route(ProviderKind::OpenAi, "", 0, &[])];

/// One of OpenAI's GPT image models: what differs between them, the rest shared.
pub(super) const fn gpt_image(
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

pub(super) const MINI: Info = Info {
    what_is: "OpenAI's GPT Image 1 mini: the fastest and least expensive GPT image model.",
    use_cases: &["Drafts and thumbnails", "High-volume generation"],
    tips: &[
        "`quality: low` is fastest",
        "Edits take `input_fidelity: low` only",
    ],
};
pub(super) const V1_5: Info = Info {
    what_is: "OpenAI's GPT Image 1.5: strong instruction following and text rendering, native \
        transparent backgrounds, faithful edits.",
    use_cases: &[
        "Product shots with transparency",
        "Images containing text",
        "Edits of faces",
    ],
    tips: &["`input_fidelity: high` keeps faces and styles of the inputs in edits"],
};
pub(super) const V2: Info = Info {
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
pub(super) const SUNBURST: Info = Info {
    what_is: "OpenAI's GPT Image 2.5 Sunburst: the most detailed GPT image model, with `xhigh` and \
        `max` qualities.",
    use_cases: &["Print-quality illustrations", "Dense scenes and fine text"],
    tips: &["`quality: max` is slowest and costs the most; `high` is usually enough"],
};
pub(super) const FLARE: Info = Info {
    what_is: "OpenAI's GPT Image 2.5 Flare: GPT Image 2.5 tuned for speed.",
    use_cases: &["Interactive tools", "Quick iterations at any resolution"],
    tips: &["Any WIDTHxHEIGHT with edges divisible by 16 up to 3840x2160"],
};
pub(super) const V2_6: Info = Info {
    what_is: "OpenAI's GPT Image 2.6 (Sunburst: detail; Flare: speed), in the standard sizes.",
    use_cases: &["General illustration", "Marketing visuals"],
    tips: &["Sizes 1024x1024, 1536x1024 and 1024x1536"],
};
pub(super) const LATEST: Info = Info {
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
pub(super) const MEGAPIXEL_SIZES: &[Size] = &[
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

/// Recraft's sizes that both of its vendors draw.
pub(super) const RECRAFT_SIZES: &[Size] = &[
    Size::new(1024, 1024),
    Size::new(1365, 1024),
    Size::new(1024, 1365),
    Size::new(1536, 1024),
    Size::new(1024, 1536),
    Size::new(1820, 1024),
    Size::new(1024, 1820),
];

pub(super) const RECRAFT_STYLES: &[&str] = &["any", "realistic_image", "digital_illustration"];
