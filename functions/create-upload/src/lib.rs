//! `POST /v1/uploads`: a presigned PUT for an image too large to send inline. The content type
//! and exact length are bound into the signature; an upload never completed expires with its
//! temporary object (a lifecycle rule on `tmp/`).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::assets::UploadRecord;
use shared::domain::{new_id, now_epoch};
use shared::http::{Ctx, json, json_body};
use shared::ports::{Blobs, Store};
use shared::wire::{CreateUploadRequest, UploadTicket};
use shared::{ApiError, Deps};
use std::time::Duration;

pub const MAX_UPLOAD_BYTES: u64 = 10 * 1024 * 1024;
pub const UPLOAD_TTL: Duration = Duration::from_secs(15 * 60);
pub const CONTENT_TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp"];

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "create-upload");
    ctx.run(create(deps, &ctx, &req)).await
}

async fn create<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryWrite).await?;
    let body: CreateUploadRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let content_type = body.content_type.trim().to_ascii_lowercase();
    if !CONTENT_TYPES.contains(&content_type.as_str()) {
        return Err(ApiError::invalid(
            "content_type",
            format!("content_type must be one of {}", CONTENT_TYPES.join(", ")),
        ));
    }
    if body.bytes == 0 || body.bytes > MAX_UPLOAD_BYTES {
        return Err(ApiError::invalid(
            "bytes",
            format!("bytes must be between 1 and {MAX_UPLOAD_BYTES} (10 MB)"),
        ));
    }
    // Refused now rather than after the client has sent the bytes (completing checks again,
    // in the write that stores the asset).
    let used = deps
        .store
        .user(&who.user_id)
        .await?
        .map_or(0, |u| u.storage_bytes);
    let quota = deps.config.limits.storage_quota_bytes;
    if used.saturating_add(body.bytes) > quota {
        return Err(ApiError::storage_full(used, quota, body.bytes));
    }
    let id = new_id("upl");
    let key = format!("tmp/uploads/{}/{id}", who.user_id);
    let upload_url = deps
        .blobs
        .presign_put(&key, &content_type, body.bytes, UPLOAD_TTL)
        .await?;
    let expires_at = now_epoch() + UPLOAD_TTL.as_secs() as i64;
    deps.store
        .create_upload(&UploadRecord {
            id: id.clone(),
            user_id: who.user_id.clone(),
            content_type: content_type.clone(),
            declared_bytes: body.bytes,
            key,
            asset_id: None,
            // The record outlives the URL by a day, like the temporary object.
            expires_at: expires_at + 24 * 3600,
        })
        .await?;
    json(
        StatusCode::CREATED,
        &UploadTicket {
            complete_url: format!("/v1/uploads/{id}/complete"),
            id,
            object: "upload".into(),
            upload_url,
            method: "PUT".into(),
            headers: [
                ("Content-Type".to_string(), content_type),
                ("Content-Length".to_string(), body.bytes.to_string()),
            ]
            .into(),
            max_bytes: body.bytes,
            expires_at,
        },
    )
}
