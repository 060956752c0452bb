//! `GET|POST /v1/signin/{provider}/callback`: where the provider sends the browser back with
//! the code (Apple posts it: `response_mode=form_post`). The sign-in must be this browser's;
//! the refresh token is set as an HttpOnly cookie for the web pages, and the browser goes on
//! to where the sign-in started.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::domain::now_epoch;
use shared::domain::signin::{Claimant, apple_user_name};
use shared::http::{Ctx, cookie, refresh_cookie};
use shared::ports::Store;
use shared::usecases::auth::token_hash;
use shared::usecases::signin::{BINDING_COOKIE, finish, invalid_state, provider_in_path, sign_in};
use shared::{ApiError, Deps};
use std::collections::HashMap;

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "signin-callback");
    ctx.run(callback(deps, &ctx, &req)).await
}

/// The provider's parameters: the query of a GET, the form of a POST.
fn parameters(req: &Request, limit: usize) -> Result<HashMap<String, String>, ApiError> {
    let raw: &[u8] = if req.method() == Method::POST {
        let body: &[u8] = req.body().as_ref();
        if body.len() > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "the callback form is larger than {limit} bytes"
            )));
        }
        body
    } else {
        req.uri().query().unwrap_or("").as_bytes()
    };
    Ok(form_urlencoded::parse(raw).into_owned().collect())
}

fn another_browser() -> ApiError {
    ApiError::Unauthorized {
        message: "this sign-in is unknown, expired, already used or was started in another browser; start it again here".into(),
        code: "invalid_state",
    }
}

async fn callback<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    ctx.throttle_address(deps).await?;
    let provider = provider_in_path(&deps.config, &shared::http::path_param(req, "provider")?)?;
    let params = parameters(req, deps.config.limits.max_json_body_bytes)?;
    let state = params
        .get("state")
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .ok_or_else(invalid_state)?;
    // Bound to the browser that started it (checked by the take itself, so a state seen
    // elsewhere cannot be spent from there): nobody can sign a victim into an attacker's
    // account by sending them a callback link.
    let binding = cookie(req, BINDING_COOKIE)
        .map(token_hash)
        .ok_or_else(another_browser)?;
    let signin = deps
        .store
        .take_signin(
            state,
            provider.idp,
            now_epoch(),
            Claimant::Browser(&binding),
        )
        .await?
        .ok_or_else(another_browser)?;
    if let Some(error) = params.get("error") {
        return Err(ApiError::Unauthorized {
            message: format!(
                "{} did not sign you in ({}); start the sign-in again",
                provider.idp.as_str(),
                error.chars().take(64).collect::<String>()
            ),
            code: "signin_cancelled",
        });
    }
    let code = params
        .get("code")
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or_else(|| ApiError::missing("code"))?;
    let mut identity = finish(provider, &signin, code, None).await?;
    if let Some(name) = params.get("user").and_then(|u| apple_user_name(u)) {
        identity.name.get_or_insert(name);
    }
    let tokens = sign_in(deps, identity, None, signin.referral_code.as_deref()).await?;
    let return_to = signin.return_to.as_deref().unwrap_or("/");
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", return_to)
        .header(
            "set-cookie",
            refresh_cookie(
                tokens.refresh_token.as_deref().unwrap_or_default(),
                tokens.refresh_expires_in,
            ),
        )
        .header(
            "set-cookie",
            format!("{BINDING_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=None"),
        )
        .header("cache-control", "no-store")
        .body(Body::Empty)
        .map_err(ApiError::internal)
}
