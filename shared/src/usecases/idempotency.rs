//! Idempotency-Key: a paid request runs at most once per (user, key) within 24 hours.

use crate::Deps;
use crate::domain::billing::{IdempotencyClaim, KeyClaim};
use crate::domain::{new_id, now_epoch};
use crate::error::ApiError;
use crate::http::Principal;
use crate::http::wire::ImagesResponse;
use crate::ports::{Blobs, Store};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::future::Future;

/// Runs `work` at most once per (user, Idempotency-Key) within 24 hours: a replay with the
/// same body returns the same images without doing anything; another body is a 409.
/// The record keeps the response without image bytes (a DynamoDB item holds 400 KB): a replay
/// reads the bytes back from storage, or presigns fresh URLs. `work` gets the claim to record
/// its answer under (`None` without a key).
pub async fn idempotent<S: Store, B: Blobs, F, Fut>(
    deps: &Deps<S, B>,
    who: &Principal,
    key: Option<&str>,
    canonical_body: &str,
    work: F,
) -> Result<ImagesResponse, ApiError>
where
    F: FnOnce(Option<KeyClaim>) -> Fut,
    Fut: Future<Output = Result<ImagesResponse, ApiError>>,
{
    let Some(key) = key else {
        return work(None).await;
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
    match work(Some(claim.clone())).await {
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
