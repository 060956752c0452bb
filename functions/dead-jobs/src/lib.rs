//! The generation dead-letter queue's consumer. A job's message lands here after the queue's
//! receive limit: the job failed for good, so it ends as `failed` (unless an attempt ended it)
//! and gets back what it took, at once rather than when its hold falls due a day later. A body
//! that is no job message cannot be acted on: it is logged whole, at error level, and dropped
//! (kept, Lambda would receive it again and again for the queue's 14 days).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Error, LambdaEvent};
use shared::ApiError;
use shared::Deps;
use shared::bootstrap::{partial_batch, serve_events};
use shared::messages::JobMessage;
use shared::messages::QueueSubmission;
use shared::ports::{Blobs, Store};
use shared::usecases::jobs::{dead_letter, refuse_submission};

pub async fn handler<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    Ok(partial_batch(&event.payload.records, |record| handle(deps, record)).await)
}

/// Whether the dead letter is done with: false only when the job could not be failed yet.
async fn handle<S: Store, B: Blobs>(deps: &Deps<S, B>, record: &SqsMessage) -> bool {
    let message_id = record.message_id.as_deref().unwrap_or_default();
    let body = record.body.as_deref();
    if let Some(Ok(message)) = body.map(serde_json::from_str::<JobMessage>) {
        return match dead_letter(deps, &message).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(%message_id, job_id = %message.job_id, error = %e, "could not fail a dead job; retried");
                false
            }
        };
    }
    match body.map(serde_json::from_str::<QueueSubmission>) {
        // A submission from another system that could not be turned into a job: it hears so,
        // as of any refusal.
        Some(Ok(sub)) => {
            tracing::error!(%message_id, reference = %sub.reference, "queue submission failed for good");
            let error = ApiError::internal("the submission could not be processed");
            if let Err(e) = refuse_submission(deps, message_id, &sub, &error).await {
                tracing::error!(%message_id, error = %e, "refusal not recorded: the dead letter comes again");
                return false;
            }
        }
        _ => {
            tracing::error!(%message_id, body = ?record.body, "dead letter that is no job message: dropped");
        }
    }
    true
}

/// The Lambda's entry point: the generation DLQ's batches.
pub async fn serve() -> Result<(), Error> {
    serve_events(handler).await
}
