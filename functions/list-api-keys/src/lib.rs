//! `GET /v1/api-keys`: the caller's keys, newest first, never the secret.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::http::{Ctx, json};
use shared::ports::Store;
use shared::wire::{ApiKeyInfo, ApiKeyList};
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "list-api-keys");
    ctx.run(list(deps, &ctx, &req)).await
}

async fn list<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx
        .authenticate_session(deps, req, "manage API keys")
        .await?;
    let keys = deps.store.list_keys(&who.user_id).await?;
    json(
        StatusCode::OK,
        &ApiKeyList {
            object: "list".into(),
            data: keys.iter().map(ApiKeyInfo::from).collect(),
        },
    )
}
