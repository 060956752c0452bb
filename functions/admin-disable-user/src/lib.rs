//! `POST /v1/admin/users/{id}/disable`: every access token, refresh token and API key of the account fails at once with 403 `account_disabled`, until it is enabled again.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::http::{Ctx, json, path_param};
use shared::ports::Store;
use shared::usecases::admin::{set_disabled, target};
use shared::wire::AdminUser;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "admin-disable-user");
    ctx.run(disable(deps, &ctx, &req)).await
}

async fn disable<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let admin = ctx.authenticate_admin(deps, req).await?;
    let user = target(deps, &path_param(req, "id")?).await?;
    let user = set_disabled(deps, &admin.user_id, &user.id, true).await?;
    json(StatusCode::OK, &AdminUser::from(&user))
}
