//! The scheduled sweeper of charge holds (see `shared::charges`): runs every few minutes from an
//! EventBridge schedule; a failed run is simply repeated by the next one.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent};
use shared::charges::{SweepReport, sweep};
use shared::ports::Store;

pub async fn handler<S: Store>(
    store: &S,
    event: LambdaEvent<EventBridgeEvent>,
    now: i64,
) -> Result<SweepReport, Error> {
    let report = sweep(store, now).await?;
    tracing::info!(
        request_id = %event.context.request_id,
        refunded = report.refunded,
        settled = report.settled,
        failed = report.failed,
        "holds swept"
    );
    Ok(report)
}
