//! Videos in the shape of OpenAI's Videos API (whose Sora models are shut down): the video
//! models this API serves instead, and a create request validated into a plan. A video is a
//! job (always queued) whose result is one library asset of kind `video`.

use crate::domain::catalog::{Info, ProviderKind, Size};
use crate::domain::generation::CreateImageRequest;
use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// A model that makes short clips.
#[derive(Debug)]
pub struct VideoModel {
    pub id: &'static str,
    pub provider: ProviderKind,
    pub owned_by: &'static str,
    pub sizes: &'static [Size],
    pub default_size: Size,
    /// Accepted clip lengths in seconds; the first is the default.
    pub seconds: &'static [u32],
    /// Credits per second of video, whatever the size.
    pub cost_per_second: i64,
    pub max_prompt_chars: usize,
    pub info: Info,
}

impl VideoModel {
    pub fn default_seconds(&self) -> u32 {
        self.seconds[0]
    }

    pub fn cost(&self, seconds: u32) -> i64 {
        self.cost_per_second * seconds as i64
    }
}

/// The sizes OpenAI's Videos API defines (`VideoSize`): portrait and landscape.
const VIDEO_SIZES: &[Size] = &[
    Size::new(720, 1280),
    Size::new(1280, 720),
    Size::new(1024, 1792),
    Size::new(1792, 1024),
];

pub const LOCAL_VIDEO_MODEL: &str = "local-motion";

pub static VIDEO_MODELS: &[VideoModel] = &[VideoModel {
    id: LOCAL_VIDEO_MODEL,
    provider: ProviderKind::Local,
    owned_by: "imageapi",
    sizes: VIDEO_SIZES,
    default_size: Size::new(720, 1280),
    seconds: &[4, 8, 12],
    cost_per_second: 1,
    max_prompt_chars: 4000,
    info: Info {
        what_is: "Not an AI model: an offline camera move (a slow zoom and pan) over a picture, \
            encoded as H.264 MP4 at 24 fps. The picture is `input_reference` if given, otherwise \
            the local procedural renderer's scene for the prompt and seed. It is the default \
            video model when no vendor key is configured.",
        use_cases: &[
            "Developing video features against this API without a vendor account",
            "Ken Burns-style motion for a still image",
        ],
        tips: &[
            "`input_reference` is the picture the camera moves over: an uploaded image or \
             {\"file_id\": ...} of a stored one",
            "`seconds` is 4, 8 or 12; `size` 720x1280, 1280x720, 1024x1792 or 1792x1024",
            "The seed chooses the move (zoom in or out, and which way it pans)",
            "Costs 1 credit per second",
        ],
    },
}];

/// Sora's models: OpenAI shut the Videos API down, so asking for them names what to use.
pub const SORA_SHUT_DOWN: &str = "2026-09-24";

pub fn find(id: &str) -> Option<&'static VideoModel> {
    VIDEO_MODELS.iter().find(|m| m.id == id)
}

/// Video models this deployment serves (only the local one for now).
pub fn usable() -> impl Iterator<Item = &'static VideoModel> {
    VIDEO_MODELS.iter()
}

/// `input_reference` in a JSON body: a stored asset, or a base64 data URL.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputReference {
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub file_id: Option<String>,
    /// A `data:image/...;base64,` URL (other URLs are not fetched).
    #[serde(default)]
    pub image_url: Option<String>,
}

/// `POST /v1/videos` as JSON (multipart carries the same fields, the picture as a file).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVideoRequest {
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    pub prompt: String,
    #[serde(default)]
    pub model: Option<String>,
    /// "4", "8" or "12" (OpenAI sends a string; a number is taken too).
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^(4|8|12)$")]
    pub seconds: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(pattern = "^(720x1280|1280x720|1024x1792|1792x1024)$")]
    pub size: Option<String>,
    #[serde(default)]
    pub input_reference: Option<InputReference>,
    /// The same prompt, picture and seed give the same clip.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Where to POST the job when it changes (Standard Webhooks).
    #[serde(default)]
    pub webhook: Option<String>,
    /// Which changes are sent: `started`, `completed` (the default).
    #[serde(default)]
    pub webhook_events_filter: Option<Vec<String>>,
}

/// A validated video request.
#[derive(Debug, Clone)]
pub struct VideoPlan {
    pub model: &'static VideoModel,
    pub prompt: String,
    pub seconds: u32,
    pub size: Size,
    pub seed: u64,
    pub cost: i64,
}

impl CreateVideoRequest {
    /// Checks every field against the model; each refusal names its `param`.
    pub fn plan(&self) -> Result<VideoPlan, ApiError> {
        let model_id = self.model.as_deref().unwrap_or(LOCAL_VIDEO_MODEL);
        let model = find(model_id).ok_or_else(|| {
            let message = if model_id.starts_with("sora-2") {
                format!(
                    "The model '{model_id}' is retired: OpenAI shut the Sora Videos API down on {SORA_SHUT_DOWN}. Use {LOCAL_VIDEO_MODEL} (offline) instead."
                )
            } else {
                format!(
                    "The model '{model_id}' does not exist. Video models: {}.",
                    usable().map(|m| m.id).collect::<Vec<_>>().join(", ")
                )
            };
            ApiError::invalid("model", message)
        })?;
        let prompt = self.prompt.trim();
        if prompt.is_empty() {
            return Err(ApiError::missing("prompt"));
        }
        let chars = self.prompt.chars().count();
        if chars > model.max_prompt_chars {
            return Err(ApiError::invalid(
                "prompt",
                format!(
                    "prompt is {chars} characters; {} takes at most {}",
                    model.id, model.max_prompt_chars
                ),
            ));
        }
        let allowed = || {
            model
                .seconds
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let seconds = match &self.seconds {
            None | Some(serde_json::Value::Null) => model.default_seconds(),
            Some(v) => {
                let parsed = match v {
                    serde_json::Value::String(s) => s.trim().parse::<u32>().ok(),
                    serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
                    _ => None,
                };
                parsed
                    .filter(|s| model.seconds.contains(s))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "seconds",
                            format!(
                                "seconds must be one of {} for {}, not {v}",
                                allowed(),
                                model.id
                            ),
                        )
                    })?
            }
        };
        let size = match self.size.as_deref() {
            None => model.default_size,
            Some(s) => Size::parse(s)
                .filter(|size| model.sizes.contains(size))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "size",
                        format!(
                            "size must be one of {} for {}, not '{s}'",
                            model
                                .sizes
                                .iter()
                                .map(Size::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                            model.id
                        ),
                    )
                })?,
        };
        Ok(VideoPlan {
            model,
            prompt: self.prompt.clone(),
            seconds,
            size,
            seed: self.seed.unwrap_or_else(rand::random),
            cost: model.cost(seconds),
        })
    }

    /// The fields a job keeps (prompt, model, size, seed pinned, webhook) in the image
    /// request's shape every job uses; `seconds` travels beside it.
    pub fn job_fields(&self, plan: &VideoPlan) -> CreateImageRequest {
        CreateImageRequest {
            prompt: plan.prompt.clone(),
            model: Some(plan.model.id.to_string()),
            size: Some(plan.size.to_string()),
            seed: Some(plan.seed),
            webhook: self.webhook.clone(),
            webhook_events_filter: self.webhook_events_filter.clone(),
            ..Default::default()
        }
    }
}

/// OpenAI's video statuses, from a job's.
pub fn video_status(status: crate::domain::jobs::JobStatus) -> &'static str {
    use crate::domain::jobs::JobStatus::*;
    match status {
        Queued => "queued",
        Processing => "in_progress",
        Succeeded => "completed",
        Failed | Canceled => "failed",
    }
}

/// Which file of a finished video to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Video,
    Thumbnail,
    Spritesheet,
}

impl Variant {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "video" => Some(Self::Video),
            "thumbnail" => Some(Self::Thumbnail),
            "spritesheet" => Some(Self::Spritesheet),
            _ => None,
        }
    }
}

/// The poster and spritesheet of a video asset, beside its MP4 (keys from ids only).
pub fn extra_keys(user_id: &str, asset_id: &str) -> [String; 2] {
    [
        format!("images/{user_id}/{asset_id}.thumbnail.jpg"),
        format!("images/{user_id}/{asset_id}.spritesheet.jpg"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> CreateVideoRequest {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_are_the_local_model_four_seconds_portrait() {
        let plan = request(serde_json::json!({"prompt": "a harbour"}))
            .plan()
            .unwrap();
        assert_eq!(plan.model.id, LOCAL_VIDEO_MODEL);
        assert_eq!((plan.seconds, plan.size), (4, Size::new(720, 1280)));
        assert_eq!(plan.cost, 4);
    }

    #[test]
    fn seconds_come_as_strings_or_numbers_and_only_as_the_model_allows() {
        let p =
            |s: serde_json::Value| request(serde_json::json!({"prompt": "x", "seconds": s})).plan();
        assert_eq!(p("8".into()).unwrap().seconds, 8);
        assert_eq!(p(12.into()).unwrap().cost, 12);
        let e = p("5".into()).unwrap_err();
        assert_eq!(e.param(), Some("seconds"));
        assert!(e.to_string().contains("4, 8, 12"), "{e}");
    }

    #[test]
    fn sora_is_retired_and_names_what_to_use() {
        let e = request(serde_json::json!({"prompt": "x", "model": "sora-2-pro"}))
            .plan()
            .unwrap_err();
        assert_eq!(e.param(), Some("model"));
        assert!(e.to_string().contains(LOCAL_VIDEO_MODEL), "{e}");
        assert!(e.to_string().contains(SORA_SHUT_DOWN), "{e}");
    }

    #[test]
    fn sizes_are_the_four_video_sizes() {
        let e = request(serde_json::json!({"prompt": "x", "size": "1024x1024"}))
            .plan()
            .unwrap_err();
        assert_eq!(e.param(), Some("size"));
        let ok = request(serde_json::json!({"prompt": "x", "size": "1792x1024"}))
            .plan()
            .unwrap();
        assert_eq!(ok.size, Size::new(1792, 1024));
    }
}
