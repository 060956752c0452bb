//! Standard Webhooks (standardwebhooks.com): the signing secret and the signature headers.
//! `webhook-signature` is `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
//! base64-decoded part of the secret after `whsec_`; while a rotation is in its grace period both
//! secrets sign, space-separated, as the specification allows.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";
/// How long a replaced secret still signs after a rotation: receivers switch within it.
pub const ROTATION_GRACE_SECONDS: i64 = 24 * 3600;

/// A user's signing secrets: the current one and, during a rotation's grace, the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSecrets {
    pub current: String,
    pub previous: Option<(String, i64)>,
}

impl WebhookSecrets {
    /// The secrets that sign at `now`: the current one first.
    pub fn signing(&self, now: i64) -> Vec<&str> {
        let mut keys = vec![self.current.as_str()];
        if let Some((previous, until)) = &self.previous
            && now < *until
        {
            keys.push(previous);
        }
        keys
    }
}

/// A secret's key bytes; `None` unless it is `whsec_` and base64 (as every SDK expects).
pub fn key_of(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX)?)
        .ok()
        .filter(|k| !k.is_empty())
}

/// One `v1,<signature>` of a message under one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_of(secret)?).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret that signs at `timestamp`.
pub fn signature_header(secrets: &WebhookSecrets, id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .signing(timestamp)
        .into_iter()
        .filter_map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_test_vectors_sign_as_published() {
        assert_eq!(
            sign(
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                r#"{"email":"test@example.com","username":"test_user"}"#
            )
            .unwrap(),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            )
            .unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(sign("sk_not_a_webhook_secret", "m", 1, "{}"), None);
        assert_eq!(sign("whsec_!!!", "m", 1, "{}"), None);
    }

    #[test]
    fn both_secrets_sign_during_a_rotations_grace_and_only_the_new_one_after() {
        let secrets = WebhookSecrets {
            current: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            previous: Some(("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".into(), 2000)),
        };
        let during = signature_header(&secrets, "msg_1", 1999, "{}");
        let parts: Vec<&str> = during.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            sign(&secrets.current, "msg_1", 1999, "{}").unwrap()
        );
        let after = signature_header(&secrets, "msg_1", 2000, "{}");
        assert_eq!(after, sign(&secrets.current, "msg_1", 2000, "{}").unwrap());
    }
}
