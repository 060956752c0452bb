//! `GET /v1/credit`: available, earned and spent credits and the most recent ledger entries.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, json};
use shared::ports::Store;
use shared::wire::{CreditResponse, LedgerItem};
use shared::{ApiError, Deps};

pub const LEDGER_ENTRIES: usize = 20;

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "credit");
    ctx.run(credit(deps, &ctx, &req)).await
}

async fn credit<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Account).await?;
    let (user, ledger) = tokio::join!(
        deps.store.user(&who.user_id),
        deps.store.ledger(&who.user_id, LEDGER_ENTRIES)
    );
    let user = user?.ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    json(
        StatusCode::OK,
        &CreditResponse {
            available: user.credits.available,
            earned: user.credits.earned,
            spent: user.credits.spent,
            ledger: ledger?.into_iter().map(LedgerItem::from).collect(),
        },
    )
}
