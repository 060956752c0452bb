//! `GET /v1/jobs/{id}`: one of the caller's jobs; another user's job is not found.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::jobs;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "get-job");
    ctx.run(get(deps, &ctx, &req)).await
}

async fn get<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Jobs).await?;
    let id = path_param(req, "id")?;
    let job = jobs::get(deps, &who.user_id, &id).await?;
    json(StatusCode::OK, &jobs::view(deps, &job).await?)
}
