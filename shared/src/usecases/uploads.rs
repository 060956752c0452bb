//! Completing a presigned upload: the object must exist, be no larger than announced, be a
//! supported image within the limits and arrive before the upload expires; it then becomes an
//! asset of kind `upload`. A refused object is deleted. Completing twice (or a retry after a
//! killed Lambda) gives the same asset: the asset and the upload's completion are one write.

use crate::domain::accounts::Principal;
use crate::domain::assets::{AssetKind, ImageRecord, Lineage, OutputFormat};
use crate::domain::now_epoch;
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::usecases::library::{Processed, image_info, shown, store_asset};
use crate::wire::ImageInfo;
use imaging::ImagingError;

/// The asset, and whether this call created it (`false`: it was completed before).
// Long: each check of the object (exists, size, type, pixels) removes it when it fails.
pub async fn complete<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    id: &str,
) -> Result<(ImageInfo, bool), ApiError> {
    let not_found = || ApiError::NotFound(format!("no upload with id '{}'", shown(id)));
    if !crate::domain::plausible_id(id) {
        return Err(not_found());
    }
    let upload = deps
        .store
        .upload(&who.user_id, id)
        .await?
        .ok_or_else(not_found)?;
    if let Some(asset_id) = &upload.asset_id {
        return Ok((completed_asset(deps, who, id, asset_id).await?, false));
    }
    let refuse = |e: ApiError| async {
        if let Err(d) = deps.blobs.delete(std::slice::from_ref(&upload.key)).await {
            tracing::error!(error = %d, "could not delete a refused upload");
        }
        Err(e)
    };
    if upload.expires_at <= now_epoch() {
        return refuse(ApiError::InvalidRequest {
            message: format!("upload '{id}' has expired: create a new one with POST /v1/uploads"),
            param: Some("id".into()),
            code: "upload_expired",
        })
        .await;
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
            let rgba = imaging::decode_rgba(&bytes)?;
            Ok((format, rgba.dimensions(), imaging::thumbnail(&rgba)?))
        })
        .await
        .map_err(ApiError::internal)?
    };
    let (format, dims, thumbnail) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            let e = ApiError::invalid("id", format!("the uploaded file is refused: {e}"));
            return refuse(e).await;
        }
    };
    let record = ImageRecord::new(
        &who.user_id,
        AssetKind::Upload,
        OutputFormat::from(format),
        dims,
        bytes.len() as u64,
        Lineage::original(None),
    );
    let processed = Processed {
        bytes,
        thumbnail,
        width: dims.0,
        height: dims.1,
        revised_prompt: None,
        extras: Vec::new(),
    };
    let info = match store_asset(deps, &record, &processed, Some(id)).await {
        Ok(info) => info,
        Err(e) => {
            // A concurrent complete may have won the upload: answer with its asset.
            if let Some(upload) = deps.store.upload(&who.user_id, id).await?
                && let Some(asset_id) = upload.asset_id
            {
                return Ok((completed_asset(deps, who, id, &asset_id).await?, false));
            }
            return Err(e);
        }
    };
    if let Err(e) = deps.blobs.delete(std::slice::from_ref(&upload.key)).await {
        tracing::warn!(error = %e, "temporary upload object left for the lifecycle rule");
    }
    tracing::info!(user_id = %who.user_id, upload_id = %id, asset_id = %record.id, "upload registered");
    Ok((info, true))
}

async fn completed_asset<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    id: &str,
    asset_id: &str,
) -> Result<ImageInfo, ApiError> {
    let record = deps
        .store
        .image(&who.user_id, asset_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("the asset of upload '{id}' was deleted")))?;
    image_info(deps, &record).await
}
