//! OpenAI's CreateImageRequest, validated against the catalog into a plan. Every unsupported
//! value or combination is a 400 naming `param`; nothing is silently dropped.

use crate::domain::catalog::{self, Model, ProviderKind, Route, Size};
use crate::error::ApiError;
use serde::{Deserialize, Serialize};

mod checks;

use checks::{checked_size, pick, sizes_for, unsupported, within_output_cap};

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
    /// A quote only: the answer says what the request would cost, which vendors would serve it
    /// and whether this account could pay now; nothing is charged, stored or sent to a vendor.
    #[serde(default)]
    pub dry_run: Option<bool>,
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
    /// What the outputs' Content Credentials may also say, beyond model, vendor and time:
    /// `prompt` (the prompt) and `author` (this account's id). Neither unless asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<ProvenanceItem>>, example = json!(["prompt"]))]
    pub provenance_include: Option<Vec<String>>,
}

/// What Content Credentials may disclose (the schema of `provenance_include`'s items).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ProvenanceItem {
    Prompt,
    Author,
}

/// What a request allowed its outputs' Content Credentials to disclose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Disclose {
    pub prompt: bool,
    pub author: bool,
}

impl Disclose {
    pub fn parse(items: Option<&[String]>) -> Result<Self, ApiError> {
        let mut d = Self::default();
        for item in items.unwrap_or_default() {
            match item.as_str() {
                "prompt" => d.prompt = true,
                "author" => d.author = true,
                other => {
                    return Err(ApiError::invalid(
                        "provenance_include",
                        format!(
                            "unknown item '{other}': provenance_include takes prompt and author"
                        ),
                    ));
                }
            }
        }
        Ok(d)
    }
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
    pub disclose: Disclose,
}

pub const MAX_USER_CHARS: usize = 256;
/// Pixels all images of one request may have together (about 160 MB decoded).
pub const MAX_OUTPUT_PIXELS: u64 = 40_000_000;

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
        let disclose = Disclose::parse(self.provenance_include.as_deref())?;
        Ok(GenerationPlan {
            disclose,
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
