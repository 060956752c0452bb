//! The worker's attempt at a job of images: lease, inputs, the vendor, store, end — each
//! checkpoint with its way out (canceled, failed, given back).

use crate::domain::assets::Lineage;
use crate::domain::catalog::Size;
use crate::domain::generation::{GenerationPlan, Operation};
use crate::domain::jobs::{Checkpoint, Job, JobOperation, JobRequest, JobStatus, Lease};
use crate::domain::{new_id, now_epoch};
use crate::error::ApiError;
use crate::messages::JobMessage;
use crate::ports::{Blobs, Store};
use crate::providers::{Call, EditInputs, InputImage, ProviderError};
use crate::usecases::Deps;
use crate::usecases::edit_inputs::{ImageSource, load_all};
use crate::usecases::jobs::steps::{image_keys, store_results};
#[cfg(feature = "video")]
use crate::usecases::jobs::video::run_video;
use crate::usecases::jobs::{LEASE_SECONDS, end, failure_of, give_back};
use futures::future::BoxFuture;
use std::sync::atomic::Ordering;

/// What a job's vendor call asks between polls: it records progress (by `by`, up to
/// `ceiling`) and goes on unless the job was canceled or taken over (a stop cancels the
/// vendor's work too).
pub(super) async fn job_goes_on<S: Store, B: Blobs>(
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
pub(super) fn job_call<'a, S, B>(
    deps: &'a Deps<S, B>,
    watch: &'a crate::providers::Watch<'a>,
) -> Call<'a> {
    Call {
        deadline: std::time::Instant::now() + JOB_PROVIDER_BUDGET,
        max_retries: deps.config.vendors.provider_max_retries,
        watch: Some(watch),
        staging: deps.providers.staging(),
        partials: None,
    }
}

/// The next progress of a vendor call's polls: `by` more, never past `max` (never wrapping).
pub(super) fn step(progress: &std::sync::atomic::AtomicU8, by: u8, max: u8) -> u8 {
    let next = |p: u8| p.saturating_add(by).min(max);
    let before = progress
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| Some(next(p)))
        .unwrap_or(max);
    next(before)
}

/// How long a job's vendor call may take, polls included: well inside the worker's 900 s.
pub(super) const JOB_PROVIDER_BUDGET: std::time::Duration = std::time::Duration::from_secs(12 * 60);

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
            // Whoever ended it may have died before giving back (the stream announced it).
            if job.status != JobStatus::Succeeded {
                give_back(deps, &job).await;
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
    let made_of: &[InputImage] = match &inputs {
        Inputs::None => &[],
        Inputs::Edit(inputs) => &inputs.images,
        Inputs::Variation(input) => std::slice::from_ref(input),
    };
    // A deployment that cannot sign finds out before the vendor is paid for work it would lose.
    if let Err(e) = crate::usecases::provenance::signer(deps).await {
        return fail(deps, &job, attempt, e).await;
    }
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
        made_of,
        &hold,
        Some((id, attempt, completed_at)),
        None,
    )
    .await;
    if let Err(e) = stored {
        return not_stored(deps, uid, id, attempt, e).await;
    }
    if deps.config.faults.stop_after_settle {
        return Err(ApiError::internal(
            "fault injected: the worker stopped after the settling transaction",
        ));
    }
    drop_inputs(deps, id, &inputs_kept).await;
    tracing::info!(job_id = id, attempt, "job succeeded");
    Ok(Ran::Done)
}

/// Removes the objects of attempts before this one (their leases ended, so they are dead),
/// keeping the job's input copies.
pub(super) async fn clear_earlier_attempts<S: Store, B: Blobs>(
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
pub(super) async fn drop_inputs<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    id: &str,
    inputs_kept: &[String],
) {
    if !inputs_kept.is_empty()
        && let Err(e) = deps.blobs.delete(inputs_kept).await
    {
        tracing::warn!(job_id = id, error = %e, "could not remove a job's input copies");
    }
}

/// The settling write refused: canceled meanwhile, taken over, or a real failure.
pub(super) async fn not_stored<S: Store, B: Blobs>(
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

pub(super) enum Inputs {
    None,
    Edit(EditInputs),
    Variation(InputImage),
}

/// The job's request validated again into its plan, with its inputs read back.
pub(super) async fn prepare<S: Store, B: Blobs>(
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

pub(super) async fn fail<S: Store, B: Blobs>(
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

pub(super) async fn canceled<S: Store, B: Blobs>(
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
