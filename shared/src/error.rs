//! The one API error type and its single mapping to status + OpenAI-shaped body.

use http::StatusCode;
use serde::Serialize;

type Source = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: bad input; `param` names the offending field when there is one.
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
        code: &'static str,
    },
    /// 401: missing, malformed, expired or revoked credentials.
    #[error("{message}")]
    Unauthorized { message: String, code: &'static str },
    /// 403: signed in, but not allowed (`code`: `forbidden`, `account_disabled`).
    #[error("{message}")]
    Forbidden { message: String, code: &'static str },
    /// 404: unknown id, another user's id, or an unknown route.
    #[error("{0}")]
    NotFound(String),
    /// 404 for an id given in a field of the request: an input that is not the caller's.
    #[error("{message}")]
    UnknownReference { message: String, param: String },
    #[error("{message}")]
    MethodNotAllowed { message: String, allow: String },
    #[error("{message}")]
    Conflict {
        message: String,
        param: Option<String>,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 with `Retry-After`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
        limit: u32,
        reset_epoch: u64,
    },
    /// 429 `insufficient_quota`, as OpenAI answers when credits run out.
    #[error("{0}")]
    InsufficientQuota(String),
    /// 429 `budget_exceeded`: the API key's budget for its period is spent; `Retry-After`
    /// says when it resets (clients should not retry before: `x-should-retry: false`).
    #[error("{message}")]
    BudgetExceeded {
        message: String,
        retry_after_secs: u64,
    },
    /// 400 `content_policy_violation`: refused by our moderation or by the provider's.
    #[error("{0}")]
    ContentPolicy(String),
    /// 502/503/504: the image provider failed, is overloaded, or timed out.
    #[error("{message}")]
    Provider {
        status: StatusCode,
        message: String,
        retry_after_secs: Option<u64>,
    },
    /// 500: our bug. The source is logged with the request id, never sent to the client.
    #[error("internal error: {0}")]
    Internal(#[source] Source),
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

#[cfg(feature = "images")]
impl From<imaging::Invalid> for ApiError {
    fn from(e: imaging::Invalid) -> Self {
        Self::InvalidRequest {
            message: e.message,
            param: Some(e.param),
            code: e.code,
        }
    }
}

impl ApiError {
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidRequest {
            message: message.into(),
            param: Some(param.into()),
            code: "invalid_value",
        }
    }

    /// The field a 400 (or a 404 for a referenced id) blames, if any.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest { param, .. } | Self::Conflict { param, .. } => param.as_deref(),
            Self::UnknownReference { param, .. } => Some(param),
            _ => None,
        }
    }

    pub fn missing(param: &str) -> Self {
        Self::InvalidRequest {
            message: format!("missing required parameter: '{param}'"),
            param: Some(param.to_string()),
            code: "missing_required_parameter",
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized {
            message: message.into(),
            code: "invalid_token",
        }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden {
            message: message.into(),
            code: "forbidden",
        }
    }

    /// The answer when a synchronous request runs out of its time: nothing charged, and the
    /// way that has no such limit.
    pub fn out_of_time() -> Self {
        Self::Provider {
            status: http::StatusCode::GATEWAY_TIMEOUT,
            message: "This request could not finish within the synchronous time limit (API \
                      Gateway answers at 29 s). Nothing was charged. Send it again with the \
                      header 'Prefer: respond-async' to run it as a job, and fetch the job when \
                      it is done."
                .into(),
            retry_after_secs: None,
        }
    }

    /// Storing `needed` more bytes would take the account past its storage quota (`needed`
    /// 0: it is full already, so new work would be lost).
    pub fn storage_full(used: u64, quota: u64, needed: u64) -> Self {
        let mb = |b: u64| format!("{:.1} MB", b as f64 / 1_000_000.0);
        let needs = match needed {
            0 => String::new(),
            n => format!(", and this needs {} more", mb(n)),
        };
        Self::Forbidden {
            message: format!(
                "this account stores {} of its {} storage quota{needs}: delete images, videos \
                 or versions it no longer needs (DELETE /v1/images/{{id}}) to make room",
                mb(used),
                mb(quota),
            ),
            code: "storage_quota_exceeded",
        }
    }

    /// A disabled account: every credential of it is refused at once.
    pub fn account_disabled() -> Self {
        Self::Forbidden {
            message: "this account has been disabled; contact the administrator".into(),
            code: "account_disabled",
        }
    }

    pub fn internal(source: impl Into<Source>) -> Self {
        Self::Internal(source.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::UnknownReference { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::InsufficientQuota(_) | Self::BudgetExceeded { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::ContentPolicy(_) => StatusCode::BAD_REQUEST,
            Self::Provider { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The OpenAI error body: `{"error": {"message", "type", "param", "code"}}`.
    pub fn body(&self) -> serde_json::Value {
        let message = match self {
            Self::Internal(_) => "The server had an error while processing your request. Quote the x-request-id header if you report it.".to_string(),
            other => other.to_string(),
        };
        let (kind, param, code): (&str, Option<&str>, Option<&str>) = match self {
            Self::InvalidRequest { param, code, .. } => {
                ("invalid_request_error", param.as_deref(), Some(code))
            }
            Self::Unauthorized { code, .. } => ("authentication_error", None, Some(code)),
            Self::Forbidden { code, .. } => ("permission_error", None, Some(code)),
            Self::NotFound(_) => ("invalid_request_error", None, Some("not_found")),
            Self::UnknownReference { param, .. } => (
                "invalid_request_error",
                Some(param.as_str()),
                Some("not_found"),
            ),
            Self::MethodNotAllowed { .. } => {
                ("invalid_request_error", None, Some("method_not_allowed"))
            }
            Self::Conflict { param, .. } => {
                ("invalid_request_error", param.as_deref(), Some("conflict"))
            }
            Self::PayloadTooLarge(_) => ("invalid_request_error", None, Some("payload_too_large")),
            Self::UnsupportedMediaType(_) => (
                "invalid_request_error",
                None,
                Some("unsupported_media_type"),
            ),
            Self::RateLimited { .. } => ("requests", None, Some("rate_limit_exceeded")),
            Self::InsufficientQuota(_) => ("insufficient_quota", None, Some("insufficient_quota")),
            Self::BudgetExceeded { .. } => ("insufficient_quota", None, Some("budget_exceeded")),
            Self::ContentPolicy(_) => (
                "invalid_request_error",
                Some("prompt"),
                Some("content_policy_violation"),
            ),
            Self::Provider { status, .. } => (
                "server_error",
                None,
                Some(match status.as_u16() {
                    504 => "provider_timeout",
                    503 => "provider_overloaded",
                    _ => "provider_error",
                }),
            ),
            Self::Internal(_) => ("server_error", None, Some("internal_error")),
        };
        serde_json::to_value(Body {
            error: Detail {
                message: &message,
                kind,
                param,
                code,
            },
        })
        .expect("error body serializes")
    }

    /// Extra headers this error must carry (`Retry-After`, `Allow`, rate-limit state).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::RateLimited {
                retry_after_secs,
                limit,
                reset_epoch,
                ..
            } => vec![
                ("retry-after", retry_after_secs.to_string()),
                ("x-ratelimit-limit", limit.to_string()),
                ("x-ratelimit-remaining", "0".to_string()),
                ("x-ratelimit-reset", reset_epoch.to_string()),
            ],
            Self::MethodNotAllowed { allow, .. } => vec![("allow", allow.clone())],
            // The official SDKs retry a 429 unless told not to; waiting for a budget's reset
            // is the client's decision.
            Self::BudgetExceeded {
                retry_after_secs, ..
            } => vec![
                ("retry-after", retry_after_secs.to_string()),
                ("x-should-retry", "false".to_string()),
            ],
            Self::Provider {
                retry_after_secs: Some(s),
                ..
            } => vec![("retry-after", s.to_string())],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_request_has_openai_shape() {
        let e = ApiError::invalid("n", "n must be between 1 and 10");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            e.body(),
            serde_json::json!({"error": {"message": "n must be between 1 and 10",
                "type": "invalid_request_error", "param": "n", "code": "invalid_value"}})
        );
    }

    #[test]
    fn internal_errors_never_leak_their_source() {
        let e = ApiError::internal("dynamodb: secret table arn:aws:xyz");
        let body = e.body().to_string();
        assert!(!body.contains("arn:aws"), "{body}");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn rate_limited_carries_retry_after() {
        let e = ApiError::RateLimited {
            message: "slow down".into(),
            retry_after_secs: 42,
            limit: 100,
            reset_epoch: 1_700_000_000,
        };
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(e.headers().contains(&("retry-after", "42".to_string())));
    }
}
