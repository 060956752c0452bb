//! `POST /v1/uploads/{id}/complete`: checks the uploaded object — it exists, it is not larger
//! than announced, its bytes are a supported image within the limits, the upload has not
//! expired — and registers it as an asset of kind `upload`. A refused object is deleted;
//! completing twice returns the same asset.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::uploads::complete;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "complete-upload");
    ctx.run(respond(deps, &ctx, &req)).await
}

async fn respond<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryWrite).await?;
    let id = path_param(req, "id")?;
    let (info, created) = complete(deps, &who, &id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    json(status, &info)
}
