//! The token endpoint: a code and its PKCE verifier for an API key of the user, scoped as
//! they granted and bound to the MCP endpoint.

use super::codes::CodeClaims;
use super::{CODE_AUDIENCE, OAuthError, TOKEN_TTL_SECS, client, verify};
use crate::domain::accounts::ApiKeyRecord;
use crate::domain::key_policy::KeyPolicy;
use crate::domain::now_epoch;
use crate::domain::oauth;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::usecases::auth::{api_key_display_prefix, new_api_key, token_hash};
use serde::{Deserialize, Serialize};

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
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_client",
                "this client is not registered here; register it again",
            )
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
    // token it was spent for (OAuth 2.1 §4.1.3). The second presentation also leaves a mark
    // the first checks once its key exists, so whichever comes first, the key does not live.
    let key_id = format!("key_{}", &token_hash(&claims.jti)[..32]);
    let reused_mark = token_hash(&format!("reused:{}", claims.jti));
    if !deps
        .store
        .spend_once(&token_hash(&claims.jti), claims.exp)
        .await?
    {
        deps.store.spend_once(&reused_mark, claims.exp).await?;
        if deps.store.revoke_key(&claims.sub, &key_id).await? {
            tracing::warn!(user_id = %claims.sub, key_id = %key_id, "oauth code reused: its token revoked");
        }
        return Err(invalid(
            "the code was already used; the token it was spent for no longer works",
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
    if !deps.store.spend_once(&reused_mark, claims.exp).await? {
        deps.store.revoke_key(&record.user_id, &record.id).await?;
        return Err(invalid(
            "the code was presented twice at once; neither presentation gets a token",
        ));
    }
    tracing::info!(user_id = %user.id, key_id = %record.id, client = %client.name, "oauth token issued");
    Ok(TokenAnswer {
        access_token: key,
        token_type: "Bearer".into(),
        expires_in: TOKEN_TTL_SECS,
        scope: oauth::scope_string(&scopes),
    })
}
