//! `DELETE /v1/images/{id}`: removes the objects, then the metadata. A second delete is 404.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::http::wire::Deleted;
use shared::http::{Ctx, json, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::library::owned_image;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "delete-image");
    ctx.run(delete(deps, &ctx, &req)).await
}

async fn delete<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req).await?;
    let id = path_param(req, "id")?;
    let record = owned_image(deps, &who.user_id, &id).await?;
    // Objects first: if this fails the metadata still points at them and a retry finishes the job;
    // the other order could leave objects no record refers to.
    let keys: Vec<String> = std::iter::once(record.key.clone())
        .chain(record.thumbnail_key.clone())
        .collect();
    deps.blobs.delete(&keys).await?;
    if !deps.store.delete_image(&who.user_id, &id).await? {
        return Err(ApiError::NotFound(format!("no image with id '{id}'")));
    }
    tracing::info!(user_id = %who.user_id, image_id = %id, "image deleted");
    json(
        StatusCode::OK,
        &Deleted {
            id,
            object: "image".into(),
            deleted: true,
        },
    )
}
