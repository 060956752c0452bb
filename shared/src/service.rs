//! Image generation as one unit of work: moderation, daily quota, credits, provider, post-processing,
//! storage and response — with every failure undoing what was done (refund, quota, objects).

use crate::Deps;
use crate::api::{ImageData, ImagesResponse};
use crate::charges::{self, Unwound};
use crate::domain::generation::{Background, GenerationPlan, OutputFormat, refused_term};
use crate::domain::{new_id, now_epoch};
use crate::error::ApiError;
use crate::http::Principal;
use crate::imaging::{self, ImagingError};
use crate::ports::{
    AssetKind, Blobs, Hold, IdempotencyClaim, ImageRecord, KeyClaim, Lineage, Settlement, Store,
};
use crate::providers::{EditInputs, InputImage, ProviderError, ProviderImage, ProviderOutput};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::future::Future;

/// One image ready to store: encoded bytes in the requested format and a thumbnail.
pub struct Processed {
    pub bytes: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub revised_prompt: Option<String>,
}

/// Turns provider output into what the plan asked for: transparent background when the model
/// cannot do it, exact size (Lanczos3), requested format and compression, and a thumbnail.
pub fn post_process(
    image: ProviderImage,
    plan: &GenerationPlan,
) -> Result<Processed, ImagingError> {
    let (mut rgba, original) = match image.image {
        ProviderOutput::Raw(img) => (img, None),
        ProviderOutput::Encoded(bytes) => (imaging::decode(&bytes)?.into_rgba8(), Some(bytes)),
    };
    let mut changed = false;
    if plan.background == Background::Transparent && !plan.model.native_transparency {
        imaging::white_to_alpha(&mut rgba, imaging::WHITE_TOLERANCE);
        changed = true;
    }
    let (w, h) = (plan.size.width, plan.size.height);
    if rgba.dimensions() != (w, h) {
        rgba = imaging::resize(&rgba, w, h);
        changed = true;
    }
    // A vendor image already in the requested format is kept bit for bit (no re-encoding loss).
    let same_format =
        original.as_deref().and_then(imaging::sniff_format) == Some(plan.output_format);
    let bytes = match original {
        Some(bytes) if !changed && same_format => bytes,
        _ => imaging::encode(&rgba, plan.output_format, plan.output_compression)?,
    };
    Ok(Processed {
        thumbnail: imaging::thumbnail(&rgba)?,
        bytes,
        width: w,
        height: h,
        revised_prompt: image.revised_prompt,
    })
}

/// Lambda responses are capped at 6 MB; base64 images beyond this cannot be answered inline.
pub const MAX_INLINE_RESPONSE_BYTES: usize = 5_500_000;

/// Object keys come from ids only, never from anything a user typed.
pub fn object_keys(user_id: &str, image_id: &str, format: OutputFormat) -> (String, String) {
    (
        format!("images/{user_id}/{image_id}.{}", format.extension()),
        format!("thumbnails/{user_id}/{image_id}.webp"),
    )
}

/// Generates, stores and answers. Nothing is charged for a refused prompt, and a failure after
/// the debit refunds it and releases the daily quota; stored objects are removed if their
/// metadata cannot be written.
pub async fn generate<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    plan: GenerationPlan,
) -> Result<ImagesResponse, ApiError> {
    run(deps, who, &plan, Lineage::original(None), || {
        deps.providers.generate(&plan)
    })
    .await
}

/// An edit of `inputs`. By default the result is a new asset whose parent is the first input's
/// asset; PATCH passes a `lineage` that makes it the next version of that asset.
pub async fn edit<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    plan: GenerationPlan,
    inputs: EditInputs,
    lineage: Option<Lineage>,
) -> Result<ImagesResponse, ApiError> {
    let lineage = lineage.unwrap_or_else(|| {
        Lineage::original(inputs.images.first().and_then(|i| i.asset_id.clone()))
    });
    run(deps, who, &plan, lineage, || {
        deps.providers.edit(&plan, &inputs)
    })
    .await
}

pub async fn variation<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    plan: GenerationPlan,
    input: InputImage,
) -> Result<ImagesResponse, ApiError> {
    let lineage = Lineage::original(input.asset_id.clone());
    run(deps, who, &plan, lineage, || {
        deps.providers.variation(&plan, &input)
    })
    .await
}

/// The unit of work every paid operation shares: moderation, daily quota, debit, `produce`,
/// post-processing and storage, with refund and quota release on any failure.
async fn run<S, B, F, Fut>(
    deps: &Deps<S, B>,
    who: &Principal,
    plan: &GenerationPlan,
    lineage: Lineage,
    produce: F,
) -> Result<ImagesResponse, ApiError>
where
    S: Store,
    B: Blobs,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Vec<ProviderImage>, ProviderError>>,
{
    if let Some(term) = refused_term(&plan.prompt, &deps.config.refused_terms) {
        tracing::info!(user_id = %who.user_id, "prompt refused by moderation");
        return Err(ApiError::ContentPolicy(format!(
            "Your prompt was refused by this service's content policy (it contains '{term}')."
        )));
    }
    let uid = who.user_id.as_str();
    let now = now_epoch();
    let limit = deps.config.daily_image_limit;
    if plan.n as u32 > limit {
        // No wait would help: a 400, not a 429.
        return Err(ApiError::invalid(
            "n",
            format!(
                "at most {limit} images a day can be made; this request asks for {}",
                plan.n
            ),
        ));
    }
    let generation_id = new_id("gen");
    // Written before anything is taken: if this Lambda is killed from here on, the sweeper
    // gives back whatever was taken (see `charges`).
    let mut hold = charges::hold_for(
        &generation_id,
        uid,
        plan.cost,
        plan.n as u32,
        now,
        KEY_CLAIM.try_with(Clone::clone).ok().flatten(),
    );
    deps.store.open_hold(&hold).await?;
    let reserved = deps
        .store
        .reserve_daily(uid, hold.images, limit, now, &generation_id)
        .await;
    if let Ok(Err(reset_at)) = reserved {
        close_hold(deps, &hold).await;
        let retry = (reset_at - now).max(1) as u64;
        return Err(ApiError::RateLimited {
            message: format!(
                "Daily limit of {limit} generated images reached (this request asks for {}). It resets at 00:00 UTC.",
                plan.n
            ),
            retry_after_secs: retry,
            limit,
            reset_epoch: reset_at as u64,
        });
    }
    let charged = match reserved {
        Ok(_) => {
            deps.store
                .debit(uid, plan.cost, charges::GENERATION, &generation_id)
                .await
        }
        Err(e) => Err(e),
    };
    if !matches!(charged, Ok(true)) {
        // Gives back the quota (and the credits if the debit's outcome is unknown).
        undo(deps, &hold).await;
        return Err(charged.err().unwrap_or_else(|| {
            ApiError::InsufficientQuota(format!(
                "You have too few credits for this request ({} needed). See GET /v1/credit.",
                plan.cost
            ))
        }));
    }
    let result = match produce().await {
        Ok(images) => store_results(deps, uid, plan, &lineage, images, &mut hold).await,
        Err(e) => Err(e.into()),
    };
    match &result {
        Err(e) => {
            tracing::warn!(user_id = %uid, %generation_id, error = %e, "generation failed: refunding");
            undo(deps, &hold).await;
        }
        Ok(_) => {
            tracing::info!(user_id = %uid, %generation_id, model = plan.model.id, n = plan.n, cost = plan.cost, "generated");
            // The images and the hold's settlement are stored together; making the charge final
            // is housekeeping, which the sweeper repeats if it fails here.
            if let Err(e) = charges::finish(&deps.store, &hold).await {
                tracing::warn!(hold = %hold.id, error = %e, "could not finish a settled hold; the sweeper will");
            }
        }
    }
    result
}

tokio::task_local! {
    /// The Idempotency-Key claim of the request being served, recorded in its hold so that the
    /// sweeper can free the key of a request whose Lambda was killed (and only that claim).
    static KEY_CLAIM: Option<KeyClaim>;
}

/// Gives back what a failed request took; on failure the sweeper retries it later.
async fn undo<S: Store, B: Blobs>(deps: &Deps<S, B>, hold: &Hold) {
    match charges::give_back(&deps.store, &deps.blobs, hold, false).await {
        Ok(Unwound::GivenBack { .. }) => {}
        Ok(Unwound::Settled) => {
            tracing::error!(hold = %hold.id, "failed after its images were stored: charge kept")
        }
        Ok(Unwound::Gone) => tracing::warn!(hold = %hold.id, "already unwound by the sweeper"),
        Err(e) => {
            tracing::error!(hold = %hold.id, error = %e, "could not give back a charge now; the sweeper will")
        }
    }
}

async fn close_hold<S: Store, B: Blobs>(deps: &Deps<S, B>, hold: &Hold) {
    if let Err(e) = deps.store.close_hold(&hold.id).await {
        tracing::warn!(hold = %hold.id, error = %e, "could not close an unused hold; the sweeper will");
    }
}

async fn store_results<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    uid: &str,
    plan: &GenerationPlan,
    lineage: &Lineage,
    images: Vec<ProviderImage>,
    hold: &mut Hold,
) -> Result<ImagesResponse, ApiError> {
    let processed = {
        let plan = plan.clone();
        tokio::task::spawn_blocking(move || {
            images
                .into_iter()
                .map(|img| post_process(img, &plan))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::from(ProviderError::BadOutput(e.to_string())))?
    };

    if plan.response_format == crate::domain::generation::ResponseFormat::B64Json {
        let encoded: usize = processed
            .iter()
            .map(|p| p.bytes.len().div_ceil(3) * 4)
            .sum();
        if encoded > MAX_INLINE_RESPONSE_BYTES {
            // Refunded by the caller; nothing is stored.
            return Err(ApiError::invalid(
                "response_format",
                format!(
                    "these images are {:.1} MB as base64, more than a response can carry; ask for response_format=url (or fewer images)",
                    encoded as f64 / 1e6
                ),
            ));
        }
    }
    let created_at = now_epoch();
    let records: Vec<ImageRecord> = processed
        .iter()
        .map(|p| {
            let id = new_id("img");
            let (key, thumbnail_key) = object_keys(uid, &id, plan.output_format);
            ImageRecord {
                id,
                user_id: uid.to_string(),
                kind: AssetKind::Image,
                prompt: Some(plan.prompt.clone()).filter(|p| !p.is_empty()),
                revised_prompt: p.revised_prompt.clone(),
                model: Some(plan.model.id.to_string()),
                width: p.width,
                height: p.height,
                format: plan.output_format.as_str().to_string(),
                bytes: p.bytes.len() as u64,
                key,
                thumbnail_key: Some(thumbnail_key),
                created_at,
                parent_id: lineage.parent_id.clone(),
                background: Some(background_name(plan.background).to_string()),
                quality: Some(plan.quality.to_string()),
                title: lineage.title.clone(),
                tags: lineage.tags.clone(),
                version: lineage.version,
            }
        })
        .collect();
    // The answer is built before anything is stored: once the images are stored (and the hold
    // settled), nothing may fail any more.
    let mut data = Vec::with_capacity(records.len());
    for (record, p) in records.iter().zip(&processed) {
        let (url, b64_json) = match plan.response_format {
            crate::domain::generation::ResponseFormat::B64Json => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&p.bytes)),
            ),
            crate::domain::generation::ResponseFormat::Url => (
                Some(
                    deps.blobs
                        .presign_get(&record.key, deps.config.presign_ttl)
                        .await?,
                ),
                None,
            ),
        };
        data.push(ImageData {
            id: record.id.clone(),
            url,
            b64_json,
            revised_prompt: p.revised_prompt.clone(),
        });
    }
    let response = ImagesResponse {
        created: created_at,
        data,
        size: plan.size.to_string(),
        output_format: plan.output_format.as_str().to_string(),
        background: background_name(plan.background).to_string(),
        quality: plan.quality.to_string(),
        model: plan.model.id.to_string(),
    };
    // The sweeper deletes these objects if this Lambda dies before their metadata is stored.
    let keys: Vec<String> = records
        .iter()
        .flat_map(|r| [Some(r.key.clone()), r.thumbnail_key.clone()])
        .flatten()
        .collect();
    if !deps.store.attach_objects(&hold.id, &keys).await? {
        return Err(ApiError::internal(
            "the charge of this request was given back before its images could be stored",
        ));
    }
    // Undoing a failure from here on deletes them too (again, if the first attempt failed).
    hold.objects = keys;
    let answer = match &hold.idempotency {
        Some(claim) => Some((claim.clone(), replayable(&response)?)),
        None => None,
    };
    let settlement = Settlement {
        hold_id: hold.id.clone(),
        user_id: uid.to_string(),
        answer,
    };
    store_objects(
        deps,
        &records,
        &processed,
        plan.output_format,
        Some(&settlement),
    )
    .await?;
    Ok(response)
}

/// What an Idempotency-Key keeps of an answer: everything but the image bytes and URLs (a
/// DynamoDB item holds 400 KB), with an empty marker saying which form to rebuild on replay.
fn replayable(response: &ImagesResponse) -> Result<String, ApiError> {
    let mut compact = response.clone();
    for d in &mut compact.data {
        d.b64_json = d.b64_json.as_ref().map(|_| String::new());
        d.url = d.url.as_ref().map(|_| String::new());
    }
    serde_json::to_string(&compact).map_err(ApiError::internal)
}

fn background_name(b: Background) -> &'static str {
    match b {
        Background::Transparent => "transparent",
        Background::Opaque => "opaque",
    }
}

/// Uploads every object, then writes all metadata at once. On any failure the objects already
/// uploaded are deleted: no orphans, and no metadata pointing at nothing.
pub async fn store_objects<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    records: &[ImageRecord],
    processed: &[Processed],
    format: OutputFormat,
    settles: Option<&Settlement>,
) -> Result<(), ApiError> {
    let mut uploaded: Vec<String> = Vec::new();
    let mut outcome = Ok(());
    for (r, p) in records.iter().zip(processed) {
        let thumb_key = r
            .thumbnail_key
            .clone()
            .expect("generated images have thumbnails");
        let puts = [
            (r.key.clone(), p.bytes.clone(), format.content_type()),
            (thumb_key, p.thumbnail.clone(), "image/webp"),
        ];
        for (key, bytes, content_type) in puts {
            match deps.blobs.put(&key, bytes, content_type).await {
                Ok(()) => uploaded.push(key),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        if outcome.is_err() {
            break;
        }
    }
    if outcome.is_ok() {
        outcome = deps.store.put_images(records, settles).await;
    }
    if outcome.is_err()
        && let Err(e) = deps.blobs.delete(&uploaded).await
    {
        tracing::error!(error = %e, keys = ?uploaded, "could not remove objects of a failed write");
    }
    outcome
}

/// Runs `work` at most once per (user, Idempotency-Key) within 24 hours: a replay with the
/// same body returns the same images without doing anything; another body is a 409.
/// The record keeps the response without image bytes (a DynamoDB item holds 400 KB): a replay
/// reads the bytes back from storage, or presigns fresh URLs.
pub async fn idempotent<S: Store, B: Blobs, F, Fut>(
    deps: &Deps<S, B>,
    who: &Principal,
    key: Option<&str>,
    canonical_body: &str,
    work: F,
) -> Result<ImagesResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<ImagesResponse, ApiError>>,
{
    let Some(key) = key else {
        return KEY_CLAIM.scope(None, work()).await;
    };
    let claim = KeyClaim {
        key: key.to_string(),
        token: new_id("claim"),
    };
    let hash = hex::encode(Sha256::digest(canonical_body.as_bytes()));
    match deps
        .store
        .claim(&who.user_id, &claim, &hash, now_epoch())
        .await?
    {
        IdempotencyClaim::New => {}
        IdempotencyClaim::Replay(stored) => {
            tracing::info!(user_id = %who.user_id, "idempotent replay");
            let stored: ImagesResponse =
                serde_json::from_str(&stored).map_err(ApiError::internal)?;
            return rehydrate(deps, &who.user_id, stored).await;
        }
        IdempotencyClaim::Mismatch => {
            return Err(ApiError::Conflict {
                message: "this Idempotency-Key was already used with a different request body"
                    .into(),
                param: Some("Idempotency-Key".into()),
            });
        }
        IdempotencyClaim::InProgress => {
            return Err(ApiError::Conflict {
                message:
                    "a request with this Idempotency-Key is still being processed; retry later"
                        .into(),
                param: Some("Idempotency-Key".into()),
            });
        }
    }
    // The answer is recorded under the key in the same transaction as the images (see
    // `store_results`): a Lambda killed after storing them still leaves a replayable key.
    match KEY_CLAIM.scope(Some(claim.clone()), work()).await {
        Ok(response) => Ok(response),
        Err(e) => {
            if let Err(abandon) = deps.store.abandon(&who.user_id, &claim).await {
                tracing::error!(error = %abandon, "could not release an idempotency key");
            }
            Err(e)
        }
    }
}

/// Refills a stored response: the same bytes for `b64_json`, fresh presigned URLs for `url`.
async fn rehydrate<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    mut response: ImagesResponse,
) -> Result<ImagesResponse, ApiError> {
    for d in &mut response.data {
        let record = deps
            .store
            .image(user_id, &d.id)
            .await?
            .ok_or_else(|| ApiError::Conflict {
                message: format!(
                    "image {} of this Idempotency-Key was deleted since; use a new key",
                    d.id
                ),
                param: Some("Idempotency-Key".into()),
            })?;
        if d.b64_json.is_some() {
            let bytes = deps
                .blobs
                .get(&record.key)
                .await?
                .ok_or_else(|| ApiError::internal(format!("object of {} is missing", d.id)))?;
            d.b64_json = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
        if d.url.is_some() {
            d.url = Some(
                deps.blobs
                    .presign_get(&record.key, deps.config.presign_ttl)
                    .await?,
            );
        }
    }
    Ok(response)
}

/// The `Idempotency-Key` header, validated (1–255 visible ASCII characters).
pub fn idempotency_key(req: &lambda_http::Request) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().map(str::trim).unwrap_or("");
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(key.to_string()))
}

/// An asset of the caller's library; another user's id is simply not found (404).
pub async fn owned_image<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
) -> Result<ImageRecord, ApiError> {
    deps.store
        .image(user_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no image with id '{id}'")))
}

/// An asset of the caller's library and its bytes; another user's id is simply not found.
pub async fn asset_bytes<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
    param: &str,
) -> Result<(ImageRecord, Vec<u8>), ApiError> {
    let record = owned_image(deps, user_id, id).await.map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::NotFound(format!("no image with id '{id}' ({param})")),
        other => other,
    })?;
    let bytes = deps
        .blobs
        .get(&record.key)
        .await?
        .ok_or_else(|| ApiError::internal(format!("object of {id} is missing")))?;
    Ok((record, bytes))
}

/// Stores one new asset (objects, then metadata) and describes it.
pub async fn store_asset<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    record: &ImageRecord,
    processed: &Processed,
) -> Result<crate::api::ImageInfo, ApiError> {
    let format = OutputFormat::parse(&record.format)
        .ok_or_else(|| ApiError::internal(format!("unknown format {}", record.format)))?;
    store_objects(
        deps,
        std::slice::from_ref(record),
        std::slice::from_ref(processed),
        format,
        None,
    )
    .await?;
    image_info(deps, record).await
}

/// A library item with fresh presigned URLs.
pub async fn image_info<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    r: &ImageRecord,
) -> Result<crate::api::ImageInfo, ApiError> {
    let ttl = deps.config.presign_ttl;
    let url = deps.blobs.presign_get(&r.key, ttl).await?;
    let thumbnail_url = match &r.thumbnail_key {
        Some(k) => Some(deps.blobs.presign_get(k, ttl).await?),
        None => None,
    };
    Ok(crate::api::ImageInfo {
        id: r.id.clone(),
        object: "image".into(),
        kind: r.kind,
        prompt: r.prompt.clone(),
        revised_prompt: r.revised_prompt.clone(),
        model: r.model.clone(),
        width: r.width,
        height: r.height,
        size: format!("{}x{}", r.width, r.height),
        format: r.format.clone(),
        bytes: r.bytes,
        background: r.background.clone(),
        quality: r.quality.clone(),
        parent_id: r.parent_id.clone(),
        title: r.title.clone(),
        tags: r.tags.clone(),
        version: r.version,
        created_at: r.created_at,
        url,
        thumbnail_url,
        urls_expire_at: now_epoch() + ttl.as_secs() as i64,
    })
}
