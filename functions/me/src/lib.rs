//! `GET /v1/me`: the caller's profile, role and credits.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json};
use shared::ports::Store;
use shared::wire::UserResponse;
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "me");
    ctx.run(me(deps, &ctx, &req)).await
}

async fn me<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Account).await?;
    let user = deps
        .store
        .user(&who.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    json(
        StatusCode::OK,
        &UserResponse::of(&user, deps.config.limits.storage_quota_bytes),
    )
}
