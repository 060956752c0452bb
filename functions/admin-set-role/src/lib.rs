//! `POST /v1/admin/users/{id}/role`: grants or removes the admin role.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Role;
use shared::http::{Ctx, json, json_body, path_param};
use shared::ports::Store;
use shared::usecases::admin::{set_role, target};
use shared::wire::{AdminUser, SetRoleRequest};
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "admin-set-role");
    ctx.run(role(deps, &ctx, &req)).await
}

async fn role<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let admin = ctx.authenticate_admin(deps, req).await?;
    let user = target(deps, &path_param(req, "id")?).await?;
    let body: SetRoleRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| ApiError::invalid("role", "role must be \"admin\" or \"user\""))?;
    let user = set_role(deps, &admin.user_id, &user.id, role).await?;
    json(StatusCode::OK, &AdminUser::from(&user))
}
