//! The one catalog of models: what each accepts, what it costs, and what to tell users about it.

use serde::Serialize;

mod models;

pub use models::*;

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

/// The aspect ratio of one of [`MEGAPIXEL_SIZES`].
pub fn aspect_of(size: Size) -> &'static str {
    ASPECT_SIZES
        .iter()
        .find(|(s, _)| *s == size)
        .map_or("1:1", |(_, a)| a)
}

/// OpenAI's published token prices of a GPT image model (a dated snapshot priced as its
/// model), in cents per million tokens: text input, image input, image output
/// (openai.com/api/pricing). The models priced only in this catalog's credits are `None`.
pub fn openai_token_prices(model: &str) -> Option<[i64; 3]> {
    let base = model.split_once("-20").map_or(model, |(b, _)| b);
    match base {
        "gpt-image-1-mini" => Some([200, 250, 800]),
        "gpt-image-1.5" => Some([500, 800, 3200]),
        "gpt-image-2" => Some([500, 800, 3000]),
        _ => None,
    }
}

/// What one settled request cost at `vendor`, in millionths of a dollar: from the tokens OpenAI
/// reports (`usage`), priced by [`openai_token_prices`]; else the route's per-image price in
/// this catalog. `None` when neither gives it.
pub fn vendor_cost_micros(
    model: &str,
    vendor: ProviderKind,
    routes: &[&Route],
    outputs: u32,
    usage: Option<&serde_json::Value>,
) -> Option<i64> {
    if vendor == ProviderKind::OpenAi {
        let [text, image_in, image_out] = openai_token_prices(model)?;
        let usage = usage?;
        let tokens = |path: &[&str]| {
            path.iter()
                .try_fold(usage, |v, k| v.get(k))
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0)
        };
        let text_in = tokens(&["input_tokens_details", "text_tokens"]);
        let images_in = tokens(&["input_tokens_details", "image_tokens"]);
        let out = tokens(&["output_tokens"]);
        // Cents per million tokens are hundredths of a millionth of a dollar per token.
        return Some((text_in * text + images_in * image_in + out * image_out + 50) / 100);
    }
    let route = routes.iter().find(|r| r.vendor == vendor)?;
    Some(i64::from(route.cost_mills) * 1000 * i64::from(outputs))
}

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
    fn vendor_costs_come_from_reported_tokens_or_the_catalog() {
        let usage = serde_json::json!({"input_tokens": 12, "output_tokens": 4160,
            "input_tokens_details": {"text_tokens": 12, "image_tokens": 0}});
        // 4160 image tokens at $30 a million and 12 text tokens at $5: $0.12486.
        let gpt = find("gpt-image-2").unwrap();
        let routes: Vec<&Route> = gpt.vendors.iter().collect();
        assert_eq!(
            vendor_cost_micros(
                "gpt-image-2-2026-04-21",
                ProviderKind::OpenAi,
                &routes,
                1,
                Some(&usage)
            ),
            Some(124_860)
        );
        assert_eq!(
            vendor_cost_micros("gpt-image-2", ProviderKind::OpenAi, &routes, 1, None),
            None,
            "nothing reported"
        );
        let core = find("stable-image-core").unwrap();
        let routes: Vec<&Route> = core.vendors.iter().collect();
        assert_eq!(
            vendor_cost_micros(core.id, ProviderKind::Stability, &routes, 2, None),
            Some(60_000),
            "3 cents an image"
        );
    }

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
