//! The generation-queue consumer: runs each job of the batch (at the same time, as one Lambda
//! invocation), and turns work other systems submit on the queue into jobs. A message that cannot be read, or whose job hit a store error, is reported as a
//! batch item failure: SQS delivers it again and, after the queue's receive limit, moves it to
//! the dead-letter queue, whose consumer fails the job and gives back what it took.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Error, LambdaEvent};
use shared::Deps;
use shared::bootstrap::{partial_batch, serve_events};
use shared::messages::{JobMessage, QueueSubmission};
use shared::ports::{Blobs, Store};
use shared::usecases::jobs::{Accepted, Ran, accept, refuse_submission, run};

pub async fn handler<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    event: LambdaEvent<SqsEvent>,
    now: i64,
) -> Result<SqsBatchResponse, Error> {
    let records = &event.payload.records;
    Ok(partial_batch(records, |r| handle(deps, r, now)).await)
}

/// Whether the message is done with (to be deleted).
async fn handle<S: Store, B: Blobs>(deps: &Deps<S, B>, record: &SqsMessage, now: i64) -> bool {
    let message_id = record.message_id.as_deref().unwrap_or_default();
    let Some(body) = record.body.as_deref() else {
        tracing::warn!(%message_id, "empty job message: left for the dead-letter queue");
        return false;
    };
    if let Ok(message) = serde_json::from_str::<JobMessage>(body) {
        return match run(deps, &message, now).await {
            Ok(Ran::Done) => true,
            Ok(Ran::Later) => false,
            Err(e) => {
                tracing::error!(%message_id, job_id = %message.job_id, error = %e, "job attempt interrupted: it will be delivered again");
                false
            }
        };
    }
    let submission = match serde_json::from_str::<QueueSubmission>(body) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%message_id, error = %e, "unreadable job message: left for the dead-letter queue");
            return false;
        }
    };
    let (user_id, reference) = (submission.user_id.clone(), submission.reference.clone());
    // Kept to announce a refusal (accept takes the submission).
    let refused = submission.clone();
    match accept(deps, submission).await {
        Ok(Accepted::Queued(job)) => {
            tracing::info!(%message_id, %user_id, %reference, job_id = %job.id, "submission from the queue accepted");
            true
        }
        Ok(Accepted::Refused(e)) => {
            tracing::warn!(%message_id, %user_id, %reference, error = %e, "submission from the queue refused");
            match refuse_submission(deps, message_id, &refused, &e).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(%message_id, %reference, error = %e, "refusal not recorded: the message comes again");
                    false
                }
            }
        }
        Err(e) => {
            tracing::error!(%message_id, %reference, error = %e, "submission interrupted: it will be delivered again");
            false
        }
    }
}

/// The Lambda's entry point: the generation queue's batches, one attempt per job.
pub async fn serve() -> Result<(), Error> {
    serve_events(|deps, event| handler(deps, event, shared::domain::now_epoch())).await
}
