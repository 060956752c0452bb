//! `POST /v1/admin/users/{id}/credits`: adds or takes away credits, with a ledger line naming
//! the admin and an audit entry, in one write.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::admin::validate_grant;
use shared::http::{Ctx, json, json_body, path_param};
use shared::ports::Store;
use shared::usecases::admin::{grant, target};
use shared::wire::{CreditGrant, Credits, GrantCreditsRequest};
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "admin-grant-credits");
    ctx.run(credits(deps, &ctx, &req)).await
}

async fn credits<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let admin = ctx.authenticate_admin(deps, req).await?;
    let user = target(deps, &path_param(req, "id")?).await?;
    let body: GrantCreditsRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let (amount, reason) = validate_grant(body.amount, &body.reason)?;
    let (balance, audit) = grant(deps, &admin.user_id, &user.id, amount, &reason).await?;
    json(
        StatusCode::OK,
        &CreditGrant {
            user_id: user.id,
            amount,
            credits: Credits {
                available: balance.available,
                earned: balance.earned,
                spent: balance.spent,
            },
            audit_id: audit.id,
        },
    )
}
