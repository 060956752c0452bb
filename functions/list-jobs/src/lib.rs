//! `GET /v1/jobs`: the caller's jobs, newest first, optionally of one `status`, with a cursor;
//! results name their images without URLs or bytes.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::jobs::{JobFilter, JobStatus};
use shared::http::{
    Ctx, decode_cursor, encode_cursor, json, page_limit, query_param, reject_unknown_query,
};
use shared::ports::{Blobs, Store};
use shared::usecases::jobs;
use shared::wire::JobList;
use shared::{ApiError, Deps};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "list-jobs");
    ctx.run(list(deps, &ctx, &req)).await
}

async fn list<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Jobs).await?;
    reject_unknown_query(req, &["limit", "cursor", "status"])?;
    let limit = page_limit(req, DEFAULT_LIMIT, MAX_LIMIT)?;
    let status = query_param(req, "status")
        .map(|s| {
            JobStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    "status must be queued, processing, succeeded, failed or canceled",
                )
            })
        })
        .transpose()?;
    let after = query_param(req, "cursor").map(decode_cursor).transpose()?;
    let (found, next) = deps
        .store
        .list_jobs(
            &who.user_id,
            JobFilter {
                status,
                ..Default::default()
            },
            limit,
            after.as_deref(),
        )
        .await?;
    // Without URLs or bytes: a page of jobs with b64_json results would not fit a response.
    // GET /v1/jobs/{id} refills one job's result.
    let data = found.iter().map(jobs::object).collect();
    json(
        StatusCode::OK,
        &JobList {
            object: "list".into(),
            data,
            has_more: next.is_some(),
            next_cursor: next.as_deref().map(encode_cursor),
        },
    )
}
