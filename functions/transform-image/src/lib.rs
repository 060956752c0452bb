//! `POST /v1/images/{id}/transform`: deterministic operations applied in order (resize, crop,
//! rotate, flip/flop, grayscale, blur, sharpen, brightness, contrast, saturation, hue, gamma,
//! white-to-transparent), producing a new asset linked to its source. Costs no credits.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::generation::OutputFormat;
use shared::domain::{new_id, now_epoch};
use shared::http::{Ctx, json, json_body, path_param};
use shared::imaging;
use shared::ports::{AssetKind, Blobs, ImageRecord, Lineage, Store};
use shared::service::{Processed, asset_bytes, object_keys, store_asset};
use shared::transform::{Transform, apply};
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "transform-image");
    ctx.run(transform(deps, &ctx, &req)).await
}

async fn transform<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req).await?;
    let id = path_param(req, "id")?;
    let body: serde_json::Value = json_body(req, deps.config.max_json_body_bytes)?;
    let spec = Transform::parse(&body)?;
    let (source, bytes) = asset_bytes(deps, &who.user_id, &id, "id").await?;
    let format = spec
        .output_format
        .or_else(|| OutputFormat::parse(&source.format))
        .unwrap_or(OutputFormat::Png);
    let quality = spec.quality;
    let processed = tokio::task::spawn_blocking(move || -> Result<Processed, ApiError> {
        let rgba = imaging::decode(&bytes)
            .map_err(ApiError::internal)?
            .into_rgba8();
        let out = apply(rgba, &spec.ops)?;
        let (width, height) = out.dimensions();
        if width as u64 * height as u64 > imaging::MAX_PIXELS {
            return Err(ApiError::invalid(
                "operations",
                format!(
                    "the result would be {width}x{height}: more than {} pixels",
                    imaging::MAX_PIXELS
                ),
            ));
        }
        Ok(Processed {
            // What a format cannot hold (WebP beyond 16383 px a side) is the request's choice.
            bytes: imaging::encode(&out, format, quality)
                .map_err(|e| ApiError::invalid("output_format", e.to_string()))?,
            thumbnail: imaging::thumbnail(&out).map_err(ApiError::internal)?,
            width,
            height,
            revised_prompt: None,
        })
    })
    .await
    .map_err(ApiError::internal)??;
    let new_id = new_id("img");
    let (key, thumbnail_key) = object_keys(&who.user_id, &new_id, format);
    let lineage = Lineage::original(Some(source.id.clone()));
    let record = ImageRecord {
        id: new_id,
        user_id: who.user_id.clone(),
        kind: AssetKind::Image,
        prompt: source.prompt.clone(),
        revised_prompt: None,
        model: Some("transform".into()),
        width: processed.width,
        height: processed.height,
        format: format.as_str().to_string(),
        bytes: processed.bytes.len() as u64,
        key,
        thumbnail_key: Some(thumbnail_key),
        created_at: now_epoch(),
        parent_id: lineage.parent_id,
        background: None,
        quality: quality.map(|q| q.to_string()),
        title: source.title.clone(),
        tags: source.tags.clone(),
        version: 1,
    };
    let info = store_asset(deps, &record, &processed).await?;
    tracing::info!(user_id = %who.user_id, source = %id, image_id = %record.id, "transformed");
    json(StatusCode::CREATED, &info)
}
