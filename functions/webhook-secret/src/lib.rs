//! `GET /v1/webhooks/secret`: the caller's Standard Webhooks signing secret (`whsec_…`), made on
//! first use. An API key may read it: the servers that receive webhooks are where keys live.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::now_epoch;
use shared::http::{Ctx, json};
use shared::ports::Store;
use shared::usecases::webhooks;
use shared::wire::WebhookSecretResponse;
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "webhook-secret");
    ctx.run(respond(deps, &ctx, &req)).await
}

async fn respond<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Account).await?;
    let secrets = webhooks::secrets(deps, &who.user_id).await?;
    json(
        StatusCode::OK,
        &WebhookSecretResponse::of(&secrets, now_epoch()),
    )
}
