//! OpenAI's Videos API over this API's jobs: a video is a job of operation `video` (charged,
//! queued, canceled and announced like any job) whose result is one library asset of kind
//! `video` — its MP4, a poster and a spritesheet.

use crate::Deps;
use crate::domain::jobs::{Job, JobFilter, JobOperation, JobRequest, JobStatus};
use crate::domain::videos::{Variant, extra_keys, video_status};
use crate::error::ApiError;
use crate::http::wire::{ImagesResponse, VideoDeleted, VideoError, VideoList, VideoObject};
use crate::ports::{Blobs, Store};

/// How long the SDK's `poll` helper waits between reads of a running video.
pub const POLL_AFTER_MS: u32 = 1000;

/// The video as OpenAI's Video object.
pub fn object(job: &Job) -> Result<VideoObject, ApiError> {
    let request: JobRequest = serde_json::from_str(&job.request).map_err(ApiError::internal)?;
    let error = match job.status {
        JobStatus::Canceled => Some(VideoError {
            code: "canceled".into(),
            message: "The video was canceled before it finished; its credits were given back."
                .into(),
            param: None,
            kind: Some("invalid_request_error".into()),
        }),
        _ => job.failure.as_ref().map(|f| {
            let text = |k: &str| f.error.get(k).and_then(|v| v.as_str()).map(str::to_string);
            VideoError {
                code: text("code").unwrap_or_else(|| "video_failed".into()),
                message: text("message").unwrap_or_else(|| "The video failed.".into()),
                param: text("param"),
                kind: text("type"),
            }
        }),
    };
    Ok(VideoObject {
        id: job.id.clone(),
        object: "video".into(),
        status: video_status(job.status).into(),
        progress: job.progress,
        model: job.model.clone(),
        prompt: Some(request.fields.prompt.clone()),
        seconds: request.seconds.unwrap_or_default().to_string(),
        size: request.fields.size.clone().unwrap_or_default(),
        created_at: job.created_at,
        completed_at: job.completed_at,
        expires_at: None,
        remixed_from_video_id: None,
        error,
        asset_id: asset_of(job),
    })
}

/// The library asset a finished video made.
fn asset_of(job: &Job) -> Option<String> {
    let result: ImagesResponse = serde_json::from_str(job.result.as_deref()?).ok()?;
    result.data.into_iter().next().map(|d| d.id)
}

fn no_video(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no video with id '{}'",
        crate::usecases::library::shown(id)
    ))
}

/// One of the caller's videos (a job of another kind is not a video).
pub async fn get<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
) -> Result<Job, ApiError> {
    match crate::usecases::jobs::get(deps, user_id, id).await {
        Ok(job) if job.operation == JobOperation::Video => Ok(job),
        Ok(_) | Err(ApiError::NotFound(_)) => Err(no_video(id)),
        Err(e) => Err(e),
    }
}

/// One page of the caller's videos.
pub async fn list<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    limit: usize,
    after: Option<&str>,
    oldest_first: bool,
) -> Result<VideoList, ApiError> {
    let filter = JobFilter {
        operation: Some(JobOperation::Video),
        oldest_first,
        ..Default::default()
    };
    let (jobs, next) = deps.store.list_jobs(user_id, filter, limit, after).await?;
    let data = jobs.iter().map(object).collect::<Result<Vec<_>, _>>()?;
    Ok(VideoList {
        object: "list".into(),
        first_id: data.first().map(|v| v.id.clone()),
        last_id: data.last().map(|v| v.id.clone()),
        has_more: next.is_some(),
        data,
    })
}

/// The object key of a finished video's file.
pub async fn content_key<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
    variant: Variant,
) -> Result<String, ApiError> {
    let job = get(deps, user_id, id).await?;
    if job.status != JobStatus::Succeeded {
        return Err(ApiError::Conflict {
            message: format!(
                "video '{id}' is {}: its content exists once it is completed",
                video_status(job.status)
            ),
            param: None,
        });
    }
    let asset = asset_of(&job).ok_or_else(|| ApiError::internal("a video without its asset"))?;
    let record = deps.store.image(user_id, &asset).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "the file of video '{id}' (asset '{asset}') was deleted from the library"
        ))
    })?;
    let [thumbnail, spritesheet] = extra_keys(user_id, &record.id);
    // A vendor's MP4 is kept as it came: no frames are read back out of it.
    let vendor_made = record.provider.as_deref().is_some_and(|p| p != "local");
    if variant == Variant::Spritesheet && vendor_made {
        return Err(ApiError::NotFound(format!(
            "video '{id}' was made by {} and has no spritesheet; its thumbnail is the picture it started from",
            record.provider.as_deref().unwrap_or_default()
        )));
    }
    Ok(match variant {
        Variant::Video => record.key,
        Variant::Thumbnail => thumbnail,
        Variant::Spritesheet => spritesheet,
    })
}

/// Deletes a finished video: its asset (files and metadata) and its job. A running video is a
/// 409: cancel it first.
pub async fn delete<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
) -> Result<VideoDeleted, ApiError> {
    let job = get(deps, user_id, id).await?;
    if !job.status.is_terminal() {
        return Err(ApiError::Conflict {
            message: format!(
                "video '{id}' is still {}: cancel it with POST /v1/jobs/{id}/cancel, then delete it",
                video_status(job.status)
            ),
            param: None,
        });
    }
    if let Some(asset) = asset_of(&job) {
        match crate::usecases::library::delete(deps, user_id, &asset, false).await {
            // Deleted from the library already.
            Ok(_) | Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    if !deps.store.delete_job(user_id, id).await? {
        return Err(no_video(id));
    }
    tracing::info!(user_id, video_id = id, "video deleted");
    Ok(VideoDeleted {
        id: id.to_string(),
        object: "video.deleted".into(),
        deleted: true,
    })
}

#[cfg(feature = "images")]
pub use create::*;

#[cfg(feature = "images")]
mod create {
    use super::*;
    use crate::domain::videos::{CreateVideoRequest, InputReference};
    use crate::http::Principal;
    use crate::http::multipart;
    use crate::usecases::edit_inputs::{ImageSource, MAX_INLINE_IMAGE_BYTES, load_all};
    use crate::usecases::idempotency::{Submitted, claimed};
    use crate::usecases::job_runs::{Submission, Work, submit, webhook_of};
    use base64::Engine;
    use lambda_http::Request;
    use serde_json::Value;

    /// A parsed `POST /v1/videos`: the fields, the picture (if any) with its `param`, and what
    /// makes two requests "the same" for Idempotency-Key.
    pub struct ParsedVideo {
        pub fields: CreateVideoRequest,
        pub picture: Option<(String, ImageSource)>,
        pub canonical: String,
    }

    /// Parses multipart (the SDK's way: `input_reference` as a file, or as
    /// `input_reference[file_id]`) or JSON (`input_reference: {"file_id"}` or a data URL).
    pub async fn parse(req: &Request, max_json: usize) -> Result<ParsedVideo, ApiError> {
        let (mut value, file) = if multipart::is_multipart(req) {
            if req.body().len() > MAX_INLINE_IMAGE_BYTES * 2 {
                return Err(ApiError::PayloadTooLarge(format!(
                    "request body is {} bytes; an inline input_reference may be at most {MAX_INLINE_IMAGE_BYTES} bytes. Upload larger images with POST /v1/uploads and pass {{\"file_id\": ...}}",
                    req.body().len()
                )));
            }
            let form = multipart::parse(req, &["input_reference"], MAX_INLINE_IMAGE_BYTES).await?;
            let mut text = form.text_json(&["seed"], &[])?;
            let obj = text.as_object_mut().expect("a form is an object");
            // A form has no arrays: the events are comma-separated.
            if let Some(Value::String(events)) = obj.get("webhook_events_filter") {
                let events: Vec<Value> = events
                    .split(',')
                    .map(|e| Value::String(e.trim().to_string()))
                    .filter(|e| e.as_str() != Some(""))
                    .collect();
                obj.insert("webhook_events_filter".into(), Value::Array(events));
            }
            // The SDK writes a reference object as bracketed fields.
            let mut reference = serde_json::Map::new();
            for field in ["file_id", "image_url"] {
                if let Some(v) = obj.remove(&format!("input_reference[{field}]")) {
                    reference.insert(field.into(), v);
                }
            }
            let mut files = form.files;
            if files.len() > 1 {
                return Err(ApiError::invalid(
                    "input_reference",
                    "send at most one input_reference",
                ));
            }
            let file = files.pop().map(|(_, bytes)| bytes);
            if !reference.is_empty() {
                if file.is_some() {
                    return Err(ApiError::invalid(
                        "input_reference",
                        "send input_reference as a file or as a reference, not both",
                    ));
                }
                obj.insert("input_reference".into(), Value::Object(reference));
            }
            (text, file)
        } else {
            let value: Value = crate::http::json_body(req, max_json)?;
            if !value.is_object() {
                return Err(ApiError::invalid("body", "the JSON body must be an object"));
            }
            (value, None)
        };
        let canonical = serde_json::json!({
            "fields": value,
            "file": file.as_deref().map(crate::usecases::auth::token_hash_bytes),
        })
        .to_string();
        if value.get("prompt").is_none() {
            return Err(ApiError::missing("prompt"));
        }
        // Typed, with the field at fault named.
        let obj = value.as_object_mut().expect("checked above");
        let reference = obj.remove("input_reference");
        let mut fields: CreateVideoRequest =
            serde_path_to_error::deserialize(value).map_err(|e| crate::http::json_error(&e))?;
        let picture = match (file, reference) {
            (Some(bytes), _) => Some(("input_reference".to_string(), ImageSource::Bytes(bytes))),
            (None, None | Some(Value::Null)) => None,
            (None, Some(r)) => {
                let r: InputReference = serde_json::from_value(r).map_err(|e| {
                    ApiError::invalid(
                        "input_reference",
                        format!(
                            "input_reference must be {{\"file_id\"}} or {{\"image_url\"}}: {e}"
                        ),
                    )
                })?;
                fields.input_reference = Some(r.clone());
                Some(picture_of(r)?)
            }
        };
        Ok(ParsedVideo {
            fields,
            picture,
            canonical,
        })
    }

    fn picture_of(r: InputReference) -> Result<(String, ImageSource), ApiError> {
        match (r.file_id, r.image_url) {
            (Some(id), None) if !id.trim().is_empty() => {
                Ok(("input_reference.file_id".into(), ImageSource::Asset(id)))
            }
            (None, Some(url)) => {
                let param = "input_reference.image_url";
                // Only data URLs: fetching arbitrary URLs server-side would be an SSRF hole.
                let data = url
                    .strip_prefix("data:")
                    .and_then(|rest| rest.split_once(";base64,"))
                    .map(|(_, data)| data)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            param,
                            "image_url must be a base64 data URL (data:image/png;base64,...); for other images upload them (POST /v1/uploads) and pass file_id",
                        )
                    })?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|e| {
                        ApiError::invalid(param, format!("image_url is not valid base64: {e}"))
                    })?;
                Ok((param.into(), ImageSource::Bytes(bytes)))
            }
            (Some(_), Some(_)) => Err(ApiError::invalid(
                "input_reference",
                "give file_id or image_url, not both",
            )),
            _ => Err(ApiError::missing("input_reference.file_id")),
        }
    }

    /// Validates, charges and queues the video (always a job), under the Idempotency-Key.
    pub async fn create<S: Store, B: Blobs>(
        deps: &Deps<S, B>,
        who: &Principal,
        key: Option<&str>,
        parsed: ParsedVideo,
    ) -> Result<Job, ApiError> {
        let plan = parsed.fields.plan(|k| deps.config.serves(k))?;
        if plan.model.needs_picture && parsed.picture.is_none() {
            return Err(ApiError::invalid(
                "input_reference",
                format!(
                    "{} animates a picture: send input_reference (an image file, or {{\"file_id\": ...}})",
                    plan.model.id
                ),
            ));
        }
        let fields = parsed.fields.job_fields(&plan);
        webhook_of(&fields, true, deps.config.allow_private_webhook_targets)?;
        let submitted = claimed(deps, who, key, &parsed.canonical, |claim| async move {
            // Inside the claim: a replay answers without reading the picture again.
            let images = load_all(deps, &who.user_id, parsed.picture.into_iter().collect()).await?;
            let sub = Submission {
                operation: JobOperation::Video,
                fields,
                work: Work::Video(plan),
                images,
                mask: None,
            };
            submit(deps, who, sub, claim).await.map(Submitted::Job)
        })
        .await?;
        match submitted {
            Submitted::Job(job) if job.operation == JobOperation::Video => Ok(job),
            _ => Err(ApiError::Conflict {
                message: "this Idempotency-Key was used for another kind of request".into(),
                param: Some("Idempotency-Key".into()),
            }),
        }
    }
}
