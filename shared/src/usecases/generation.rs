//! Paid image work as one unit: moderation, daily quota, credits, provider, post-processing,
//! storage and response — with every failure undoing what was done (refund, quota, objects).

use crate::domain::accounts::Principal;
use crate::domain::assets::Lineage;
use crate::domain::billing::KeyClaim;
use crate::domain::generation::GenerationPlan;
use crate::domain::{new_id, now_epoch};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::providers::{Call, EditInputs, InputImage, Partials, ProviderError, Served};
use crate::usecases::Deps;
use crate::usecases::billing::charges;
use crate::usecases::jobs::steps::{admissible, image_keys, store_results, take, undo};
use crate::wire::ImagesResponse;
use std::future::Future;
use std::time::{Duration, Instant};

/// The client waiting for a synchronous answer: when it must be committed by (the client's
/// limit), and where partial images go if the answer streams them as they come.
#[derive(Clone, Copy)]
pub struct Waiting<'a> {
    pub by: Instant,
    pub partials: Option<&'a Partials>,
}

impl From<Instant> for Waiting<'_> {
    fn from(by: Instant) -> Self {
        Self { by, partials: None }
    }
}

/// Generates, stores and answers, committed by `waiting.by`. Nothing is
/// charged for a refused prompt, and a failure after the debit refunds it and releases the
/// daily quota; stored objects are removed if their metadata cannot be written.
pub async fn generate<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    plan: GenerationPlan,
    claim: Option<KeyClaim>,
    waiting: Waiting<'_>,
) -> Result<ImagesResponse, ApiError> {
    let lineage = Lineage::original(None);
    run(deps, who, &plan, (lineage, &[]), claim, waiting, |call| {
        deps.providers.generate_within(&plan, None, None, call)
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
    claim: Option<KeyClaim>,
    waiting: Waiting<'_>,
) -> Result<ImagesResponse, ApiError> {
    let lineage = lineage.unwrap_or_else(|| {
        Lineage::original(inputs.images.first().and_then(|i| i.asset_id.clone()))
    });
    run(
        deps,
        who,
        &plan,
        (lineage, &inputs.images),
        claim,
        waiting,
        |call| {
            deps.providers
                .generate_within(&plan, Some(&inputs), None, call)
        },
    )
    .await
}

pub async fn variation<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    plan: GenerationPlan,
    input: InputImage,
    claim: Option<KeyClaim>,
    answer_by: Instant,
) -> Result<ImagesResponse, ApiError> {
    let lineage = Lineage::original(input.asset_id.clone());
    run(
        deps,
        who,
        &plan,
        (lineage, std::slice::from_ref(&input)),
        claim,
        answer_by.into(),
        |call| {
            deps.providers
                .generate_within(&plan, None, Some(&input), call)
        },
    )
    .await
}

/// Time kept after the vendor answers for decoding, post-processing, encoding, storing and
/// answering (see README, "Synchronous deadline": measured with a margin for a 256 MB Lambda).
pub fn store_reserve(plan: &GenerationPlan) -> Duration {
    let megapixels = (plan.size.pixels() * plan.n as u64).div_ceil(1_000_000);
    Duration::from_millis(2_000 + 400 * megapixels)
}

/// The unit of work every paid operation shares: moderation, daily quota, debit, `produce`,
/// post-processing and storage, with refund and quota release on any failure. `claim` is the
/// request's Idempotency-Key claim (from `idempotent`): its answer is recorded with the images.
/// `made_of` is the outputs' lineage and the inputs their credentials name (the first as parent).
// Long: the steps of a paid request in their order, each undone on a failure after it.
#[allow(clippy::too_many_arguments)]
async fn run<'d, S, B, F, Fut>(
    deps: &'d Deps<S, B>,
    who: &Principal,
    plan: &GenerationPlan,
    made_of: (Lineage, &[InputImage]),
    claim: Option<KeyClaim>,
    waiting: Waiting<'d>,
    produce: F,
) -> Result<ImagesResponse, ApiError>
where
    S: Store,
    B: Blobs,
    F: FnOnce(Call<'d>) -> Fut,
    Fut: Future<Output = Result<Served, ProviderError>>,
{
    let uid = who.user_id.as_str();
    let answer_by = waiting.by;
    who.may_use(plan.model.id)?;
    admissible(deps, uid, &plan.prompt, plan.n)?;
    // The vendor is waited for only as long as leaves time to store and answer: an answer the
    // gateway has given up on must not be charged.
    let vendor_limit = Instant::now() + deps.config.vendors.provider_timeout;
    let answer_limit = answer_by
        .checked_sub(store_reserve(plan))
        .unwrap_or(answer_by);
    let vendor_by = vendor_limit.min(answer_limit);
    if vendor_by <= Instant::now() + Duration::from_secs(1) {
        return Err(ApiError::out_of_time());
    }
    // A deployment that cannot sign finds out before anything is taken or sent to a vendor.
    crate::usecases::provenance::signer(deps).await?;
    let generation_id = new_id("gen");
    // The images' ids, and so their objects, are chosen now: the hold lists the objects before
    // anything is taken, so a Lambda killed from here on leaves nothing the sweeper cannot find.
    let ids: Vec<String> = (0..plan.n).map(|_| new_id("img")).collect();
    let mut hold = charges::hold_by(
        who,
        &generation_id,
        plan.cost,
        plan.n as u32,
        now_epoch(),
        claim,
    );
    hold.objects = image_keys(uid, &ids, plan);
    hold.model = Some(plan.model.id.to_string());
    take(deps, plan.n, &hold).await?;
    let mut store_ms = 0;
    let call = Call {
        partials: waiting.partials,
        ..deps.providers.call_until(vendor_by)
    };
    let result = match produce(call).await {
        Ok(images) => {
            let (job, storing) = (None, Instant::now());
            let stored = store_results(
                deps,
                plan,
                &made_of.0,
                &ids,
                images,
                made_of.1,
                &hold,
                job,
                Some(answer_by),
            )
            .await;
            store_ms = storing.elapsed().as_millis();
            stored
        }
        // Out of the time the answer had, not the vendor's fault: say what works instead.
        Err(ProviderError::Timeout) if answer_limit < vendor_limit => Err(ApiError::out_of_time()),
        Err(e) => Err(e.into()),
    };
    match &result {
        Err(e) => {
            tracing::warn!(user_id = %uid, %generation_id, error = %e, "generation failed: refunding");
            undo(deps, &hold).await;
        }
        Ok(_) => {
            // The images were stored with the hold's settlement: the charge is final.
            // store_ms: what the vendor's answer took to store, against `store_reserve`.
            tracing::info!(user_id = %uid, %generation_id, model = plan.model.id, n = plan.n, cost = plan.cost, store_ms, "generated");
        }
    }
    result
}
