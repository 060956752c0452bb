//! Jobs as users and other systems see them: reading, listing, canceling, and what every end of
//! a job does (give back what a job that did not succeed took, send its webhook, publish its
//! event). Running a job is in `generation` (it needs the providers).

use crate::Deps;
use crate::domain::DAY_SECONDS;
use crate::domain::billing::Hold;
use crate::domain::jobs::{
    CancelOutcome, Job, JobEnd, JobFailure, JobStatus, Prefer, WebhookEvent,
};
use crate::domain::now_epoch;
use crate::error::ApiError;
use crate::http::json;
use crate::http::wire::{ImagesResponse, JobObject};
use crate::ports::{Blobs, QueueName, Store};
use crate::usecases::charges::{self, HOLD_SECONDS, Unwound};
use crate::usecases::idempotency::{Deleted, Submitted, rehydrate};
use http::StatusCode;
use serde::{Deserialize, Serialize};

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

/// What the generation queue carries for a job made through the API.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub job_id: String,
    pub user_id: String,
}

/// How an error is kept on a job: what the synchronous call would have answered.
pub fn failure_of(e: &ApiError) -> JobFailure {
    JobFailure {
        status: e.status().as_u16(),
        error: e.body()["error"].clone(),
    }
}

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

fn no_job(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "no job with id '{}'",
        crate::usecases::library::shown(id)
    ))
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
            announce(deps, &job).await;
            Ok(job)
        }
        CancelOutcome::Requested(job) => {
            tracing::info!(user_id, job_id = id, "cancel requested of a processing job");
            Ok(job)
        }
        // Whoever ended it may have died before giving back (a retried cancel whose first
        // answer was lost, a worker killed after failing the job): finish that first.
        CancelOutcome::Finished(job)
            if job.status != JobStatus::Succeeded && give_back(deps, &job).await =>
        {
            announce(deps, &job).await;
            Err(finished(id, &job))
        }
        CancelOutcome::Finished(job) => Err(finished(id, &job)),
        CancelOutcome::Missing => Err(no_job(id)),
    }
}

fn finished(id: &str, job: &Job) -> ApiError {
    ApiError::Conflict {
        message: format!(
            "job {id} has already {}; only queued or processing jobs can be canceled",
            job.status.as_str()
        ),
        param: None,
    }
}

/// Ends a job that did not succeed, if it is still `from` (and `attempt`'s), gives back what
/// it took and announces it. `false` when someone else ended it first.
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
                if give_back(deps, &j).await {
                    announce(deps, &j).await;
                }
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
    announce(deps, &ended).await;
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

/// Sends what a job's transition owes: its webhook (if it asked for this event) through the
/// webhook queue, and its event on the bus. Never fails the transition: it is
/// already stored, and webhooks keep the same id when sent again.
pub async fn announce<S: Store, B: Blobs>(deps: &Deps<S, B>, job: &Job) {
    let event = match job.status {
        JobStatus::Processing => WebhookEvent::Started,
        s if s.is_terminal() => WebhookEvent::Completed,
        _ => return,
    };
    let body = object(job);
    if let Some(url) = &job.webhook
        && job.webhook_events.contains(&event)
        && let Err(e) = send_webhook(deps, job, url, &body, event).await
    {
        tracing::error!(job_id = %job.id, error = %e, "could not queue a job's webhook");
    }
    {
        let detail_type = match job.status {
            JobStatus::Processing => "Job Started",
            JobStatus::Succeeded => "Job Succeeded",
            JobStatus::Failed => "Job Failed",
            _ => "Job Canceled",
        };
        let mut detail = serde_json::to_value(&body).unwrap_or_default();
        detail["user_id"] = job.user_id.clone().into();
        deps.events.publish(detail_type, vec![detail]).await;
    }
}

async fn send_webhook<S: Store, B: Blobs>(
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
    let delivery = serde_json::json!({
        // The same id for this job's event, however often it is sent.
        "id": format!("msg_{}_{}", job.id, event.as_str()),
        "user_id": job.user_id,
        "url": url,
        "body": body,
    });
    deps.queues
        .send(QueueName::Webhooks, delivery.to_string())
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

/// The `Prefer` header of a request.
pub fn prefer(req: &lambda_http::Request) -> Prefer {
    Prefer::parse(
        req.headers()
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// How often `Prefer: wait` looks at the job.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The answer to a paid request: 200 with the images, or for a job 202 with it and
/// `Location: /v1/jobs/{id}`. With `wait`, the request stays open up to that many seconds and
/// answers as the synchronous call would have if the job ends in time (`wait` counts from
/// `started`, when the request arrived).
pub async fn respond<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    submitted: Submitted,
    wait: Option<u32>,
    started: tokio::time::Instant,
    stream: Option<&str>,
) -> Result<lambda_http::Response<lambda_http::Body>, ApiError> {
    let mut job = match submitted {
        Submitted::Images(images) => {
            return match stream {
                Some(prefix) => crate::http::event_stream(&images, prefix),
                None => json(StatusCode::OK, &images),
            };
        }
        Submitted::Job(job) => job,
    };
    if let Some(secs) = wait {
        // Counted from the request's start: the whole answer stays within API Gateway's 29 s.
        let deadline = started + std::time::Duration::from_secs(secs.into());
        while !job.status.is_terminal() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(WAIT_POLL).await;
            if let Some(now) = deps.store.job(&job.user_id, &job.id).await? {
                job = now;
            }
        }
        match (&job.status, &job.failure) {
            (JobStatus::Succeeded, _) => {
                if let Some(result) = view(deps, &job).await?.result {
                    return json(StatusCode::OK, &result);
                }
            }
            (JobStatus::Failed, Some(f)) => {
                let status = StatusCode::from_u16(f.status).map_err(ApiError::internal)?;
                return json(status, &serde_json::json!({ "error": f.error }));
            }
            _ => {}
        }
    }
    let mut response = json(StatusCode::ACCEPTED, &view(deps, &job).await?)?;
    let location = format!("/v1/jobs/{}", job.id);
    response.headers_mut().insert(
        http::header::LOCATION,
        location.parse().map_err(ApiError::internal)?,
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{deps, user_with_credits};
    use crate::domain::jobs::JobOperation;
    use crate::ports::{Accounts, Holds, Jobs};
    use crate::usecases::charges::{GENERATION, hold_for, sweep};

    const NOW: i64 = 1_800_000_000;

    /// A queued job of `user` charged 2 credits, as a submission leaves it.
    async fn queued(store: &crate::adapters::memory::MemoryStore, user: &str) -> Job {
        let id = crate::domain::new_id(JOB_PREFIX);
        let hold = hold_for(&id, user, 2, 1, NOW, None);
        assert_eq!(
            store
                .open_charge(&hold, 10, GENERATION, u64::MAX)
                .await
                .unwrap(),
            crate::domain::billing::Opened::Taken
        );
        let job = Job {
            id,
            user_id: user.into(),
            status: JobStatus::Queued,
            progress: 0,
            operation: JobOperation::Generation,
            model: "local-procedural".into(),
            created_at: NOW,
            started_at: None,
            completed_at: None,
            result: None,
            failure: None,
            request: "{}".into(),
            attempt: 0,
            lease_until: 0,
            cancel_requested: false,
            webhook: None,
            webhook_events: Vec::new(),
        };
        store
            .create_job(&job, NOW + JOB_HOLD_SECONDS, None)
            .await
            .unwrap();
        job
    }

    async fn available(store: &crate::adapters::memory::MemoryStore, user: &str) -> i64 {
        store.user(user).await.unwrap().unwrap().credits.available
    }

    #[tokio::test]
    async fn a_job_left_queued_is_failed_and_refunded_only_once_no_delivery_can_come() {
        let d = deps();
        let user = user_with_credits(&d.store, 10).await;
        let job = queued(&d.store, &user).await;
        assert_eq!(available(&d.store, &user).await, 8);
        let budget = std::time::Duration::from_secs(5);

        // Far past a synchronous request's hold, but within the queue's retention: untouched.
        let early = NOW + HOLD_SECONDS + 3600;
        sweep(&d.store, &d.blobs, early, budget).await.unwrap();
        let still = d.store.job(&user, &job.id).await.unwrap().unwrap();
        assert_eq!(still.status, JobStatus::Queued);
        assert_eq!(available(&d.store, &user).await, 8);

        let report = sweep(&d.store, &d.blobs, NOW + JOB_HOLD_SECONDS, budget)
            .await
            .unwrap();
        assert_eq!((report.abandoned, report.credits_returned), (1, 2));
        let expired: Vec<&str> = report.expired_jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(expired, [job.id.as_str()], "handed over to be announced");
        let failed = d.store.job(&user, &job.id).await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        let failure = failed.failure.unwrap();
        assert_eq!(failure.status, 504);
        assert_eq!(failure.error["code"], "provider_timeout");
        assert_eq!(available(&d.store, &user).await, 10);
        assert!(d.store.hold(&job.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn cancel_of_a_queued_job_refunds_once_and_a_finished_one_is_a_conflict() {
        let d = deps();
        let user = user_with_credits(&d.store, 10).await;
        let job = queued(&d.store, &user).await;
        let canceled = cancel(&d, &user, &job.id).await.unwrap();
        assert_eq!(canceled.status, JobStatus::Canceled);
        assert_eq!(available(&d.store, &user).await, 10);
        let again = cancel(&d, &user, &job.id).await.unwrap_err();
        assert_eq!(again.status(), http::StatusCode::CONFLICT);
        assert_eq!(available(&d.store, &user).await, 10);
        let missing = cancel(&d, "someone_else", &job.id).await.unwrap_err();
        assert_eq!(missing.status(), http::StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_job_webhook_is_queued_with_an_id_that_names_the_job_and_the_event() {
        let d = deps();
        let user = user_with_credits(&d.store, 10).await;
        let mut job = queued(&d.store, &user).await;
        job.webhook = Some("https://example.com/hook".into());
        job.webhook_events = vec![WebhookEvent::Completed];
        job.status = JobStatus::Processing;
        announce(&d, &job).await;
        assert!(
            d.queues.take(QueueName::Webhooks).is_empty(),
            "started was not asked for"
        );
        job.status = JobStatus::Failed;
        announce(&d, &job).await;
        announce(&d, &job).await;
        let sent = d.queues.take(QueueName::Webhooks);
        let ids: Vec<String> = sent
            .iter()
            .map(|s| serde_json::from_str::<serde_json::Value>(s).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0], ids[1], "the same id each time it is sent");
        assert!(ids[0].contains(&job.id) && ids[0].contains("completed"));
    }
}
