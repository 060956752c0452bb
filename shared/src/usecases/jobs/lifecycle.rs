//! Every end of a job and what it owes: ending it once, giving back what a job that did not
//! succeed took, its webhook and its event, a dead letter, an expired hold.

use crate::domain::billing::Hold;
use crate::domain::jobs::{CancelOutcome, Job, JobEnd, JobFailure, JobStatus, WebhookEvent};
use crate::domain::{DAY_SECONDS, now_epoch};
use crate::error::ApiError;
use crate::messages::{Announcement, Delivery, JobMessage, QueueSubmission};
use crate::ports::{Blobs, InOrder, QueueName, Store};
use crate::usecases::Deps;
use crate::usecases::billing::charges;
use crate::usecases::billing::charges::{HOLD_SECONDS, Unwound};
use crate::usecases::idempotency::{Deleted, rehydrate};
use crate::usecases::jobs::{no_job, object};
use crate::wire::{ImagesResponse, JobObject};

/// The generation queue keeps a message for a day (its retention): a job's hold is due once
/// no delivery of it can come any more, and the sweeper then ends whatever is left of it.
pub const JOB_HOLD_SECONDS: i64 = DAY_SECONDS + HOLD_SECONDS;

/// How long an attempt holds a job: longer than the worker may run (its 15-minute timeout).
pub const LEASE_SECONDS: i64 = HOLD_SECONDS;

pub const JOB_PREFIX: &str = "job";

/// Whether a hold is a job's (its id is the job's).
pub fn is_job(hold_id: &str) -> bool {
    hold_id.starts_with("job_")
}

/// How an error is kept on a job: what the synchronous call would have answered.
pub fn failure_of(e: &ApiError) -> JobFailure {
    JobFailure {
        status: e.status().as_u16(),
        error: e.body()["error"].clone(),
    }
}

/// Cancels the caller's job: a queued one at once (and gives back what it took); a processing
/// one at its worker's next checkpoint. A finished job is a 409.
pub async fn cancel<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
) -> Result<Job, ApiError> {
    // The conditional writes tell a missing job apart themselves: no read first.
    if !crate::domain::plausible_id(id) {
        return Err(no_job(id));
    }
    match deps.store.request_cancel(user_id, id, now_epoch()).await? {
        CancelOutcome::Canceled(job) => {
            tracing::info!(user_id, job_id = id, "queued job canceled");
            give_back(deps, &job).await;
            Ok(job)
        }
        CancelOutcome::Requested(job) => {
            tracing::info!(user_id, job_id = id, "cancel requested of a processing job");
            Ok(job)
        }
        // Whoever ended it may have died before giving back (a retried cancel whose first
        // answer was lost, a worker killed after failing the job): finish that first.
        CancelOutcome::Finished(job) => {
            if job.status != JobStatus::Succeeded {
                give_back(deps, &job).await;
            }
            Err(finished(id, &job))
        }
        CancelOutcome::Missing => Err(no_job(id)),
    }
}

pub(super) fn finished(id: &str, job: &Job) -> ApiError {
    ApiError::Conflict {
        message: format!(
            "job {id} has already {}; only queued or processing jobs can be canceled",
            job.status.as_str()
        ),
        param: None,
    }
}

/// Ends a job that did not succeed, if it is still `from` (and `attempt`'s), and gives back what
/// it took (the table's stream announces the end). `false` when someone else ended it first.
pub async fn end<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    job: &Job,
    from: JobStatus,
    attempt: Option<u32>,
    status: JobStatus,
    failure: Option<JobFailure>,
) -> Result<bool, ApiError> {
    let end = JobEnd {
        status,
        failure,
        completed_at: now_epoch(),
    };
    if !deps
        .store
        .end_job(&job.user_id, &job.id, from, attempt, &end)
        .await?
    {
        // Ended so already (perhaps by this very call, whose answer was lost): finish what
        // that end owed, if it is still owed.
        return match deps.store.job(&job.user_id, &job.id).await? {
            Some(j) if j.status == status => {
                give_back(deps, &j).await;
                Ok(true)
            }
            _ => Ok(false),
        };
    }
    let ended = Job {
        status: end.status,
        failure: end.failure,
        completed_at: Some(end.completed_at),
        ..job.clone()
    };
    give_back(deps, &ended).await;
    Ok(true)
}

/// Gives back a job's hold if it is still there; `true` when this call gave it back. On
/// failure the sweeper does it once the hold is due.
pub async fn give_back<S: Store, B: Blobs>(deps: &Deps<S, B>, job: &Job) -> bool {
    let hold = match deps.store.hold(&job.id).await {
        Ok(Some(hold)) => hold,
        Ok(None) => return false,
        Err(e) => {
            tracing::error!(job_id = %job.id, error = %e, "could not read a job's hold; the sweeper will give it back");
            return false;
        }
    };
    match charges::give_back(&deps.store, &deps.blobs, &hold, false).await {
        Ok(Unwound::GivenBack { credits }) => {
            tracing::info!(job_id = %job.id, credits, "gave back what a job took");
            true
        }
        Ok(Unwound::Settled) => {
            tracing::error!(job_id = %job.id, "job ended after its images were stored");
            false
        }
        Ok(Unwound::Gone) => false,
        Err(e) => {
            tracing::error!(job_id = %job.id, error = %e, "could not give back a job's charge; the sweeper will");
            false
        }
    }
}

/// What a job's transition owes other systems, called for each transition the table's stream
/// carries: its webhook (if it asked for this event) through the webhook queue, and its event
/// on the bus. Both carry ids derived from the transition (`msg_<job>_<event>` as
/// `webhook-id`, `evt_<job>_<status>` as `event_id`), the same however often it is sent.
pub async fn announce<S: Store, B: Blobs>(deps: &Deps<S, B>, job: &Job) -> Result<(), ApiError> {
    let (event, detail_type) = match job.status {
        JobStatus::Queued => (None, "Job Queued"),
        JobStatus::Processing => (Some(WebhookEvent::Started), "Job Started"),
        JobStatus::Succeeded => (Some(WebhookEvent::Completed), "Job Succeeded"),
        JobStatus::Failed => (Some(WebhookEvent::Completed), "Job Failed"),
        JobStatus::Canceled => (Some(WebhookEvent::Completed), "Job Canceled"),
    };
    let body = object(job);
    if let (Some(event), Some(url)) = (event, &job.webhook)
        && job.webhook_events.contains(&event)
    {
        send_webhook(deps, job, url, &body, event).await?;
    }
    let mut detail = serde_json::to_value(&body).map_err(ApiError::internal)?;
    detail["user_id"] = job.user_id.clone().into();
    detail["event_id"] = format!("evt_{}_{}", job.id, job.status.as_str()).into();
    deps.events.publish(detail_type, vec![detail]).await
}

/// Announces that a submission from the queue was refused, through the outbox (the refusal
/// changes no other item): `Submission Refused` with `{user_id, reference, error}`. The queue
/// message's id names it, so a message delivered again is announced once.
pub async fn refuse_submission<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    message_id: &str,
    sub: &QueueSubmission,
    error: &ApiError,
) -> Result<(), ApiError> {
    let announcement = Announcement {
        id: format!("evt_refused_{message_id}"),
        detail_type: "Submission Refused".into(),
        detail: serde_json::json!({
            "user_id": sub.user_id,
            "reference": sub.reference,
            "error": error.body()["error"],
        }),
    };
    deps.store.put_announcement(&announcement).await
}

pub(super) async fn send_webhook<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    job: &Job,
    url: &str,
    body: &JobObject,
    event: WebhookEvent,
) -> Result<(), ApiError> {
    let mut body = body.clone();
    // URLs (never bytes: a queue message holds 256 KB) for a receiver that fetches the images
    // at once; GET /v1/jobs/{id} presigns anew.
    if let Some(stored) = job.result.as_deref() {
        let mut stored: ImagesResponse =
            serde_json::from_str(stored).map_err(ApiError::internal)?;
        for d in &mut stored.data {
            d.url = Some(String::new());
            d.b64_json = None;
        }
        body.result = Some(rehydrate(deps, &job.user_id, stored, Deleted::Omit).await?);
    }
    let body = serde_json::to_value(&body).map_err(ApiError::internal)?;
    let delivery = Delivery::of_job(&job.id, event, &job.user_id, url, body);
    // A job's webhooks in their order: `started` is never delivered after `completed`.
    let order = InOrder {
        group: job.id.clone(),
        dedup_id: delivery.id.clone(),
    };
    let delivery = serde_json::to_string(&delivery).map_err(ApiError::internal)?;
    deps.queues
        .send(QueueName::Webhooks, delivery, Some(order))
        .await
}

/// A job whose message reached the dead-letter queue: it failed for good. Ends it (if no
/// attempt ended it) and gives back what it took.
pub async fn dead_letter<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    message: &JobMessage,
) -> Result<(), ApiError> {
    let Some(job) = deps.store.job(&message.user_id, &message.job_id).await? else {
        tracing::warn!(job_id = %message.job_id, "dead letter of an unknown job");
        return Ok(());
    };
    if job.status.is_terminal() {
        return Ok(());
    }
    let failure = failure_of(&ApiError::Provider {
        status: http::StatusCode::BAD_GATEWAY,
        message: "the job could not be processed after several attempts; nothing was charged"
            .into(),
        retry_after_secs: None,
    });
    tracing::error!(job_id = %job.id, attempts = job.attempt, "job failed for good: dead letter");
    end(
        deps,
        &job,
        job.status,
        None,
        JobStatus::Failed,
        Some(failure),
    )
    .await?;
    Ok(())
}

/// The sweeper's part: a job's hold fell due, so no delivery of the job can come any more.
/// A job still not over is failed; then its hold is given back as any other. Returns the job
/// to announce (one failed now, or one whose end was never followed by its give-back).
pub async fn expire<S: Store>(store: &S, hold: &Hold, now: i64) -> Result<Option<Job>, ApiError> {
    let Some(job) = store.job(&hold.user_id, &hold.id).await? else {
        return Ok(None);
    };
    if job.status.is_terminal() {
        // Ended, but whoever ended it died before giving back: announce it with the give-back.
        return Ok((job.status != JobStatus::Succeeded).then_some(job));
    }
    let failure = failure_of(&ApiError::Provider {
        status: http::StatusCode::GATEWAY_TIMEOUT,
        message: "the job was not processed in time; nothing was charged".into(),
        retry_after_secs: None,
    });
    let end = JobEnd {
        status: JobStatus::Failed,
        failure: Some(failure),
        completed_at: now,
    };
    if !store
        .end_job(&job.user_id, &job.id, job.status, None, &end)
        .await?
    {
        return Ok(None);
    }
    Ok(Some(Job {
        status: end.status,
        failure: end.failure,
        completed_at: Some(now),
        ..job
    }))
}
