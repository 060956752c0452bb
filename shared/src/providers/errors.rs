//! How a vendor call fails, and what a client is told of it (never the vendor's own words).

use super::*;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    ContentPolicy(String),
    #[error("the image provider did not answer in time")]
    Timeout,
    #[error("the image provider is rate limiting requests")]
    RateLimited { retry_after_secs: Option<u64> },
    /// A 4xx other than a policy refusal: our request was wrong for the vendor.
    #[error("the image provider rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the image provider failed ({status}): {message}")]
    Upstream { status: u16, message: String },
    #[error("the image provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the image provider returned an unusable image: {0}")]
    BadOutput(String),
    /// The caller's watch stopped the call (its job was canceled); the vendor's work was
    /// canceled too.
    #[error("the call was stopped by its job")]
    Canceled,
    /// The vendor ran the work and it failed (not a refusal): another vendor may do better,
    /// but the vendor itself is up.
    #[error("the image provider's model failed: {0}")]
    Failed(String),
    /// Our key for the vendor could not be read (Secrets Manager): not the vendor's fault.
    #[error("the vendor's key could not be read: {0}")]
    KeyUnavailable(String),
    /// An input could not be put where vendors fetch it (our bucket): no vendor is at fault,
    /// and none would do better.
    #[error("the input could not be staged for the vendor: {0}")]
    Staging(String),
}

impl ProviderError {
    /// The vendor is down or overloaded (not our request's fault): another vendor may serve.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            Self::Timeout
                | Self::RateLimited { .. }
                | Self::Upstream { .. }
                | Self::Unreachable(_)
                | Self::Failed(_)
                | Self::KeyUnavailable(_)
        )
    }

    /// Whether it counts towards the vendor's circuit: the vendor is down, not merely failing
    /// one input (which a user could repeat to open it for everyone), nor our key unreadable.
    pub fn opens_circuit(&self) -> bool {
        self.is_outage() && !matches!(self, Self::Failed(_) | Self::KeyUnavailable(_))
    }
}

impl From<ProviderError> for ApiError {
    /// Clients see what happened, never the vendor's own words (they may name our account or
    /// key); the detail is logged with the request id.
    fn from(e: ProviderError) -> Self {
        let message = match &e {
            ProviderError::Timeout => {
                "The image provider did not answer in time. Nothing was charged."
            }
            ProviderError::RateLimited { .. } | ProviderError::Upstream { status: 503, .. } => {
                "The image provider is overloaded. Nothing was charged; retry later."
            }
            ProviderError::BadOutput(_) => {
                "The image provider returned an unusable result. Nothing was charged."
            }
            ProviderError::Staging(_) => {
                "The input could not be prepared for the image provider. Nothing was charged; retry later."
            }
            _ => "The image provider failed. Nothing was charged.",
        };
        if !matches!(e, ProviderError::ContentPolicy(_)) {
            tracing::warn!(error = %e, "provider failure");
        }
        let provider = |status, retry_after_secs| ApiError::Provider {
            status,
            message: message.to_string(),
            retry_after_secs,
        };
        match &e {
            ProviderError::ContentPolicy(m) => ApiError::ContentPolicy(format!(
                "Your request was rejected by the image provider's safety system: {m}"
            )),
            ProviderError::Timeout => provider(StatusCode::GATEWAY_TIMEOUT, None),
            // Overload (a 429, or a 503 "service unavailable", still there after the retries)
            // is a 503 the client may retry; any other vendor fault is a 502.
            ProviderError::RateLimited { retry_after_secs } => provider(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(retry_after_secs.unwrap_or(30)),
            ),
            ProviderError::Upstream { status: 503, .. } => {
                provider(StatusCode::SERVICE_UNAVAILABLE, Some(30))
            }
            // Our storage's fault, not the vendor's: a 503 to retry.
            ProviderError::Staging(_) => provider(StatusCode::SERVICE_UNAVAILABLE, Some(5)),
            _ => provider(StatusCode::BAD_GATEWAY, None),
        }
    }
}

/// A vendor key that could not be read (Secrets Manager down, a wrong ARN): this vendor cannot
/// serve now; another may.
pub(crate) fn key_unavailable(e: crate::error::ApiError) -> ProviderError {
    ProviderError::KeyUnavailable(e.to_string())
}

pub fn not_offered(route: &Route) -> ProviderError {
    ProviderError::Rejected {
        status: 400,
        message: format!(
            "{} offers no such operation for {}",
            route.vendor.as_str(),
            route.id
        ),
    }
}
