//! The steps a paid request and a job's attempt share: what is refused before anything is taken,
//! taking the quota and credits under a hold, post-processing, storing everything in one
//! settlement, and undoing.

use crate::domain::admin::VendorCharge;
use crate::domain::assets::{AssetKind, ImageRecord, Lineage, object_keys};
use crate::domain::billing::{Hold, JobCompletion, Opened, Settlement};
use crate::domain::catalog::vendor_cost_micros;
use crate::domain::generation::{Background, GenerationPlan, ResponseFormat, refused_term};
use crate::domain::now_epoch;
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::providers::{InputImage, ProviderError, ProviderImage, ProviderOutput, Served};
use crate::usecases::Deps;
use crate::usecases::billing::charges;
use crate::usecases::billing::charges::Unwound;
use crate::usecases::library::{Processed, store_objects};
use crate::usecases::provenance as credentials;
use crate::wire::{Charge, ImageData, ImagesResponse};
use base64::Engine;
use imaging::ImagingError;
use serde_json::Value;
use std::time::Instant;

/// Turns provider output into what the plan asked for, with a thumbnail: an SVG as written, a
/// GIF of the frames, or a raster image (see [`post_process_raster`]).
pub fn post_process(
    image: ProviderImage,
    plan: &GenerationPlan,
) -> Result<Processed, ImagingError> {
    let transparent = plan.background == Background::Transparent && !plan.model.native_transparency;
    let (w, h) = (plan.size.width, plan.size.height);
    // Vector and animated output come from the local renderer at the exact size.
    let (mut rgba, bytes) = match image.image {
        ProviderOutput::Svg { svg, raster } => (raster, Some(svg.into_bytes())),
        ProviderOutput::Frames {
            mut frames,
            delay_ms,
        } => {
            for f in &mut frames {
                if transparent {
                    imaging::white_to_alpha(f, imaging::WHITE_TOLERANCE);
                }
                if f.dimensions() != (w, h) {
                    *f = imaging::resize(f, w, h);
                }
            }
            let gif = imaging::encode_gif(&frames, delay_ms)?;
            let first = frames.into_iter().next().ok_or(ImagingError::Unsupported)?;
            (first, Some(gif))
        }
        other => return post_process_raster(other, image.revised_prompt, plan),
    };
    if transparent {
        imaging::white_to_alpha(&mut rgba, imaging::WHITE_TOLERANCE);
    }
    Ok(Processed {
        thumbnail: imaging::thumbnail(&rgba)?,
        bytes: bytes.unwrap_or_default(),
        width: w,
        height: h,
        revised_prompt: image.revised_prompt,
        extras: Vec::new(),
    })
}

/// A raster image as the plan asked for it: transparent background when the model cannot do it,
/// exact size (Lanczos3), requested format and compression, and a thumbnail.
fn post_process_raster(
    image: ProviderOutput,
    revised_prompt: Option<String>,
    plan: &GenerationPlan,
) -> Result<Processed, ImagingError> {
    let (mut rgba, original) = match image {
        ProviderOutput::Raw(img) => (img, None),
        ProviderOutput::Encoded(bytes) => (imaging::decode_rgba(&bytes)?, Some(bytes)),
        ProviderOutput::Svg { raster, .. } => (raster, None),
        ProviderOutput::Frames { frames, .. } => (
            frames.into_iter().next().ok_or(ImagingError::Unsupported)?,
            None,
        ),
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
    let format = plan.output_format.raster().unwrap_or(imaging::Format::Png);
    // A vendor image already in the requested format is kept bit for bit (no re-encoding loss).
    let same_format = original.as_deref().and_then(imaging::sniff_format) == Some(format);
    let bytes = match original {
        Some(bytes) if !changed && same_format => bytes,
        _ => imaging::encode(&rgba, format, plan.output_compression)?,
    };
    Ok(Processed {
        thumbnail: imaging::thumbnail(&rgba)?,
        bytes,
        width: w,
        height: h,
        revised_prompt,
        extras: Vec::new(),
    })
}

/// Lambda responses are capped at 6 MB; base64 images beyond this cannot be answered inline.
pub const MAX_INLINE_RESPONSE_BYTES: usize = 5_500_000;

pub fn image_keys(uid: &str, ids: &[String], plan: &GenerationPlan) -> Vec<String> {
    ids.iter()
        .flat_map(|id| {
            let (key, thumbnail) = object_keys(uid, id, plan.output_format);
            [key, thumbnail]
        })
        .collect()
}

/// What is refused before anything is taken: the content policy, and more images than a day
/// allows (no wait would help: a 400, not a 429).
pub fn admissible<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    uid: &str,
    prompt: &str,
    n: u8,
) -> Result<(), ApiError> {
    if let Some(term) = refused_term(prompt, &deps.config.limits.refused_terms) {
        tracing::info!(user_id = %uid, "prompt refused by moderation");
        return Err(ApiError::ContentPolicy(format!(
            "Your prompt was refused by this service's content policy (it contains '{term}')."
        )));
    }
    let limit = deps.config.limits.daily_image_limit;
    if n as u32 > limit {
        return Err(ApiError::invalid(
            "n",
            format!("at most {limit} images a day can be made; this request asks for {n}"),
        ));
    }
    Ok(())
}

/// Opens `hold` and takes the day's quota and the credits, in one write.
pub async fn take<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    n: u8,
    hold: &Hold,
) -> Result<(), ApiError> {
    let limit = deps.config.limits.daily_image_limit;
    match deps
        .store
        .open_charge(
            hold,
            limit,
            charges::GENERATION,
            deps.config.limits.storage_quota_bytes,
        )
        .await?
    {
        Opened::Taken => Ok(()),
        Opened::QuotaFull { reset_at } => Err(ApiError::RateLimited {
            message: format!(
                "Daily limit of {limit} generated images reached (this request asks for {n}). It resets at 00:00 UTC."
            ),
            retry_after_secs: (reset_at - hold.reserved_at).max(1) as u64,
            limit,
            reset_epoch: reset_at as u64,
        }),
        Opened::StorageFull { used } => Err(ApiError::storage_full(
            used,
            deps.config.limits.storage_quota_bytes,
            0,
        )),
        Opened::OverBudget {
            left,
            budget,
            resets_at,
        } => Err(ApiError::BudgetExceeded {
            message: format!(
                "This API key's budget is spent: {left} of its {budget} credits are left this period and this request costs {}. It resets at {resets_at} (Unix seconds, UTC).",
                hold.amount
            ),
            retry_after_secs: (resets_at - now_epoch()).max(1) as u64,
        }),
        Opened::TooFewCredits => Err(ApiError::InsufficientQuota(format!(
            "You have too few credits for this request ({} needed). See GET /v1/credit.",
            hold.amount
        ))),
    }
}

/// Gives back what a failed request took; on failure the sweeper retries it later.
pub async fn undo<S: Store, B: Blobs>(deps: &Deps<S, B>, hold: &Hold) {
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

/// Post-processes, signs (Content Credentials naming `inputs`, an edit's or variation's images),
/// checks what an answer can carry, builds the answer and stores everything in one settlement,
/// committed by `answer_by` if the answer is synchronous. Long because the order is the point:
/// nothing may fail after the write.
#[allow(clippy::too_many_arguments)]
pub async fn store_results<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    plan: &GenerationPlan,
    lineage: &Lineage,
    ids: &[String],
    served: Served,
    inputs: &[InputImage],
    hold: &Hold,
    job: Option<(&str, u32, i64)>,
    answer_by: Option<Instant>,
) -> Result<ImagesResponse, ApiError> {
    let uid = hold.user_id.as_str();
    let (images, vendor_kind) = (served.images, served.vendor);
    let vendor = vendor_kind.as_str();
    let image_usage: Vec<Option<serde_json::Value>> =
        images.iter().map(|i| i.usage.clone()).collect();
    let signer = crate::usecases::provenance::signer(deps).await?;
    let (processed, partials) = {
        let plan = plan.clone();
        let ids = ids.to_vec();
        let inputs: Vec<(Vec<u8>, Option<String>)> = inputs
            .iter()
            .map(|i| (i.bytes.clone(), i.asset_id.clone()))
            .collect();
        let author = plan.disclose.author.then(|| uid.to_string());
        tokio::task::spawn_blocking(move || {
            let format = plan.output_format.raster().unwrap_or(imaging::Format::Png);
            let bad_output =
                |e: ImagingError| ApiError::from(ProviderError::BadOutput(e.to_string()));
            images
                .into_iter()
                .zip(&ids)
                .map(|(mut img, id)| {
                    // Partial images travel in the stream only: encoded, never stored.
                    let partials = std::mem::take(&mut img.partials)
                        .iter()
                        .map(|p| imaging::encode(p, format, plan.output_compression))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(bad_output)?;
                    // A vendor's own credentials (OpenAI's) stay, as an ingredient of ours.
                    let vendor_output = match &img.image {
                        ProviderOutput::Encoded(b) if provenance::may_carry_credentials(b) => {
                            Some(b.clone())
                        }
                        _ => None,
                    };
                    let mut processed = post_process(img, &plan).map_err(bad_output)?;
                    if let Some(signer) = &signer {
                        let (agent, trained) = credentials::agent(plan.model.id, vendor_kind);
                        let mut disclosed = Vec::new();
                        if plan.disclose.prompt && !plan.prompt.is_empty() {
                            disclosed.push(("prompt", plan.prompt.clone()));
                        }
                        if let Some(author) = &author {
                            disclosed.push(("author", author.clone()));
                        }
                        let mut parents =
                            inputs.iter().map(|(bytes, asset_id)| credentials::Parent {
                                bytes,
                                asset_id: asset_id.as_deref(),
                            });
                        let sources = credentials::Sources {
                            parent: parents.next(),
                            components: parents.collect(),
                            vendor_output: vendor_output.as_deref(),
                        };
                        processed.bytes = credentials::sign(
                            signer,
                            &processed.bytes,
                            plan.output_format,
                            id,
                            provenance::Made::ByModel { agent, trained },
                            &sources,
                            disclosed,
                        )?;
                    }
                    Ok((processed, partials))
                })
                .collect::<Result<(Vec<_>, Vec<_>), ApiError>>()
        })
        .await
        .map_err(ApiError::internal)??
    };

    let mut partials = partials;
    if plan.stream {
        // A stream carries every image and its partial images in one response: partial images
        // (OpenAI's may be full size) are dropped, latest first, until it fits; OpenAI's
        // contract allows fewer partial images than asked for.
        let b64 = |n: usize| n.div_ceil(3) * 4;
        let finals: usize = processed.iter().map(|p| b64(p.bytes.len())).sum();
        let mut total = finals
            + partials
                .iter()
                .flatten()
                .map(|p| b64(p.len()))
                .sum::<usize>();
        while total > MAX_INLINE_RESPONSE_BYTES {
            let Some(most) = partials
                .iter_mut()
                .max_by_key(|ps| ps.len())
                .filter(|ps| !ps.is_empty())
            else {
                break;
            };
            let dropped = most.pop().map_or(0, |p| b64(p.len()));
            total -= dropped;
        }
    }
    if plan.response_format == ResponseFormat::B64Json {
        let encoded: usize = processed
            .iter()
            .map(|p| p.bytes.len().div_ceil(3) * 4)
            .sum();
        if encoded > MAX_INLINE_RESPONSE_BYTES {
            // Refunded by the caller; nothing is stored.
            let mb = encoded as f64 / 1e6;
            return Err(if plan.model.response_format {
                ApiError::invalid(
                    "response_format",
                    format!(
                        "these images are {mb:.1} MB as base64, more than a response can carry; ask for response_format=url (or fewer images)"
                    ),
                )
            } else {
                // This model answers base64 only: the way out is smaller answers.
                ApiError::invalid(
                    "n",
                    format!(
                        "these images are {mb:.1} MB as base64, more than a response can carry; ask for fewer images, or output_format jpeg or webp with output_compression"
                    ),
                )
            });
        }
    }
    let records: Vec<ImageRecord> = processed
        .iter()
        .zip(ids)
        .map(|(p, id)| ImageRecord {
            prompt: Some(plan.prompt.clone()).filter(|p| !p.is_empty()),
            revised_prompt: p.revised_prompt.clone(),
            model: Some(plan.model.id.to_string()),
            provider: Some(vendor.to_string()),
            background: Some(background_name(plan.background).to_string()),
            quality: Some(plan.quality.to_string()),
            output_compression: plan.output_compression,
            ..ImageRecord::with_id(
                id.clone(),
                uid,
                AssetKind::Image,
                plan.output_format,
                (p.width, p.height),
                p.bytes.len() as u64,
                lineage.clone(),
            )
        })
        .collect();
    let created_at = records.first().map_or_else(now_epoch, |r| r.created_at);
    // The answer is built before anything is stored: once the images are stored (and the hold
    // settled), nothing may fail any more.
    let mut data = Vec::with_capacity(records.len());
    for (record, p) in records.iter().zip(&processed) {
        let (url, b64_json) = match plan.response_format {
            ResponseFormat::B64Json => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&p.bytes)),
            ),
            ResponseFormat::Url => (
                Some(
                    deps.blobs
                        .presign_get(&record.key, deps.config.delivery.urls.at(now_epoch()))
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
        provider: Some(vendor.to_string()),
        usage: image_usage
            .iter()
            .flatten()
            .cloned()
            .reduce(|a, b| add_usage(&a, &b)),
        image_usage,
        charge: None,
        partials: partials
            .iter()
            .map(|ps| {
                ps.iter()
                    .map(|p| base64::engine::general_purpose::STANDARD.encode(p))
                    .collect()
            })
            .collect(),
    };
    // The hold lists these objects: the sweeper deletes them if this Lambda dies before their
    // metadata is stored, and a hold given back meanwhile makes the write below refuse.
    let answer = match &hold.idempotency {
        Some(claim) => Some((claim.clone(), replayable(&response)?)),
        None => None,
    };
    let completes_job = match job {
        Some((id, attempt, completed_at)) => Some(JobCompletion {
            id: id.to_string(),
            attempt,
            result: replayable(&response)?,
            completed_at,
        }),
        None => None,
    };
    let served = VendorCharge {
        model: plan.model.id.to_string(),
        vendor: vendor.to_string(),
        cost_micros: vendor_cost_micros(
            plan.model.id,
            vendor_kind,
            &plan.routes,
            ids.len() as u32,
            response.usage.as_ref(),
        ),
    };
    let settlement = Settlement {
        hold: hold.clone(),
        answer,
        completes_upload: None,
        completes_job,
        commit_by: answer_by,
        served: Some(served),
    };
    store_objects(deps, &records, &processed, Some(&settlement)).await?;
    // Paid and settled: a referred user's first one earns its referrer's reward.
    // Boxed: its transaction would otherwise grow every caller's future (and stack).
    let remaining = Box::pin(crate::usecases::referrals::after_paid(deps, uid)).await;
    Ok(ImagesResponse {
        charge: Some(Charge {
            credits: hold.amount,
            remaining,
        }),
        ..response
    })
}

/// What an Idempotency-Key keeps of an answer: everything but the image bytes and URLs (a
/// DynamoDB item holds 400 KB), with an empty marker saying which form to rebuild on replay.
pub fn replayable(response: &ImagesResponse) -> Result<String, ApiError> {
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

/// Two token usages added field by field (OpenAI's `Usage` shape: totals and their details).
fn add_usage(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            Value::from(x.as_i64().unwrap_or(0) + y.as_i64().unwrap_or(0))
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut sum = x.clone();
            for (k, v) in y {
                let added = match x.get(k) {
                    Some(mine) => add_usage(mine, v),
                    None => v.clone(),
                };
                sum.insert(k.clone(), added);
            }
            Value::Object(sum)
        }
        (_, other) => other.clone(),
    }
}

#[cfg(test)]
mod usage_tests {
    #[test]
    fn usages_add_field_by_field() {
        let a = serde_json::json!({"input_tokens": 10, "output_tokens": 100, "total_tokens": 110,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 10}});
        let b = serde_json::json!({"input_tokens": 5, "output_tokens": 50, "total_tokens": 55,
            "input_tokens_details": {"image_tokens": 2, "text_tokens": 3}});
        assert_eq!(
            super::add_usage(&a, &b),
            serde_json::json!({"input_tokens": 15, "output_tokens": 150, "total_tokens": 165,
                "input_tokens_details": {"image_tokens": 2, "text_tokens": 13}})
        );
    }
}
