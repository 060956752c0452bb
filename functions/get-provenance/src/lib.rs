//! `GET /v1/images/{id}/provenance`: an asset's Content Credentials (C2PA), validated: the
//! manifest store, what made the asset and its history.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::provenance::provenance_of;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "get-provenance");
    ctx.run(get(deps, &ctx, &req)).await
}

async fn get<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryRead).await?;
    let id = path_param(req, "id")?;
    json(
        StatusCode::OK,
        &provenance_of(deps, &who.user_id, &id).await?,
    )
}
