//! `POST /v1/auth/login`: username or email + password → access and refresh tokens.

use lambda_http::{Body, Request, Response};
use shared::domain::accounts::{LoginId, PASSWORD_MAX};
use shared::http::{Ctx, json_body, token_answer};
use shared::ports::Store;
use shared::usecases::auth::{start_session, verify_password};
use shared::wire::LoginRequest;
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "login");
    ctx.run(login(deps, &ctx, &req)).await
}

fn invalid_credentials() -> ApiError {
    // One message for unknown user and wrong password: nothing tells which accounts exist.
    ApiError::Unauthorized {
        message: "invalid username/email or password".into(),
        code: "invalid_credentials",
    }
}

async fn login<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let body: LoginRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let login = LoginId::from_fields(body.username.as_deref(), body.email.as_deref())?;
    let in_cookie = match body.refresh_token_in.as_deref() {
        None | Some("body") => false,
        Some("cookie") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "refresh_token_in",
                "refresh_token_in must be body or cookie",
            ));
        }
    };
    ctx.throttle_address(deps).await?;
    if body.password.is_empty() {
        return Err(ApiError::missing("password"));
    }
    if body.password.chars().count() > PASSWORD_MAX || !login.is_plausible() {
        return Err(invalid_credentials());
    }
    let user = deps.store.user_by_login(&login).await?;
    // Counted per account, however it is named (username or email); unknown names by name.
    let account = match (&user, &login) {
        (Some(u), _) => u.id.clone(),
        (None, LoginId::Username(n)) => format!("username:{n}"),
        (None, LoginId::Email(e)) => format!("email:{e}"),
    };
    ctx.check_sign_in(deps, &account).await?;
    // An account that only signs in with a provider has no password: it costs the same work.
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .filter(|h| !h.is_empty());
    let verified = verify_password(body.password, stored).await?;
    let Some(user) = user.filter(|_| verified) else {
        tracing::info!("sign-in refused");
        ctx.sign_in_failed(deps, &account).await;
        return Err(invalid_credentials());
    };
    // Told only to whoever knows the password.
    if user.disabled_at.is_some() {
        return Err(ApiError::account_disabled());
    }
    let tokens = start_session(deps, &user.id, user.role).await?;
    tracing::info!(user_id = %user.id, "signed in");
    token_answer(tokens, in_cookie)
}
