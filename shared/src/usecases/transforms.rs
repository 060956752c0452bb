//! `POST /v1/images/{id}/transform`: deterministic operations on a stored asset, producing a new
//! asset linked to its source. Costs nothing.

use crate::domain::accounts::Principal;
use crate::domain::assets::{AssetKind, ImageRecord, Lineage, OutputFormat};
use crate::domain::new_id;
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::usecases::library::{Processed, asset_bytes, store_asset, unreadable};
use crate::usecases::provenance;
use crate::wire::{SkippedOperation, TransformedImage};
use ::provenance::Made;
use imaging::transform::{Op, Transform, apply};

pub async fn transform<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    id: &str,
    body: &serde_json::Value,
) -> Result<TransformedImage, ApiError> {
    let spec = Transform::parse(body)?;
    let (source, bytes) = asset_bytes(deps, &who.user_id, id, "id").await?;
    let format = spec
        .output_format
        .map(OutputFormat::from)
        .unwrap_or(source.format);
    let removes_background = spec
        .ops
        .iter()
        .any(|op| matches!(op, Op::RemoveBackground { .. }));
    if removes_background && format == OutputFormat::Jpeg {
        // As generations refuse a transparent JPEG: a silent white background is not what was asked.
        return Err(ApiError::invalid(
            "output_format",
            "remove_background makes a transparent image, which JPEG cannot hold: set output_format to png or webp",
        ));
    }
    // A GIF or SVG source is not decoded here: the transform is refused as unreadable before
    // this matters, and its output would be png, jpeg or webp.
    let raster = format.raster().unwrap_or(imaging::Format::Png);
    let quality = spec.quality;
    let ops = spec.ops;
    let description = transform_description(body);
    let source_bytes = bytes.clone();
    let (mut processed, prevented) = tokio::task::spawn_blocking(move || {
        let rgba = imaging::decode_rgba(&bytes).map_err(|e| unreadable("id", e))?;
        let applied = apply(rgba, &ops)?;
        let out = applied.image;
        let processed = Processed {
            // What a format cannot hold (WebP beyond 16383 px a side) is the request's choice.
            bytes: imaging::encode(&out, raster, quality)
                .map_err(|e| ApiError::invalid("output_format", e.to_string()))?,
            thumbnail: imaging::thumbnail(&out).map_err(ApiError::internal)?,
            width: out.width(),
            height: out.height(),
            revised_prompt: None,
            extras: Vec::new(),
        };
        Ok::<_, ApiError>((processed, applied.upscale_prevented))
    })
    .await
    .map_err(ApiError::internal)??;
    let image_id = new_id("img");
    processed.bytes = provenance::sign_output(
        deps,
        processed.bytes,
        format,
        image_id.clone(),
        provenance::Making {
            made: Made::Edited { description },
            parent: Some((source_bytes, Some(source.id.clone()))),
            vendor_output: false,
            disclosed: Vec::new(),
        },
    )
    .await?;
    let record = ImageRecord {
        prompt: source.prompt.clone(),
        model: Some("transform".into()),
        output_compression: quality,
        ..ImageRecord::with_id(
            image_id,
            &who.user_id,
            AssetKind::Image,
            format,
            (processed.width, processed.height),
            processed.bytes.len() as u64,
            Lineage::derived_from(&source),
        )
    };
    let image = store_asset(deps, &record, &processed, None).await?;
    tracing::info!(user_id = %who.user_id, source = %id, image_id = %record.id, "transformed");
    let skipped = prevented
        .into_iter()
        .map(|i| SkippedOperation {
            param: format!("operations[{i}]"),
            reason: "upscale is false and the image already fits the box: it was not enlarged"
                .into(),
        })
        .collect();
    Ok(TransformedImage { image, skipped })
}

/// What a transform did, for its Content Credentials: its operations in order.
fn transform_description(body: &serde_json::Value) -> String {
    let ops: Vec<&str> = body["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|op| op["op"].as_str())
        .collect();
    format!("transformed: {}", ops.join(", "))
}
