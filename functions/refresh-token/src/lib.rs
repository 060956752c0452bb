//! `POST /v1/auth/refresh`: spends a refresh token for a new pair. A spent token presented
//! again means it leaked: the whole session is revoked.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Rotation;
use shared::domain::now_epoch;
use shared::http::wire::RefreshRequest;
use shared::http::{Ctx, json, json_body};
use shared::ports::Store;
use shared::usecases::auth::{new_refresh_token, token_hash, token_response};
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
    let body: RefreshRequest = json_body(req, deps.config.max_json_body_bytes)?;
    if body.refresh_token.trim().is_empty() {
        return Err(ApiError::missing("refresh_token"));
    }
    let now = now_epoch();
    let next = new_refresh_token();
    let expires_at = now + deps.config.refresh_token_ttl.as_secs() as i64;
    let rotation = deps
        .store
        .rotate_refresh(
            &token_hash(&body.refresh_token),
            &token_hash(&next),
            now,
            expires_at,
        )
        .await?;
    match rotation {
        Rotation::Rotated(session) => {
            let user = deps.store.user(&session.user_id).await?;
            if user.is_some_and(|u| u.disabled_at.is_some()) {
                return Err(ApiError::account_disabled());
            }
            tracing::info!(user_id = %session.user_id, session_id = %session.id, "refresh token rotated");
            json(
                StatusCode::OK,
                &token_response(&deps.config, &session, next, now).await?,
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
