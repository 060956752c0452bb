//! `DELETE /v1/api-keys/{id}`: revokes one of the caller's keys; it fails at once everywhere.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::plausible_id;
use shared::http::{Ctx, json, path_param};
use shared::ports::Store;
use shared::usecases::library::shown;
use shared::wire::Deleted;
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "revoke-api-key");
    ctx.run(revoke(deps, &ctx, &req)).await
}

async fn revoke<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx
        .authenticate_session(deps, req, "manage API keys")
        .await?;
    let id = path_param(req, "id")?;
    // Another user's key id is indistinguishable from an unknown one (and so is a malformed one).
    if !plausible_id(&id) || !deps.store.revoke_key(&who.user_id, &id).await? {
        return Err(ApiError::NotFound(format!(
            "no API key with id '{}'",
            shown(&id)
        )));
    }
    tracing::info!(user_id = %who.user_id, key_id = %id, "api key revoked");
    json(
        StatusCode::OK,
        &Deleted {
            id,
            object: "api_key".into(),
            deleted: true,
        },
    )
}
