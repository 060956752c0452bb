//! Dynamic client registration (RFC 7591), stateless: a client id is our signed statement of
//! the client's name and redirect URIs.

use super::{CLIENT_AUDIENCE, OAuthError, sign, verify};
use crate::domain::oauth::{self, MAX_CLIENT_NAME, MAX_REDIRECT_URIS, MAX_REDIRECT_URIS_BYTES};
use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// RFC 7591's request, the fields we act on; the others are ignored as the RFC allows.
#[derive(Debug, Default, Deserialize)]
pub struct RegistrationRequest {
    pub redirect_uris: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RegisteredClient {
    pub client_id: String,
    pub client_id_issued_at: i64,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// Always `none`: every client is public, proven by PKCE (a secret in a desktop app is no
    /// secret). RFC 7591 lets the server say so in place of what was asked.
    pub token_endpoint_auth_method: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct ClientClaims {
    iss: String,
    aud: String,
    iat: i64,
    name: String,
    uris: Vec<String>,
}

/// A registered client, as its id says.
#[derive(Debug, Clone)]
pub struct Client {
    pub name: String,
    pub redirect_uris: Vec<String>,
}

pub async fn register(
    config: &crate::Config,
    issuer: &str,
    body: RegistrationRequest,
    now: i64,
) -> Result<RegisteredClient, OAuthError> {
    let uris = body.redirect_uris.unwrap_or_default();
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            "invalid_redirect_uri",
            format!("redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs"),
        ));
    }
    for uri in &uris {
        oauth::check_redirect_uri(uri).map_err(|e| OAuthError::new("invalid_redirect_uri", e))?;
    }
    // They travel in the client id, which travels in every authorization request's URL.
    if uris.iter().map(String::len).sum::<usize>() > MAX_REDIRECT_URIS_BYTES {
        return Err(OAuthError::new(
            "invalid_redirect_uri",
            format!("redirect_uris may hold at most {MAX_REDIRECT_URIS_BYTES} characters together"),
        ));
    }
    if let Some(types) = &body.grant_types
        && !types.iter().any(|t| t == "authorization_code")
    {
        return Err(OAuthError::new(
            "invalid_client_metadata",
            "grant_types must include authorization_code, the only grant this server issues",
        ));
    }
    if let Some(types) = &body.response_types
        && types.iter().any(|t| t != "code")
    {
        return Err(OAuthError::new(
            "invalid_client_metadata",
            "response_types may only be [\"code\"]",
        ));
    }
    let name = body
        .client_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("MCP client");
    if name.chars().count() > MAX_CLIENT_NAME || name.chars().any(char::is_control) {
        return Err(OAuthError::new(
            "invalid_client_metadata",
            format!("client_name must be at most {MAX_CLIENT_NAME} printable characters"),
        ));
    }
    let claims = ClientClaims {
        iss: issuer.to_string(),
        aud: CLIENT_AUDIENCE.into(),
        iat: now,
        name: name.to_string(),
        uris: uris.clone(),
    };
    Ok(RegisteredClient {
        client_id: sign(config, &claims).await?,
        client_id_issued_at: now,
        client_name: name.to_string(),
        redirect_uris: uris,
        grant_types: vec!["authorization_code".into()],
        response_types: vec!["code".into()],
        token_endpoint_auth_method: "none".into(),
    })
}

/// The client a client id names, if it is one this server registered.
pub async fn client(
    config: &crate::Config,
    issuer: &str,
    client_id: &str,
) -> Result<Option<Client>, ApiError> {
    Ok(
        verify::<ClientClaims>(config, client_id, issuer, CLIENT_AUDIENCE, false)
            .await?
            .map(|c| Client {
                name: c.name,
                redirect_uris: c.uris,
            }),
    )
}
