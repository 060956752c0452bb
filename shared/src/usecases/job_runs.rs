//! Paid work through the generation queue: a submission is charged like a synchronous request
//! (the same hold, under the job's id), and the worker runs the job exactly once in effect
//! under SQS's at-least-once delivery: each attempt leases the job, writes objects of its own,
//! and stores them only in the transaction that settles the hold and succeeds the job as that
//! attempt. A later attempt (after the lease ended) stores nothing of an earlier one's.

use crate::Deps;
use crate::domain::billing::KeyClaim;
use crate::domain::catalog::Size;
use crate::domain::generation::{CreateImageRequest, GenerationPlan, Operation};
pub use crate::domain::jobs::QueueSubmission;
use crate::domain::jobs::{
    Checkpoint, Job, JobOperation, JobRequest, JobStatus, Lease, Prefer, StoredInput, WebhookEvent,
};
use crate::domain::videos::VideoPlan;
use crate::domain::{assets::Lineage, new_id, now_epoch};
use crate::error::ApiError;
use crate::http::Principal;
use crate::http::wire::ImagesResponse;
use crate::ports::QueueName;
use crate::ports::{Blobs, Store};
use crate::providers::{Call, EditInputs, InputImage, ProviderError};
use futures::future::BoxFuture;
use std::sync::atomic::Ordering;

/// What a job's vendor call asks between polls: it records progress (by `by`, up to
/// `ceiling`) and goes on unless the job was canceled or taken over (a stop cancels the
/// vendor's work too).
async fn job_goes_on<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    (uid, id, attempt): (&str, &str, u32),
    progress: &std::sync::atomic::AtomicU8,
    by: u8,
    ceiling: u8,
) -> bool {
    let p = step(progress, by, ceiling);
    !matches!(
        deps.store.checkpoint_job(uid, id, attempt, p).await,
        Ok(Checkpoint::CancelRequested | Checkpoint::Lost)
    )
}

/// A job's vendor call: its long budget, and `watch` between polls.
fn job_call<'a, S, B>(deps: &'a Deps<S, B>, watch: &'a crate::providers::Watch<'a>) -> Call<'a> {
    Call {
        deadline: std::time::Instant::now() + JOB_PROVIDER_BUDGET,
        max_retries: deps.config.provider_max_retries,
        watch: Some(watch),
        staging: deps.providers.staging(),
    }
}

/// The next progress of a vendor call's polls: `by` more, never past `max` (never wrapping).
fn step(progress: &std::sync::atomic::AtomicU8, by: u8, max: u8) -> u8 {
    let next = |p: u8| p.saturating_add(by).min(max);
    let before = progress
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| Some(next(p)))
        .unwrap_or(max);
    next(before)
}

/// How long a job's vendor call may take, polls included: well inside the worker's 900 s.
const JOB_PROVIDER_BUDGET: std::time::Duration = std::time::Duration::from_secs(12 * 60);
use crate::usecases::edit_inputs::{ImageSource, load_all};
use crate::usecases::generation::{admissible, image_keys, store_results, take, undo};
use crate::usecases::idempotency::{Submitted, claimed, job_answer};
use crate::usecases::jobs::{
    JOB_HOLD_SECONDS, JobMessage, LEASE_SECONDS, announce, end, failure_of, give_back,
};
use crate::usecases::{charges, deliveries};

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
        deps.config.allow_private_webhook_targets,
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

/// Image work answered within the request.
pub struct Immediate {
    pub plan: GenerationPlan,
    pub images: Vec<InputImage>,
    pub mask: Option<InputImage>,
}

fn input_key(user_id: &str, job_id: &str, i: usize) -> String {
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
    let webhook = webhook_of(&sub.fields, true, deps.config.allow_private_webhook_targets)?;
    admissible(deps, uid, sub.work.prompt(), sub.work.n())?;
    let now = now_epoch();
    let job_id = new_id(crate::usecases::jobs::JOB_PREFIX);
    let inputs: Vec<&InputImage> = sub.images.iter().chain(&sub.mask).collect();
    // Due as a request's until the job exists: a submission killed before that gives back
    // (and frees its key) as soon as a synchronous request would.
    let mut hold = charges::hold_for(
        &job_id,
        uid,
        sub.work.cost(),
        sub.work.n() as u32,
        now,
        claim.clone(),
    );
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
    if let Err(e) = deps.queues.send(QueueName::Jobs, message).await {
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

/// What the worker does with a job's message once `run` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// Done with (the job ended, or it was not this delivery's to run): delete the message.
    Done,
    /// Another attempt holds a live lease: let the message come back after its visibility
    /// timeout, when that attempt has ended one way or the other.
    Later,
}

/// Runs one delivery of a job's message. Store errors are returned (the message comes back);
/// everything the job itself does wrong ends the job as failed, given back.
// Long: the steps of an attempt in order, each checkpoint with its way out.
pub async fn run<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    message: &JobMessage,
    now: i64,
) -> Result<Ran, ApiError> {
    let (uid, id) = (message.user_id.as_str(), message.job_id.as_str());
    let job = match deps
        .store
        .lease_job(uid, id, now, now + LEASE_SECONDS)
        .await?
    {
        Lease::Taken(job) => job,
        Lease::Busy { lease_until } => {
            tracing::info!(job_id = id, lease_until, "job held by another attempt");
            return Ok(Ran::Later);
        }
        Lease::Finished(job) => {
            tracing::info!(
                job_id = id,
                status = job.status.as_str(),
                "job already over"
            );
            // Whoever ended it may have died before giving back and announcing.
            if job.status != JobStatus::Succeeded && give_back(deps, &job).await {
                announce(deps, &job).await;
            }
            return Ok(Ran::Done);
        }
        Lease::Missing => {
            tracing::warn!(job_id = id, "message of an unknown job");
            return Ok(Ran::Done);
        }
    };
    let attempt = job.attempt;
    tracing::info!(job_id = id, attempt, "job started");
    if attempt == 1 {
        announce(deps, &job).await;
    }
    // The hold lists every object an attempt writes, before it writes them: the sweeper, or
    // the attempt that wins, removes those of attempts that died.
    let Some(hold) = deps.store.hold(id).await? else {
        let lost = ApiError::internal(format!("the hold of job {id} is gone"));
        return fail(deps, &job, attempt, lost).await;
    };
    if job.operation == JobOperation::Video {
        #[cfg(feature = "video")]
        return run_video(deps, &job, &hold).await;
        #[cfg(not(feature = "video"))]
        return fail(
            deps,
            &job,
            attempt,
            ApiError::internal("built without videos"),
        )
        .await;
    }
    let prepared = prepare(deps, &job).await;
    let (request, plan, inputs) = match prepared {
        Ok(p) => p,
        // Storage failed: the message comes back (and after 3 tries, the dead-letter queue).
        Err(e @ ApiError::Internal(_)) => return Err(e),
        Err(e) => return fail(deps, &job, attempt, e).await,
    };
    let inputs_kept = request.input_keys();
    clear_earlier_attempts(deps, id, &hold, &inputs_kept).await;
    let ids: Vec<String> = (0..plan.n).map(|_| new_id("img")).collect();
    let mine = image_keys(uid, &ids, &plan);
    if !deps.store.attach_objects(id, &mine).await? {
        return Ok(Ran::Done);
    }
    match deps.store.checkpoint_job(uid, id, attempt, 10).await? {
        Checkpoint::Continue => {}
        Checkpoint::CancelRequested => return canceled(deps, &job, attempt).await,
        Checkpoint::Lost => return Ok(Ran::Done),
    }
    // Between a vendor's polls the job reports progress and hears of a cancel, which cancels
    // the vendor's work too.
    let progress = std::sync::atomic::AtomicU8::new(10);
    let watch = || -> BoxFuture<'_, bool> {
        Box::pin(job_goes_on(deps, (uid, id, attempt), &progress, 5, 75))
    };
    let call = job_call(deps, &watch);
    let (edit, variation, lineage) = match &inputs {
        Inputs::None => (None, None, Lineage::original(None)),
        Inputs::Edit(inputs) => {
            let parent = inputs.images.first().and_then(|i| i.asset_id.clone());
            (Some(inputs), None, Lineage::original(parent))
        }
        Inputs::Variation(input) => (None, Some(input), Lineage::original(input.asset_id.clone())),
    };
    let produced = deps
        .providers
        .generate_within(&plan, edit, variation, call)
        .await;
    let images = match produced {
        Ok(images) => images,
        Err(ProviderError::Canceled) => {
            return match deps.store.checkpoint_job(uid, id, attempt, 80).await? {
                Checkpoint::CancelRequested => canceled(deps, &job, attempt).await,
                Checkpoint::Lost => Ok(Ran::Done),
                // Stopped without a reason that lasts: ended and given back, not left running.
                Checkpoint::Continue => {
                    let stopped = ApiError::internal("the vendor call stopped unasked");
                    fail(deps, &job, attempt, stopped).await
                }
            };
        }
        Err(e) => return fail(deps, &job, attempt, e.into()).await,
    };
    match deps.store.checkpoint_job(uid, id, attempt, 80).await? {
        Checkpoint::Continue => {}
        Checkpoint::CancelRequested => return canceled(deps, &job, attempt).await,
        Checkpoint::Lost => return Ok(Ran::Done),
    }
    let completed_at = now_epoch();
    let stored = store_results(
        deps,
        &plan,
        &lineage,
        &ids,
        images,
        &hold,
        Some((id, attempt, completed_at)),
        None,
    )
    .await;
    let response = match stored {
        Ok(response) => response,
        Err(e) => return not_stored(deps, uid, id, attempt, e).await,
    };
    drop_inputs(deps, id, &inputs_kept).await;
    // As the settling transaction wrote it (no read needed).
    let done = Job {
        status: JobStatus::Succeeded,
        progress: 100,
        result: Some(crate::usecases::generation::replayable(&response)?),
        completed_at: Some(completed_at),
        ..job
    };
    announce(deps, &done).await;
    tracing::info!(job_id = id, attempt, "job succeeded");
    Ok(Ran::Done)
}

/// Removes the objects of attempts before this one (their leases ended, so they are dead),
/// keeping the job's input copies.
async fn clear_earlier_attempts<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    id: &str,
    hold: &crate::domain::billing::Hold,
    inputs_kept: &[String],
) {
    let stale: Vec<String> = hold
        .objects
        .iter()
        .filter(|k| !inputs_kept.contains(k))
        .cloned()
        .collect();
    if !stale.is_empty()
        && let Err(e) = deps.blobs.delete(&stale).await
    {
        tracing::warn!(job_id = id, error = %e, "could not remove an earlier attempt's objects");
    }
}

/// The copies of the inputs are no one's once the job succeeded (a bucket rule expires any
/// left behind).
async fn drop_inputs<S: Store, B: Blobs>(deps: &Deps<S, B>, id: &str, inputs_kept: &[String]) {
    if !inputs_kept.is_empty()
        && let Err(e) = deps.blobs.delete(inputs_kept).await
    {
        tracing::warn!(job_id = id, error = %e, "could not remove a job's input copies");
    }
}

/// The settling write refused: canceled meanwhile, taken over, or a real failure.
async fn not_stored<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    uid: &str,
    id: &str,
    attempt: u32,
    e: ApiError,
) -> Result<Ran, ApiError> {
    match deps.store.job(uid, id).await? {
        Some(j) if j.status == JobStatus::Processing && j.attempt == attempt => {
            if j.cancel_requested {
                canceled(deps, &j, attempt).await
            } else {
                fail(deps, &j, attempt, e).await
            }
        }
        _ => Ok(Ran::Done),
    }
}

/// Runs a video job: a clip over its picture (or the prompt's scene), encoded a second at a
/// time with a checkpoint between (progress, cancel, lease), and stored as one asset of kind
/// `video` in the transaction that settles the hold and succeeds the job.
// Long: the steps of an attempt in order, as `run`'s.
#[cfg(feature = "video")]
async fn run_video<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    job: &Job,
    hold: &crate::domain::billing::Hold,
) -> Result<Ran, ApiError> {
    use crate::domain::assets::{AssetKind, ImageRecord, OutputFormat};
    use crate::domain::videos::{CreateVideoRequest, extra_keys};
    use crate::http::wire::ImageData;
    use crate::usecases::library::{Processed, store_objects};
    let (uid, id, attempt) = (job.user_id.as_str(), job.id.as_str(), job.attempt);
    let request: JobRequest = serde_json::from_str(&job.request).map_err(ApiError::internal)?;
    let planned = CreateVideoRequest {
        prompt: request.fields.prompt.clone(),
        model: request.fields.model.clone(),
        seconds: request.seconds.map(serde_json::Value::from),
        size: request.fields.size.clone(),
        seed: request.fields.seed,
        ..Default::default()
    }
    .plan(|k| deps.config.serves(k));
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => return fail(deps, job, attempt, e).await,
    };
    let picture = match request.images.first() {
        Some(input) => {
            let Some(bytes) = deps.blobs.get(&input.key).await? else {
                let lost = ApiError::internal(format!("the picture of video {id} is gone"));
                return fail(deps, job, attempt, lost).await;
            };
            let loaded = load_all(
                deps,
                uid,
                vec![("input_reference".into(), ImageSource::Bytes(bytes))],
            )
            .await;
            match loaded {
                Ok(mut l) => l.pop().map(|i| i.rgba),
                Err(e) => return fail(deps, job, attempt, e).await,
            }
        }
        None => None,
    };
    let inputs_kept = request.input_keys();
    clear_earlier_attempts(deps, id, hold, &inputs_kept).await;
    let asset_id = new_id("img");
    let (key, thumbnail_key) =
        crate::domain::assets::object_keys(uid, &asset_id, OutputFormat::Mp4);
    let extras = extra_keys(uid, &asset_id);
    let mine: Vec<String> = [key, thumbnail_key]
        .into_iter()
        .chain(extras.iter().cloned())
        .collect();
    if !deps.store.attach_objects(id, &mine).await? {
        return Ok(Ran::Done);
    }
    let made = if plan.model.provider() == crate::domain::catalog::ProviderKind::Local {
        local_clip(deps, job, &plan, picture).await?
    } else {
        vendor_clip(deps, job, &plan, picture).await?
    };
    let made = match made {
        Ok(made) => made,
        Err(ran) => return Ok(ran),
    };
    let record = ImageRecord {
        prompt: Some(plan.prompt.clone()),
        model: Some(plan.model.id.to_string()),
        provider: Some(made.vendor.as_str().into()),
        ..ImageRecord::with_id(
            asset_id.clone(),
            uid,
            AssetKind::Video,
            OutputFormat::Mp4,
            (made.width, made.height),
            made.mp4.len() as u64,
            Lineage::original(request.images.first().and_then(|i| i.asset_id.clone())),
        )
    };
    let [poster_key, sprites_key] = extras;
    let mut extras = vec![(poster_key, made.poster, "image/jpeg")];
    if let Some(sprites) = made.spritesheet {
        extras.push((sprites_key, sprites, "image/jpeg"));
    }
    let processed = Processed {
        bytes: made.mp4,
        thumbnail: made.thumbnail,
        width: made.width,
        height: made.height,
        revised_prompt: None,
        extras,
    };
    let completed_at = now_epoch();
    // The job's result in the shape every job has: the asset, refilled with a fresh URL.
    let response = ImagesResponse {
        created: record.created_at,
        data: vec![ImageData {
            id: asset_id.clone(),
            url: Some(String::new()),
            b64_json: None,
            revised_prompt: None,
        }],
        size: plan.size.to_string(),
        output_format: OutputFormat::Mp4.as_str().into(),
        background: "opaque".into(),
        quality: "medium".into(),
        model: plan.model.id.to_string(),
        provider: Some(made.vendor.as_str().into()),
        usage: None,
        partials: Vec::new(),
        image_usage: Vec::new(),
    };
    let result = crate::usecases::generation::replayable(&response)?;
    let settlement = crate::domain::billing::Settlement {
        hold: hold.clone(),
        answer: None,
        completes_upload: None,
        completes_job: Some(crate::domain::billing::JobCompletion {
            id: id.to_string(),
            attempt,
            result: result.clone(),
            completed_at,
        }),
        commit_by: None,
    };
    if let Err(e) = store_objects(deps, &[record], &[processed], Some(&settlement)).await {
        return not_stored(deps, uid, id, attempt, e.into()).await;
    }
    // Boxed: its transaction would otherwise grow every caller's future (and stack).
    Box::pin(crate::usecases::referrals::after_paid(deps, uid)).await;
    drop_inputs(deps, id, &inputs_kept).await;
    let done = Job {
        status: JobStatus::Succeeded,
        progress: 100,
        result: Some(result),
        completed_at: Some(completed_at),
        ..job.clone()
    };
    announce(deps, &done).await;
    tracing::info!(
        job_id = id,
        attempt,
        asset_id,
        seconds = plan.seconds,
        "video made"
    );
    Ok(Ran::Done)
}

/// A clip, its poster (JPEG), library thumbnail (WebP) and spritesheet, and who made it.
#[cfg(feature = "video")]
struct Made {
    mp4: Vec<u8>,
    width: u32,
    height: u32,
    poster: Vec<u8>,
    thumbnail: Vec<u8>,
    spritesheet: Option<Vec<u8>>,
    vendor: crate::domain::catalog::ProviderKind,
}

/// The offline camera move, a second at a time with a checkpoint between (progress, cancel,
/// lease). `Ok(Err(ran))`: the job ended on the way (failed, canceled or lost).
#[cfg(feature = "video")]
async fn local_clip<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    job: &Job,
    plan: &crate::domain::videos::VideoPlan,
    picture: Option<std::sync::Arc<imaging::RgbaImage>>,
) -> Result<Result<Made, Ran>, ApiError> {
    let (uid, id, attempt) = (job.user_id.as_str(), job.id.as_str(), job.attempt);
    let (w, h) = (plan.size.width, plan.size.height);
    let (prompt, seed, seconds) = (plan.prompt.clone(), plan.seed, plan.seconds);
    let started = match tokio::task::spawn_blocking(move || {
        let picture = match picture {
            Some(p) => p,
            // The prompt's scene, a little larger than the frame: the camera moves inside it.
            None => std::sync::Arc::new(imaging::procedural::render(
                &prompt,
                seed,
                0,
                w * 5 / 4,
                h * 5 / 4,
            )),
        };
        imaging::video::ClipEncoder::new(&picture, (w, h), seconds, seed)
    })
    .await
    {
        Ok(started) => started,
        // A panic repeats on every delivery: fail now rather than after the retries.
        Err(e) => {
            return fail(deps, job, attempt, ApiError::internal(e))
                .await
                .map(Err);
        }
    };
    let mut encoder = match started {
        Ok(e) => e,
        Err(e) => {
            return fail(deps, job, attempt, ApiError::internal(e))
                .await
                .map(Err);
        }
    };
    loop {
        let progress = (5 + 85 * encoder.done() / encoder.total()) as u8;
        match deps
            .store
            .checkpoint_job(uid, id, attempt, progress)
            .await?
        {
            Checkpoint::Continue => {}
            Checkpoint::CancelRequested => return canceled(deps, job, attempt).await.map(Err),
            Checkpoint::Lost => return Ok(Err(Ran::Done)),
        }
        if encoder.done() == encoder.total() {
            break;
        }
        // A second of video at a time, off the async threads.
        let batch = tokio::task::spawn_blocking(move || {
            let done = encoder.encode_next(imaging::video::FPS);
            (encoder, done)
        })
        .await;
        let (back, done) = match batch {
            Ok(b) => b,
            Err(e) => {
                return fail(deps, job, attempt, ApiError::internal(e))
                    .await
                    .map(Err);
            }
        };
        encoder = back;
        if let Err(e) = done {
            return fail(deps, job, attempt, ApiError::internal(e))
                .await
                .map(Err);
        }
    }
    let finished = off_thread(move || {
        let clip = encoder.finish()?;
        let poster = imaging::decode_rgba(&clip.thumbnail)?;
        let thumbnail = imaging::thumbnail(&poster)?;
        Ok((clip, thumbnail))
    })
    .await;
    let (clip, thumbnail) = match finished {
        Ok(c) => c,
        Err(e) => return fail(deps, job, attempt, e).await.map(Err),
    };
    Ok(Ok(Made {
        width: clip.width,
        height: clip.height,
        mp4: clip.mp4,
        poster: clip.thumbnail,
        thumbnail,
        spritesheet: Some(clip.spritesheet),
        vendor: crate::domain::catalog::ProviderKind::Local,
    }))
}

/// Pixel work off the async threads; its failure, or its panic, is the job's internal error.
#[cfg(feature = "video")]
async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, imaging::ImagingError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// A vendor's image-to-video: the picture cropped to the frame goes out (and is the poster);
/// the vendor is polled with the job's progress and cancel, and its MP4 kept as it is.
#[cfg(feature = "video")]
async fn vendor_clip<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    job: &Job,
    plan: &crate::domain::videos::VideoPlan,
    picture: Option<std::sync::Arc<imaging::RgbaImage>>,
) -> Result<Result<Made, Ran>, ApiError> {
    let (uid, id, attempt) = (job.user_id.as_str(), job.id.as_str(), job.attempt);
    let Some(picture) = picture else {
        let missing = ApiError::invalid(
            "input_reference",
            format!("{} animates a picture: send input_reference", plan.model.id),
        );
        return fail(deps, job, attempt, missing).await.map(Err);
    };
    let (w, h) = (plan.size.width, plan.size.height);
    let framed = off_thread(move || {
        let frame = imaging::cover(&picture, w, h);
        Ok((
            imaging::encode(&frame, imaging::Format::Jpeg, Some(90))?,
            imaging::thumbnail(&frame)?,
        ))
    })
    .await;
    let (poster, thumbnail) = match framed {
        Ok(f) => f,
        Err(e) => return fail(deps, job, attempt, e).await.map(Err),
    };
    let progress = std::sync::atomic::AtomicU8::new(5);
    let watch = || -> BoxFuture<'_, bool> {
        Box::pin(job_goes_on(deps, (uid, id, attempt), &progress, 3, 85))
    };
    let call = job_call(deps, &watch);
    let (mp4, vendor) = match deps.providers.video(plan, &poster, call).await {
        Ok(made) => made,
        Err(ProviderError::Canceled) => {
            return match deps.store.checkpoint_job(uid, id, attempt, 90).await? {
                Checkpoint::CancelRequested => canceled(deps, job, attempt).await.map(Err),
                Checkpoint::Lost => Ok(Err(Ran::Done)),
                Checkpoint::Continue => {
                    let stopped = ApiError::internal("the vendor call stopped unasked");
                    fail(deps, job, attempt, stopped).await.map(Err)
                }
            };
        }
        Err(e) => return fail(deps, job, attempt, e.into()).await.map(Err),
    };
    let (width, height) = crate::providers::mp4_dimensions(&mp4).unwrap_or((w, h));
    Ok(Ok(Made {
        mp4,
        width,
        height,
        poster,
        thumbnail,
        spritesheet: None,
        vendor,
    }))
}

enum Inputs {
    None,
    Edit(EditInputs),
    Variation(InputImage),
}

/// The job's request validated again into its plan, with its inputs read back.
async fn prepare<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    job: &Job,
) -> Result<(JobRequest, GenerationPlan, Inputs), ApiError> {
    let request: JobRequest = serde_json::from_str(&job.request).map_err(ApiError::internal)?;
    let mut sources = Vec::new();
    for (i, input) in request.images.iter().chain(&request.mask).enumerate() {
        let bytes =
            deps.blobs.get(&input.key).await?.ok_or_else(|| {
                ApiError::internal(format!("input {i} of job {} is gone", job.id))
            })?;
        sources.push((format!("image[{i}]"), ImageSource::Bytes(bytes)));
    }
    let mut loaded = load_all(deps, &job.user_id, sources).await?;
    for (image, input) in loaded
        .iter_mut()
        .zip(request.images.iter().chain(&request.mask))
    {
        image.asset_id = input.asset_id.clone();
    }
    let size = |i: &InputImage| {
        let (w, h) = i.rgba.dimensions();
        Size::new(w, h)
    };
    let (op, inputs) = match request.operation {
        JobOperation::Video => return Err(ApiError::internal("a video job is not image work")),
        JobOperation::Generation => (Operation::Generate, Inputs::None),
        JobOperation::Variation => {
            let input = loaded
                .pop()
                .ok_or_else(|| ApiError::internal("a variation job without its image"))?;
            (
                Operation::Variation {
                    input: size(&input),
                },
                Inputs::Variation(input),
            )
        }
        JobOperation::Edit => {
            let mask = request.mask.is_some().then(|| loaded.pop()).flatten();
            let first = loaded
                .first()
                .ok_or_else(|| ApiError::internal("an edit job without images"))?;
            let op = Operation::Edit {
                images: loaded.len(),
                input: size(first),
            };
            (
                op,
                Inputs::Edit(EditInputs {
                    images: loaded,
                    mask,
                }),
            )
        }
    };
    let plan = request
        .fields
        .clone()
        .plan_for(op, deps.providers.default_model(), |k| {
            deps.providers.serves(k)
        })?;
    Ok((request, plan, inputs))
}

async fn fail<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    job: &Job,
    attempt: u32,
    e: ApiError,
) -> Result<Ran, ApiError> {
    tracing::warn!(job_id = %job.id, attempt, error = %e, "job failed: refunding");
    end(
        deps,
        job,
        JobStatus::Processing,
        Some(attempt),
        JobStatus::Failed,
        Some(failure_of(&e)),
    )
    .await?;
    Ok(Ran::Done)
}

async fn canceled<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    job: &Job,
    attempt: u32,
) -> Result<Ran, ApiError> {
    tracing::info!(job_id = %job.id, attempt, "job canceled at a checkpoint: refunding");
    end(
        deps,
        job,
        JobStatus::Processing,
        Some(attempt),
        JobStatus::Canceled,
        None,
    )
    .await?;
    Ok(Ran::Done)
}

/// What became of a submission from the queue.
#[derive(Debug)]
pub enum Accepted {
    Queued(Job),
    /// Not valid (named in the error): it is announced as `Submission Refused` and dropped.
    Refused(ApiError),
}

/// Validates and charges a submission from the queue, and queues its job. A store failure is
/// returned (the message comes back); a bad submission is [`Accepted::Refused`].
pub async fn accept<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    sub: QueueSubmission,
) -> Result<Accepted, ApiError> {
    // Storage failures and a duplicate still being submitted come back later; the rest is
    // the submission's fault.
    let refused = |e: ApiError| {
        if matches!(e, ApiError::Internal(_)) || crate::usecases::idempotency::in_progress(&e) {
            Err(e)
        } else {
            Ok(Accepted::Refused(e))
        }
    };
    let user = if crate::domain::plausible_id(&sub.user_id) {
        deps.store.user(&sub.user_id).await?
    } else {
        None
    };
    let Some(user) = user else {
        return refused(ApiError::invalid(
            "user_id",
            format!("no user with id '{}'", sub.user_id),
        ));
    };
    let who = Principal {
        user_id: user.id.clone(),
        role: user.role,
        credential: crate::http::Credential::ApiKey {
            key_id: "generation-queue".into(),
        },
    };
    let canonical = serde_json::to_value(&sub)
        .map_err(ApiError::internal)?
        .to_string();
    let key = format!("queue:{}", sub.reference);
    let planned = plan_submission(deps, &who.user_id, sub).await;
    let submission = match planned {
        Ok(s) => s,
        Err(e) => return refused(e),
    };
    let submitted =
        crate::usecases::idempotency::claimed(deps, &who, Some(&key), &canonical, |claim| async {
            submit(deps, &who, submission, claim)
                .await
                .map(crate::usecases::idempotency::Submitted::Job)
        })
        .await;
    match submitted {
        Ok(crate::usecases::idempotency::Submitted::Job(job)) => Ok(Accepted::Queued(job)),
        Ok(crate::usecases::idempotency::Submitted::Images(_)) => refused(ApiError::Conflict {
            message: "this reference was used for a synchronous request".into(),
            param: Some("reference".into()),
        }),
        Err(e) => refused(e),
    }
}

/// The submission's plan and inputs, checked as the HTTP handlers check them.
async fn plan_submission<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    sub: QueueSubmission,
) -> Result<Submission, ApiError> {
    let default_model = deps.providers.default_model();
    let serves = |k| deps.providers.serves(k);
    let mut sources: Vec<(String, ImageSource)> = sub
        .images
        .iter()
        .enumerate()
        .map(|(i, id)| (format!("images[{i}]"), ImageSource::Asset(id.clone())))
        .collect();
    let has_mask = sub.mask.is_some();
    sources.extend(
        sub.mask
            .map(|m| ("mask".to_string(), ImageSource::Asset(m))),
    );
    let mut loaded = load_all(deps, user_id, sources).await?;
    let mask = if has_mask { loaded.pop() } else { None };
    let size = |i: &InputImage| {
        let (w, h) = i.rgba.dimensions();
        Size::new(w, h)
    };
    let (op, images, mask) = match sub.operation {
        JobOperation::Video => {
            return Err(ApiError::invalid(
                "operation",
                "videos are made with POST /v1/videos",
            ));
        }
        JobOperation::Generation if loaded.is_empty() && mask.is_none() => {
            (Operation::Generate, Vec::new(), None)
        }
        JobOperation::Generation => {
            return Err(ApiError::invalid("images", "a generation takes no images"));
        }
        JobOperation::Variation if loaded.len() == 1 && mask.is_none() => (
            Operation::Variation {
                input: size(&loaded[0]),
            },
            loaded,
            None,
        ),
        JobOperation::Variation => {
            return Err(ApiError::invalid(
                "images",
                "a variation takes exactly one image and no mask",
            ));
        }
        JobOperation::Edit => {
            let first = loaded.first().ok_or_else(|| ApiError::missing("images"))?;
            let op = Operation::Edit {
                images: loaded.len(),
                input: size(first),
            };
            (op, loaded, mask)
        }
    };
    let plan = sub.request.clone().plan_for(op, default_model, serves)?;
    let inputs = EditInputs { images, mask };
    if sub.operation == JobOperation::Edit {
        crate::usecases::edit_inputs::check_edit(&plan, &inputs, "mask")?;
    }
    Ok(Submission {
        operation: sub.operation,
        fields: sub.request,
        work: Work::Images(plan),
        images: inputs.images,
        mask: inputs.mask,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_vendor_calls_progress_climbs_to_its_ceiling_and_stays() {
        let p = std::sync::atomic::AtomicU8::new(10);
        let seen: Vec<u8> = (0..100).map(|_| super::step(&p, 5, 75)).collect();
        assert_eq!(seen[..3], [15, 20, 25]);
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "never goes back");
        assert_eq!(*seen.last().unwrap(), 75);
    }

    use super::*;
    use crate::adapters::memory::{MemoryStore, deps, user_with_credits};
    use crate::domain::jobs::JobEnd;
    use crate::http::Credential;
    use crate::ports::{Accounts, Holds, Idempotency, Jobs};

    fn who(user_id: &str) -> Principal {
        Principal {
            user_id: user_id.into(),
            role: crate::domain::accounts::Role::User,
            credential: Credential::ApiKey {
                key_id: "key_test".into(),
            },
        }
    }

    async fn available(store: &MemoryStore, user: &str) -> i64 {
        store.user(user).await.unwrap().unwrap().credits.available
    }

    async fn submitted(
        d: &crate::Deps<MemoryStore, crate::adapters::memory::MemoryBlobs>,
        user: &str,
    ) -> Job {
        let fields = CreateImageRequest {
            prompt: "a lighthouse".into(),
            size: Some("256x256".into()),
            n: Some(2),
            ..Default::default()
        };
        let plan = fields
            .clone()
            .plan(d.providers.default_model(), |_| true)
            .unwrap();
        let claim = KeyClaim {
            key: "k".into(),
            token: "t".into(),
        };
        d.store
            .claim(user, &claim, "hash", now_epoch())
            .await
            .unwrap();
        let sub = Submission {
            operation: JobOperation::Generation,
            fields,
            work: Work::Images(plan),
            images: Vec::new(),
            mask: None,
        };
        submit(d, &who(user), sub, Some(claim)).await.unwrap()
    }

    #[tokio::test]
    async fn a_job_outlives_a_requests_hold_and_its_key_answers_with_it() {
        let d = deps();
        let user = user_with_credits(&d.store, 10).await;
        let job = submitted(&d, &user).await;
        assert_eq!(available(&d.store, &user).await, 8);
        let hold = d.store.hold(&job.id).await.unwrap().unwrap();
        assert!(hold.due_at >= job.created_at + JOB_HOLD_SECONDS);
        assert_eq!(hold.idempotency, None, "the key answers with the job now");
        let sent = d.queues.take(QueueName::Jobs);
        let message: JobMessage = serde_json::from_str(&sent[0]).unwrap();
        assert_eq!(message.job_id, job.id);
    }

    #[tokio::test]
    async fn a_job_ended_by_a_process_that_died_before_giving_back_is_given_back_on_delivery() {
        let d = deps();
        let user = user_with_credits(&d.store, 10).await;
        let job = submitted(&d, &user).await;
        // Failed, and then that process died: nothing given back yet.
        let end = JobEnd {
            status: JobStatus::Failed,
            failure: None,
            completed_at: now_epoch(),
        };
        assert!(
            d.store
                .end_job(&user, &job.id, JobStatus::Queued, None, &end)
                .await
                .unwrap()
        );
        assert_eq!(available(&d.store, &user).await, 8);
        let message = JobMessage {
            job_id: job.id.clone(),
            user_id: user.clone(),
        };
        assert_eq!(run(&d, &message, now_epoch()).await.unwrap(), Ran::Done);
        assert_eq!(available(&d.store, &user).await, 10);
        assert!(d.store.hold(&job.id).await.unwrap().is_none());
        // Once: another delivery finds nothing left to give.
        assert_eq!(run(&d, &message, now_epoch()).await.unwrap(), Ran::Done);
        assert_eq!(available(&d.store, &user).await, 10);
    }
}
