//! `POST /v1/images/generations` (alias `/v1/generate-image`): OpenAI's CreateImageRequest in,
//! ImagesResponse out. Credits are debited before the provider is called and refunded if it
//! fails; an `Idempotency-Key` replays the first answer without charging again.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::generation::CreateImageRequest;
use shared::http::idempotency_key;
use shared::http::{Ctx, json, json_body};
use shared::ports::{Blobs, Store};
use shared::usecases::generation::generate;
use shared::usecases::idempotency::{canonical_json, idempotent};
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "generate-image");
    ctx.run(generate_image(deps, &ctx, &req)).await
}

async fn generate_image<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req).await?;
    let body: CreateImageRequest = json_body(req, deps.config.max_json_body_bytes)?;
    let key = idempotency_key(req)?;
    let canonical = canonical_json(req.body().as_ref())?;
    let plan = body.plan(deps.providers.default_model(), |m| {
        deps.providers.serves(m.provider)
    })?;
    let response = idempotent(deps, &who, key.as_deref(), &canonical, |claim| {
        generate(deps, &who, plan, claim)
    })
    .await?;
    json(StatusCode::OK, &response)
}
