//! Secrets from configuration: a plain value (`make run`'s environment, tests) or the ARN of an
//! AWS Secrets Manager secret, read on first use and kept for the life of the instance. A
//! function that never needs a secret never fetches it (no cost on its cold start), and a
//! value never reaches a log line, an error or an answer.

use crate::error::ApiError;
use std::sync::Arc;
use tokio::sync::OnceCell;

pub struct Secret {
    /// The variable it came from (`JWT_SECRET`, `FAL_KEY`, ...), for errors that name it.
    name: &'static str,
    source: Source,
    /// The shortest acceptable value, in bytes.
    min_len: usize,
    value: OnceCell<Vec<u8>>,
}

enum Source {
    Plain,
    /// The deployment has it, but not for this function (template.yaml gives each secret only
    /// to the functions that use it): reading it is a bug in the template.
    Withheld,
    Arn {
        arn: String,
        region: String,
        endpoint: Option<String>,
    },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = match &self.source {
            Source::Plain => "plain value".to_string(),
            Source::Withheld => "not given to this function".to_string(),
            Source::Arn { arn, .. } => format!("secret {arn}"),
        };
        write!(f, "{} ({from})", self.name)
    }
}

impl Secret {
    pub fn plain(name: &'static str, value: impl Into<Vec<u8>>) -> Arc<Self> {
        Arc::new(Self {
            name,
            source: Source::Plain,
            min_len: 1,
            value: OnceCell::new_with(Some(value.into())),
        })
    }

    /// A secret the deployment has but this function is not given.
    pub fn withheld(name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            source: Source::Withheld,
            min_len: 1,
            value: OnceCell::new(),
        })
    }

    pub fn arn(
        name: &'static str,
        arn: String,
        region: String,
        endpoint: Option<String>,
        min_len: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            source: Source::Arn {
                arn,
                region,
                endpoint,
            },
            min_len,
            value: OnceCell::new(),
        })
    }

    /// The value given in the configuration itself (not from Secrets Manager), to check at
    /// cold start.
    pub fn plain_value(&self) -> Option<&[u8]> {
        match self.source {
            Source::Plain => self.value.get().map(Vec::as_slice),
            _ => None,
        }
    }

    /// Whether the value is in memory (a plain value always is; a managed one once read).
    pub fn is_loaded(&self) -> bool {
        self.value.initialized()
    }

    /// Whether the value is read from Secrets Manager.
    pub fn is_managed(&self) -> bool {
        matches!(self.source, Source::Arn { .. })
    }

    /// The value: fetched once, then from memory.
    pub async fn get(&self) -> Result<&[u8], ApiError> {
        self.value
            .get_or_try_init(|| self.fetch())
            .await
            .map(Vec::as_slice)
    }

    /// The value as text (API keys).
    pub async fn text(&self) -> Result<&str, ApiError> {
        std::str::from_utf8(self.get().await?)
            .map_err(|_| ApiError::internal(format!("secret {} is not UTF-8 text", self.name)))
    }

    async fn fetch(&self) -> Result<Vec<u8>, ApiError> {
        let (arn, region, endpoint) = match &self.source {
            Source::Arn {
                arn,
                region,
                endpoint,
            } => (arn, region, endpoint),
            Source::Withheld => {
                return Err(ApiError::internal(format!(
                    "{} is not given to this function: list it in the function's Environment in template.yaml",
                    self.name
                )));
            }
            Source::Plain => return Err(ApiError::internal(format!("{} has no value", self.name))),
        };
        // A task of its own: the SDK's call is deep, and the first use is deep in a handler.
        let (name, min_len) = (self.name, self.min_len);
        let (arn, region, endpoint) = (arn.clone(), region.clone(), endpoint.clone());
        let task = fetch(name, arn, region, endpoint, min_len);
        tokio::spawn(tracing::Instrument::in_current_span(task))
            .await
            .map_err(ApiError::internal)?
    }
}

async fn fetch(
    name: &'static str,
    arn: String,
    region: String,
    endpoint: Option<String>,
    min_len: usize,
) -> Result<Vec<u8>, ApiError> {
    {
        let sdk = crate::adapters::aws::sdk_config(&region, endpoint.as_deref()).await;
        let client = aws_sdk_secretsmanager::Client::new(&sdk);
        let out = client
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .map_err(|e| {
                // The SDK's error names the secret, never its value.
                ApiError::internal(format!(
                    "secret of {name} could not be read: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                ))
            })?;
        let value = match (out.secret_string, out.secret_binary) {
            (Some(s), _) => s.trim().as_bytes().to_vec(),
            (None, Some(b)) => b.into_inner(),
            (None, None) => Vec::new(),
        };
        if value.len() < min_len {
            return Err(ApiError::internal(format!(
                "secret of {name} is shorter than {min_len} bytes"
            )));
        }
        tracing::info!(secret = name, "secret read from Secrets Manager");
        Ok(value)
    }
}

/// A vendor key as a provider takes it: a [`Secret`], or plain text (tests, tools).
pub struct Key(pub Arc<Secret>);

impl From<&str> for Key {
    fn from(value: &str) -> Self {
        Self(Secret::plain("key", value))
    }
}

impl From<Arc<Secret>> for Key {
    fn from(secret: Arc<Secret>) -> Self {
        Self(secret)
    }
}

impl From<&Arc<Secret>> for Key {
    fn from(secret: &Arc<Secret>) -> Self {
        Self(secret.clone())
    }
}
