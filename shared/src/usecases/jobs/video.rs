//! The worker's attempt at a video: the local renderer or a vendor, then the MP4, its poster
//! and spritesheet stored as one asset.

use crate::domain::assets::{AssetKind, ImageRecord, Lineage, OutputFormat};
use crate::domain::jobs::{Checkpoint, Job, JobRequest};
use crate::domain::videos::{CreateVideoRequest, extra_keys};
use crate::domain::{new_id, now_epoch};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::providers::ProviderError;
use crate::usecases::Deps;
use crate::usecases::edit_inputs::{ImageSource, load_all};
use crate::usecases::jobs::{
    Ran, canceled, clear_earlier_attempts, drop_inputs, fail, job_call, job_goes_on, not_stored,
};
use crate::usecases::library::{Processed, store_objects};
use crate::usecases::provenance as credentials;
use crate::wire::{ImageData, ImagesResponse};
use futures::future::BoxFuture;

/// What the user asked the video's credentials to disclose (checked when it was submitted).
fn disclosed(request: &JobRequest, prompt: &str, uid: &str) -> Vec<(&'static str, String)> {
    let asked =
        crate::domain::generation::Disclose::parse(request.fields.provenance_include.as_deref())
            .unwrap_or_default();
    let mut out = Vec::new();
    if asked.prompt && !prompt.is_empty() {
        out.push(("prompt", prompt.to_string()));
    }
    if asked.author {
        out.push(("author", uid.to_string()));
    }
    out
}

/// Runs a video job: a clip over its picture (or the prompt's scene), encoded a second at a
/// time with a checkpoint between (progress, cancel, lease), and stored as one asset of kind
/// `video` in the transaction that settles the hold and succeeds the job.
// Long: the steps of an attempt in order, as `run`'s.
pub(super) async fn run_video<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    job: &Job,
    hold: &crate::domain::billing::Hold,
) -> Result<Ran, ApiError> {
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
    .plan(|k| deps.config.vendors.serves(k));
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
                Ok(mut l) => l.pop(),
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
    let (parent, picture) = match picture {
        Some(input) => (
            Some((input.bytes, request.images[0].asset_id.clone())),
            Some(input.rgba),
        ),
        None => (None, None),
    };
    if let Err(e) = credentials::signer(deps).await {
        return fail(deps, job, attempt, e).await;
    }
    let made = if plan.model.provider() == crate::domain::catalog::ProviderKind::Local {
        local_clip(deps, job, &plan, picture).await?
    } else {
        vendor_clip(deps, job, &plan, picture).await?
    };
    let mut made = match made {
        Ok(made) => made,
        Err(ran) => return Ok(ran),
    };
    let (agent, trained) = credentials::agent(plan.model.id, made.vendor);
    let signed = credentials::sign_output(
        deps,
        std::mem::take(&mut made.mp4),
        OutputFormat::Mp4,
        asset_id.clone(),
        credentials::Making {
            made: provenance::Made::ByModel { agent, trained },
            parent,
            vendor_output: made.vendor != crate::domain::catalog::ProviderKind::Local,
            disclosed: disclosed(&request, &plan.prompt, uid),
        },
    )
    .await;
    made.mp4 = match signed {
        Ok(mp4) => mp4,
        Err(e) => return fail(deps, job, attempt, e).await,
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
        charge: None,
    };
    let result = crate::usecases::jobs::steps::replayable(&response)?;
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
        served: Some(crate::domain::admin::VendorCharge {
            model: plan.model.id.to_string(),
            vendor: made.vendor.as_str().to_string(),
            cost_micros: crate::domain::catalog::vendor_cost_micros(
                plan.model.id,
                made.vendor,
                &plan.routes,
                1,
                None,
            ),
        }),
    };
    if let Err(e) = store_objects(deps, &[record], &[processed], Some(&settlement)).await {
        return not_stored(deps, uid, id, attempt, e.into()).await;
    }
    // Boxed: its transaction would otherwise grow every caller's future (and stack).
    Box::pin(crate::usecases::referrals::after_paid(deps, uid)).await;
    drop_inputs(deps, id, &inputs_kept).await;
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
pub(super) struct Made {
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
pub(super) async fn local_clip<S: Store, B: Blobs>(
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
pub(super) async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, imaging::ImagingError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// A vendor's image-to-video: the picture cropped to the frame goes out (and is the poster);
/// the vendor is polled with the job's progress and cancel, and its MP4 kept as it is.
pub(super) async fn vendor_clip<S: Store, B: Blobs>(
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
