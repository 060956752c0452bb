//! `GET /v1/videos/{id}/content`: a 302 to a short-lived presigned URL of a finished video's
//! MP4 (`variant=video`, the default), JPEG poster (`thumbnail`) or JPEG `spritesheet`.

use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::videos::Variant;
use shared::http::{Ctx, path_param, query_param, redirect, reject_unknown_query};
use shared::ports::{Blobs, Store};
use shared::usecases::videos;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "video-content");
    ctx.run(content(deps, &ctx, &req)).await
}

async fn content<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryRead).await?;
    reject_unknown_query(req, &["variant"])?;
    let id = path_param(req, "id")?;
    let variant = query_param(req, "variant").unwrap_or("video");
    let variant = Variant::parse(variant).ok_or_else(|| {
        ApiError::invalid("variant", "variant must be video, thumbnail or spritesheet")
    })?;
    let key = videos::content_key(deps, &who.user_id, &id, variant).await?;
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
