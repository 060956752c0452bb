//! Videos (`/v1/videos`), shaped as the `openai` SDK types them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// OpenAI's Video object: a video job of this API (`GET /v1/jobs/{id}` shows the same job).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VideoObject {
    pub id: String,
    /// Always `video`.
    pub object: String,
    #[schema(pattern = "^(queued|in_progress|completed|failed)$")]
    pub status: String,
    /// 0–100.
    pub progress: u8,
    pub model: String,
    pub prompt: Option<String>,
    /// Clip length in seconds, as OpenAI writes it ("4").
    pub seconds: String,
    pub size: String,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// Videos are kept until deleted: always null.
    pub expires_at: Option<i64>,
    pub remixed_from_video_id: Option<String>,
    /// Once failed (or canceled): `code`, `message` and the `param` at fault, if any.
    pub error: Option<VideoError>,
    /// Once completed: the library asset (kind `video`) holding the clip.
    pub asset_id: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VideoError {
    pub code: String,
    pub message: String,
    pub param: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// OpenAI's cursor page of videos.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VideoList {
    pub object: String,
    pub data: Vec<VideoObject>,
    pub has_more: bool,
    pub first_id: Option<String>,
    /// Pass as `after` for the next page.
    pub last_id: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VideoDeleted {
    pub id: String,
    /// Always `video.deleted`.
    pub object: String,
    pub deleted: bool,
}

/// `multipart/form-data` body of `POST /v1/videos` (the form the SDKs send).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateVideoForm {
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    prompt: String,
    model: Option<String>,
    #[schema(pattern = "^(4|8|12)$")]
    seconds: Option<String>,
    #[schema(pattern = "^(720x1280|1280x720|1024x1792|1792x1024)$")]
    size: Option<String>,
    /// The picture the camera moves over (PNG, JPEG or WebP, by content).
    #[schema(value_type = Option<String>, format = Binary, min_length = 1)]
    input_reference: Option<String>,
    /// A stored image as the picture (instead of the file).
    #[schema(rename = "input_reference[file_id]", pattern = "^[A-Za-z0-9_-]{1,64}$")]
    input_reference_file_id: Option<String>,
    /// A base64 `data:` URL as the picture (instead of the file).
    #[schema(rename = "input_reference[image_url]")]
    input_reference_image_url: Option<String>,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    seed: Option<i64>,
    webhook: Option<String>,
    /// `started`, `completed` or both, comma-separated.
    webhook_events_filter: Option<String>,
    /// What the video's Content Credentials may also disclose: `prompt`, `author`, or both
    /// comma-separated.
    #[schema(pattern = "^(prompt|author)(,(prompt|author))?$")]
    provenance_include: Option<String>,
    /// `true`: a quote of the request (`Quote`); nothing is charged, queued or sent to a vendor.
    dry_run: Option<bool>,
}

/// What `POST /v1/videos` answers with 200: the queued video, or with `dry_run`, the quote.
#[derive(Serialize, ToSchema, Debug)]
#[serde(untagged)]
pub enum VideoOrQuote {
    Video(VideoObject),
    Quote(super::Quote),
}
