//! `GET /v1/admin/usage?days=N`: paid work per UTC day across all users, per model and vendor
//! with what the vendors charged and the margin.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::admin::{USAGE_DAYS_MAX, date_string};
use shared::http::{Ctx, json, query_param, reject_unknown_query};
use shared::ports::Store;
use shared::usecases::admin::usage;
use shared::wire::{ServedDay, UsageDay, UsageReport, UsageTotal};
use shared::{ApiError, Deps};

pub const DEFAULT_DAYS: u32 = 30;

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "admin-usage");
    ctx.run(report(deps, &ctx, &req)).await
}

async fn report<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    ctx.authenticate_admin(deps, req).await?;
    reject_unknown_query(req, &["days"])?;
    let days = match query_param(req, "days") {
        None => DEFAULT_DAYS,
        Some(d) => d
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=USAGE_DAYS_MAX).contains(d))
            .ok_or_else(|| {
                ApiError::invalid(
                    "days",
                    format!("days must be an integer from 1 to {USAGE_DAYS_MAX}"),
                )
            })?,
    };
    let price = deps.config.accounts.credit_price_micros;
    let usd = |micros: i64| micros as f64 / 1e6;
    let data: Vec<UsageDay> = usage(deps, days)
        .await?
        .into_iter()
        .map(|d| UsageDay {
            date: date_string(d.day),
            generations: d.generations,
            images: d.images,
            credits: d.credits,
            served: d
                .served
                .iter()
                .map(|s| ServedDay {
                    model: s.model.clone(),
                    vendor: s.vendor.clone(),
                    generations: s.generations,
                    images: s.images,
                    credits: s.credits,
                    revenue_usd: usd(s.credits * price),
                    vendor_cost_usd: usd(s.cost_micros),
                    unpriced: s.unpriced,
                    margin_usd: (s.unpriced == 0).then(|| usd(s.credits * price - s.cost_micros)),
                })
                .collect(),
        })
        .collect();
    let served = || data.iter().flat_map(|d| d.served.iter());
    let revenue_usd: f64 = served().map(|s| s.revenue_usd).sum();
    let vendor_cost_usd: f64 = served().map(|s| s.vendor_cost_usd).sum();
    let unpriced: i64 = served().map(|s| s.unpriced).sum();
    let total = UsageTotal {
        generations: data.iter().map(|d| d.generations).sum(),
        images: data.iter().map(|d| d.images).sum(),
        credits: data.iter().map(|d| d.credits).sum(),
    };
    json(
        StatusCode::OK,
        &UsageReport {
            object: "list".into(),
            days,
            data,
            total,
            credit_price_usd: usd(price),
            revenue_usd,
            vendor_cost_usd,
            margin_usd: (unpriced == 0).then_some(revenue_usd - vendor_cost_usd),
        },
    )
}
