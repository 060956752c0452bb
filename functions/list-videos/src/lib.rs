//! `GET /v1/videos`: the caller's videos as OpenAI's cursor page (`after`, `limit`, `order`).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, decode_cursor, json, page_limit, query_param, reject_unknown_query};
use shared::ports::{Blobs, Store};
use shared::usecases::videos;
use shared::{ApiError, Deps};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "list-videos");
    ctx.run(list(deps, &ctx, &req)).await
}

async fn list<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryRead).await?;
    reject_unknown_query(req, &["after", "limit", "order"])?;
    let limit = page_limit(req, DEFAULT_LIMIT, MAX_LIMIT)?;
    let oldest_first = match query_param(req, "order").unwrap_or("desc") {
        "desc" => false,
        "asc" => true,
        _ => return Err(ApiError::invalid("order", "order must be asc or desc")),
    };
    let after = query_param(req, "after")
        .map(|a| {
            decode_cursor(a).map_err(|_| ApiError::invalid("after", "after must be a video id"))
        })
        .transpose()?;
    let page = videos::list(deps, &who.user_id, limit, after.as_deref(), oldest_first).await?;
    json(StatusCode::OK, &page)
}
