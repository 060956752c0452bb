//! Jobs as users and other systems see them: `GET /v1/jobs/{id}` with fresh URLs, and the bare
//! object events and webhooks carry.

use crate::domain::jobs::{Job, JobStatus};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::usecases::idempotency::{Deleted, rehydrate};
use crate::wire::{ImagesResponse, JobObject};

/// The job as `GET /v1/jobs/{id}` shows it: its result refilled with fresh URLs (or bytes).
pub async fn view<S: Store, B: Blobs>(deps: &Deps<S, B>, job: &Job) -> Result<JobObject, ApiError> {
    let result = match job.result.as_deref() {
        Some(stored) => {
            let stored: ImagesResponse =
                serde_json::from_str(stored).map_err(ApiError::internal)?;
            Some(rehydrate(deps, &job.user_id, stored, Deleted::Omit).await?)
        }
        None => None,
    };
    Ok(JobObject {
        result,
        ..object(job)
    })
}

/// The job without its result's URLs or bytes (events, webhooks).
pub fn object(job: &Job) -> JobObject {
    let result = job.result.as_deref().and_then(|r| {
        let mut r: ImagesResponse = serde_json::from_str(r).ok()?;
        for d in &mut r.data {
            d.url = None;
            d.b64_json = None;
        }
        Some(r)
    });
    JobObject {
        id: job.id.clone(),
        object: "job".into(),
        status: job.status,
        progress: job.progress,
        operation: job.operation,
        model: job.model.clone(),
        created_at: job.created_at,
        started_at: job.started_at,
        completed_at: job.completed_at,
        cancel_requested: job.cancel_requested,
        provider: result.as_ref().and_then(|r| r.provider.clone()),
        result,
        error: job.failure.as_ref().map(|f| f.error.clone()),
        credits_charged: match job.status {
            JobStatus::Failed | JobStatus::Canceled => 0,
            _ => job.credits,
        },
    }
}

pub async fn get<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
) -> Result<Job, ApiError> {
    let found = if crate::domain::plausible_id(id) {
        deps.store.job(user_id, id).await?
    } else {
        None
    };
    found.ok_or_else(|| no_job(id))
}

pub(super) fn no_job(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no job with id '{}'",
        crate::usecases::library::shown(id)
    ))
}
