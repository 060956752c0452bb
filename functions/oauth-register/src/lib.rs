//! `POST /oauth/register`: dynamic client registration (RFC 7591) for MCP clients. Nothing is
//! stored: the client id is a signed statement of the client's name and redirect URIs.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::Deps;
use shared::domain::now_epoch;
use shared::http::{Ctx, oauth_answer, optional_json_body, public_origin};
use shared::ports::Store;
use shared::usecases::oauth::{OAuthError, RegisteredClient, RegistrationRequest, register};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "oauth-register");
    ctx.run(async {
        Ok(oauth_answer(
            StatusCode::CREATED,
            registered(deps, &ctx, &req).await,
        ))
    })
    .await
}

async fn registered<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<RegisteredClient, OAuthError> {
    ctx.throttle_address(deps).await?;
    let body: RegistrationRequest = optional_json_body(req, deps.config.limits.max_json_body_bytes)
        .map_err(|e| OAuthError {
            status: e.status().as_u16(),
            error: "invalid_client_metadata",
            error_description: e.to_string(),
        })?
        .unwrap_or_default();
    let client = register(
        &deps.config,
        &public_origin(&deps.config, req),
        body,
        now_epoch(),
    )
    .await?;
    tracing::info!(client = %client.client_name, "oauth client registered");
    Ok(client)
}
