//! The vendors this deployment has keys for, where they are, and how long a call may take.

use super::{ConfigError, Env};
use crate::domain::catalog::ProviderKind;
use crate::secrets::Secret;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Vendors {
    /// OpenAI models are offered only with a key; without one the local provider serves.
    pub openai_api_key: Option<Arc<Secret>>,
    pub openai_base_url: String,
    /// Hosts (`host` or `*.domain`) OpenAI's answers may point at for image bytes, over https.
    pub openai_image_hosts: Vec<String>,
    /// Stability AI's models are offered only with a key (`STABILITY_API_KEY`).
    pub stability_api_key: Option<Arc<Secret>>,
    /// The host, without a version path (the client appends `/v2beta/...`).
    pub stability_base_url: String,
    /// Replicate's models are offered only with a token (`REPLICATE_API_TOKEN`).
    pub replicate_api_token: Option<Arc<Secret>>,
    /// The host, without a version path (the client appends `/v1/...`).
    pub replicate_base_url: String,
    /// fal's models are offered only with a key (`FAL_KEY`).
    pub fal_key: Option<Arc<Secret>>,
    /// The queue's host (`https://queue.fal.run`); follow-up URLs come from its answers.
    pub fal_queue_url: String,
    /// Vendors in the order a model's vendors are tried (`VENDOR_PREFERENCE`, comma
    /// separated); unlisted vendors follow, cheapest first.
    pub vendor_preference: Vec<ProviderKind>,
    /// Total time budget of one provider call, retries included.
    pub provider_timeout: Duration,
    pub provider_max_retries: u32,
    /// How long a synchronous request may take from its start to its committed answer: API
    /// Gateway gives up at 29 s, and the answer must still reach the client.
    pub sync_answer_within: Duration,
    /// The OpenAI text model that writes random prompt ideas (`PROMPT_MODEL`).
    pub prompt_model: String,
}

impl std::fmt::Debug for Vendors {
    // Hand-written so no key can reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vendors")
            .field("openai_configured", &self.openai_api_key.is_some())
            .field("stability_configured", &self.stability_api_key.is_some())
            .field("replicate_configured", &self.replicate_api_token.is_some())
            .field("fal_configured", &self.fal_key.is_some())
            .field("vendor_preference", &self.vendor_preference)
            .field("openai_base_url", &self.openai_base_url)
            .finish_non_exhaustive()
    }
}

impl Vendors {
    /// Whether this deployment has what a vendor's models need (its key).
    pub fn serves(&self, kind: ProviderKind) -> bool {
        match kind {
            ProviderKind::Local => true,
            ProviderKind::OpenAi => self.openai_api_key.is_some(),
            ProviderKind::Stability => self.stability_api_key.is_some(),
            ProviderKind::Replicate => self.replicate_api_token.is_some(),
            ProviderKind::Fal => self.fal_key.is_some(),
        }
    }

    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let provider_timeout: u64 = env.parse("PROVIDER_TIMEOUT_SECONDS", 25)?;
        if provider_timeout == 0 {
            return Err(ConfigError::Invalid {
                name: "PROVIDER_TIMEOUT_SECONDS",
                reason: "must be at least 1".into(),
            });
        }
        let vendor_preference = env
            .list("VENDOR_PREFERENCE")
            .iter()
            .map(|v| {
                ProviderKind::parse(v).ok_or_else(|| ConfigError::Invalid {
                    name: "VENDOR_PREFERENCE",
                    reason: format!(
                        "unknown vendor '{v}'; vendors: local, openai, stability, replicate, fal"
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The vendors whose keys the deployment has (`VENDOR_KEYS`, made by the template): a
        // function that lists models knows them without being given the keys.
        let vendor_keys = env.list("VENDOR_KEYS");
        let key = |name: &'static str, arn_name: &'static str, tag: &str| {
            Ok::<_, ConfigError>(match env.secret(name, arn_name, 1)? {
                Some(key) => Some(key),
                None if vendor_keys.iter().any(|v| v == tag) => Some(Secret::withheld(name)),
                None => None,
            })
        };
        let url = |name: &str, default: &str| {
            env.get(name)
                .unwrap_or_else(|| default.into())
                .trim_end_matches('/')
                .to_string()
        };
        Ok(Self {
            openai_api_key: key("OPENAI_API_KEY", "OPENAI_API_KEY_SECRET_ARN", "openai")?,
            openai_base_url: url("OPENAI_BASE_URL", "https://api.openai.com/v1"),
            openai_image_hosts: match env.get("OPENAI_IMAGE_HOSTS") {
                Some(v) => v
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect(),
                None => vec!["oaidalleapiprodscus.blob.core.windows.net".into()],
            },
            stability_api_key: key(
                "STABILITY_API_KEY",
                "STABILITY_API_KEY_SECRET_ARN",
                "stability",
            )?,
            stability_base_url: url("STABILITY_BASE_URL", "https://api.stability.ai"),
            replicate_api_token: key(
                "REPLICATE_API_TOKEN",
                "REPLICATE_API_TOKEN_SECRET_ARN",
                "replicate",
            )?,
            replicate_base_url: url("REPLICATE_BASE_URL", "https://api.replicate.com"),
            fal_key: key("FAL_KEY", "FAL_KEY_SECRET_ARN", "fal")?,
            fal_queue_url: url("FAL_QUEUE_URL", "https://queue.fal.run"),
            vendor_preference,
            provider_timeout: Duration::from_secs(provider_timeout),
            provider_max_retries: env.parse("PROVIDER_MAX_RETRIES", 2)?,
            sync_answer_within: Duration::from_secs(env.parse("SYNC_ANSWER_SECONDS", 27)?),
            prompt_model: env
                .get("PROMPT_MODEL")
                .unwrap_or_else(|| "gpt-5.4-mini".into()),
        })
    }
}
