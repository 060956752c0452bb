//! `GET /v1/images`: the caller's library, newest or oldest first, with an opaque cursor.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::assets::{AssetKind, SortOrder};
use shared::http::{
    Ctx, decode_cursor, encode_cursor, json, page_limit, query_param, reject_unknown_query,
};
use shared::ports::{Blobs, Store};
use shared::usecases::library::image_info;
use shared::wire::ImageList;
use shared::{ApiError, Deps};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "list-images");
    ctx.run(list(deps, &ctx, &req)).await
}

async fn list<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryRead).await?;
    reject_unknown_query(req, &["limit", "cursor", "type", "sort"])?;
    let limit = page_limit(req, DEFAULT_LIMIT, MAX_LIMIT)?;
    let kind = match query_param(req, "type").unwrap_or("all") {
        "all" => None,
        t => Some(AssetKind::parse(t).ok_or_else(|| {
            ApiError::invalid("type", "type must be all, image, video or upload")
        })?),
    };
    let order = match query_param(req, "sort").unwrap_or("newest") {
        "newest" => SortOrder::NewestFirst,
        "oldest" => SortOrder::OldestFirst,
        _ => return Err(ApiError::invalid("sort", "sort must be newest or oldest")),
    };
    let after = query_param(req, "cursor").map(decode_cursor).transpose()?;
    let (records, next) = deps
        .store
        .list_images(&who.user_id, kind, order, limit, after.as_deref())
        .await?;
    let mut data = Vec::with_capacity(records.len());
    for r in &records {
        data.push(image_info(deps, r).await?);
    }
    json(
        StatusCode::OK,
        &ImageList {
            object: "list".into(),
            data,
            has_more: next.is_some(),
            next_cursor: next.as_deref().map(encode_cursor),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode_cursor("img_0123abc");
        assert_eq!(decode_cursor(&c).unwrap(), "img_0123abc");
        for bad in ["", "!!!", "a#b", &"x".repeat(65)] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
