//! OpenAI's Videos API over this API's jobs: a video is a job of operation `video` (charged,
//! queued, canceled and announced like any job) whose result is one library asset of kind
//! `video` — its MP4, a poster and a spritesheet.

use crate::domain::jobs::{Job, JobFilter, JobOperation, JobRequest, JobStatus};
use crate::domain::videos::{Variant, extra_keys, video_status};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::wire::{ImagesResponse, VideoDeleted, VideoError, VideoList, VideoObject};

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
    use crate::domain::accounts::Principal;
    use crate::domain::videos::CreateVideoRequest;
    use crate::usecases::edit_inputs::{ImageSource, load_all};
    use crate::usecases::idempotency::{Submitted, claimed};
    use crate::usecases::jobs::{Submission, Work, quote, submit, webhook_of};

    /// A parsed `POST /v1/videos`: the fields, the picture (if any) with its `param`, and what
    /// makes two requests "the same" for Idempotency-Key.
    pub struct ParsedVideo {
        pub fields: CreateVideoRequest,
        pub picture: Option<(String, ImageSource)>,
        pub canonical: String,
    }

    /// What `create` made: the video's job, or with `dry_run`, its quote.
    pub enum Created {
        Video(Job),
        Quote(crate::wire::Quote),
    }

    /// Validates, charges and queues the video (always a job), under the Idempotency-Key.
    pub async fn create<S: Store, B: Blobs>(
        deps: &Deps<S, B>,
        who: &Principal,
        key: Option<&str>,
        parsed: ParsedVideo,
    ) -> Result<Created, ApiError> {
        let plan = parsed.fields.plan(|k| deps.config.vendors.serves(k))?;
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
        webhook_of(
            &fields,
            true,
            deps.config.delivery.allow_private_webhook_targets,
        )?;
        if parsed.fields.dry_run == Some(true) {
            // The picture is not read: what a quote needs is the plan.
            let sub = Submission {
                operation: JobOperation::Video,
                fields,
                work: Work::Video(plan),
                images: Vec::new(),
                mask: None,
            };
            return quote(deps, who, &sub, true).await.map(Created::Quote);
        }
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
            Submitted::Job(job) if job.operation == JobOperation::Video => Ok(Created::Video(job)),
            _ => Err(ApiError::Conflict {
                message: "this Idempotency-Key was used for another kind of request".into(),
                param: Some("Idempotency-Key".into()),
            }),
        }
    }
}
