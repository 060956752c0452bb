//! The OpenID Connect providers users may sign in with: those with a client id.

use super::{ConfigError, Env};
use crate::domain::signin::Idp;
use crate::secrets::Secret;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Signin {
    pub identity_providers: Vec<IdentityProvider>,
}

/// An OpenID Connect provider this deployment is registered with.
#[derive(Clone)]
pub struct IdentityProvider {
    pub idp: Idp,
    /// Google's and Microsoft's client id; Apple's services id.
    pub client_id: String,
    /// Google's and Microsoft's client secret; Apple's is signed per exchange (`apple`).
    pub client_secret: Option<Arc<Secret>>,
    /// Where the provider's metadata is (`<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// Microsoft: the tenants (`tid`) whose users may sign in; empty: any.
    pub tenants: Vec<String>,
    pub apple: Option<AppleSigning>,
}

/// What Apple's client secret (an ES256 JWT) is signed with.
#[derive(Clone)]
pub struct AppleSigning {
    pub team_id: String,
    pub key_id: String,
    /// The `.p8` key (PKCS#8 PEM).
    pub private_key: Arc<Secret>,
}

impl std::fmt::Debug for Signin {
    // The providers' names only: their secrets never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.identity_providers.iter().map(|p| p.idp.as_str()))
            .finish()
    }
}

impl Signin {
    pub fn identity_provider(&self, idp: Idp) -> Option<&IdentityProvider> {
        self.identity_providers.iter().find(|p| p.idp == idp)
    }

    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let mut providers = Vec::new();
        for (idp, id_var, secret_var, arn_var, issuer_var) in [
            (
                Idp::Google,
                "GOOGLE_CLIENT_ID",
                "GOOGLE_CLIENT_SECRET",
                "GOOGLE_CLIENT_SECRET_ARN",
                "GOOGLE_ISSUER",
            ),
            (
                Idp::Microsoft,
                "MICROSOFT_CLIENT_ID",
                "MICROSOFT_CLIENT_SECRET",
                "MICROSOFT_CLIENT_SECRET_ARN",
                "MICROSOFT_ISSUER",
            ),
            (
                Idp::Apple,
                "APPLE_SERVICES_ID",
                "APPLE_PRIVATE_KEY",
                "APPLE_PRIVATE_KEY_ARN",
                "APPLE_ISSUER",
            ),
        ] {
            let Some(client_id) = env.get(id_var) else {
                continue;
            };
            let secret =
                env.secret_or_withheld(secret_var, arn_var, 1)?
                    .ok_or(ConfigError::Invalid {
                        name: secret_var,
                        reason: format!("{secret_var} (or {arn_var}) is required with {id_var}"),
                    })?;
            let issuer = env
                .get(issuer_var)
                .unwrap_or_else(|| idp.default_issuer().into())
                .trim_end_matches('/')
                .to_string();
            let (client_secret, apple) = if idp == Idp::Apple {
                let team_id = env.required("APPLE_TEAM_ID")?;
                let key_id = env.required("APPLE_KEY_ID")?;
                (
                    None,
                    Some(AppleSigning {
                        team_id,
                        key_id,
                        private_key: secret,
                    }),
                )
            } else {
                (Some(secret), None)
            };
            providers.push(IdentityProvider {
                idp,
                client_id: client_id.trim().to_string(),
                client_secret,
                issuer,
                tenants: if idp == Idp::Microsoft {
                    env.list("MICROSOFT_TENANTS")
                } else {
                    Vec::new()
                },
                apple,
            });
        }
        Ok(Self {
            identity_providers: providers,
        })
    }
}
