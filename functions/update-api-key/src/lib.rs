//! `PATCH /v1/api-keys/{id}`: changes a key's name and limits; every instance admitting the key
//! applies the change from its next request.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::plausible_id;
use shared::http::{Ctx, json, json_body, path_param};
use shared::ports::Store;
use shared::usecases::api_keys::update;
use shared::usecases::library::shown;
use shared::wire::{ApiKeyInfo, UpdateApiKeyRequest};
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "update-api-key");
    ctx.run(patch(deps, &ctx, &req)).await
}

async fn patch<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx
        .authenticate_session(deps, req, "manage API keys")
        .await?;
    let id = path_param(req, "id")?;
    let body: UpdateApiKeyRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let not_found = || ApiError::NotFound(format!("no API key with id '{}'", shown(&id)));
    if !plausible_id(&id) {
        return Err(not_found());
    }
    let key = update(deps, &who, &id, body).await?.ok_or_else(not_found)?;
    tracing::info!(user_id = %who.user_id, key_id = %id, version = key.version, "api key changed");
    json(StatusCode::OK, &ApiKeyInfo::from(&key))
}
