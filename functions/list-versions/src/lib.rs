//! `GET /v1/images/{id}/versions`: every version of the asset's lineage, oldest first, with
//! fresh presigned URLs.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::library::versions;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "list-versions");
    ctx.run(respond(deps, &ctx, &req)).await
}

async fn respond<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryRead).await?;
    let id = path_param(req, "id")?;
    json(StatusCode::OK, &versions(deps, &who.user_id, &id).await?)
}
