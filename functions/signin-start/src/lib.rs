//! `GET /v1/signin/{provider}`: the web pages' sign-in: a 302 to the provider, with the
//! sign-in kept server-side and bound to this browser by a cookie.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::signin::{SIGNIN_TTL_SECONDS, validate_return_to};
use shared::http::{Ctx, public_origin, query_param, reject_unknown_query};
use shared::ports::Store;
use shared::usecases::auth::referrer_of;
use shared::usecases::signin::{
    BINDING_COOKIE, Starter, begin, provider_in_path, random_url_token,
};
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "signin-start");
    ctx.run(start(deps, &ctx, &req)).await
}

async fn start<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    ctx.throttle_address(deps).await?;
    let provider = provider_in_path(&deps.config, &shared::http::path_param(req, "provider")?)?;
    reject_unknown_query(req, &["return_to", "referral_code"])?;
    let return_to = validate_return_to(query_param(req, "return_to"))?;
    let referral = query_param(req, "referral_code")
        .map(str::to_string)
        .filter(|c| !c.trim().is_empty());
    referrer_of(deps, referral.as_deref()).await?;
    let callback = format!(
        "{}/v1/signin/{}/callback",
        public_origin(&deps.config, req),
        provider.idp.as_str()
    );
    let binding = random_url_token(32);
    let starter = Starter::Browser {
        return_to,
        binding: binding.clone(),
    };
    let (url, _) = begin(deps, provider, callback, referral, starter).await?;
    // SameSite=None: Apple comes back with a cross-site POST, which must still carry it.
    let cookie = format!(
        "{BINDING_COOKIE}={binding}; Path=/; Max-Age={SIGNIN_TTL_SECONDS}; HttpOnly; Secure; SameSite=None"
    );
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", url)
        .header("set-cookie", cookie)
        .header("cache-control", "no-store")
        .body(Body::Empty)
        .map_err(ApiError::internal)
}
