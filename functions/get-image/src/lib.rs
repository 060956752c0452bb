//! `GET /v1/images/{id}`: one asset's metadata with fresh presigned URLs.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::library::image_info;
use shared::usecases::library::owned_image;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "get-image");
    ctx.run(get(deps, &ctx, &req)).await
}

async fn get<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryRead).await?;
    let id = path_param(req, "id")?;
    // Keys include the owner: another user's id is simply not found.
    let record = owned_image(deps, &who.user_id, &id).await?;
    json(StatusCode::OK, &image_info(deps, &record).await?)
}
