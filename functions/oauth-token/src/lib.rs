//! `POST /oauth/token`: spends an authorization code (with its PKCE verifier) for a token: an
//! API key of the user, scoped as they consented and bound to the MCP endpoint.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::Deps;
use shared::http::{Ctx, oauth_answer, public_origin};
use shared::ports::{Blobs, Store};
use shared::usecases::oauth::{OAuthError, TokenAnswer, TokenRequest, exchange};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "oauth-token");
    ctx.run(async { Ok(oauth_answer(StatusCode::OK, token(deps, &ctx, &req).await)) })
        .await
}

async fn token<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<TokenAnswer, OAuthError> {
    ctx.throttle_address(deps).await?;
    let form_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body: &[u8] = req.body().as_ref();
    if !form_type || body.len() > deps.config.limits.max_json_body_bytes {
        return Err(OAuthError {
            status: 400,
            error: "invalid_request",
            error_description:
                "send the token request as application/x-www-form-urlencoded (RFC 6749 §4.1.3)"
                    .into(),
        });
    }
    let mut form = TokenRequest::default();
    for (k, v) in form_urlencoded::parse(body) {
        let v = Some(v.into_owned());
        match k.as_ref() {
            "grant_type" => form.grant_type = v,
            "code" => form.code = v,
            "redirect_uri" => form.redirect_uri = v,
            "client_id" => form.client_id = v,
            "code_verifier" => form.code_verifier = v,
            "resource" => form.resource = v,
            _ => {}
        }
    }
    exchange(deps, &public_origin(&deps.config, req), form).await
}
