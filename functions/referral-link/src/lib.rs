//! `GET /v1/referral-link`: the caller's referral code, the link to share, and what it earns.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, public_origin};
use shared::ports::Store;
use shared::wire::ReferralLink;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "referral-link");
    ctx.run(link(deps, &ctx, &req)).await
}

async fn link<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Account).await?;
    let user = deps
        .store
        .user(&who.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    let base = public_origin(&deps.config, req);
    json(
        StatusCode::OK,
        &ReferralLink {
            url: format!("{base}/?ref={}", user.referral_code),
            code: user.referral_code,
            signup_credits: deps.config.accounts.referral_signup_credits,
            referrer_credits: deps.config.accounts.referrer_credits,
            monthly_cap: deps.config.accounts.referrer_monthly_cap,
        },
    )
}
