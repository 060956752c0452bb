//! `POST /v1/signin`: sign-in with Google, Microsoft or Apple for API clients and apps, in the
//! seed's three steps (`sign_type`): `signin` (the provider's URL), `code` (the code it sent
//! back, for our tokens) and `id_token` (an ID token obtained in the browser).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::now_epoch;
use shared::domain::signin::{
    Claimant, Idp, apple_user_name, pkce_challenge, validate_code_challenge,
    validate_code_verifier, validate_redirect_uri,
};
use shared::http::{Ctx, json, json_body};
use shared::ports::Store;
use shared::usecases::auth::referrer_of;
use shared::usecases::signin::{Starter, begin, configured, finish, sign_in, verify_browser_token};
use shared::wire::{SigninRequest, SigninStarted};
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "signin");
    ctx.run(signin(deps, &ctx, &req)).await
}

/// A field the step needs, present and not blank, at most `max` bytes.
fn required<'a>(value: &'a Option<String>, param: &str, max: usize) -> Result<&'a str, ApiError> {
    let v = value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::missing(param))?;
    if v.len() > max {
        return Err(ApiError::invalid(
            param,
            format!("{param} is longer than {max} bytes"),
        ));
    }
    Ok(v)
}

/// Fields another step takes are refused by name rather than ignored.
fn only(body: &SigninRequest, step: &str, allowed: &[&str]) -> Result<(), ApiError> {
    let given = [
        ("redirect_uri", body.redirect_uri.is_some()),
        ("referral_code", body.referral_code.is_some()),
        ("code_challenge", body.code_challenge.is_some()),
        (
            "code_challenge_method",
            body.code_challenge_method.is_some(),
        ),
        ("code", body.code.is_some()),
        ("state", body.state.is_some()),
        ("code_verifier", body.code_verifier.is_some()),
        ("user", body.user.is_some()),
        ("id_token", body.id_token.is_some()),
        ("nonce", body.nonce.is_some()),
    ];
    match given
        .iter()
        .find(|(name, set)| *set && !allowed.contains(name))
    {
        Some((name, _)) => Err(ApiError::invalid(
            *name,
            format!("{name} is not used with sign_type {step}"),
        )),
        None => Ok(()),
    }
}

/// A refused take: the state is unknown, spent, expired, or was not started by this caller.
fn not_yours() -> ApiError {
    ApiError::Unauthorized {
        message: "this sign-in is unknown, expired or already used, or it was started by another \
                  session or with another code_challenge (a sign-in that links a provider must be \
                  started with the same Authorization header, and one started with a \
                  code_challenge needs its code_verifier); start the sign-in again"
            .into(),
        code: "invalid_state",
    }
}

async fn signin<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    ctx.throttle_address(deps).await?;
    let body: SigninRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let step = body
        .sign_type
        .clone()
        .ok_or_else(|| ApiError::missing("sign_type"))?;
    if !["signin", "code", "id_token"].contains(&step.as_str()) {
        return Err(ApiError::invalid(
            "sign_type",
            "sign_type must be signin, code or id_token",
        ));
    }
    let provider = configured(&deps.config, body.sign_to.as_deref(), "sign_to")?;
    // Linking an identity to an account needs that account signed in: never by email alone.
    // A session, not an API key: a leaked key must not link a sign-in that outlives it.
    let caller = match req.headers().contains_key("authorization") {
        true => Some(
            ctx.authenticate_session(deps, req, "link a sign-in provider")
                .await?
                .user_id,
        ),
        false => None,
    };
    let (identity, referral) = match step.as_str() {
        "signin" => {
            only(
                &body,
                &step,
                &[
                    "redirect_uri",
                    "referral_code",
                    "code_challenge",
                    "code_challenge_method",
                ],
            )?;
            let redirect_uri = validate_redirect_uri(body.redirect_uri.as_deref())?;
            let code_challenge = validate_code_challenge(
                body.code_challenge.as_deref(),
                body.code_challenge_method.as_deref(),
            )?;
            let referral = body.referral_code.clone().filter(|c| !c.trim().is_empty());
            referrer_of(deps, referral.as_deref()).await?;
            let starter = Starter::App {
                user: caller,
                code_challenge,
            };
            let (url, state) = begin(deps, provider, redirect_uri, referral, starter).await?;
            return json(StatusCode::OK, &SigninStarted { url, state });
        }
        "code" => {
            only(
                &body,
                &step,
                &["code", "state", "code_verifier", "redirect_uri", "user"],
            )?;
            let code = required(&body.code, "code", 4096)?;
            let state = required(&body.state, "state", 128)?;
            if body.user.is_some() && provider.idp != Idp::Apple {
                return Err(ApiError::invalid("user", "user is Apple's field only"));
            }
            let verifier = body.code_verifier.as_deref();
            if let Some(v) = verifier {
                validate_code_verifier(v)?;
            }
            let challenge = verifier.map(pkce_challenge);
            // Bound to no browser (a browser sign-in is finished by its callback only), to the
            // session that started it, and to the app's verifier: an attacker's code and
            // state, relayed to a victim's app, are not the victim's to take.
            let who = Claimant::App {
                user: caller.as_deref(),
                challenge: challenge.as_deref(),
            };
            let signin = deps
                .store
                .take_signin(state, provider.idp, now_epoch(), who)
                .await?
                .ok_or_else(not_yours)?;
            // RFC 6749 §4.1.3: when sent, it must be the one the code was issued for.
            if body
                .redirect_uri
                .as_deref()
                .is_some_and(|r| r != signin.redirect_uri)
            {
                return Err(ApiError::invalid(
                    "redirect_uri",
                    "redirect_uri is not the one this sign-in was started with",
                ));
            }
            let mut identity = finish(provider, &signin, code, verifier).await?;
            if let Some(name) = body.user.as_deref().and_then(apple_user_name) {
                identity.name.get_or_insert(name);
            }
            (identity, signin.referral_code)
        }
        _ => {
            only(&body, &step, &["id_token", "nonce", "referral_code"])?;
            let token = required(&body.id_token, "id_token", 16 * 1024)?;
            let nonce = match &body.nonce {
                Some(_) => Some(required(&body.nonce, "nonce", 256)?),
                // A token relayed to a signed-in app would link someone else's identity: only
                // a token issued for the app's own nonce links.
                None if caller.is_some() => {
                    return Err(ApiError::InvalidRequest {
                        message: "linking a provider with an ID token needs the nonce your app \
                                  set when it asked the provider for the token"
                            .into(),
                        param: Some("nonce".into()),
                        code: "missing_required_parameter",
                    });
                }
                None => None,
            };
            let referral = body.referral_code.clone().filter(|c| !c.trim().is_empty());
            referrer_of(deps, referral.as_deref()).await?;
            let identity = verify_browser_token(deps, provider, token, nonce).await?;
            (identity, referral)
        }
    };
    let tokens = sign_in(deps, identity, caller.as_deref(), referral.as_deref()).await?;
    json(StatusCode::OK, &tokens)
}
