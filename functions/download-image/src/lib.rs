//! `GET /v1/images/{id}/content`: a 302 to a signed URL of the image, its 256-px thumbnail
//! (`?variant=thumbnail`) or its 1024-px preview (`?variant=preview`), the last two in the
//! format the client's `Accept` prefers (AVIF where it names it, else WebP).

use lambda_http::http::header::{ACCEPT, VARY};
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::assets::ImageRecord;
use shared::domain::delivery::negotiate;
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
    let who = ctx.authenticate(deps, req, Scope::LibraryRead).await?;
    reject_unknown_query(req, &["variant"])?;
    let id = path_param(req, "id")?;
    let variant = query_param(req, "variant").unwrap_or("original");
    if !matches!(variant, "original" | "thumbnail" | "preview") {
        return Err(ApiError::invalid(
            "variant",
            "variant must be original, thumbnail or preview",
        ));
    }
    let record = owned_image(deps, &who.user_id, &id).await?;
    let accept = req.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    let key = match variant {
        "original" => record.key.clone(),
        size => chosen(&record, size, accept)
            .ok_or_else(|| ApiError::NotFound(format!("image '{id}' has no {size}")))?,
    };
    let signing = deps.config.delivery.urls.at(shared::domain::now_epoch());
    let mut response = redirect(&deps.blobs.presign_get(&key, signing).await?)?;
    if variant != "original" {
        response
            .headers_mut()
            .insert(VARY, lambda_http::http::HeaderValue::from_static("Accept"));
    }
    Ok(response)
}

/// The key of the `size` variant in the format the client prefers among those made; a preview
/// not made yet is the original, a thumbnail not made in AVIF yet is the WebP one.
fn chosen(record: &ImageRecord, size: &str, accept: Option<&str>) -> Option<String> {
    let made: Vec<(&str, String)> = ["avif", "webp"]
        .into_iter()
        .filter_map(|format| record.variant(size, format).map(|k| (format, k)))
        .collect();
    let formats: Vec<&str> = made.iter().map(|(f, _)| *f).collect();
    match negotiate(accept, &formats) {
        Some(format) => made.into_iter().find(|(f, _)| *f == format).map(|(_, k)| k),
        None if size == "preview" => Some(record.key.clone()),
        None => None,
    }
}
