//! `POST /v1/uploads/{id}/complete`: checks the uploaded object — it exists, it is not larger
//! than announced, its bytes are a supported image within the limits — and registers it as an
//! asset of kind `upload`. A refused object is deleted; completing twice returns the same asset.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::{new_id, now_epoch};
use shared::http::{Ctx, json, path_param};
use shared::imaging::{self, ImagingError};
use shared::ports::{AssetKind, Blobs, ImageRecord, Store};
use shared::service::{Processed, image_info, object_keys, store_asset};
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "complete-upload");
    ctx.run(complete(deps, &ctx, &req)).await
}

async fn complete<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req).await?;
    let id = path_param(req, "id")?;
    let upload = deps
        .store
        .upload(&who.user_id, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no upload with id '{id}'")))?;
    if let Some(asset_id) = &upload.asset_id {
        let record = deps
            .store
            .image(&who.user_id, asset_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("the asset of upload '{id}' was deleted")))?;
        return json(StatusCode::OK, &image_info(deps, &record).await?);
    }
    let size = deps
        .blobs
        .size(&upload.key)
        .await?
        .ok_or_else(|| ApiError::InvalidRequest {
            message: format!(
                "nothing was uploaded for '{id}': PUT the file to its upload_url first"
            ),
            param: Some("id".into()),
            code: "upload_missing",
        })?;
    let refuse = |e: ApiError| async {
        if let Err(d) = deps.blobs.delete(std::slice::from_ref(&upload.key)).await {
            tracing::error!(error = %d, "could not delete a refused upload");
        }
        Err(e)
    };
    if size > upload.declared_bytes {
        return refuse(ApiError::PayloadTooLarge(format!(
            "the uploaded object is {size} bytes, more than the {} announced",
            upload.declared_bytes
        )))
        .await;
    }
    let bytes = deps
        .blobs
        .get(&upload.key)
        .await?
        .ok_or_else(|| ApiError::invalid("id", "the uploaded object disappeared"))?;
    let checked = {
        let bytes = bytes.clone();
        tokio::task::spawn_blocking(move || -> Result<_, ImagingError> {
            let format = imaging::sniff_format(&bytes).ok_or(ImagingError::Unsupported)?;
            let rgba = imaging::decode(&bytes)?.into_rgba8();
            Ok((format, rgba.dimensions(), imaging::thumbnail(&rgba)?))
        })
        .await
        .map_err(ApiError::internal)?
    };
    let (format, (width, height), thumbnail) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            return refuse(ApiError::invalid(
                "id",
                format!("the uploaded file is refused: {e}"),
            ))
            .await;
        }
    };
    let asset_id = new_id("img");
    let (key, thumbnail_key) = object_keys(&who.user_id, &asset_id, format);
    let record = ImageRecord {
        id: asset_id.clone(),
        user_id: who.user_id.clone(),
        kind: AssetKind::Upload,
        prompt: None,
        revised_prompt: None,
        model: None,
        width,
        height,
        format: format.as_str().to_string(),
        bytes: bytes.len() as u64,
        key,
        thumbnail_key: Some(thumbnail_key),
        created_at: now_epoch(),
        parent_id: None,
        background: None,
        quality: None,
        title: None,
        tags: Vec::new(),
        version: 1,
    };
    let processed = Processed {
        bytes,
        thumbnail,
        width,
        height,
        revised_prompt: None,
    };
    let info = store_asset(deps, &record, &processed).await?;
    if !deps
        .store
        .complete_upload(&who.user_id, &id, &asset_id)
        .await?
    {
        // A concurrent complete won: keep its asset, drop ours.
        let keys: Vec<String> = std::iter::once(record.key.clone())
            .chain(record.thumbnail_key.clone())
            .collect();
        deps.blobs.delete(&keys).await?;
        deps.store.delete_image(&who.user_id, &asset_id).await?;
        return Err(ApiError::Conflict {
            message: format!("upload '{id}' was completed concurrently"),
            param: None,
        });
    }
    if let Err(e) = deps.blobs.delete(std::slice::from_ref(&upload.key)).await {
        tracing::warn!(error = %e, "temporary upload object left for the lifecycle rule");
    }
    tracing::info!(user_id = %who.user_id, upload_id = %id, asset_id = %asset_id, "upload registered");
    json(StatusCode::CREATED, &info)
}
