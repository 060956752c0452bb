//! OpenAI's CreateImageRequest, validated against the catalog into a plan. Every unsupported
//! value or combination is a 400 naming `param`; nothing is silently dropped.

use crate::domain::catalog::{self, Model, ProviderKind, Route, Size};
use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// The request body, field for field as OpenAI defines it (nullable fields mean "absent"),
/// plus `seed` for deterministic models.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateImageRequest {
    #[schema(min_length = 1, max_length = 32000, pattern = r"\S")]
    pub prompt: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10)]
    pub n: Option<i64>,
    #[serde(default)]
    #[schema(pattern = "^(auto|[0-9]{1,5}x[0-9]{1,5})$")]
    pub size: Option<String>,
    #[serde(default)]
    pub quality: Option<String>,
    #[serde(default)]
    pub style: Option<String>,
    #[serde(default)]
    pub response_format: Option<String>,
    #[serde(default)]
    pub output_format: Option<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    pub output_compression: Option<i64>,
    #[serde(default)]
    pub background: Option<String>,
    #[serde(default)]
    pub moderation: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 3)]
    pub partial_images: Option<i64>,
    #[serde(default)]
    pub user: Option<String>,
    /// Only for deterministic models: the same prompt and seed give the same image.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Layout planning apart from rendering quality: `low`, `medium`, `high`.
    #[serde(default)]
    pub complexity: Option<String>,
    /// A stable, hashed id of the end user (takes precedence over the deprecated `user`).
    #[serde(default)]
    pub safety_identifier: Option<String>,
    /// GIF output only: 2–16 frames.
    #[serde(default)]
    #[schema(minimum = 2, maximum = 16)]
    pub frame_count: Option<i64>,
    /// GIF output only: the delay per frame.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 655350)]
    pub frame_duration_ms: Option<i64>,
    /// SVG output only: the model authoring the SVG and its reasoning effort.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub svg: Option<serde_json::Value>,
    /// Edits: how closely to keep the inputs' features (`high`, `low`).
    #[serde(default)]
    pub input_fidelity: Option<String>,
    /// With `Prefer: respond-async`: where to POST the job when it changes (Standard Webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// Which changes are sent: `started`, `completed` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_events_filter: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    Url,
    B64Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Png,
    Jpeg,
    Webp,
    /// Animated (the local renderer's frames).
    Gif,
    /// Vector (the local renderer's scene as SVG).
    Svg,
    /// H.264 video (assets of kind `video`; never an image request's format).
    Mp4,
}

impl OutputFormat {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "png" => Some(Self::Png),
            "jpeg" | "jpg" => Some(Self::Jpeg),
            "webp" => Some(Self::Webp),
            "gif" => Some(Self::Gif),
            "svg" => Some(Self::Svg),
            "mp4" => Some(Self::Mp4),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpeg",
            Self::Webp => "webp",
            Self::Gif => "gif",
            Self::Svg => "svg",
            Self::Mp4 => "mp4",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Svg => "image/svg+xml",
            Self::Mp4 => "video/mp4",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            other => other.as_str(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Background {
    Transparent,
    Opaque,
}

/// A validated generation: everything a provider and the post-processing need.
#[derive(Debug, Clone)]
pub struct GenerationPlan {
    pub model: &'static Model,
    /// The model's vendors this deployment has and that take every parameter the request sets,
    /// in the catalog's order (the providers order them by preference and cost).
    pub routes: Vec<&'static Route>,
    pub prompt: String,
    pub n: u8,
    pub size: Size,
    pub quality: &'static str,
    pub style: Option<&'static str>,
    pub response_format: ResponseFormat,
    pub output_format: OutputFormat,
    /// 0–100 for jpeg/webp; `None` means the format's best (100).
    pub output_compression: Option<u8>,
    pub background: Background,
    pub moderation: Option<&'static str>,
    /// The end user's id for the vendor's safety checks (`safety_identifier`, else `user`).
    pub user: Option<String>,
    pub complexity: Option<&'static str>,
    pub input_fidelity: Option<&'static str>,
    /// GIF output: how many frames, each shown how long (ms).
    pub frames: Option<(u8, u32)>,
    /// Answer as Server-Sent Events, with this many partial images before each image.
    pub stream: bool,
    pub partial_images: u8,
    pub seed: u64,
    /// Whether the request chose the seed (vendors pick their own otherwise).
    pub seed_set: bool,
    /// Credits for the whole request.
    pub cost: i64,
}

pub const MAX_USER_CHARS: usize = 256;
/// Pixels all images of one request may have together (about 160 MB decoded).
pub const MAX_OUTPUT_PIXELS: u64 = 40_000_000;

/// All outputs of one request are held in memory together: their pixels are capped.
fn within_output_cap(size: Size, n: i64) -> Result<(), ApiError> {
    if size.pixels() * n as u64 > MAX_OUTPUT_PIXELS {
        return Err(ApiError::invalid(
            "n",
            format!(
                "{n} images of {size} are more than {MAX_OUTPUT_PIXELS} pixels together; ask for fewer or a smaller size"
            ),
        ));
    }
    Ok(())
}

fn pick(
    param: &str,
    value: &str,
    allowed: &'static [&'static str],
    model: &Model,
) -> Result<&'static str, ApiError> {
    allowed
        .iter()
        .copied()
        .find(|a| *a == value)
        .ok_or_else(|| {
            ApiError::invalid(
                param,
                format!(
                    "'{value}' is not a supported {param} for model '{}'; supported: {}",
                    model.id,
                    allowed.join(", ")
                ),
            )
        })
}

/// What a plan is for: the same fields mean slightly different things per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Generate,
    /// An edit of `images` input images, the first of them `input` pixels large.
    Edit {
        images: usize,
        input: Size,
    },
    /// A variation of one image `input` pixels large (no prompt).
    Variation {
        input: Size,
    },
}

impl CreateImageRequest {
    /// Validates a generation against the catalog. `default_model` applies when `model` is
    /// absent; `serves` says whether this deployment has a vendor (its key).
    pub fn plan(
        self,
        default_model: &'static str,
        serves: impl Fn(ProviderKind) -> bool,
    ) -> Result<GenerationPlan, ApiError> {
        self.plan_for(Operation::Generate, default_model, serves)
    }

    /// Validates for any operation: edits and variations use the models' edit sizes and
    /// capabilities, and the offline model keeps the input's size by default.
    pub fn plan_for(
        self,
        op: Operation,
        default_model: &'static str,
        serves: impl Fn(ProviderKind) -> bool,
    ) -> Result<GenerationPlan, ApiError> {
        let model = self.model(default_model, &serves)?;
        let routes = self.routes(model, &serves)?;
        let (sizes, default_size) = sizes_for(model, op)?;
        let prompt = self.checked_prompt(model, op)?;
        let n = self.checked_n(model)?;
        let size = match self.size.as_deref() {
            None | Some("auto") => default_size,
            Some(s) => checked_size(s, sizes, model, op)?,
        };
        within_output_cap(size, n)?;
        let quality = match self.quality.as_deref() {
            None | Some("auto") => model.default_quality(),
            Some(q @ ("standard" | "hd")) => {
                return Err(ApiError::invalid(
                    "quality",
                    format!(
                        "quality '{q}' belonged to the retired DALL·E models; model '{}' takes: {}",
                        model.id,
                        model.qualities.join(", ")
                    ),
                ));
            }
            Some(q) => pick("quality", q, model.qualities, model)?,
        };
        let style = match self.style.as_deref() {
            None => None,
            Some(_) if model.styles.is_empty() || op != Operation::Generate => {
                return Err(ApiError::invalid(
                    "style",
                    format!("model '{}' has no styles; remove `style`", model.id),
                ));
            }
            Some(s) => Some(pick("style", s, model.styles, model)?),
        };
        let (response_format, output_format, output_compression, background) =
            self.encoding(model)?;
        let moderation = self.checked_options(model)?;
        let frames = self.checked_frames(output_format, n, op)?;
        let (stream, partial_images) = self.checked_stream(output_format, response_format, op)?;
        // A stream carries its images in its events, as base64.
        let response_format = if stream {
            ResponseFormat::B64Json
        } else {
            response_format
        };
        let complexity = match self.complexity.as_deref() {
            None => None,
            Some(_) if !model.complexity => {
                return Err(unsupported("complexity", model, |m| m.complexity));
            }
            Some(c) => Some(pick("complexity", c, &["low", "medium", "high"], model)?),
        };
        let input_fidelity = match self.input_fidelity.as_deref() {
            None => None,
            Some(_) if !matches!(op, Operation::Edit { .. }) => {
                return Err(ApiError::invalid(
                    "input_fidelity",
                    "input_fidelity applies to edits (POST /v1/images/edits)",
                ));
            }
            Some(_) if model.input_fidelity.is_empty() => {
                return Err(unsupported("input_fidelity", model, |m| {
                    !m.input_fidelity.is_empty()
                }));
            }
            Some(f) => Some(pick("input_fidelity", f, model.input_fidelity, model)?),
        };
        let user = self
            .safety_identifier
            .clone()
            .filter(|s| !s.is_empty())
            .or(self.user.clone());
        let n = n as u8;
        Ok(GenerationPlan {
            cost: model.cost(size, quality) * n as i64,
            model,
            routes,
            prompt,
            n,
            size,
            quality,
            style,
            response_format,
            output_format,
            output_compression,
            background,
            moderation,
            user,
            complexity,
            input_fidelity,
            frames,
            stream,
            partial_images,
            seed: self.seed.unwrap_or(0),
            seed_set: self.seed.is_some(),
        })
    }

    fn model(
        &self,
        default_model: &'static str,
        serves: impl Fn(ProviderKind) -> bool,
    ) -> Result<&'static Model, ApiError> {
        match self
            .model
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            None => Ok(catalog::find(default_model).expect("default model is in the catalog")),
            Some(id) => {
                if let Some(r) = catalog::retired(id) {
                    return Err(ApiError::invalid(
                        "model",
                        format!(
                            "model '{id}' was retired by its vendor on {}; use {} instead (see GET /v1/models)",
                            r.since, r.instead
                        ),
                    ));
                }
                catalog::find(id)
                    .filter(|m| m.vendors.iter().any(|r| serves(r.vendor)))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "model",
                            format!("unknown or unavailable model '{id}'; see GET /v1/models"),
                        )
                    })
            }
        }
    }

    /// The model's configured vendors that take every optional parameter the request sets. A
    /// parameter none of them takes is refused, never dropped.
    fn routes(
        &self,
        model: &'static Model,
        serves: impl Fn(ProviderKind) -> bool,
    ) -> Result<Vec<&'static Route>, ApiError> {
        let served: Vec<&'static Route> =
            model.vendors.iter().filter(|r| serves(r.vendor)).collect();
        let set = [
            ("seed", self.seed.is_some()),
            ("style", self.style.is_some()),
        ];
        let mut routes = served.clone();
        for (param, _) in set.iter().filter(|(_, is_set)| *is_set) {
            routes.retain(|r| r.params.contains(param));
            if routes.is_empty() {
                let why = if model.vendors.iter().any(|r| r.params.contains(param)) {
                    let takers: Vec<&str> = model
                        .vendors
                        .iter()
                        .filter(|r| r.params.contains(param))
                        .map(|r| r.vendor.as_str())
                        .collect();
                    format!(
                        "model '{}' takes {param} only through {}, which this deployment does not have configured",
                        model.id,
                        takers.join(", ")
                    )
                } else if *param == "seed" {
                    format!(
                        "model '{}' is not deterministic and takes no seed",
                        model.id
                    )
                } else {
                    format!("model '{}' has no {param}s; remove `{param}`", model.id)
                };
                return Err(ApiError::invalid(*param, why));
            }
        }
        Ok(routes)
    }

    fn checked_prompt(&self, model: &Model, op: Operation) -> Result<String, ApiError> {
        let prompt = self.prompt.trim().to_string();
        let needs_prompt = !matches!(op, Operation::Variation { .. });
        if needs_prompt && prompt.is_empty() {
            return Err(ApiError::invalid("prompt", "prompt must not be empty"));
        }
        let chars = prompt.chars().count();
        if chars > model.max_prompt_chars {
            return Err(ApiError::invalid(
                "prompt",
                format!(
                    "prompt is {chars} characters; model '{}' accepts at most {}",
                    model.id, model.max_prompt_chars
                ),
            ));
        }
        Ok(prompt)
    }

    fn checked_n(&self, model: &Model) -> Result<i64, ApiError> {
        let n = self.n.unwrap_or(1);
        if !(1..=10).contains(&n) {
            return Err(ApiError::invalid("n", "n must be between 1 and 10"));
        }
        if n > model.max_n as i64 {
            return Err(ApiError::invalid(
                "n",
                format!("model '{}' supports at most n={}", model.id, model.max_n),
            ));
        }
        Ok(n)
    }

    /// How the images are answered and encoded: the fields that depend on each other only.
    fn encoding(
        &self,
        model: &Model,
    ) -> Result<(ResponseFormat, OutputFormat, Option<u8>, Background), ApiError> {
        let response_format = match self.response_format.as_deref() {
            // As OpenAI's: GPT image models answer base64 and take no response_format.
            None if !model.response_format => ResponseFormat::B64Json,
            Some(_) if !model.response_format => {
                return Err(ApiError::invalid(
                    "response_format",
                    format!(
                        "model '{}' always answers base64 (b64_json), as OpenAI's GPT image models do: leave response_format out; every image is also in your library (GET /v1/images/{{id}})",
                        model.id
                    ),
                ));
            }
            None | Some("url") => ResponseFormat::Url,
            Some("b64_json") => ResponseFormat::B64Json,
            Some(other) => {
                return Err(ApiError::invalid(
                    "response_format",
                    format!("response_format must be 'url' or 'b64_json', not '{other}'"),
                ));
            }
        };
        let output_format = match self.output_format.as_deref() {
            None => OutputFormat::Png,
            Some(f) => OutputFormat::parse(f)
                .filter(|f| *f != OutputFormat::Mp4)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "output_format",
                        format!("output_format must be png, jpeg, webp, gif or svg, not '{f}'"),
                    )
                })?,
        };
        if matches!(output_format, OutputFormat::Gif | OutputFormat::Svg) && !model.gif_and_svg {
            let with: Vec<&str> = catalog::MODELS
                .iter()
                .filter(|m| m.gif_and_svg)
                .map(|m| m.id)
                .collect();
            return Err(ApiError::invalid(
                "output_format",
                format!(
                    "model '{}' does not write {} output; models that do: {}",
                    model.id,
                    output_format.as_str(),
                    with.join(", ")
                ),
            ));
        }
        for (param, given, needs) in [
            ("frame_count", self.frame_count.is_some(), OutputFormat::Gif),
            (
                "frame_duration_ms",
                self.frame_duration_ms.is_some(),
                OutputFormat::Gif,
            ),
        ] {
            if given && output_format != needs {
                return Err(ApiError::invalid(
                    param,
                    format!("{param} applies to output_format={} only", needs.as_str()),
                ));
            }
        }
        if self.svg.is_some() {
            return Err(ApiError::invalid(
                "svg",
                if output_format == OutputFormat::Svg {
                    format!(
                        "model '{}' writes its SVG itself, without an authoring model: omit svg",
                        model.id
                    )
                } else {
                    "svg applies to output_format=svg only".to_string()
                },
            ));
        }
        let output_compression = match self.output_compression {
            None => None,
            Some(c) if !(0..=100).contains(&c) => {
                return Err(ApiError::invalid(
                    "output_compression",
                    "output_compression must be between 0 and 100",
                ));
            }
            Some(_) if !matches!(output_format, OutputFormat::Jpeg | OutputFormat::Webp) => {
                return Err(ApiError::invalid(
                    "output_compression",
                    format!(
                        "output_compression applies to jpeg and webp output, not {}",
                        output_format.as_str()
                    ),
                ));
            }
            Some(c) => Some(c as u8),
        };
        let background = match self.background.as_deref() {
            None | Some("auto") | Some("opaque") => Background::Opaque,
            Some("transparent") => Background::Transparent,
            Some(other) => {
                return Err(ApiError::invalid(
                    "background",
                    format!("background must be transparent, opaque or auto, not '{other}'"),
                ));
            }
        };
        if background == Background::Transparent && output_format == OutputFormat::Jpeg {
            return Err(ApiError::invalid(
                "background",
                "a transparent background needs png or webp output; jpeg has no alpha channel",
            ));
        }
        Ok((
            response_format,
            output_format,
            output_compression,
            background,
        ))
    }

    /// GIF frames (2–16, default 9; 10 ms to 655,350 ms each, default 200, rounded to 10 ms as
    /// GIF stores them); SVG makes one image. Both are generations only.
    fn checked_frames(
        &self,
        format: OutputFormat,
        n: i64,
        op: Operation,
    ) -> Result<Option<(u8, u32)>, ApiError> {
        if matches!(format, OutputFormat::Gif | OutputFormat::Svg) && op != Operation::Generate {
            return Err(ApiError::invalid(
                "output_format",
                format!(
                    "{} output is for generations; edits and variations make png, jpeg or webp",
                    format.as_str()
                ),
            ));
        }
        if format == OutputFormat::Svg && n != 1 {
            return Err(ApiError::invalid(
                "n",
                "SVG output makes one image: n must be 1",
            ));
        }
        if format != OutputFormat::Gif {
            return Ok(None);
        }
        let count = self.frame_count.unwrap_or(9);
        if !(2..=16).contains(&count) {
            return Err(ApiError::invalid(
                "frame_count",
                "frame_count must be from 2 to 16",
            ));
        }
        let delay = self.frame_duration_ms.unwrap_or(200);
        if !(1..=655_350).contains(&delay) {
            return Err(ApiError::invalid(
                "frame_duration_ms",
                "frame_duration_ms must be from 1 to 655350",
            ));
        }
        let delay = ((delay + 5) / 10 * 10).max(10) as u32;
        Ok(Some((count as u8, delay)))
    }

    /// `stream` and `partial_images` (0–3): generations and edits, raster output, base64.
    fn checked_stream(
        &self,
        format: OutputFormat,
        response_format: ResponseFormat,
        op: Operation,
    ) -> Result<(bool, u8), ApiError> {
        let stream = self.stream == Some(true);
        let partial_images = self.partial_images.unwrap_or(0);
        if !(0..=3).contains(&partial_images) {
            return Err(ApiError::invalid(
                "partial_images",
                "partial_images must be from 0 to 3",
            ));
        }
        if !stream {
            if partial_images > 0 {
                return Err(ApiError::invalid(
                    "partial_images",
                    "partial_images needs stream: true",
                ));
            }
            return Ok((false, 0));
        }
        if matches!(op, Operation::Variation { .. }) {
            return Err(ApiError::invalid(
                "stream",
                "variations are not streamed; leave stream out",
            ));
        }
        if matches!(format, OutputFormat::Gif | OutputFormat::Svg) {
            return Err(ApiError::invalid(
                "stream",
                format!(
                    "{} output is not streamed; leave stream out",
                    format.as_str()
                ),
            ));
        }
        if self.response_format.is_some() && response_format == ResponseFormat::Url {
            return Err(ApiError::invalid(
                "response_format",
                "a stream carries its images as base64: leave response_format out",
            ));
        }
        Ok((true, partial_images as u8))
    }

    /// The options only some models (or no model here) take; returns the moderation level.
    fn checked_options(&self, model: &Model) -> Result<Option<&'static str>, ApiError> {
        for (param, value) in [
            ("user", &self.user),
            ("safety_identifier", &self.safety_identifier),
        ] {
            if value
                .as_ref()
                .is_some_and(|u| u.chars().count() > MAX_USER_CHARS)
            {
                return Err(ApiError::invalid(
                    param,
                    format!("{param} must be at most {MAX_USER_CHARS} characters"),
                ));
            }
        }
        match self.moderation.as_deref() {
            None => Ok(None),
            Some(_) if !model.gpt_image_params => Err(ApiError::invalid(
                "moderation",
                format!("model '{}' does not take a moderation level", model.id),
            )),
            Some(m) => Ok(Some(pick("moderation", m, &["auto", "low"], model)?)),
        }
    }
}

/// A `size` the model draws: one of its sizes, or `WxH` within its rule for arbitrary sizes.
fn checked_size(s: &str, sizes: &[Size], model: &Model, op: Operation) -> Result<Size, ApiError> {
    let listed: Vec<String> = sizes.iter().map(Size::to_string).collect();
    let parsed = Size::parse(s);
    if let Some(size) = parsed.filter(|p| sizes.contains(p)) {
        return Ok(size);
    }
    // Edits of the offline model and of inpainting models keep the input's size; others follow
    // the model's rule.
    let rule = model
        .any_size
        .filter(|_| matches!(op, Operation::Generate) || keeps_input_size(model));
    match (parsed, rule) {
        (Some(size), Some(rule)) => match rule.refusal(size) {
            None => Ok(size),
            Some(why) => Err(ApiError::invalid(
                "size",
                format!("size '{s}' is not one model '{}' draws: {why}", model.id),
            )),
        },
        (None, Some(_)) => Err(ApiError::invalid(
            "size",
            format!("size must be auto or WIDTHxHEIGHT (e.g. 1536x864), not '{s}'"),
        )),
        (_, None) => Err(ApiError::invalid(
            "size",
            format!(
                "size '{s}' is not supported by model '{}'; supported: auto, {}",
                model.id,
                listed.join(", ")
            ),
        )),
    }
}

/// A 400 on `param` for a model without it, naming the usable models that have it.
fn unsupported(param: &str, model: &Model, has: impl Fn(&Model) -> bool) -> ApiError {
    let with: Vec<&str> = catalog::MODELS
        .iter()
        .filter(|m| has(m))
        .map(|m| m.id)
        .collect();
    ApiError::invalid(
        param,
        format!(
            "model '{}' does not take {param}; models that do: {}",
            model.id,
            with.join(", ")
        ),
    )
}

/// The sizes an operation may ask of `model`, and its default; refuses what the model lacks.
fn sizes_for(model: &Model, op: Operation) -> Result<(&'static [Size], Size), ApiError> {
    match op {
        Operation::Generate if !model.generates => Err(ApiError::invalid(
            "model",
            format!(
                "model '{}' only edits images (POST /v1/images/edits with a mask)",
                model.id
            ),
        )),
        Operation::Generate => Ok((model.sizes, model.default_size)),
        Operation::Edit { input, .. } if !model.generates => {
            if let Some(why) = model.any_size.and_then(|rule| rule.refusal(input)) {
                return Err(ApiError::invalid(
                    "image",
                    format!("model '{}' cannot edit a {input} image: {why}", model.id),
                ));
            }
            Ok((model.edit_sizes, input))
        }
        Operation::Edit { images, input } => {
            if model.max_edit_images == 0 {
                return Err(ApiError::invalid(
                    "model",
                    format!("model '{}' cannot edit images", model.id),
                ));
            }
            if images > model.max_edit_images as usize {
                return Err(ApiError::invalid(
                    "image",
                    format!(
                        "model '{}' edits at most {} image(s); got {images}",
                        model.id, model.max_edit_images
                    ),
                ));
            }
            Ok((model.edit_sizes, edit_default(model, input)))
        }
        Operation::Variation { input } => {
            if !model.variations {
                return Err(ApiError::invalid(
                    "model",
                    format!("model '{}' does not make variations", model.id),
                ));
            }
            Ok((model.edit_sizes, edit_default(model, input)))
        }
    }
}

/// The offline model and inpainting models keep the input's size.
fn keeps_input_size(model: &Model) -> bool {
    model.provider() == ProviderKind::Local || !model.generates
}

/// Edits keep the input's size where the model does; vendors default to their standard square.
fn edit_default(model: &Model, input: Size) -> Size {
    if keeps_input_size(model) {
        input
    } else {
        model.default_size
    }
}

/// Whole-word, case-insensitive match of refused terms; returns the first one found.
pub fn refused_term<'a>(prompt: &str, terms: &'a [String]) -> Option<&'a str> {
    let words: Vec<String> = prompt
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    terms.iter().map(String::as_str).find(|term| {
        // Split like the prompt, so that "x-rated" matches "X-Rated" (and "x rated").
        let parts: Vec<String> = term
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        !parts.is_empty()
            && words
                .windows(parts.len())
                .any(|w| w.iter().zip(&parts).all(|(a, b)| a == b))
    })
}

#[cfg(test)]
mod tests;
