//! `DELETE /v1/videos/{id}`: deletes a finished video, its asset's files and its job.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::videos;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "delete-video");
    ctx.run(delete(deps, &ctx, &req)).await
}

async fn delete<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryWrite).await?;
    let id = path_param(req, "id")?;
    json(
        StatusCode::OK,
        &videos::delete(deps, &who.user_id, &id).await?,
    )
}
