//! `POST /v1/images/{id}/transform`: deterministic operations applied in order (resize, crop,
//! rotate, flip/flop, grayscale, blur, sharpen, brightness, contrast, saturation, hue, gamma,
//! white-to-transparent), producing a new asset linked to its source. Costs no credits.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, json_body, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::transforms::transform;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "transform-image");
    ctx.run(respond(deps, &ctx, &req)).await
}

async fn respond<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Generate).await?;
    let id = path_param(req, "id")?;
    let body: serde_json::Value = json_body(req, deps.config.limits.max_json_body_bytes)?;
    json(
        StatusCode::CREATED,
        &transform(deps, &who, &id, &body).await?,
    )
}
