//! The authorization request, as the consent page sends it for a signed-in person: checked,
//! and with their decision, the code (signed, spent once) or the refusal the client gets.

use super::{CODE_AUDIENCE, CODE_TTL_SECS, client, resource_of, sign};
use crate::domain::accounts::Principal;
use crate::domain::key_policy::Scope;
use crate::domain::oauth;
use crate::error::ApiError;
use crate::usecases::auth::token_hash;
use serde::{Deserialize, Serialize};

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
pub(super) struct CodeClaims {
    pub(super) iss: String,
    pub(super) aud: String,
    pub(super) sub: String,
    /// The client id's hash (ids are long).
    pub(super) cid: String,
    pub(super) redirect_uri: String,
    pub(super) challenge: String,
    pub(super) scope: String,
    pub(super) resource: String,
    pub(super) jti: String,
    pub(super) exp: i64,
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
            "this client is not registered here (or was, before the server's signing secret changed): connect it again from the app, which registers it anew",
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
    let scopes = match oauth::requested_scopes(req.scope.as_deref()) {
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
