//! Videos in the shape of OpenAI's Videos API (whose Sora models are shut down): the video
//! models this API serves instead, and a create request validated into a plan. A video is a
//! job (always queued) whose result is one library asset of kind `video`.

use crate::domain::catalog::{Info, ProviderKind, Route, Size};
use crate::domain::generation::CreateImageRequest;
use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// A model that makes short clips.
#[derive(Debug)]
pub struct VideoModel {
    pub id: &'static str,
    /// The vendors that serve it, in the catalog's order (routing reorders them).
    pub vendors: &'static [Route],
    /// Other names accepted for it (the seeds' model names).
    pub aliases: &'static [&'static str],
    /// Animates a picture: `input_reference` is required.
    pub needs_picture: bool,
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
    /// The model's family: its first vendor.
    pub fn provider(&self) -> ProviderKind {
        self.vendors[0].vendor
    }

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

/// Vendors' image-to-video models follow the picture's aspect ratio: the size is the frame the
/// picture is cropped to first.
const VENDOR_VIDEO_SIZES: &[Size] = &[
    Size::new(1280, 720),
    Size::new(720, 1280),
    Size::new(1024, 576),
    Size::new(576, 1024),
];

pub static VIDEO_MODELS: &[VideoModel] = &[
    VideoModel {
        id: LOCAL_VIDEO_MODEL,
        vendors: &[Route {
            vendor: ProviderKind::Local,
            id: LOCAL_VIDEO_MODEL,
            cost_mills: 0,
            params: &["seed"],
        }],
        aliases: &[],
        needs_picture: false,
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
    },
    VideoModel {
        id: "stable-video",
        vendors: &[Route {
            vendor: ProviderKind::Fal,
            id: "fal-ai/stable-video",
            cost_mills: 75,
            params: &["seed"],
        }],
        aliases: &["stable_video"],
        needs_picture: true,
        owned_by: "stability-ai",
        sizes: &[Size::new(1024, 576), Size::new(576, 1024)],
        default_size: Size::new(1024, 576),
        seconds: &[4],
        cost_per_second: 3,
        max_prompt_chars: 4000,
        info: Info {
            what_is: "Stability AI's Stable Video Diffusion (served by fal): 25 frames of motion \
                grown from a still picture, about 4 seconds at 6 fps. It takes no prompt into \
                account: the picture alone decides what moves.",
            use_cases: &["Bringing a still image to life", "Short loops and previews"],
            tips: &[
                "`input_reference` is required: the picture is cropped to 1024x576 or 576x1024 first",
                "The same picture and `seed` give the same clip",
            ],
        },
    },
    VideoModel {
        id: "kling-i2v",
        vendors: &[
            Route {
                vendor: ProviderKind::Replicate,
                id: "kwaivgi/kling-v2.1",
                cost_mills: 50,
                params: &[],
            },
            Route {
                vendor: ProviderKind::Fal,
                id: "fal-ai/kling-video/v2.1/standard/image-to-video",
                cost_mills: 50,
                params: &[],
            },
        ],
        aliases: &["kling"],
        needs_picture: true,
        owned_by: "kuaishou",
        sizes: VENDOR_VIDEO_SIZES,
        default_size: Size::new(1280, 720),
        seconds: &[5, 10],
        cost_per_second: 4,
        max_prompt_chars: 2500,
        info: Info {
            what_is: "Kuaishou's Kling 2.1 (standard, 720p) image-to-video: the prompt directs \
                what happens to the picture, with natural motion and physics.",
            use_cases: &[
                "Product and character animation",
                "Short scenes from a key frame",
            ],
            tips: &[
                "`input_reference` is the first frame; the prompt says what happens next",
                "`seconds` is 5 or 10; served by Replicate or fal, whichever is up",
            ],
        },
    },
];

/// Sora's models: OpenAI shut the Videos API down, so asking for them names what to use.
pub const SORA_SHUT_DOWN: &str = "2026-09-24";

/// A video model by its id or one of its aliases.
pub fn find(id: &str) -> Option<&'static VideoModel> {
    VIDEO_MODELS
        .iter()
        .find(|m| m.id == id || m.aliases.contains(&id))
}

/// Video models this deployment serves: a vendor's when one of its vendors has a key.
pub fn usable(serves: impl Fn(ProviderKind) -> bool) -> impl Iterator<Item = &'static VideoModel> {
    VIDEO_MODELS
        .iter()
        .filter(move |m| m.vendors.iter().any(|r| serves(r.vendor)))
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
    /// What the video's Content Credentials may also disclose: `prompt`, `author`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<crate::domain::generation::ProvenanceItem>>)]
    pub provenance_include: Option<Vec<String>>,
    /// A quote only (`Quote`): nothing is charged, queued or sent to a vendor.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// A validated video request.
#[derive(Debug, Clone)]
pub struct VideoPlan {
    pub model: &'static VideoModel,
    /// The model's vendors this deployment has.
    pub routes: Vec<&'static Route>,
    pub prompt: String,
    pub seconds: u32,
    pub size: Size,
    pub seed: u64,
    pub cost: i64,
}

impl CreateVideoRequest {
    /// Checks every field against the model; each refusal names its `param`. `serves` says
    /// which vendors this deployment has.
    pub fn plan(&self, serves: impl Fn(ProviderKind) -> bool) -> Result<VideoPlan, ApiError> {
        crate::domain::generation::Disclose::parse(self.provenance_include.as_deref())?;
        let model_id = self.model.as_deref().unwrap_or(LOCAL_VIDEO_MODEL);
        let served = |m: &&VideoModel| m.vendors.iter().any(|r| serves(r.vendor));
        let model = find(model_id).filter(served).ok_or_else(|| {
            let message = if model_id.starts_with("sora-2") {
                format!(
                    "The model '{model_id}' is retired: OpenAI shut the Sora Videos API down on {SORA_SHUT_DOWN}. Use {LOCAL_VIDEO_MODEL} (offline) instead."
                )
            } else {
                format!(
                    "The model '{model_id}' does not exist or is not available here. Video models: {}.",
                    VIDEO_MODELS
                        .iter()
                        .filter(served)
                        .map(|m| m.id)
                        .collect::<Vec<_>>()
                        .join(", ")
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
        if self.seed.is_some() && !model.vendors.iter().any(|r| r.params.contains(&"seed")) {
            return Err(ApiError::invalid(
                "seed",
                format!("{} takes no seed", model.id),
            ));
        }
        Ok(VideoPlan {
            routes: model.vendors.iter().filter(|r| serves(r.vendor)).collect(),
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
            // Pinned where the model takes one, so that a retried job makes the same clip.
            seed: plan
                .model
                .vendors
                .iter()
                .any(|r| r.params.contains(&"seed"))
                .then_some(plan.seed),
            webhook: self.webhook.clone(),
            webhook_events_filter: self.webhook_events_filter.clone(),
            provenance_include: self.provenance_include.clone(),
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
            .plan(|_| true)
            .unwrap();
        assert_eq!(plan.model.id, LOCAL_VIDEO_MODEL);
        assert_eq!((plan.seconds, plan.size), (4, Size::new(720, 1280)));
        assert_eq!(plan.cost, 4);
    }

    #[test]
    fn seconds_come_as_strings_or_numbers_and_only_as_the_model_allows() {
        let p = |s: serde_json::Value| {
            request(serde_json::json!({"prompt": "x", "seconds": s})).plan(|_| true)
        };
        assert_eq!(p("8".into()).unwrap().seconds, 8);
        assert_eq!(p(12.into()).unwrap().cost, 12);
        let e = p("5".into()).unwrap_err();
        assert_eq!(e.param(), Some("seconds"));
        assert!(e.to_string().contains("4, 8, 12"), "{e}");
    }

    #[test]
    fn sora_is_retired_and_names_what_to_use() {
        let e = request(serde_json::json!({"prompt": "x", "model": "sora-2-pro"}))
            .plan(|_| true)
            .unwrap_err();
        assert_eq!(e.param(), Some("model"));
        assert!(e.to_string().contains(LOCAL_VIDEO_MODEL), "{e}");
        assert!(e.to_string().contains(SORA_SHUT_DOWN), "{e}");
    }

    #[test]
    fn sizes_are_the_four_video_sizes() {
        let e = request(serde_json::json!({"prompt": "x", "size": "1024x1024"}))
            .plan(|_| true)
            .unwrap_err();
        assert_eq!(e.param(), Some("size"));
        let ok = request(serde_json::json!({"prompt": "x", "size": "1792x1024"}))
            .plan(|_| true)
            .unwrap();
        assert_eq!(ok.size, Size::new(1792, 1024));
    }
}
