//! The one typed configuration, read once at cold start.
//!
//! Every variable here is declared in template.yaml `Globals.Function.Environment`; the local stack
//! resolves the same block, so `make run`, the tests and Lambda see identical settings.

use crate::secrets::Secret;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Why the configuration could not be built; reported at cold start, before any request.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// 2 GiB per account unless the deployment says otherwise.
pub const STORAGE_QUOTA_DEFAULT: u64 = 2 * 1024 * 1024 * 1024;

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub bucket_name: String,
    pub queue_url: String,
    /// Overrides every AWS endpoint (the local emulator); `None` on AWS.
    pub aws_endpoint_url: Option<String>,
    pub aws_region: String,
    /// `JWT_SECRET`, or the Secrets Manager secret `JWT_SECRET_ARN` names.
    pub jwt_secret: Arc<Secret>,
    pub jwt_issuer: String,
    /// Audience of access tokens; fixed so a token minted for another service never passes.
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub signup_credits: i64,
    pub rate_limit_per_hour: u32,
    pub admin_usernames: Vec<String>,
    /// Largest request body a JSON endpoint accepts.
    pub max_json_body_bytes: usize,
    /// OpenAI models are offered only with a key; without one the local provider serves.
    pub openai_api_key: Option<Arc<Secret>>,
    pub openai_base_url: String,
    /// Hosts (`host` or `*.domain`) OpenAI's answers may point at for image bytes, over https.
    pub openai_image_hosts: Vec<String>,
    /// Stability AI's models are offered only with a key (`STABILITY_API_KEY`).
    pub stability_api_key: Option<Arc<Secret>>,
    /// The host, without a version path (the client appends `/v2beta/...`).
    pub stability_base_url: String,
    /// Extra credits for a user who registers with a referral code.
    pub referral_signup_credits: i64,
    /// Credits a referrer earns when a referred user completes a first paid generation.
    pub referrer_credits: i64,
    /// The most rewards a referrer earns in a UTC month.
    pub referrer_monthly_cap: u32,
    /// The public origin of the web pages (`https://images.example.com`), for referral links;
    /// empty: the origin the request came to.
    pub public_base_url: Option<String>,
    /// The OpenAI text model that writes random prompt ideas (`PROMPT_MODEL`).
    pub prompt_model: String,
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
    pub vendor_preference: Vec<crate::domain::catalog::ProviderKind>,
    /// Total time budget of one provider call, retries included.
    pub provider_timeout: Duration,
    /// How long a synchronous request may take from its start to its committed answer: API
    /// Gateway gives up at 29 s, and the answer must still reach the client.
    pub sync_answer_within: Duration,
    pub provider_max_retries: u32,
    /// Lifetime of presigned GET URLs (default 1 hour, at most 7 days).
    pub presign_ttl: Duration,
    pub daily_image_limit: u32,
    /// Bytes of assets each account may store: free work (transforms, uploads, versions)
    /// costs no credits, so this is what bounds it.
    pub storage_quota_bytes: u64,
    /// Requests per hour per client address on the unauthenticated routes.
    pub anonymous_rate_limit_per_hour: u32,
    /// Sign-in attempts per account per 15 minutes.
    pub login_attempts_per_window: u32,
    /// Lower-cased terms (or phrases) refused in prompts before anything is charged.
    pub refused_terms: Vec<String>,
    /// The queue webhook deliveries wait on (`None` where no function sends webhooks).
    pub webhook_queue_url: Option<String>,
    /// Lets webhooks reach loopback and private addresses (a local receiver under `make run`).
    pub allow_private_webhook_targets: bool,
    /// The EventBridge bus that hears about new and deleted assets (`None`: no events).
    pub event_bus_name: Option<String>,
    /// The OpenID Connect providers users may sign in with: those with a client id.
    pub identity_providers: Vec<IdentityProvider>,
    /// Local stack only (`PRESIGNED_URL_BASE`): where presigned URLs point instead of the
    /// emulator (the gateway's `/_s3`, reachable wherever the API is).
    pub presigned_url_base: Option<String>,
}

/// An OpenID Connect provider this deployment is registered with.
#[derive(Clone)]
pub struct IdentityProvider {
    pub idp: crate::domain::signin::Idp,
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

impl Config {
    pub fn identity_provider(&self, idp: crate::domain::signin::Idp) -> Option<&IdentityProvider> {
        self.identity_providers.iter().find(|p| p.idp == idp)
    }
}

impl std::fmt::Debug for Config {
    // Hand-written so the JWT secret can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("bucket_name", &self.bucket_name)
            .field("queue_url", &self.queue_url)
            .field("aws_endpoint_url", &self.aws_endpoint_url)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("signup_credits", &self.signup_credits)
            .field("rate_limit_per_hour", &self.rate_limit_per_hour)
            .field("openai_configured", &self.openai_api_key.is_some())
            .field("stability_configured", &self.stability_api_key.is_some())
            .field("replicate_configured", &self.replicate_api_token.is_some())
            .field("fal_configured", &self.fal_key.is_some())
            .field("vendor_preference", &self.vendor_preference)
            .field("openai_base_url", &self.openai_base_url)
            .field("presign_ttl", &self.presign_ttl)
            .field("daily_image_limit", &self.daily_image_limit)
            .field("storage_quota_bytes", &self.storage_quota_bytes)
            .field(
                "identity_providers",
                &self
                    .identity_providers
                    .iter()
                    .map(|p| p.idp.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Config {
    /// Whether this deployment has what a vendor's models need (its key).
    pub fn serves(&self, kind: crate::domain::catalog::ProviderKind) -> bool {
        use crate::domain::catalog::ProviderKind;
        match kind {
            ProviderKind::Local => true,
            ProviderKind::OpenAi => self.openai_api_key.is_some(),
            ProviderKind::Stability => self.stability_api_key.is_some(),
            ProviderKind::Replicate => self.replicate_api_token.is_some(),
            ProviderKind::Fal => self.fal_key.is_some(),
        }
    }

    /// Reads the process environment; fails fast with a message naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|k| vars.get(k).cloned())
    }

    // Long: one line per variable; splitting it would only scatter the list.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        // Set, even if empty: template.yaml gives a secret's variable (empty when the deployment
        // has none) to the functions that use it, and to no other.
        let given = |k: &str| lookup(k).is_some();
        let required = |k: &'static str| get(k).ok_or(ConfigError::Missing(k));
        fn parse<T: std::str::FromStr>(
            name: &'static str,
            value: Option<String>,
            default: T,
        ) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            match value {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    reason: format!("{v:?}: {e}"),
                }),
            }
        }

        let aws_endpoint_url = get("AWS_ENDPOINT_URL");
        let aws_region = get("AWS_REGION")
            .or_else(|| get("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into());
        // A secret is `NAME` itself, or the Secrets Manager secret `NAME_ARN` names (read on
        // first use), never both.
        let secret = |name: &'static str, arn_name: &'static str, min_len: usize| match (
            get(arn_name),
            get(name),
        ) {
            (Some(_), Some(_)) => Err(ConfigError::Invalid {
                name: arn_name,
                reason: format!("set {name} or {arn_name}, not both"),
            }),
            (Some(arn), None) => Ok(Some(Secret::arn(
                name,
                arn,
                aws_region.clone(),
                aws_endpoint_url.clone(),
                min_len,
            ))),
            (None, Some(v)) if v.len() < min_len => Err(ConfigError::Invalid {
                name,
                reason: format!("must be at least {min_len} bytes"),
            }),
            (None, Some(v)) => Ok(Some(Secret::plain(name, v))),
            (None, None) => Ok(None),
        };
        // A secret this function is not given (neither variable set) is withheld: reading it
        // fails, loudly. A function given the variable empty and no ARN fails here, at once.
        let secret_or_withheld =
            |name: &'static str, arn_name: &'static str, min_len: usize| match secret(
                name, arn_name, min_len,
            )? {
                Some(s) => Ok(Some(s)),
                // The ARN variables are in every function's environment (empty when unused):
                // only the plain variable says this function was meant to have the secret.
                None if given(name) => Ok(None),
                None => Ok(Some(Secret::withheld(name))),
            };
        let jwt_secret = secret_or_withheld("JWT_SECRET", "JWT_SECRET_ARN", MIN_JWT_SECRET_BYTES)?
            .ok_or(ConfigError::Missing("JWT_SECRET"))?;
        let access: u64 = parse(
            "ACCESS_TOKEN_TTL_SECONDS",
            get("ACCESS_TOKEN_TTL_SECONDS"),
            900,
        )?;
        let refresh: u64 = parse(
            "REFRESH_TOKEN_TTL_SECONDS",
            get("REFRESH_TOKEN_TTL_SECONDS"),
            30 * 24 * 3600,
        )?;
        if access == 0 || refresh <= access {
            return Err(ConfigError::Invalid {
                name: "REFRESH_TOKEN_TTL_SECONDS",
                reason: "token lifetimes must be positive and refresh must outlive access".into(),
            });
        }
        if access > crate::domain::ACCESS_TOKEN_TTL_MAX_SECONDS {
            return Err(ConfigError::Invalid {
                name: "ACCESS_TOKEN_TTL_SECONDS",
                reason: format!(
                    "must be at most {} (24 h): signed-out tokens are remembered that long",
                    crate::domain::ACCESS_TOKEN_TTL_MAX_SECONDS
                ),
            });
        }
        let rate_limit_per_hour = parse("RATE_LIMIT_PER_HOUR", get("RATE_LIMIT_PER_HOUR"), 100)?;
        if rate_limit_per_hour == 0 {
            return Err(ConfigError::Invalid {
                name: "RATE_LIMIT_PER_HOUR",
                reason: "must be at least 1".into(),
            });
        }
        let signup_credits = parse("SIGNUP_CREDITS", get("SIGNUP_CREDITS"), 100)?;
        if signup_credits < 0 {
            return Err(ConfigError::Invalid {
                name: "SIGNUP_CREDITS",
                reason: "must not be negative".into(),
            });
        }
        let positive = |name: &'static str, default: u32| -> Result<u32, ConfigError> {
            let v: u32 = parse(name, get(name), default)?;
            if v == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
            Ok(v)
        };
        let presign: u64 = parse("PRESIGN_TTL_SECONDS", get("PRESIGN_TTL_SECONDS"), 3600)?;
        if !(1..=7 * 24 * 3600).contains(&presign) {
            return Err(ConfigError::Invalid {
                name: "PRESIGN_TTL_SECONDS",
                reason: "must be between 1 second and 7 days (604800)".into(),
            });
        }
        let provider_timeout: u64 = parse(
            "PROVIDER_TIMEOUT_SECONDS",
            get("PROVIDER_TIMEOUT_SECONDS"),
            25,
        )?;
        if provider_timeout == 0 {
            return Err(ConfigError::Invalid {
                name: "PROVIDER_TIMEOUT_SECONDS",
                reason: "must be at least 1".into(),
            });
        }
        let list = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| {
                    v.split(',')
                        .map(|t| {
                            t.split_whitespace()
                                .collect::<Vec<_>>()
                                .join(" ")
                                .to_lowercase()
                        })
                        .filter(|t| !t.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let vendor_preference = list("VENDOR_PREFERENCE")
            .iter()
            .map(|v| {
                crate::domain::catalog::ProviderKind::parse(v).ok_or_else(|| ConfigError::Invalid {
                    name: "VENDOR_PREFERENCE",
                    reason: format!(
                        "unknown vendor '{v}'; vendors: local, openai, stability, replicate, fal"
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let non_negative = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            let v: i64 = parse(name, get(name), default)?;
            if v < 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must not be negative".into(),
                });
            }
            Ok(v)
        };
        // The vendors whose keys the deployment has (`VENDOR_KEYS`, made by the template): a
        // function that lists models knows them without being given the keys.
        let vendor_keys = list("VENDOR_KEYS");
        let vendor = |name: &'static str, arn_name: &'static str, tag: &str| {
            Ok::<_, ConfigError>(match secret(name, arn_name, 1)? {
                Some(key) => Some(key),
                None if vendor_keys.iter().any(|v| v == tag) => Some(Secret::withheld(name)),
                None => None,
            })
        };
        let identity_providers = {
            use crate::domain::signin::Idp;
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
                let Some(client_id) = get(id_var) else {
                    continue;
                };
                let secret =
                    secret_or_withheld(secret_var, arn_var, 1)?.ok_or(ConfigError::Invalid {
                        name: secret_var,
                        reason: format!("{secret_var} (or {arn_var}) is required with {id_var}"),
                    })?;
                let issuer = get(issuer_var)
                    .unwrap_or_else(|| idp.default_issuer().into())
                    .trim_end_matches('/')
                    .to_string();
                let (client_secret, apple) = if idp == Idp::Apple {
                    let team_id = required("APPLE_TEAM_ID")?;
                    let key_id = required("APPLE_KEY_ID")?;
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
                        list("MICROSOFT_TENANTS")
                    } else {
                        Vec::new()
                    },
                    apple,
                });
            }
            providers
        };
        Ok(Self {
            identity_providers,
            presigned_url_base: get("PRESIGNED_URL_BASE"),
            referral_signup_credits: non_negative("REFERRAL_SIGNUP_CREDITS", 20)?,
            referrer_credits: non_negative("REFERRER_CREDITS", 50)?,
            referrer_monthly_cap: parse("REFERRER_MONTHLY_CAP", get("REFERRER_MONTHLY_CAP"), 20)?,
            public_base_url: get("PUBLIC_BASE_URL").map(|u| u.trim_end_matches('/').to_string()),
            prompt_model: get("PROMPT_MODEL").unwrap_or_else(|| "gpt-5.4-mini".into()),
            vendor_preference,
            replicate_api_token: vendor(
                "REPLICATE_API_TOKEN",
                "REPLICATE_API_TOKEN_SECRET_ARN",
                "replicate",
            )?,
            replicate_base_url: get("REPLICATE_BASE_URL")
                .unwrap_or_else(|| "https://api.replicate.com".into())
                .trim_end_matches('/')
                .to_string(),
            fal_key: vendor("FAL_KEY", "FAL_KEY_SECRET_ARN", "fal")?,
            fal_queue_url: get("FAL_QUEUE_URL")
                .unwrap_or_else(|| "https://queue.fal.run".into())
                .trim_end_matches('/')
                .to_string(),
            stability_api_key: vendor(
                "STABILITY_API_KEY",
                "STABILITY_API_KEY_SECRET_ARN",
                "stability",
            )?,
            stability_base_url: get("STABILITY_BASE_URL")
                .unwrap_or_else(|| "https://api.stability.ai".into())
                .trim_end_matches('/')
                .to_string(),
            openai_api_key: vendor("OPENAI_API_KEY", "OPENAI_API_KEY_SECRET_ARN", "openai")?,
            openai_base_url: get("OPENAI_BASE_URL")
                .unwrap_or_else(|| "https://api.openai.com/v1".into())
                .trim_end_matches('/')
                .to_string(),
            openai_image_hosts: match get("OPENAI_IMAGE_HOSTS") {
                Some(v) => v
                    .split(',')
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect(),
                None => vec!["oaidalleapiprodscus.blob.core.windows.net".into()],
            },
            provider_timeout: Duration::from_secs(provider_timeout),
            sync_answer_within: Duration::from_secs(parse(
                "SYNC_ANSWER_SECONDS",
                get("SYNC_ANSWER_SECONDS"),
                27,
            )?),
            provider_max_retries: parse("PROVIDER_MAX_RETRIES", get("PROVIDER_MAX_RETRIES"), 2)?,
            presign_ttl: Duration::from_secs(presign),
            daily_image_limit: parse("DAILY_IMAGE_LIMIT", get("DAILY_IMAGE_LIMIT"), 50)?,
            storage_quota_bytes: parse(
                "STORAGE_QUOTA_BYTES",
                get("STORAGE_QUOTA_BYTES"),
                STORAGE_QUOTA_DEFAULT,
            )?,
            anonymous_rate_limit_per_hour: positive("ANONYMOUS_RATE_LIMIT_PER_HOUR", 300)?,
            login_attempts_per_window: positive("LOGIN_ATTEMPTS_PER_15_MINUTES", 10)?,
            refused_terms: list("REFUSED_TERMS"),
            webhook_queue_url: get("WEBHOOK_QUEUE_URL"),
            event_bus_name: get("EVENT_BUS_NAME"),
            allow_private_webhook_targets: parse(
                "ALLOW_PRIVATE_WEBHOOK_TARGETS",
                get("ALLOW_PRIVATE_WEBHOOK_TARGETS"),
                false,
            )?,
            table_name: required("TABLE_NAME")?,
            bucket_name: required("BUCKET_NAME")?,
            queue_url: required("QUEUE_URL")?,
            aws_endpoint_url,
            aws_region,
            jwt_secret,
            jwt_issuer: get("JWT_ISSUER").unwrap_or_else(|| "imageapi".into()),
            jwt_audience: "imageapi".into(),
            access_token_ttl: Duration::from_secs(access),
            refresh_token_ttl: Duration::from_secs(refresh),
            signup_credits,
            rate_limit_per_hour,
            admin_usernames: list("ADMIN_USERNAMES"),
            max_json_body_bytes: parse(
                "MAX_JSON_BODY_BYTES",
                get("MAX_JSON_BODY_BYTES"),
                64 * 1024,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HashMap<String, String> {
        [
            ("TABLE_NAME", "t"),
            ("BUCKET_NAME", "b"),
            ("QUEUE_URL", "http://q"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = Config::from_map(&base()).unwrap();
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(c.rate_limit_per_hour, 100);
        assert_eq!(c.aws_endpoint_url, None);
        assert_eq!(c.presign_ttl, Duration::from_secs(3600));
        assert_eq!(c.daily_image_limit, 50);
        assert!(c.openai_api_key.is_none());
    }

    #[test]
    fn presign_ttl_is_capped_at_seven_days() {
        let mut vars = base();
        vars.insert("PRESIGN_TTL_SECONDS".into(), "604801".into());
        assert!(
            Config::from_map(&vars)
                .unwrap_err()
                .to_string()
                .contains("PRESIGN_TTL_SECONDS")
        );
    }

    #[test]
    fn an_access_token_may_not_outlive_the_record_of_its_sign_out() {
        let mut vars = base();
        vars.insert("ACCESS_TOKEN_TTL_SECONDS".into(), "86400".into());
        assert!(Config::from_map(&vars).is_ok());
        vars.insert("ACCESS_TOKEN_TTL_SECONDS".into(), "86401".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("ACCESS_TOKEN_TTL_SECONDS"), "{err}");
    }

    #[test]
    fn refused_terms_are_normalised() {
        let mut vars = base();
        vars.insert("REFUSED_TERMS".into(), " Gore ,blood   Bath,, ".into());
        assert_eq!(
            Config::from_map(&vars).unwrap().refused_terms,
            vec!["gore", "blood bath"]
        );
    }

    #[test]
    fn missing_and_invalid_values_name_the_variable() {
        let mut vars = base();
        vars.remove("TABLE_NAME");
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("TABLE_NAME"), "{err}");

        let mut vars = base();
        vars.insert("RATE_LIMIT_PER_HOUR".into(), "many".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("RATE_LIMIT_PER_HOUR"), "{err}");

        let mut vars = base();
        vars.insert("JWT_SECRET".into(), "short".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("JWT_SECRET"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let c = Config::from_map(&base()).unwrap();
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn a_secret_is_a_plain_value_or_a_secrets_manager_arn_never_both() {
        let mut vars = base();
        vars.insert("FAL_KEY".into(), "fal-plain".into());
        let c = Config::from_map(&vars).unwrap();
        let fal = c.fal_key.as_ref().unwrap();
        assert!(!fal.is_managed() && fal.is_loaded());
        assert!(!c.jwt_secret.is_managed());

        vars.remove("FAL_KEY");
        vars.remove("JWT_SECRET");
        vars.insert(
            "FAL_KEY_SECRET_ARN".into(),
            "arn:aws:secretsmanager:us-east-1:1:secret:f".into(),
        );
        vars.insert(
            "JWT_SECRET_ARN".into(),
            "arn:aws:secretsmanager:us-east-1:1:secret:j".into(),
        );
        let c = Config::from_map(&vars).unwrap();
        for s in [c.fal_key.as_ref().unwrap(), &c.jwt_secret] {
            assert!(
                s.is_managed() && !s.is_loaded(),
                "read on first use, not at start"
            );
        }
        assert!(c.serves(crate::domain::catalog::ProviderKind::Fal));
        // The ARN is in the Debug output, never a value.
        assert!(format!("{c:?}").contains("fal_configured: true"));

        vars.insert("FAL_KEY".into(), "fal-plain".into());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(
            err.contains("FAL_KEY_SECRET_ARN") && err.contains("not both"),
            "{err}"
        );
        vars.remove("FAL_KEY");
        vars.remove("JWT_SECRET_ARN");
        // Given to this function (empty: the deployment set neither): fails at cold start.
        vars.insert("JWT_SECRET".into(), String::new());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(
            err.contains("JWT_SECRET"),
            "one of the two is required: {err}"
        );
    }

    #[tokio::test]
    async fn a_secret_not_given_to_a_function_is_withheld_and_never_read() {
        let mut vars = base();
        vars.remove("JWT_SECRET");
        vars.insert("VENDOR_KEYS".into(), "openai,,fal".into());
        vars.insert("GOOGLE_CLIENT_ID".into(), "client".into());
        let c = Config::from_map(&vars).unwrap();
        // The catalog knows which vendors the deployment has, without their keys.
        use crate::domain::catalog::ProviderKind;
        assert!(c.serves(ProviderKind::OpenAi) && c.serves(ProviderKind::Fal));
        assert!(!c.serves(ProviderKind::Replicate));
        let google = &c.identity_providers[0];
        for secret in [
            &c.jwt_secret,
            c.openai_api_key.as_ref().unwrap(),
            google.client_secret.as_ref().unwrap(),
        ] {
            let err = secret.get().await.unwrap_err().to_string();
            assert!(err.contains("not given to this function"), "{err}");
            assert!(!format!("{secret:?}").contains("client"));
        }
        // Given, but empty, with a client id: a deployment mistake, at cold start.
        vars.insert("GOOGLE_CLIENT_SECRET".into(), String::new());
        let err = Config::from_map(&vars).unwrap_err().to_string();
        assert!(err.contains("GOOGLE_CLIENT_SECRET"), "{err}");
    }
}
