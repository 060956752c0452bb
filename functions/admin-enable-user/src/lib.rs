//! `POST /v1/admin/users/{id}/enable`: the account's credentials work again.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::http::{Ctx, json, path_param};
use shared::ports::Store;
use shared::usecases::admin::{set_disabled, target};
use shared::wire::AdminUser;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "admin-enable-user");
    ctx.run(enable(deps, &ctx, &req)).await
}

async fn enable<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let admin = ctx.authenticate_admin(deps, req).await?;
    let user = target(deps, &path_param(req, "id")?).await?;
    let user = set_disabled(deps, &admin.user_id, &user.id, false).await?;
    json(StatusCode::OK, &AdminUser::from(&user))
}
