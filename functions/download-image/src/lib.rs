//! `GET /v1/images/{id}/content`: a 302 to a short-lived presigned URL of the image
//! (`?variant=thumbnail` for the 256-px preview).

use lambda_http::{Body, Request, Response};
use shared::http::{Ctx, path_param, query_param, redirect, reject_unknown_query};
use shared::ports::{Blobs, Store};
use shared::usecases::library::owned_image;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "download-image");
    ctx.run(download(deps, &ctx, &req)).await
}

async fn download<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req).await?;
    reject_unknown_query(req, &["variant"])?;
    let id = path_param(req, "id")?;
    let record = owned_image(deps, &who.user_id, &id).await?;
    let key = match query_param(req, "variant").unwrap_or("original") {
        "original" => record.key,
        "thumbnail" => record
            .thumbnail_key
            .ok_or_else(|| ApiError::NotFound(format!("image '{id}' has no thumbnail")))?,
        _ => {
            return Err(ApiError::invalid(
                "variant",
                "variant must be original or thumbnail",
            ));
        }
    };
    redirect(
        &deps
            .blobs
            .presign_get(
                &key,
                deps.config.delivery.urls.at(shared::domain::now_epoch()),
            )
            .await?,
    )
}
