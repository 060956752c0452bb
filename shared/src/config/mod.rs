//! The one typed configuration, read once at cold start, in sections that each parse their own
//! variables (`Env` holds what they share: lookups, numbers, lists and secrets).
//!
//! Every variable here is declared in template.yaml `Globals.Function.Environment`; the local stack
//! resolves the same block, so `make run`, the tests and Lambda see identical settings.

mod credentials;
mod signin;
mod vendors;

pub use credentials::ContentCredentials;
pub use signin::{AppleSigning, IdentityProvider, Signin};
pub use vendors::Vendors;

use crate::domain::delivery::UrlWindow;
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

pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Every section. All are read at cold start, whichever function runs: together they take
/// microseconds (secrets are fetched on first use, not here), and a deployment whose settings
/// are wrong fails at once, in every function, naming the variable.
#[derive(Clone, Debug)]
pub struct Config {
    pub aws: Aws,
    pub tokens: Tokens,
    pub limits: Limits,
    pub accounts: Accounts,
    pub delivery: Delivery,
    pub vendors: Vendors,
    pub signin: Signin,
    pub credentials: ContentCredentials,
    /// Faults the end-to-end tests inject; off unless a test (through the local stack) sets
    /// them: no variable turns one on.
    pub faults: Faults,
}

/// Faults for tests only.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The worker stops right after a job's settling transaction, as if its Lambda died there.
    pub stop_after_settle: bool,
}

/// Where the data lives and where work and events go.
#[derive(Clone, Debug)]
pub struct Aws {
    pub table_name: String,
    pub bucket_name: String,
    pub queue_url: String,
    /// The queue webhook deliveries wait on (`None` where no function sends webhooks).
    pub webhook_queue_url: Option<String>,
    /// The EventBridge bus that hears about new and deleted assets (`None`: no events).
    pub event_bus_name: Option<String>,
    /// Overrides every AWS endpoint (the local emulator); `None` on AWS.
    pub endpoint_url: Option<String>,
    pub region: String,
    /// Local stack only (`PRESIGNED_URL_BASE`): where presigned URLs point instead of the
    /// emulator (the gateway's `/_s3`, reachable wherever the API is).
    pub presigned_url_base: Option<String>,
}

/// Access and refresh tokens.
#[derive(Clone)]
pub struct Tokens {
    /// `JWT_SECRET`, or the Secrets Manager secret `JWT_SECRET_ARN` names.
    pub jwt_secret: Arc<Secret>,
    pub jwt_issuer: String,
    /// Audience of access tokens; fixed so a token minted for another service never passes.
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
}

impl std::fmt::Debug for Tokens {
    // Hand-written so the JWT secret can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("jwt_issuer", &self.jwt_issuer)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .finish_non_exhaustive()
    }
}

/// What bounds each account and each client.
#[derive(Clone, Debug)]
pub struct Limits {
    pub rate_limit_per_hour: u32,
    /// Requests per hour per client address on the unauthenticated routes.
    pub anonymous_rate_limit_per_hour: u32,
    /// Sign-in attempts per account per 15 minutes.
    pub login_attempts_per_window: u32,
    pub daily_image_limit: u32,
    /// Bytes of assets each account may store: free work (transforms, uploads, versions)
    /// costs no credits, so this is what bounds it.
    pub storage_quota_bytes: u64,
    /// Largest request body a JSON endpoint accepts.
    pub max_json_body_bytes: usize,
    /// Lower-cased terms (or phrases) refused in prompts before anything is charged.
    pub refused_terms: Vec<String>,
}

/// Accounts: what they start with, who is an admin, and referrals.
#[derive(Clone, Debug)]
pub struct Accounts {
    pub signup_credits: i64,
    /// What one credit sells for, in millionths of a dollar (the admins' margin is against it).
    pub credit_price_micros: i64,
    pub admin_usernames: Vec<String>,
    /// Extra credits for a user who registers with a referral code.
    pub referral_signup_credits: i64,
    /// Credits a referrer earns when a referred user completes a first paid generation.
    pub referrer_credits: i64,
    /// The most rewards a referrer earns in a UTC month.
    pub referrer_monthly_cap: u32,
    /// The public origin of the web pages (`https://images.example.com`), for referral links;
    /// empty: the origin the request came to.
    pub public_base_url: Option<String>,
}

/// How results reach clients: signed URLs, webhooks.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// URLs are signed at the start of a window (`URL_WINDOW_SECONDS`, default 1 hour) and stay
    /// valid `PRESIGN_TTL_SECONDS` (default 1 hour) past its end: at most 7 days in all.
    pub urls: UrlWindow,
    /// `DELIVERY=cloudfront`: objects reach clients through a CloudFront distribution's signed
    /// URLs; unset or `s3`, through presigned S3 URLs.
    pub cdn: Option<Cdn>,
    /// Lets webhooks reach loopback and private addresses (a local receiver under `make run`).
    pub allow_private_webhook_targets: bool,
}

/// A CloudFront distribution in front of the bucket, and the key its signed URLs use.
#[derive(Clone, Debug)]
pub struct Cdn {
    /// `CDN_DOMAIN`: the distribution's domain (`d111111abcdef8.cloudfront.net`, or an alias).
    pub domain: String,
    /// `CDN_KEY_ID`: the CloudFront public key's id (the `Key-Pair-Id` of signed URLs).
    pub key_id: String,
    /// `CDN_PRIVATE_KEY` (PEM), or the Secrets Manager secret `CDN_PRIVATE_KEY_ARN` names.
    pub private_key: Arc<Secret>,
}

impl Config {
    /// Reads the process environment; fails fast with a message naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|k| vars.get(k).cloned())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::new(&lookup);
        Ok(Self {
            aws: Aws::read(&env)?,
            tokens: Tokens::read(&env)?,
            limits: Limits::read(&env)?,
            accounts: Accounts::read(&env)?,
            delivery: Delivery::read(&env)?,
            vendors: Vendors::read(&env)?,
            signin: Signin::read(&env)?,
            credentials: ContentCredentials::read(&env)?,
            faults: Faults::default(),
        })
    }
}

/// The variables as the sections read them: blank is unset; numbers, lists and secrets parsed
/// one way everywhere, every error naming its variable.
pub(crate) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    region: String,
    endpoint_url: Option<String>,
}

impl<'a> Env<'a> {
    fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        Self {
            region: get("AWS_REGION")
                .or_else(|| get("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            endpoint_url: get("AWS_ENDPOINT_URL"),
            lookup,
        }
    }

    pub(crate) fn get(&self, k: &str) -> Option<String> {
        (self.lookup)(k).filter(|v| !v.trim().is_empty())
    }

    /// Set, even if empty: template.yaml gives a secret's variable (empty when the deployment
    /// has none) to the functions that use it, and to no other.
    fn given(&self, k: &str) -> bool {
        (self.lookup)(k).is_some()
    }

    pub(crate) fn required(&self, k: &'static str) -> Result<String, ConfigError> {
        self.get(k).ok_or(ConfigError::Missing(k))
    }

    pub(crate) fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: format!("{v:?}: {e}"),
            }),
        }
    }

    fn positive(&self, name: &'static str, default: u32) -> Result<u32, ConfigError> {
        let v: u32 = self.parse(name, default)?;
        if v == 0 {
            return Err(ConfigError::Invalid {
                name,
                reason: "must be at least 1".into(),
            });
        }
        Ok(v)
    }

    fn non_negative(&self, name: &'static str, default: i64) -> Result<i64, ConfigError> {
        let v: i64 = self.parse(name, default)?;
        if v < 0 {
            return Err(ConfigError::Invalid {
                name,
                reason: "must not be negative".into(),
            });
        }
        Ok(v)
    }

    /// A comma-separated list, each item's spaces folded and lower-cased.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
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
    }

    /// A secret is `NAME` itself, or the Secrets Manager secret `NAME_ARN` names (read on
    /// first use), never both.
    pub(crate) fn secret(
        &self,
        name: &'static str,
        arn_name: &'static str,
        min_len: usize,
    ) -> Result<Option<Arc<Secret>>, ConfigError> {
        match (self.get(arn_name), self.get(name)) {
            (Some(_), Some(_)) => Err(ConfigError::Invalid {
                name: arn_name,
                reason: format!("set {name} or {arn_name}, not both"),
            }),
            (Some(arn), None) => Ok(Some(Secret::arn(
                name,
                arn,
                self.region.clone(),
                self.endpoint_url.clone(),
                min_len,
            ))),
            (None, Some(v)) if v.len() < min_len => Err(ConfigError::Invalid {
                name,
                reason: format!("must be at least {min_len} bytes"),
            }),
            (None, Some(v)) => Ok(Some(Secret::plain(name, v))),
            (None, None) => Ok(None),
        }
    }

    /// A secret this function is not given (neither variable set) is withheld: reading it
    /// fails, loudly. A function given the variable empty and no ARN fails here, at once.
    pub(crate) fn secret_or_withheld(
        &self,
        name: &'static str,
        arn_name: &'static str,
        min_len: usize,
    ) -> Result<Option<Arc<Secret>>, ConfigError> {
        match self.secret(name, arn_name, min_len)? {
            Some(s) => Ok(Some(s)),
            // The ARN variables are in every function's environment (empty when unused):
            // only the plain variable says this function was meant to have the secret.
            None if self.given(name) => Ok(None),
            None => Ok(Some(Secret::withheld(name))),
        }
    }
}

impl Aws {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
            bucket_name: env.required("BUCKET_NAME")?,
            queue_url: env.required("QUEUE_URL")?,
            webhook_queue_url: env.get("WEBHOOK_QUEUE_URL"),
            event_bus_name: env.get("EVENT_BUS_NAME"),
            endpoint_url: env.endpoint_url.clone(),
            region: env.region.clone(),
            presigned_url_base: env.get("PRESIGNED_URL_BASE"),
        })
    }
}

impl Tokens {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        let jwt_secret = env
            .secret_or_withheld("JWT_SECRET", "JWT_SECRET_ARN", MIN_JWT_SECRET_BYTES)?
            .ok_or(ConfigError::Missing("JWT_SECRET"))?;
        let access: u64 = env.parse("ACCESS_TOKEN_TTL_SECONDS", 900)?;
        let refresh: u64 = env.parse("REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)?;
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
        Ok(Self {
            jwt_secret,
            jwt_issuer: env.get("JWT_ISSUER").unwrap_or_else(|| "imageapi".into()),
            jwt_audience: "imageapi".into(),
            access_token_ttl: Duration::from_secs(access),
            refresh_token_ttl: Duration::from_secs(refresh),
        })
    }
}

impl Limits {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            rate_limit_per_hour: env.positive("RATE_LIMIT_PER_HOUR", 100)?,
            anonymous_rate_limit_per_hour: env.positive("ANONYMOUS_RATE_LIMIT_PER_HOUR", 300)?,
            login_attempts_per_window: env.positive("LOGIN_ATTEMPTS_PER_15_MINUTES", 10)?,
            daily_image_limit: env.parse("DAILY_IMAGE_LIMIT", 50)?,
            storage_quota_bytes: env.parse("STORAGE_QUOTA_BYTES", STORAGE_QUOTA_DEFAULT)?,
            max_json_body_bytes: env.parse("MAX_JSON_BODY_BYTES", 64 * 1024)?,
            refused_terms: env.list("REFUSED_TERMS"),
        })
    }
}

impl Accounts {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        let signup_credits = env.parse("SIGNUP_CREDITS", 100)?;
        if signup_credits < 0 {
            return Err(ConfigError::Invalid {
                name: "SIGNUP_CREDITS",
                reason: "must not be negative".into(),
            });
        }
        Ok(Self {
            signup_credits,
            credit_price_micros: env.non_negative("CREDIT_PRICE_MICROS", 10_000)?,
            admin_usernames: env.list("ADMIN_USERNAMES"),
            referral_signup_credits: env.non_negative("REFERRAL_SIGNUP_CREDITS", 20)?,
            referrer_credits: env.non_negative("REFERRER_CREDITS", 50)?,
            referrer_monthly_cap: env.parse("REFERRER_MONTHLY_CAP", 20)?,
            public_base_url: env
                .get("PUBLIC_BASE_URL")
                .map(|u| u.trim_end_matches('/').to_string()),
        })
    }
}

impl Delivery {
    fn read(env: &Env) -> Result<Self, ConfigError> {
        const WEEK: u64 = 7 * 24 * 3600;
        let presign: u64 = env.parse("PRESIGN_TTL_SECONDS", 3600)?;
        if !(1..=WEEK).contains(&presign) {
            return Err(ConfigError::Invalid {
                name: "PRESIGN_TTL_SECONDS",
                reason: "must be between 1 second and 7 days (604800)".into(),
            });
        }
        let window: u64 = env.parse("URL_WINDOW_SECONDS", 3600)?;
        // S3 refuses a presigned URL valid for more than 7 days.
        if window == 0 || window + presign > WEEK {
            return Err(ConfigError::Invalid {
                name: "URL_WINDOW_SECONDS",
                reason: format!(
                    "must be at least 1 and, with PRESIGN_TTL_SECONDS ({presign}), at most 7 days (604800)"
                ),
            });
        }
        let cdn = match env.get("DELIVERY").as_deref().map(str::trim) {
            None | Some("s3") => None,
            Some("cloudfront") => Some(Cdn {
                domain: env.required("CDN_DOMAIN")?,
                key_id: env.required("CDN_KEY_ID")?,
                private_key: env
                    .secret("CDN_PRIVATE_KEY", "CDN_PRIVATE_KEY_ARN", 1)?
                    .ok_or(ConfigError::Missing("CDN_PRIVATE_KEY"))?,
            }),
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "DELIVERY",
                    reason: format!("{other:?}: must be s3 or cloudfront"),
                });
            }
        };
        Ok(Self {
            urls: UrlWindow {
                window: Duration::from_secs(window),
                ttl: Duration::from_secs(presign),
            },
            cdn,
            allow_private_webhook_targets: env.parse("ALLOW_PRIVATE_WEBHOOK_TARGETS", false)?,
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
        assert_eq!(c.tokens.access_token_ttl, Duration::from_secs(900));
        assert_eq!(
            c.tokens.refresh_token_ttl,
            Duration::from_secs(30 * 24 * 3600)
        );
        assert_eq!(c.limits.rate_limit_per_hour, 100);
        assert_eq!(c.aws.endpoint_url, None);
        assert_eq!(c.delivery.urls.ttl, Duration::from_secs(3600));
        assert_eq!(c.delivery.urls.window, Duration::from_secs(3600));
        assert!(c.delivery.cdn.is_none());
        assert_eq!(c.limits.daily_image_limit, 50);
        assert!(c.vendors.openai_api_key.is_none());
    }

    #[test]
    fn delivery_settings_are_checked_and_name_what_is_wrong() {
        let err = |pairs: &[(&str, &str)]| {
            let mut vars = base();
            for (k, v) in pairs {
                vars.insert(k.to_string(), v.to_string());
            }
            Config::from_map(&vars).map(|_| ()).unwrap_err().to_string()
        };
        // Window and TTL together beyond S3's 7 days.
        let e = err(&[
            ("URL_WINDOW_SECONDS", "600000"),
            ("PRESIGN_TTL_SECONDS", "7200"),
        ]);
        assert!(e.contains("URL_WINDOW_SECONDS"), "{e}");
        assert!(err(&[("URL_WINDOW_SECONDS", "0")]).contains("URL_WINDOW_SECONDS"));
        assert!(err(&[("DELIVERY", "cdn")]).contains("DELIVERY"));
        assert!(err(&[("DELIVERY", "cloudfront")]).contains("CDN_DOMAIN"));
        let e = err(&[
            ("DELIVERY", "cloudfront"),
            ("CDN_DOMAIN", "d1.cloudfront.net"),
            ("CDN_KEY_ID", "K1"),
        ]);
        assert!(e.contains("CDN_PRIVATE_KEY"), "{e}");
        let mut vars = base();
        for (k, v) in [
            ("DELIVERY", "cloudfront"),
            ("CDN_DOMAIN", "d1.cloudfront.net"),
            ("CDN_KEY_ID", "K1"),
            (
                "CDN_PRIVATE_KEY_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:cdn",
            ),
            ("URL_WINDOW_SECONDS", "900"),
        ] {
            vars.insert(k.into(), v.into());
        }
        let c = Config::from_map(&vars).unwrap();
        let cdn = c.delivery.cdn.expect("cloudfront");
        assert_eq!(
            (cdn.domain.as_str(), cdn.key_id.as_str()),
            ("d1.cloudfront.net", "K1")
        );
        assert!(cdn.private_key.is_managed());
        assert_eq!(c.delivery.urls.window, Duration::from_secs(900));
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
            Config::from_map(&vars).unwrap().limits.refused_terms,
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
        let fal = c.vendors.fal_key.as_ref().unwrap();
        assert!(!fal.is_managed() && fal.is_loaded());
        assert!(!c.tokens.jwt_secret.is_managed());

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
        for s in [c.vendors.fal_key.as_ref().unwrap(), &c.tokens.jwt_secret] {
            assert!(
                s.is_managed() && !s.is_loaded(),
                "read on first use, not at start"
            );
        }
        assert!(c.vendors.serves(crate::domain::catalog::ProviderKind::Fal));
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
        assert!(c.vendors.serves(ProviderKind::OpenAi) && c.vendors.serves(ProviderKind::Fal));
        assert!(!c.vendors.serves(ProviderKind::Replicate));
        let google = &c.signin.identity_providers[0];
        for secret in [
            &c.tokens.jwt_secret,
            c.vendors.openai_api_key.as_ref().unwrap(),
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
