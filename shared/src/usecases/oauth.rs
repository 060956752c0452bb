//! OAuth 2.1 for MCP clients, as MCP's authorization spec asks of a remote server. Registration
//! (RFC 7591) stores nothing: a client id is our signed statement of the client's name and
//! redirect URIs. The code is signed too, and spent once. The token is an API key of the user,
//! scoped as they consented, bound to the MCP endpoint (RFC 8707) and named after the client:
//! the account page lists and revokes it with the other keys, and the ledger names it.

use crate::domain::accounts::{ApiKeyRecord, Principal};
use crate::domain::key_policy::{KeyPolicy, Scope};
use crate::domain::now_epoch;
use crate::domain::oauth::{self, MAX_CLIENT_NAME, MAX_REDIRECT_URIS};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::usecases::auth::{JWT_ALGORITHM, api_key_display_prefix, new_api_key, token_hash};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Where the MCP endpoint is, under the API's origin.
pub const MCP_PATH: &str = "/mcp";
/// How long a code waits for its exchange.
pub const CODE_TTL_SECS: i64 = 300;
/// How long a token works; the client signs in again after (a person can revoke it sooner).
pub const TOKEN_TTL_SECS: i64 = 90 * 24 * 3600;
const CLIENT_AUDIENCE: &str = "oauth-client";
const CODE_AUDIENCE: &str = "oauth-code";

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
    fn new(error: &'static str, description: impl Into<String>) -> Self {
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
        Self {
            status,
            error: if status == 429 {
                "slow_down"
            } else {
                "server_error"
            },
            error_description: e.to_string(),
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

async fn sign<T: Serialize>(deps_config: &crate::Config, claims: &T) -> Result<String, ApiError> {
    jsonwebtoken::encode(
        &Header::new(JWT_ALGORITHM),
        claims,
        &EncodingKey::from_secret(deps_config.tokens.jwt_secret.get().await?),
    )
    .map_err(ApiError::internal)
}

/// The claims of one of our signed statements, if `token` is one for `audience` from `issuer`.
async fn verify<T: DeserializeOwned>(
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

// ---- registration -----------------------------------------------------------------------------

/// RFC 7591's request, the fields we act on; the others are ignored as the RFC allows.
#[derive(Debug, Default, Deserialize)]
pub struct RegistrationRequest {
    pub redirect_uris: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub scope: Option<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
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
    let scope = match body.scope.as_deref() {
        Some(s) => Some(oauth::scope_string(
            &oauth::parse_scopes(Some(s))
                .map_err(|e| OAuthError::new("invalid_client_metadata", e))?,
        )),
        None => None,
    };
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
        scope,
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

// ---- authorization (the consent page's call) ----------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Check the request and say what the client asks for, deciding nothing.
    #[default]
    Preview,
    Allow,
    Deny,
}

/// The authorization request's parameters as the client sent them (the query of
/// `/app/authorize`), and the person's decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_type: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
    #[serde(default)]
    pub decision: Decision,
    /// The scopes the person grants, space-separated: those asked for (the default), or fewer.
    pub grant: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ConsentScope {
    pub scope: Scope,
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuthorizeAnswer {
    pub client_name: String,
    /// Where the person will be sent back: the redirect URI's origin.
    pub redirect_origin: String,
    pub scopes: Vec<ConsentScope>,
    pub resource: String,
    /// Where to send the browser now: with a code, or with an error for the client. Absent on
    /// a preview of a valid request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_to: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CodeClaims {
    iss: String,
    aud: String,
    sub: String,
    /// The client id's hash (ids are long).
    cid: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    resource: String,
    jti: String,
    exp: i64,
}

fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(redirect_uri).expect("a checked redirect URI");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
    }
    url.to_string()
}

/// Checks an authorization request for the signed-in `who`, and with their decision makes the
/// code (or the refusal) the client gets. An unknown client or redirect URI is a 400 shown to
/// the person: nothing may be sent to a URI the client did not register. Every other mistake
/// goes back to the client, as RFC 6749 §4.1.2.1 says.
pub async fn authorize(
    config: &crate::Config,
    issuer: &str,
    who: &Principal,
    req: AuthorizeRequest,
    now: i64,
) -> Result<AuthorizeAnswer, ApiError> {
    let client_id = req.client_id.as_str();
    let client = client(config, issuer, client_id).await?.ok_or_else(|| {
        ApiError::invalid(
            "client_id",
            "this client is not registered here; the MCP client must register again (POST /oauth/register)",
        )
    })?;
    let redirect_uri = req.redirect_uri.as_str();
    if !oauth::redirect_matches(&client.redirect_uris, redirect_uri) {
        return Err(ApiError::invalid(
            "redirect_uri",
            "redirect_uri is not one this client registered",
        ));
    }
    let resource = resource_of(issuer);
    let origin = url::Url::parse(redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let state = req.state.clone();
    let back = |first: (&str, &str), second: Option<(&str, &str)>| {
        let mut params = vec![first];
        params.extend(second);
        if let Some(s) = state.as_deref() {
            params.push(("state", s));
        }
        params.push(("iss", issuer));
        redirect_with(redirect_uri, &params)
    };
    let refusal = |error: &str, description: &str| {
        back(("error", error), Some(("error_description", description)))
    };
    let mut answer = AuthorizeAnswer {
        client_name: client.name.clone(),
        redirect_origin: if origin == "null" {
            redirect_uri.split(':').next().unwrap_or("").to_string() + ":"
        } else {
            origin
        },
        scopes: Vec::new(),
        resource: resource.clone(),
        redirect_to: None,
    };
    let problem = if req.response_type.as_deref() != Some("code") {
        Some(("unsupported_response_type", "response_type must be code"))
    } else if req.code_challenge_method.as_deref() != Some("S256") {
        Some((
            "invalid_request",
            "PKCE is required: code_challenge_method must be S256",
        ))
    } else if !req
        .code_challenge
        .as_deref()
        .is_some_and(oauth::challenge_is_well_formed)
    {
        Some((
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        ))
    } else if req.resource.as_deref().is_some_and(|r| r != resource) {
        Some((
            "invalid_target",
            "resource must be this server's MCP endpoint",
        ))
    } else {
        None
    };
    if let Some((error, description)) = problem {
        answer.redirect_to = Some(refusal(error, description));
        return Ok(answer);
    }
    let scopes = match oauth::parse_scopes(req.scope.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            answer.redirect_to = Some(refusal("invalid_scope", &e));
            return Ok(answer);
        }
    };
    answer.scopes = scopes
        .iter()
        .map(|&scope| ConsentScope {
            scope,
            description: oauth::describe(scope).into(),
        })
        .collect();
    let granted = match req.grant.as_deref() {
        None => scopes.clone(),
        Some(g) if g.trim().is_empty() => {
            return Err(ApiError::invalid(
                "grant",
                "grant must name at least one scope; to grant none, deny",
            ));
        }
        Some(g) => {
            let granted =
                oauth::parse_scopes(Some(g)).map_err(|e| ApiError::invalid("grant", e))?;
            if let Some(extra) = granted.iter().find(|s| !scopes.contains(s)) {
                return Err(ApiError::invalid(
                    "grant",
                    format!(
                        "'{}' was not asked for; grant only some of: {}",
                        extra.as_str(),
                        oauth::scope_string(&scopes)
                    ),
                ));
            }
            granted
        }
    };
    match req.decision {
        Decision::Preview => {}
        Decision::Deny => {
            answer.redirect_to = Some(refusal("access_denied", "the user declined"));
        }
        Decision::Allow => {
            let claims = CodeClaims {
                iss: issuer.to_string(),
                aud: CODE_AUDIENCE.into(),
                sub: who.user_id.clone(),
                cid: token_hash(client_id),
                redirect_uri: redirect_uri.to_string(),
                challenge: req.code_challenge.unwrap_or_default(),
                scope: oauth::scope_string(&granted),
                resource,
                jti: uuid::Uuid::new_v4().simple().to_string(),
                exp: now + CODE_TTL_SECS,
            };
            let code = sign(config, &claims).await?;
            answer.redirect_to = Some(back(("code", &code), None));
        }
    }
    Ok(answer)
}

// ---- token --------------------------------------------------------------------------------------

/// The token request's form fields.
#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub code_verifier: Option<String>,
    pub resource: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
}

/// Spends a code for a token: the code must be ours, unexpired, unspent, the same client's,
/// for the same redirect URI and resource, and its PKCE verifier must match.
pub async fn exchange<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    issuer: &str,
    form: TokenRequest,
) -> Result<TokenAnswer, OAuthError> {
    let now = now_epoch();
    match form.grant_type.as_deref() {
        Some("authorization_code") => {}
        Some(other) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!(
                    "grant_type '{}' is not issued here; use authorization_code (a token lasts {} days, then the client signs in again)",
                    other.chars().take(40).collect::<String>(),
                    TOKEN_TTL_SECS / 86400
                ),
            ));
        }
        None => return Err(OAuthError::new("invalid_request", "grant_type is required")),
    }
    let need = |v: Option<String>, name: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or_else(|| OAuthError::new("invalid_request", format!("{name} is required")))
    };
    let code = need(form.code, "code")?;
    let client_id = need(form.client_id, "client_id")?;
    let verifier = need(form.code_verifier, "code_verifier")?;
    let redirect_uri = need(form.redirect_uri, "redirect_uri")?;
    let invalid = |why: &str| OAuthError::new("invalid_grant", why.to_string());
    let client = client(&deps.config, issuer, &client_id)
        .await?
        .ok_or_else(|| OAuthError {
            status: 401,
            ..OAuthError::new("invalid_client", "this client is not registered here")
        })?;
    let claims: CodeClaims = verify(&deps.config, &code, issuer, CODE_AUDIENCE, true)
        .await?
        .ok_or_else(|| invalid("the code is not valid here, or it expired"))?;
    if claims.cid != token_hash(&client_id) {
        return Err(invalid("the code was issued to another client"));
    }
    if claims.redirect_uri != redirect_uri {
        return Err(invalid(
            "redirect_uri differs from the authorization request's",
        ));
    }
    if form
        .resource
        .as_deref()
        .is_some_and(|r| r != claims.resource)
    {
        return Err(OAuthError::new(
            "invalid_target",
            "resource differs from the authorization request's",
        ));
    }
    if !oauth::pkce_matches(&verifier, &claims.challenge) {
        return Err(invalid("code_verifier does not match the code_challenge"));
    }
    // The key's id follows from the code: a code presented again (it leaked) revokes the
    // token it was spent for (OAuth 2.1 §4.1.3).
    let key_id = format!("key_{}", &token_hash(&claims.jti)[..32]);
    if !deps
        .store
        .spend_once(&token_hash(&claims.jti), claims.exp)
        .await?
    {
        if deps.store.revoke_key(&claims.sub, &key_id).await? {
            tracing::warn!(user_id = %claims.sub, key_id = %key_id, "oauth code reused: its token revoked");
        }
        return Err(invalid(
            "the code was already used; the token it gave was revoked",
        ));
    }
    let user = deps
        .store
        .user(&claims.sub)
        .await?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(|| invalid("the account is disabled or gone"))?;
    let scopes = oauth::parse_scopes(Some(&claims.scope)).map_err(|e| invalid(&e))?;
    let key = new_api_key();
    let name: String = format!("{} (MCP)", client.name)
        .chars()
        .take(crate::domain::accounts::API_KEY_NAME_MAX)
        .collect();
    let record = ApiKeyRecord {
        id: key_id,
        user_id: user.id.clone(),
        role: user.role,
        name,
        prefix: api_key_display_prefix(&key),
        hash: token_hash(&key),
        created_at: now,
        last_used_at: None,
        policy: KeyPolicy {
            scopes: Some(scopes.clone()),
            expires_at: Some(now + TOKEN_TTL_SECS),
            resource: Some(claims.resource.clone()),
            ..KeyPolicy::default()
        },
        version: 0,
        spent_day: 0,
        spent_month: 0,
    };
    deps.store.create_key(&record).await?;
    tracing::info!(user_id = %user.id, key_id = %record.id, client = %client.name, "oauth token issued");
    Ok(TokenAnswer {
        access_token: key,
        token_type: "Bearer".into(),
        expires_in: TOKEN_TTL_SECS,
        scope: oauth::scope_string(&scopes),
    })
}
