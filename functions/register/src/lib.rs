//! `POST /v1/auth/register`: creates an account.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::{CreditBalance, UserRecord};
use shared::domain::accounts::{Role, validate_email, validate_password, validate_username};
use shared::domain::{new_id, now_epoch};
use shared::http::wire::{RegisterRequest, UserResponse};
use shared::http::{Ctx, json, json_body};
use shared::ports::Store;
use shared::usecases::auth::{hash_password, new_referral_code};
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
    let body: RegisterRequest = json_body(req, deps.config.max_json_body_bytes)?;
    let username = validate_username(&body.username)?;
    let email = validate_email(&body.email)?;
    validate_password(&body.password)?;
    let referral = body
        .referral_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let unknown = || {
        ApiError::invalid(
            "referral_code",
            "no referral code like this one; check it, or register without it",
        )
    };
    let referred_by = match referral {
        // Codes are short: a long one is unknown without asking the store.
        Some(code) if !shared::domain::plausible_id(code) => return Err(unknown()),
        Some(code) => Some(
            deps.store
                .referrer(&code.to_uppercase())
                .await?
                .ok_or_else(unknown)?,
        ),
        None => None,
    };
    let bonus = if referred_by.is_some() {
        deps.config.referral_signup_credits
    } else {
        0
    };
    let user = UserRecord {
        id: new_id("user"),
        role: Role::for_new_user(&username, &deps.config.admin_usernames),
        username,
        email,
        password_hash: hash_password(body.password).await?,
        created_at: now_epoch(),
        referral_code: new_referral_code(),
        credits: CreditBalance {
            // A referred user earns a bonus at once; its referrer earns later (see referrals).
            available: deps.config.signup_credits + bonus,
            earned: bonus,
            spent: 0,
        },
        referred_by,
        referral_rewarded_at: None,
        disabled_at: None,
    };
    // One transaction writes the user and its username/email guards: a race has one winner.
    deps.store
        .create_user(&user)
        .await?
        .map_err(|taken| taken.conflict())?;
    tracing::info!(user_id = %user.id, role = user.role.as_str(), "account created");
    json(StatusCode::CREATED, &UserResponse::from(&user))
}
