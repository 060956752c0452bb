//! `GET /v1/prompts/random?n=&theme=&seed=`: prompt ideas. Counts against the caller's rate
//! limit (it is an authenticated route), never against credits.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::prompts::{MAX_PROMPTS, theme};
use shared::http::{Ctx, json, query_param, reject_unknown_query};
use shared::ports::Store;
use shared::usecases::prompts;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "random-prompts");
    ctx.run(random(deps, &ctx, &req)).await
}

async fn random<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    ctx.authenticate(deps, req, Scope::Generate).await?;
    reject_unknown_query(req, &["n", "theme", "seed"])?;
    let n = match query_param(req, "n") {
        None => 1,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PROMPTS).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("n", format!("n must be from 1 to {MAX_PROMPTS}, not '{v}'"))
            })?,
    };
    // JSON's and the document's integers: up to 2^63 - 1.
    let seed = match query_param(req, "seed") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .ok()
                .filter(|s| *s <= i64::MAX as u64)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "seed",
                        format!(
                            "seed must be a whole number from 0 to {}, not '{v}'",
                            i64::MAX
                        ),
                    )
                })?,
        ),
    };
    let theme = theme(query_param(req, "theme"))?;
    json(StatusCode::OK, &prompts::random(deps, n, theme, seed).await)
}
