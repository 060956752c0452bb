//! `POST /v1/signout` (alias `/v1/auth/logout`): revokes the caller's session, so its access
//! token and every refresh token of the family fail at once on every endpoint.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Credential;
use shared::domain::accounts::Scope;
use shared::http::{Ctx, cleared_refresh_cookie, json, optional_json_body};
use shared::ports::Store;
use shared::usecases::auth::token_hash;
use shared::wire::{SignoutRequest, SignoutResponse};
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "signout");
    ctx.run(signout(deps, &ctx, &req)).await
}

async fn signout<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Account).await?;
    let body: SignoutRequest =
        optional_json_body(req, deps.config.limits.max_json_body_bytes)?.unwrap_or_default();
    let mut sessions = Vec::new();
    if let Credential::Session { session_id } = &who.credential {
        sessions.push(session_id.clone());
    }
    if let Some(token) = body.refresh_token.as_deref().filter(|t| !t.is_empty()) {
        // Only the caller's own sessions; an unknown token reveals nothing and changes nothing.
        let owner = deps.store.refresh_session(&token_hash(token)).await?;
        if let Some(s) = owner.filter(|s| s.user_id == who.user_id) {
            sessions.push(s.id);
        }
    }
    if sessions.is_empty() {
        return Err(ApiError::InvalidRequest {
            message: "nothing to sign out: an API key has no session (revoke it with DELETE /v1/api-keys/{id}) \
                      unless you also send the session's refresh_token"
                .into(),
            param: Some("refresh_token".into()),
            code: "no_session",
        });
    }
    sessions.sort();
    sessions.dedup();
    for id in &sessions {
        deps.store.revoke_session(id).await?;
    }
    tracing::info!(user_id = %who.user_id, sessions = sessions.len(), "signed out");
    // The web pages' refresh cookie goes too (its session is the caller's, revoked above).
    let mut resp = json(StatusCode::OK, &SignoutResponse { signed_out: true })?;
    resp.headers_mut().insert(
        "set-cookie",
        cleared_refresh_cookie()
            .parse()
            .map_err(ApiError::internal)?,
    );
    Ok(resp)
}
