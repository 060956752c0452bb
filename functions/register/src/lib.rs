//! `POST /v1/auth/register`: creates an account.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::{validate_email, validate_password, validate_username};
use shared::http::{Ctx, json, json_body};
use shared::ports::Store;
use shared::usecases::auth::{hash_password, new_user};
use shared::wire::{RegisterRequest, UserResponse};
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "register");
    ctx.run(register(deps, &ctx, &req)).await
}

async fn register<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    ctx.throttle_address(deps).await?;
    let body: RegisterRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let username = validate_username(&body.username)?;
    let email = validate_email(&body.email)?;
    validate_password(&body.password)?;
    let user = new_user(
        deps,
        username,
        email,
        hash_password(body.password).await?,
        None,
        body.referral_code.as_deref(),
    )
    .await?;
    // One transaction writes the user and its username/email guards: a race has one winner.
    deps.store
        .create_user(&user)
        .await?
        .map_err(|taken| taken.conflict())?;
    tracing::info!(user_id = %user.id, role = user.role.as_str(), "account created");
    json(
        StatusCode::CREATED,
        &UserResponse::of(&user, deps.config.limits.storage_quota_bytes),
    )
}
