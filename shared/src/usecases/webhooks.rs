//! Webhook signing secrets: made on first use, rotated with a grace period during which the old
//! secret still signs (so a receiver can switch without missing a delivery).

use crate::domain::webhooks::{ROTATION_GRACE_SECONDS, SECRET_PREFIX, WebhookSecrets};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use base64::Engine;
use rand::RngCore;

/// A new secret: `whsec_` and 24 random bytes in base64, the form every Standard Webhooks
/// library reads.
pub fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::rng().fill_bytes(&mut key);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The user's secrets, made on first use.
pub async fn secrets<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
) -> Result<WebhookSecrets, ApiError> {
    match deps.store.webhook_secrets(user_id).await? {
        Some(secrets) => Ok(secrets),
        None => {
            deps.store
                .create_webhook_secret(user_id, &new_secret())
                .await
        }
    }
}

/// A new current secret; the one it replaces signs too for [`ROTATION_GRACE_SECONDS`].
pub async fn rotate<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    now: i64,
) -> Result<WebhookSecrets, ApiError> {
    let current = secrets(deps, user_id).await?.current;
    deps.store
        .rotate_webhook_secret(user_id, &current, &new_secret(), now + ROTATION_GRACE_SECONDS)
        .await?
        .ok_or_else(|| ApiError::Conflict {
            message: "the secret was rotated by another request at the same moment; read it with GET /v1/webhooks/secret".into(),
            param: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::user_with_credits;
    use crate::app::in_memory;
    use crate::domain::webhooks::{key_of, sign};

    #[tokio::test]
    async fn a_secret_is_made_once_and_a_rotation_keeps_the_old_one_signing_for_a_day() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 0).await;
        let first = secrets(&d, &user).await.unwrap();
        assert_eq!(key_of(&first.current).map(|k| k.len()), Some(24));
        assert_eq!(secrets(&d, &user).await.unwrap(), first, "made once");
        let rotated = rotate(&d, &user, 1000).await.unwrap();
        assert_ne!(rotated.current, first.current);
        assert_eq!(
            rotated.previous,
            Some((first.current.clone(), 1000 + 24 * 3600))
        );
        assert_eq!(rotated.signing(1000 + 24 * 3600 - 1).len(), 2);
        assert_eq!(
            rotated.signing(1000 + 24 * 3600),
            vec![rotated.current.as_str()]
        );
        assert!(sign(&rotated.current, "msg", 1, "{}").is_some());
    }
}
