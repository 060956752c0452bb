//! `POST /v1/webhooks/secret/rotate`: a new signing secret; the old one still signs for 24 h
//! (both signatures are sent). Needs a signed-in session, as key management does: a leaked API
//! key must not be able to cut its owner's receivers off.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::now_epoch;
use shared::http::{Ctx, json};
use shared::ports::Store;
use shared::usecases::webhooks;
use shared::wire::WebhookSecretResponse;
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "rotate-webhook-secret");
    ctx.run(respond(deps, &ctx, &req)).await
}

async fn respond<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx
        .authenticate_session(deps, req, "rotate the webhook secret")
        .await?;
    let now = now_epoch();
    let secrets = webhooks::rotate(deps, &who.user_id, now).await?;
    tracing::info!(user_id = %who.user_id, "webhook secret rotated");
    json(StatusCode::OK, &WebhookSecretResponse::of(&secrets, now))
}
