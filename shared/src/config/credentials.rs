//! Content Credentials: whether outputs are signed, with which certificate, and which roots a
//! reader of them trusts.

use super::{ConfigError, Env};
use crate::secrets::Secret;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct ContentCredentials {
    /// `CONTENT_CREDENTIALS` (`on` by default, or `off`).
    pub enabled: bool,
    /// `C2PA_SIGNING_KEY`, or the Secrets Manager secret `C2PA_SIGNING_KEY_ARN` names: PEM, the
    /// certificate chain (end entity first) and its PKCS#8 P-256 key. `None`: a chain of the
    /// deployment's own making, which verifiers report as untrusted.
    pub signing_key: Option<Arc<Secret>>,
    /// `C2PA_TRUST_ANCHORS`: PEM roots a reader of credentials trusts (`make run`: its test root).
    pub trust_anchors: Option<String>,
    /// `C2PA_ORGANIZATION`: who a self-made chain names.
    pub organization: String,
}

impl ContentCredentials {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let enabled = match env.get("CONTENT_CREDENTIALS").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "CONTENT_CREDENTIALS",
                    reason: "must be on or off".into(),
                });
            }
        };
        let signing_key = env.secret("C2PA_SIGNING_KEY", "C2PA_SIGNING_KEY_ARN", 1)?;
        if let Some(key) = &signing_key
            && let Some(text) = key.plain_value()
        {
            let text = String::from_utf8_lossy(text);
            if !text.contains("BEGIN CERTIFICATE") || !text.contains("PRIVATE KEY-----") {
                return Err(ConfigError::Invalid {
                    name: "C2PA_SIGNING_KEY",
                    reason: "must be PEM: the certificate chain, then its PKCS#8 private key"
                        .into(),
                });
            }
        }
        Ok(Self {
            enabled,
            signing_key,
            trust_anchors: env.get("C2PA_TRUST_ANCHORS"),
            organization: env
                .get("C2PA_ORGANIZATION")
                .unwrap_or_else(|| "Image API".into()),
        })
    }
}
