//! `DELETE /v1/images/{id}`: removes an asset's objects and metadata; with
//! `?all_versions=true`, every version of its lineage.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, path_param, query_param, reject_unknown_query};
use shared::ports::{Blobs, Store};
use shared::usecases::library::delete;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "delete-image");
    ctx.run(respond(deps, &ctx, &req)).await
}

async fn respond<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryWrite).await?;
    let id = path_param(req, "id")?;
    reject_unknown_query(req, &["all_versions"])?;
    let all_versions = match query_param(req, "all_versions") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "all_versions",
                "all_versions must be true or false",
            ));
        }
    };
    let deleted = delete(deps, &who.user_id, &id, all_versions).await?;
    json(StatusCode::OK, &deleted)
}
