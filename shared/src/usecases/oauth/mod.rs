//! OAuth 2.1 for MCP clients, as MCP's authorization spec asks of a remote server. Registration
//! (RFC 7591) stores nothing: a client id is our signed statement of the client's name and
//! redirect URIs. The code is signed too, and spent once. The token is an API key of the user,
//! scoped as they consented, bound to the MCP endpoint (RFC 8707) and named after the client:
//! the account page lists and revokes it with the other keys, and the ledger names it.

use crate::domain::key_policy::Scope;
use crate::error::ApiError;
use crate::usecases::auth::JWT_ALGORITHM;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

mod clients;
mod codes;
mod tokens;

pub use clients::{Client, RegisteredClient, RegistrationRequest, client, register};
pub use codes::{AuthorizeAnswer, AuthorizeRequest, ConsentScope, Decision, authorize};
pub use tokens::{TokenAnswer, TokenRequest, exchange};

/// Where the MCP endpoint is, under the API's origin.
pub const MCP_PATH: &str = "/mcp";
/// How long a code waits for its exchange.
pub const CODE_TTL_SECS: i64 = 300;
/// How long a token works; the client signs in again after (a person can revoke it sooner).
pub const TOKEN_TTL_SECS: i64 = 90 * 24 * 3600;
pub(super) const CLIENT_AUDIENCE: &str = "oauth-client";
pub(super) const CODE_AUDIENCE: &str = "oauth-code";

/// The MCP endpoint's URL: the resource tokens are bound to.
pub fn resource_of(origin: &str) -> String {
    format!("{origin}{MCP_PATH}")
}

/// An error as OAuth's endpoints answer them (RFC 6749 §5.2, RFC 7591 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    #[serde(skip)]
    pub status: u16,
    pub error: &'static str,
    pub error_description: String,
}

impl OAuthError {
    pub(super) fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: 400,
            error,
            error_description: description.into(),
        }
    }
}

impl From<ApiError> for OAuthError {
    fn from(e: ApiError) -> Self {
        let status = e.status().as_u16();
        match e {
            ApiError::Internal(source) => {
                tracing::error!(error = %source, "oauth request failed");
                Self {
                    status: 500,
                    error: "server_error",
                    error_description: "the server failed; try again".into(),
                }
            }
            // RFC 6749's registry has no rate limit: the nearest, with its own status.
            other => Self {
                status,
                error: "temporarily_unavailable",
                error_description: other.to_string(),
            },
        }
    }
}

/// RFC 9728: what a client learns from `/mcp`'s 401.
pub fn protected_resource(origin: &str) -> serde_json::Value {
    serde_json::json!({
        "resource": resource_of(origin),
        "authorization_servers": [origin],
        "scopes_supported": Scope::ALL.map(Scope::as_str),
        "bearer_methods_supported": ["header"],
        "resource_name": "Image API (MCP)",
        "resource_documentation": format!("{origin}/v1/doc"),
    })
}

/// RFC 8414: the authorization server, which is this API (its web pages ask for consent).
pub fn authorization_server(origin: &str) -> serde_json::Value {
    serde_json::json!({
        "issuer": origin,
        "authorization_endpoint": format!("{origin}/app/authorize"),
        "token_endpoint": format!("{origin}/oauth/token"),
        "registration_endpoint": format!("{origin}/oauth/register"),
        "scopes_supported": Scope::ALL.map(Scope::as_str),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "token_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": format!("{origin}/v1/doc"),
    })
}

pub(super) async fn sign<T: Serialize>(
    deps_config: &crate::Config,
    claims: &T,
) -> Result<String, ApiError> {
    jsonwebtoken::encode(
        &Header::new(JWT_ALGORITHM),
        claims,
        &EncodingKey::from_secret(deps_config.tokens.jwt_secret.get().await?),
    )
    .map_err(ApiError::internal)
}

/// The claims of one of our signed statements, if `token` is one for `audience` from `issuer`.
pub(super) async fn verify<T: DeserializeOwned>(
    config: &crate::Config,
    token: &str,
    issuer: &str,
    audience: &str,
    expires: bool,
) -> Result<Option<T>, ApiError> {
    let secret = config.tokens.jwt_secret.get().await?;
    let mut v = Validation::new(JWT_ALGORITHM);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.validate_exp = expires;
    v.set_required_spec_claims(if expires {
        &["exp", "iss", "aud"][..]
    } else {
        &["iss", "aud"][..]
    });
    v.leeway = 0;
    Ok(
        jsonwebtoken::decode::<T>(token, &DecodingKey::from_secret(secret), &v)
            .ok()
            .map(|d| d.claims),
    )
}
