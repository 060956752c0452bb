//! `GET /v1/admin/users/{id}`: one user as it is now, and the admin actions on it.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::http::{Ctx, json, path_param};
use shared::ports::Store;
use shared::usecases::admin::target;
use shared::wire::{AdminUser, AdminUserDetail};
use shared::{ApiError, Deps};

/// The audit entries shown with a user, newest first.
const AUDIT_SHOWN: usize = 50;

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "admin-get-user");
    ctx.run(get(deps, &ctx, &req)).await
}

async fn get<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    ctx.authenticate_admin(deps, req).await?;
    let user = target(deps, &path_param(req, "id")?).await?;
    let audit = deps.store.audit_trail(&user.id, AUDIT_SHOWN).await?;
    json(
        StatusCode::OK,
        &AdminUserDetail {
            user: AdminUser::from(&user),
            audit,
        },
    )
}
