//! Jobs of the generation queue and the webhook secret that signs their deliveries.

use super::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's Standard Webhooks signing secret.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct WebhookSecretResponse {
    /// `webhook_secret`.
    pub object: String,
    /// `whsec_` and the base64 key: give it to your Standard Webhooks verifier.
    pub secret: String,
    /// After a rotation, the replaced secret still signs until then (Unix seconds).
    pub previous_expires_at: Option<i64>,
}

impl WebhookSecretResponse {
    pub fn of(secrets: &crate::domain::webhooks::WebhookSecrets, now: i64) -> Self {
        Self {
            object: "webhook_secret".into(),
            secret: secrets.current.clone(),
            previous_expires_at: secrets
                .previous
                .as_ref()
                .map(|(_, until)| *until)
                .filter(|until| *until > now),
        }
    }
}

/// A job of the generation queue (`GET /v1/jobs/{id}`).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct JobObject {
    pub id: String,
    /// Always `job`.
    pub object: String,
    pub status: crate::domain::jobs::JobStatus,
    /// 0–100.
    pub progress: u8,
    pub operation: crate::domain::jobs::JobOperation,
    pub model: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// Whether a cancel was asked for while the job was processing (it stops at its next
    /// checkpoint).
    pub cancel_requested: bool,
    /// Once succeeded: the vendor that served it.
    pub provider: Option<String>,
    /// Once succeeded: the body the synchronous call would have answered (fresh URLs).
    pub result: Option<ImagesResponse>,
    /// Once failed: OpenAI's error object, with the code the synchronous call would have used.
    pub error: Option<serde_json::Value>,
    /// Credits the job was charged when it was submitted (its ledger line is minus this); 0
    /// once it failed or was canceled, which gave them back.
    #[serde(default)]
    pub credits_charged: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct JobList {
    pub object: String,
    pub data: Vec<JobObject>,
    pub has_more: bool,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
