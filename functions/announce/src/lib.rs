//! The table's stream consumer: each record's change (a job's transition, an asset stored or
//! deleted, an outbox announcement) becomes its EventBridge event and, where a job asked for
//! one, its webhook (`usecases::announcements`). The records of one item arrive in order and
//! are handled in order: the first that fails is reported, and Lambda brings the batch back
//! from that record (bisecting a batch that keeps failing, then parking it in the stream's
//! dead-letter queue). Records before it are not announced again; it and those after it may
//! be, with the same ids.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::{Error, LambdaEvent};
use shared::Deps;
use shared::adapters::dynamo::stream::change_of;
use shared::bootstrap::{serve_events, stream_batch};
use shared::ports::{Blobs, Store};
use shared::usecases::announcements::announce_change;

pub async fn handler<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error> {
    Ok(stream_batch(&event.payload.records, |record| async move {
        match change_of(record)? {
            // Boxed: the webhook's URLs make a deep future, and every record holds one.
            Some(change) => Box::pin(announce_change(deps, &change)).await,
            None => Ok(()),
        }
    })
    .await)
}

/// The Lambda's entry point: the table stream's batches.
pub async fn serve() -> Result<(), Error> {
    serve_events(handler).await
}
