//! `POST /v1/auth/refresh`: spends a refresh token for a new pair. A spent token presented
//! again means it leaked: the whole session is revoked. The token comes in the body, or (no
//! body) in the web pages' HttpOnly cookie, and then the next one goes back there; with
//! neither, a 204 (a visitor without a session).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Rotation;
use shared::domain::now_epoch;
use shared::http::{Ctx, REFRESH_COOKIE, cookie, optional_json_body, token_answer};
use shared::ports::Store;
use shared::usecases::auth::{new_refresh_token, token_hash, token_response};
use shared::wire::RefreshRequest;
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "refresh-token");
    ctx.run(refresh(deps, &ctx, &req)).await
}

async fn refresh<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    ctx.throttle_address(deps).await?;
    // In the body (apps), or without a body in the cookie the web pages' sign-in set.
    let body: Option<RefreshRequest> =
        optional_json_body(req, deps.config.limits.max_json_body_bytes)?;
    let (presented, in_cookie) = match body {
        Some(b) => (b.refresh_token, false),
        None => (
            cookie(req, REFRESH_COOKIE).unwrap_or_default().to_string(),
            true,
        ),
    };
    if presented.trim().is_empty() {
        // Blank in a body is the body's mistake. No body and no cookie: a visitor of the web
        // pages without a session, which is nothing to refresh rather than an error.
        return if in_cookie {
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header("cache-control", "no-store")
                .body(Body::Empty)
                .map_err(ApiError::internal)
        } else {
            Err(ApiError::missing("refresh_token"))
        };
    }
    let now = now_epoch();
    let next = new_refresh_token();
    let expires_at = now + deps.config.tokens.refresh_token_ttl.as_secs() as i64;
    let rotation = deps
        .store
        .rotate_refresh(&token_hash(&presented), &token_hash(&next), now, expires_at)
        .await?;
    match rotation {
        Rotation::Rotated(session) => {
            let user = deps.store.user(&session.user_id).await?;
            if user.is_some_and(|u| u.disabled_at.is_some()) {
                return Err(ApiError::account_disabled());
            }
            tracing::info!(user_id = %session.user_id, session_id = %session.id, "refresh token rotated");
            // The next token goes where this one came from.
            token_answer(
                token_response(&deps.config, &session, next, now).await?,
                in_cookie,
            )
        }
        Rotation::ReuseDetected => {
            tracing::warn!("refresh token reused: session revoked");
            Err(ApiError::Unauthorized {
                message:
                    "refresh token was already used; its session has been revoked, sign in again"
                        .into(),
                code: "refresh_token_reused",
            })
        }
        Rotation::Invalid => Err(ApiError::Unauthorized {
            message: "invalid, expired or revoked refresh token".into(),
            code: "invalid_refresh_token",
        }),
    }
}
