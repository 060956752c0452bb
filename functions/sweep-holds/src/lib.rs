//! The scheduled sweeper of charge holds (see `shared::charges`): runs every few minutes from an
//! EventBridge schedule; a failed run is simply repeated by the next one.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent};
use shared::Deps;
use shared::ports::{Blobs, Store};
use shared::usecases::billing::sweep::{SweepReport, sweep};
use std::time::Duration;

/// Well inside the function's 120 s timeout; what is left waits for the next run.
const BUDGET: Duration = Duration::from_secs(90);

pub async fn handler<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    event: LambdaEvent<EventBridgeEvent>,
    now: i64,
) -> Result<SweepReport, Error> {
    let report = sweep(&deps.store, &deps.blobs, now, BUDGET).await?;
    tracing::info!(
        request_id = %event.context.request_id,
        abandoned = report.abandoned,
        credits_returned = report.credits_returned,
        settled = report.settled,
        failed = report.failed,
        expired_jobs = report.expired_jobs.len(),
        "holds swept"
    );
    Ok(report)
}

/// The Lambda's entry point: the schedule's events.
pub async fn serve() -> Result<(), Error> {
    shared::bootstrap::serve_events(|deps, event| handler(deps, event, shared::domain::now_epoch()))
        .await
}
