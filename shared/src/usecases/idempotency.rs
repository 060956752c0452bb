//! Idempotency-Key: a paid request runs at most once per (user, key) within 24 hours.

use crate::domain::accounts::Principal;
use crate::domain::billing::{IdempotencyClaim, KeyClaim};
use crate::domain::jobs::{Job, JobStatus};
use crate::domain::{new_id, now_epoch};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::wire::ImagesResponse;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::future::Future;

/// What a paid request answered: images, or (submitted with `Prefer: respond-async`) a job.
#[derive(Debug)]
pub enum Submitted {
    Images(ImagesResponse),
    Job(Job),
    /// `dry_run`: what it would cost; nothing was claimed, taken or made.
    Quote(crate::wire::Quote),
}

/// What an async submission records under its Idempotency-Key: the job it made.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JobAnswer {
    job_id: String,
}

pub fn job_answer(job_id: &str) -> String {
    serde_json::json!({ "job_id": job_id }).to_string()
}

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
    let answer = claimed(deps, who, key, canonical_body, |claim| async move {
        work(claim).await.map(Submitted::Images)
    })
    .await?;
    match answer {
        Submitted::Images(images) => Ok(images),
        Submitted::Quote(_) => Err(ApiError::internal("a quote is answered before any claim")),
        // The key was first used for an async submission of the same body.
        Submitted::Job(job) => match job.result.as_deref() {
            Some(result) if job.status == JobStatus::Succeeded => {
                let stored = serde_json::from_str(result).map_err(ApiError::internal)?;
                rehydrate(deps, &who.user_id, stored, Deleted::Conflict).await
            }
            _ => Err(ApiError::Conflict {
                message: format!(
                    "this Idempotency-Key made job {} ({}); see GET /v1/jobs/{}",
                    job.id,
                    job.status.as_str(),
                    job.id
                ),
                param: Some("Idempotency-Key".into()),
            }),
        },
    }
}

/// [`idempotent`] for work that may answer with a job: a replay of an async submission
/// returns the same job, as it is now.
pub async fn claimed<S: Store, B: Blobs, F, Fut>(
    deps: &Deps<S, B>,
    who: &Principal,
    key: Option<&str>,
    canonical_body: &str,
    work: F,
) -> Result<Submitted, ApiError>
where
    F: FnOnce(Option<KeyClaim>) -> Fut,
    Fut: Future<Output = Result<Submitted, ApiError>>,
{
    let Some(key) = key else {
        return work(None).await;
    };
    let claim = KeyClaim {
        key: key.to_string(),
        token: new_id("claim"),
    };
    let hash = body_hash(canonical_body);
    match deps
        .store
        .claim(&who.user_id, &claim, &hash, now_epoch())
        .await?
    {
        IdempotencyClaim::New => {}
        IdempotencyClaim::Replay(stored) => {
            tracing::info!(user_id = %who.user_id, "idempotent replay");
            if let Ok(JobAnswer { job_id }) = serde_json::from_str(&stored) {
                let job = deps
                    .store
                    .job(&who.user_id, &job_id)
                    .await?
                    .ok_or_else(|| ApiError::Conflict {
                        // Deleted (a video) or expired: the key cannot answer with it again.
                        message: format!(
                            "{job_id}, made with this Idempotency-Key, was deleted since; use a new key"
                        ),
                        param: Some("Idempotency-Key".into()),
                    })?;
                return Ok(Submitted::Job(job));
            }
            let stored: ImagesResponse =
                serde_json::from_str(&stored).map_err(ApiError::internal)?;
            return rehydrate(deps, &who.user_id, stored, Deleted::Conflict)
                .await
                .map(Submitted::Images);
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
                message: IN_PROGRESS.into(),
                param: Some("Idempotency-Key".into()),
            });
        }
    }
    // The answer is recorded under the key in the same transaction as the images (see
    // `store_results`) or the job: a Lambda killed after that still leaves a replayable key.
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

const IN_PROGRESS: &str =
    "a request with this Idempotency-Key is still being processed; retry later";

/// Whether `e` says the key's first request is still running (so a retry may succeed).
pub fn in_progress(e: &ApiError) -> bool {
    matches!(e, ApiError::Conflict { message, .. } if message == IN_PROGRESS)
}

/// What a claim remembers of a request body: its SHA-256 (hex) of the canonical form.
pub fn body_hash(canonical_body: &str) -> String {
    hex::encode(Sha256::digest(canonical_body.as_bytes()))
}

/// The canonical form of a JSON body (keys sorted, no whitespace): two bodies are "the same
/// request" when their canonical forms are.
pub fn canonical_json(body: &[u8]) -> Result<String, ApiError> {
    serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v.to_string())
        .map_err(ApiError::internal)
}

/// What refilling a stored answer does with an image deleted since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// A replay cannot answer as before: 409, use a new key.
    Conflict,
    /// A job's result lists what is left.
    Omit,
}

/// Refills a stored response: the same bytes for `b64_json`, fresh presigned URLs for `url`.
pub async fn rehydrate<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    mut response: ImagesResponse,
    deleted: Deleted,
) -> Result<ImagesResponse, ApiError> {
    let mut kept = Vec::with_capacity(response.data.len());
    for mut d in std::mem::take(&mut response.data) {
        let Some(record) = deps.store.image(user_id, &d.id).await? else {
            match deleted {
                Deleted::Omit => continue,
                Deleted::Conflict => {
                    return Err(ApiError::Conflict {
                        message: format!(
                            "image {} of this Idempotency-Key was deleted since; use a new key",
                            d.id
                        ),
                        param: Some("Idempotency-Key".into()),
                    });
                }
            }
        };
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
                    .presign_get(
                        &record.key,
                        deps.config.delivery.urls.at(crate::domain::now_epoch()),
                    )
                    .await?,
            );
        }
        kept.push(d);
    }
    response.data = kept;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::user_with_credits;
    use crate::app::in_memory;
    use crate::domain::accounts::Credential;
    use crate::domain::accounts::Role;
    use crate::domain::billing::Settlement;
    use crate::ports::Idempotency;
    use crate::usecases::billing::charges::hold_for;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn who(user_id: &str) -> Principal {
        Principal {
            user_id: user_id.into(),
            role: Role::User,
            credential: Credential::Session {
                session_id: "s".into(),
            },
        }
    }

    fn answer(created: i64) -> ImagesResponse {
        ImagesResponse {
            partials: Vec::new(),
            image_usage: Vec::new(),
            charge: None,
            usage: None,
            created,
            data: vec![],
            size: "256x256".into(),
            output_format: "png".into(),
            background: "opaque".into(),
            quality: "standard".into(),
            model: "local-procedural".into(),
            provider: None,
        }
    }

    /// Work that stores nothing but settles its hold with the answer under the claim, as the
    /// generation does; `runs` counts how often it ran.
    async fn work<S: Store, B: Blobs>(
        deps: &Deps<S, B>,
        user: &str,
        claim: Option<KeyClaim>,
        runs: &AtomicUsize,
        fail: bool,
    ) -> Result<ImagesResponse, ApiError> {
        let n = runs.fetch_add(1, Ordering::SeqCst) as i64;
        if fail {
            return Err(ApiError::internal("the provider failed"));
        }
        let response = answer(n);
        let hold = hold_for(&format!("gen_{n}"), user, 0, 0, 0, claim.clone());
        deps.store.open_hold(&hold).await?;
        let settlement = Settlement {
            hold,
            answer: claim.map(|c| (c, serde_json::to_string(&response).unwrap())),
            completes_upload: None,
            completes_job: None,
            commit_by: None,
            served: None,
        };
        match deps
            .store
            .put_images(
                &[],
                Some(&settlement),
                deps.config.limits.storage_quota_bytes,
            )
            .await
        {
            crate::domain::billing::WriteOutcome::Written => Ok(response),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_replay_answers_the_first_response_without_running_again() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let runs = AtomicUsize::new(0);
        let first = idempotent(&d, &who(&user), Some("k"), "{a}", |c| {
            work(&d, &user, c, &runs, false)
        })
        .await
        .unwrap();
        let again = idempotent(&d, &who(&user), Some("k"), "{a}", |c| {
            work(&d, &user, c, &runs, false)
        })
        .await
        .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1, "ran once");
        assert_eq!(again.created, first.created);
        // Another body under the same key is a conflict naming the header; another key runs.
        let e = idempotent(&d, &who(&user), Some("k"), "{b}", |c| {
            work(&d, &user, c, &runs, false)
        })
        .await
        .unwrap_err();
        assert!(
            matches!(e, ApiError::Conflict { ref param, .. } if param.as_deref() == Some("Idempotency-Key"))
        );
        idempotent(&d, &who(&user), Some("k2"), "{b}", |c| {
            work(&d, &user, c, &runs, false)
        })
        .await
        .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // Keys are the user's own: another user's same key and body runs.
        let other = user_with_credits(&d.store, 10).await;
        idempotent(&d, &who(&other), Some("k"), "{a}", |c| {
            work(&d, &other, c, &runs, false)
        })
        .await
        .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failure_frees_the_key_and_a_key_in_use_is_a_conflict() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let runs = AtomicUsize::new(0);
        let failed = idempotent(&d, &who(&user), Some("k"), "{a}", |c| {
            work(&d, &user, c, &runs, true)
        })
        .await;
        assert!(failed.is_err());
        // The retry with the same key runs (the failure gave the key back).
        idempotent(&d, &who(&user), Some("k"), "{a}", |c| {
            work(&d, &user, c, &runs, false)
        })
        .await
        .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // A request still running holds its key: the same request again is told to wait.
        let claim = KeyClaim {
            key: "busy".into(),
            token: "t".into(),
        };
        let hash = body_hash("{a}");
        d.store
            .claim(&user, &claim, &hash, now_epoch())
            .await
            .unwrap();
        let e = idempotent(&d, &who(&user), Some("busy"), "{a}", |c| {
            work(&d, &user, c, &runs, false)
        })
        .await
        .unwrap_err();
        assert!(
            matches!(e, ApiError::Conflict { ref message, .. } if message.contains("still being processed"))
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }
}
