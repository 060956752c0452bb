//! `GET /v1/usage?start=&end=`: the account's paid work per UTC day, model and key, as charged.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, query_param, reject_unknown_query};
use shared::ports::Store;
use shared::usecases::usage::report;
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "usage");
    ctx.run(usage(deps, &ctx, &req)).await
}

async fn usage<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Account).await?;
    reject_unknown_query(req, &["start", "end"])?;
    let start = query_param(req, "start");
    let end = query_param(req, "end");
    let usage = report(deps, &who.user_id, start, end).await?;
    json(StatusCode::OK, &usage)
}
