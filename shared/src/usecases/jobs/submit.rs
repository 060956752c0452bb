//! Submission: the choice between now and a job, and a job's submission — charge, copy its
//! inputs, write it, queue it — each failure undoing what came before.

use crate::domain::accounts::Principal;
use crate::domain::billing::KeyClaim;
use crate::domain::generation::{CreateImageRequest, GenerationPlan};
use crate::domain::jobs::{
    Job, JobOperation, JobRequest, JobStatus, Prefer, StoredInput, WebhookEvent,
};
use crate::domain::videos::VideoPlan;
use crate::domain::{DAY_SECONDS, new_id, now_epoch};
use crate::error::ApiError;
use crate::messages::JobMessage;
use crate::ports::{Blobs, QueueName, Store};
use crate::providers::InputImage;
use crate::usecases::billing::charges;
use crate::usecases::idempotency::{Submitted, claimed, job_answer};
use crate::usecases::jobs::steps::{admissible, take, undo};
use crate::usecases::jobs::{JOB_HOLD_SECONDS, end, failure_of};
use crate::usecases::{Deps, deliveries};
use crate::wire::{ImagesResponse, Quote, QuoteRefusal};

/// A validated request to run as a job.
pub struct Submission {
    pub operation: JobOperation,
    /// The fields as sent (the worker validates them again into the same plan).
    pub fields: CreateImageRequest,
    pub work: Work,
    pub images: Vec<InputImage>,
    pub mask: Option<InputImage>,
}

/// What a job makes, as validated at submission.
pub enum Work {
    Images(GenerationPlan),
    Video(VideoPlan),
}

impl Work {
    fn model_id(&self) -> &'static str {
        match self {
            Work::Images(p) => p.model.id,
            Work::Video(p) => p.model.id,
        }
    }

    fn cost(&self) -> i64 {
        match self {
            Work::Images(p) => p.cost,
            Work::Video(p) => p.cost,
        }
    }

    /// What counts against the daily quota (a video counts as one).
    fn n(&self) -> u8 {
        match self {
            Work::Images(p) => p.n,
            Work::Video(_) => 1,
        }
    }

    fn prompt(&self) -> &str {
        match self {
            Work::Images(p) => &p.prompt,
            Work::Video(p) => &p.prompt,
        }
    }

    fn stream(&self) -> bool {
        matches!(self, Work::Images(p) if p.stream)
    }

    /// Too slow for a request: always a job.
    fn async_only(&self) -> bool {
        match self {
            Work::Images(p) => p.model.async_only,
            Work::Video(_) => true,
        }
    }
}

/// The job's webhook, from the request's `webhook` and `webhook_events_filter`. A webhook is
/// sent when a job changes: without `Prefer: respond-async` (or `wait`) there is none.
pub fn webhook_of(
    fields: &CreateImageRequest,
    queued: bool,
    allow_private: bool,
) -> Result<Option<(String, Vec<WebhookEvent>)>, ApiError> {
    let Some(url) = &fields.webhook else {
        if fields.webhook_events_filter.is_some() {
            return Err(ApiError::invalid(
                "webhook_events_filter",
                "webhook_events_filter needs a webhook",
            ));
        }
        return Ok(None);
    };
    if !queued {
        return Err(ApiError::invalid(
            "webhook",
            "a webhook is sent when a job changes; ask for a job with the header `Prefer: respond-async`",
        ));
    }
    deliveries::check_target(url, allow_private)?;
    let events = match &fields.webhook_events_filter {
        None => vec![WebhookEvent::Completed],
        Some(names) if names.is_empty() => {
            return Err(ApiError::invalid(
                "webhook_events_filter",
                "webhook_events_filter must name at least one of: started, completed",
            ));
        }
        Some(names) => names
            .iter()
            .map(|n| {
                WebhookEvent::parse(n).ok_or_else(|| {
                    ApiError::invalid(
                        "webhook_events_filter",
                        format!("'{n}' is not a webhook event; use started or completed"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(Some((url.clone(), events)))
}

/// How a paid request is answered: at once, or as a job; as JSON, or as a stream of events.
#[derive(Debug, Clone, Copy)]
pub struct Answering {
    pub queued: bool,
    /// The event prefix of a streamed answer (`image_generation`, `image_edit`).
    pub stream: Option<&'static str>,
}

/// Decides between now and a job (`Prefer`, or a model too slow for a request) and checks what
/// depends on it: a job is not streamed, and a webhook needs a job.
pub fn answering<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    prefer: Prefer,
    sub: &Submission,
    stream_prefix: &'static str,
) -> Result<Answering, ApiError> {
    let queued = prefer.queued() || sub.work.async_only();
    if sub.work.stream() && queued {
        return Err(ApiError::invalid(
            "stream",
            "a job is not streamed: leave stream out, or leave out the Prefer header",
        ));
    }
    webhook_of(
        &sub.fields,
        queued,
        deps.config.delivery.allow_private_webhook_targets,
    )?;
    Ok(Answering {
        queued,
        stream: sub.work.stream().then_some(stream_prefix),
    })
}

/// Runs the request under its Idempotency-Key: `now` at once, or (when `queued`) as a job of
/// the generation queue.
pub async fn now_or_queued<S, B, F, Fut>(
    deps: &Deps<S, B>,
    who: &Principal,
    key: Option<&str>,
    canonical: &str,
    queued: bool,
    sub: Submission,
    now: F,
) -> Result<Submitted, ApiError>
where
    S: Store,
    B: Blobs,
    F: FnOnce(Immediate, Option<KeyClaim>) -> Fut,
    Fut: std::future::Future<Output = Result<ImagesResponse, ApiError>>,
{
    if sub.fields.dry_run == Some(true) {
        return quote(deps, who, &sub, queued).await.map(Submitted::Quote);
    }
    claimed(deps, who, key, canonical, |claim| async move {
        match sub.work {
            _ if queued => submit(deps, who, sub, claim).await.map(Submitted::Job),
            Work::Images(plan) => {
                let run = Immediate {
                    plan,
                    images: sub.images,
                    mask: sub.mask,
                };
                now(run, claim).await.map(Submitted::Images)
            }
            Work::Video(_) => Err(ApiError::internal("a video is always a job")),
        }
    })
    .await
}

/// What `sub` would cost and whether `who` could pay it now, from the account as it stands:
/// its credits, the day's images and its storage. Nothing is written.
pub async fn quote<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    sub: &Submission,
    queued: bool,
) -> Result<Quote, ApiError> {
    let uid = who.user_id.as_str();
    // What a paid call would refuse before any charge (a refused prompt, too many images)
    // is refused here too.
    who.may_use(sub.work.model_id())?;
    admissible(deps, uid, sub.work.prompt(), sub.work.n())?;
    let now = now_epoch();
    let spend = who.key_spend(now);
    let budget = spend
        .as_ref()
        .and_then(|s| Some((s.budget_entry()?, s.budget.as_ref()?)));
    let (user, today, spent) = tokio::join!(
        deps.store.user(uid),
        deps.store.images_today(uid, now),
        async {
            match budget {
                Some((entry, _)) => deps.store.key_spent(uid, entry).await,
                None => Ok(0),
            }
        }
    );
    let user = user?.ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    let (cost, n) = (sub.work.cost(), u32::from(sub.work.n()));
    let budget_left = budget.map(|(_, b)| (b, (b.credits - spent.unwrap_or(0)).max(0)));
    let limits = &deps.config.limits;
    let day_left = limits.daily_image_limit.saturating_sub(today?);
    let refused_by = if user.credits.available < cost {
        Some(QuoteRefusal {
            limit: "credits".into(),
            message: format!(
                "this request costs {cost} credits and the account has {}",
                user.credits.available
            ),
            available: user.credits.available,
            resets_at: None,
        })
    } else if let Some((b, left)) = budget_left.filter(|(_, left)| *left < cost) {
        Some(QuoteRefusal {
            limit: "budget".into(),
            message: format!(
                "this request costs {cost} credits and this API key's budget has {left} of its {} left this period",
                b.credits
            ),
            available: left,
            resets_at: Some(b.resets_at),
        })
    } else if n > day_left {
        Some(QuoteRefusal {
            limit: "daily_images".into(),
            message: format!(
                "{day_left} of the day's {} images are left; this request makes {n}",
                limits.daily_image_limit
            ),
            available: i64::from(day_left),
            resets_at: Some((now.div_euclid(DAY_SECONDS) + 1) * DAY_SECONDS),
        })
    } else if user.storage_bytes >= limits.storage_quota_bytes {
        Some(QuoteRefusal {
            limit: "storage".into(),
            message: format!(
                "the account stores {} of its {} bytes: delete assets to make room",
                user.storage_bytes, limits.storage_quota_bytes
            ),
            available: 0,
            resets_at: None,
        })
    } else {
        None
    };
    let routes = match &sub.work {
        Work::Images(p) => &p.routes,
        Work::Video(p) => &p.routes,
    };
    Ok(Quote {
        object: "quote".into(),
        model: sub.work.model_id().into(),
        credits: cost,
        vendors: deps
            .providers
            .ordered(routes)
            .iter()
            .map(|r| r.vendor.as_str().to_string())
            .collect(),
        job: queued,
        payable: refused_by.is_none(),
        refused_by,
    })
}

/// Image work answered within the request.
pub struct Immediate {
    pub plan: GenerationPlan,
    pub images: Vec<InputImage>,
    pub mask: Option<InputImage>,
}

pub(super) fn input_key(user_id: &str, job_id: &str, i: usize) -> String {
    format!("jobs/{user_id}/{job_id}/input-{i}")
}

/// Charges the request and queues it as a job; with a claim, the Idempotency-Key answers with
/// this job from now on. Nothing is kept if any step fails (credits, quota, input copies).
// Long: charge, copy inputs, write the job, queue it — each failure undoing what came before.
pub async fn submit<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    sub: Submission,
    claim: Option<KeyClaim>,
) -> Result<Job, ApiError> {
    let uid = who.user_id.as_str();
    let webhook = webhook_of(
        &sub.fields,
        true,
        deps.config.delivery.allow_private_webhook_targets,
    )?;
    who.may_use(sub.work.model_id())?;
    admissible(deps, uid, sub.work.prompt(), sub.work.n())?;
    let now = now_epoch();
    let job_id = new_id(crate::usecases::jobs::JOB_PREFIX);
    let inputs: Vec<&InputImage> = sub.images.iter().chain(&sub.mask).collect();
    // Due as a request's until the job exists: a submission killed before that gives back
    // (and frees its key) as soon as a synchronous request would.
    let mut hold = charges::hold_by(
        who,
        &job_id,
        sub.work.cost(),
        sub.work.n() as u32,
        now,
        claim.clone(),
    );
    hold.model = Some(sub.work.model_id().to_string());
    hold.objects = (0..inputs.len())
        .map(|i| input_key(uid, &job_id, i))
        .collect();
    take(deps, sub.work.n(), &hold).await?;

    let stored = |i: usize, input: &InputImage| StoredInput {
        key: input_key(uid, &job_id, i),
        asset_id: input.asset_id.clone(),
    };
    let request = JobRequest {
        operation: sub.operation,
        fields: CreateImageRequest {
            // The model the plan chose, even if the deployment's default changes meanwhile.
            model: Some(sub.work.model_id().to_string()),
            ..sub.fields
        },
        images: sub
            .images
            .iter()
            .enumerate()
            .map(|(i, x)| stored(i, x))
            .collect(),
        mask: sub.mask.as_ref().map(|m| stored(sub.images.len(), m)),
        seconds: match &sub.work {
            Work::Video(p) => Some(p.seconds),
            Work::Images(_) => None,
        },
    };
    let job = Job {
        id: job_id.clone(),
        user_id: uid.to_string(),
        status: JobStatus::Queued,
        progress: 0,
        operation: sub.operation,
        model: sub.work.model_id().to_string(),
        created_at: now,
        started_at: None,
        completed_at: None,
        result: None,
        failure: None,
        request: serde_json::to_string(&request).map_err(ApiError::internal)?,
        attempt: 0,
        lease_until: 0,
        cancel_requested: false,
        webhook: webhook.as_ref().map(|(u, _)| u.clone()),
        webhook_events: webhook.map(|(_, e)| e).unwrap_or_default(),
        credits: sub.work.cost(),
    };
    let copies = inputs.iter().enumerate().map(|(i, input)| {
        deps.blobs.put(
            &hold.objects[i],
            input.bytes.clone(),
            "application/octet-stream",
        )
    });
    let answer = claim.map(|c| (c, job_answer(&job_id)));
    let written = match futures::future::try_join_all(copies).await {
        Ok(_) => {
            deps.store
                .create_job(&job, now + JOB_HOLD_SECONDS, answer.as_ref())
                .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        // A lost answer may hide a write that happened: then the job goes on.
        if !matches!(deps.store.job(uid, &job_id).await, Ok(Some(_))) {
            tracing::error!(user_id = %uid, %job_id, error = %e, "job not written: refunding");
            undo(deps, &hold).await;
            return Err(e);
        }
    }
    let message = serde_json::to_string(&JobMessage {
        job_id: job_id.clone(),
        user_id: uid.to_string(),
    })
    .map_err(ApiError::internal)?;
    if let Err(e) = deps.queues.send(QueueName::Jobs, message, None).await {
        tracing::error!(user_id = %uid, %job_id, error = %e, "job not queued: failing it");
        end(
            deps,
            &job,
            JobStatus::Queued,
            None,
            JobStatus::Failed,
            Some(failure_of(&e)),
        )
        .await?;
        return Err(e);
    }
    tracing::info!(user_id = %uid, %job_id, model = job.model, n = sub.work.n(), cost = sub.work.cost(), "job queued");
    Ok(job)
}
