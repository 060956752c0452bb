//! The one catalog of models: what each accepts, what it costs, and what to tell users about it.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Offline procedural images: not an AI model, and says so.
    Local,
    OpenAi,
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
    pub provider: ProviderKind,
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
    pub info: Info,
}

impl Model {
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
            "hd" | "high" => 2,
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

pub static MODELS: &[Model] = &[
    Model {
        id: "local-procedural",
        provider: ProviderKind::Local,
        owned_by: "imageapi",
        sizes: SQUARE_AND_WIDE,
        default_size: Size::new(1024, 1024),
        qualities: &["standard"],
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
                "`background: transparent` removes the white backdrop connected to the border",
                "Edits fill the mask's transparent area by classical inpainting (Telea's fast marching \
                 method), one way only (n=1); k input images make up to k different collages",
                "Variations are seeded crops, mirrors and hue/exposure shifts of the input",
            ],
        },
    },
    Model {
        id: "dall-e-2",
        provider: ProviderKind::OpenAi,
        owned_by: "openai",
        sizes: &[
            Size::new(256, 256),
            Size::new(512, 512),
            Size::new(1024, 1024),
        ],
        default_size: Size::new(1024, 1024),
        qualities: &["standard"],
        styles: &[],
        max_n: 10,
        max_prompt_chars: 1000,
        native_transparency: false,
        gpt_image_params: false,
        base_cost: 2,
        max_edit_images: 1,
        edit_sizes: &[
            Size::new(256, 256),
            Size::new(512, 512),
            Size::new(1024, 1024),
        ],
        variations: true,
        async_only: false,
        info: Info {
            what_is: "OpenAI's DALL·E 2: fast, inexpensive square images.",
            use_cases: &["Quick drafts", "Many variations of a simple idea"],
            tips: &["Short, concrete prompts work best (at most 1000 characters)"],
        },
    },
    Model {
        id: "dall-e-3",
        provider: ProviderKind::OpenAi,
        owned_by: "openai",
        sizes: &[
            Size::new(1024, 1024),
            Size::new(1792, 1024),
            Size::new(1024, 1792),
        ],
        default_size: Size::new(1024, 1024),
        qualities: &["standard", "hd"],
        styles: &["vivid", "natural"],
        max_n: 1,
        max_prompt_chars: 4000,
        native_transparency: false,
        gpt_image_params: false,
        base_cost: 4,
        max_edit_images: 0,
        edit_sizes: &[],
        variations: false,
        async_only: false,
        info: Info {
            what_is: "OpenAI's DALL·E 3: detailed images that follow long prompts; rewrites the prompt \
                (returned as `revised_prompt`).",
            use_cases: &[
                "Illustrations",
                "Marketing visuals",
                "Wide and tall formats",
            ],
            tips: &[
                "One image per request (n=1)",
                "`style: natural` for less dramatic results; `quality: hd` for finer detail (costs double)",
            ],
        },
    },
    Model {
        id: "gpt-image-1",
        provider: ProviderKind::OpenAi,
        owned_by: "openai",
        sizes: &[
            Size::new(1024, 1024),
            Size::new(1536, 1024),
            Size::new(1024, 1536),
        ],
        default_size: Size::new(1024, 1024),
        qualities: &["medium", "low", "high"],
        styles: &[],
        max_n: 10,
        max_prompt_chars: 32000,
        native_transparency: true,
        gpt_image_params: true,
        base_cost: 5,
        max_edit_images: 16,
        edit_sizes: &[
            Size::new(1024, 1024),
            Size::new(1536, 1024),
            Size::new(1024, 1536),
        ],
        variations: false,
        async_only: false,
        info: Info {
            what_is: "OpenAI's GPT Image 1: the strongest instruction following and text rendering, \
                native transparent backgrounds.",
            use_cases: &[
                "Product shots with transparency",
                "Images containing text",
                "Precise compositions",
            ],
            tips: &[
                "`quality: low` is fastest; `high` costs double",
                "Transparent backgrounds need png or webp output",
            ],
        },
    },
];

pub fn find(id: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.id == id)
}

/// The models this deployment can serve: vendor models only when their key is configured.
pub fn usable(openai_configured: bool) -> impl Iterator<Item = &'static Model> {
    MODELS
        .iter()
        .filter(move |m| m.provider == ProviderKind::Local || openai_configured)
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
        assert_eq!(local.cost(Size::new(256, 256), "standard"), 1);
        assert_eq!(local.cost(Size::new(512, 512), "standard"), 2);
        assert_eq!(local.cost(Size::new(1024, 1024), "standard"), 3);
        let d3 = find("dall-e-3").unwrap();
        assert_eq!(
            d3.cost(Size::new(1024, 1024), "hd"),
            2 * d3.cost(Size::new(1024, 1024), "standard")
        );
    }

    #[test]
    fn only_configured_vendors_are_usable() {
        let offline: Vec<_> = usable(false).map(|m| m.id).collect();
        assert_eq!(offline, vec!["local-procedural"]);
        assert_eq!(usable(true).count(), MODELS.len());
        for m in MODELS {
            assert!(m.sizes.contains(&m.default_size), "{}", m.id);
            assert!(!m.qualities.is_empty(), "{}", m.id);
        }
    }
}
