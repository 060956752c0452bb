//! `POST /v1/jobs/{id}/cancel`: a queued job is canceled at once and refunded; a processing
//! job stops at its worker's next checkpoint (then refunded); a finished job is a 409.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::jobs;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "cancel-job");
    ctx.run(cancel(deps, &ctx, &req)).await
}

async fn cancel<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Jobs).await?;
    let id = path_param(req, "id")?;
    let job = jobs::cancel(deps, &who.user_id, &id).await?;
    json(StatusCode::OK, &jobs::view(deps, &job).await?)
}
