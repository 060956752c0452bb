//! The one typed configuration, read once at cold start.
//!
//! Every variable here is declared in template.yaml `Globals.Function.Environment`; the local stack
//! resolves the same block, so `make run`, the tests and Lambda see identical settings.

use std::collections::HashMap;
use std::time::Duration;

/// Why the configuration could not be built; reported at cold start, before any request.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub bucket_name: String,
    pub queue_url: String,
    /// Overrides every AWS endpoint (the local emulator); `None` on AWS.
    pub aws_endpoint_url: Option<String>,
    pub aws_region: String,
    pub jwt_secret: Vec<u8>,
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
            .finish_non_exhaustive()
    }
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

impl Config {
    /// Reads the process environment; fails fast with a message naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|k| vars.get(k).cloned())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
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

        let jwt_secret = required("JWT_SECRET")?.into_bytes();
        if jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                name: "JWT_SECRET",
                reason: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
            });
        }
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
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            bucket_name: required("BUCKET_NAME")?,
            queue_url: required("QUEUE_URL")?,
            aws_endpoint_url: get("AWS_ENDPOINT_URL"),
            aws_region: get("AWS_REGION")
                .or_else(|| get("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            jwt_secret,
            jwt_issuer: get("JWT_ISSUER").unwrap_or_else(|| "imageapi".into()),
            jwt_audience: "imageapi".into(),
            access_token_ttl: Duration::from_secs(access),
            refresh_token_ttl: Duration::from_secs(refresh),
            signup_credits,
            rate_limit_per_hour,
            admin_usernames: get("ADMIN_USERNAMES")
                .map(|v| {
                    v.split(',')
                        .map(|u| u.trim().to_lowercase())
                        .filter(|u| !u.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
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
}
