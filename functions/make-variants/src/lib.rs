//! The table's stream, a second consumer: each newly stored image gets its delivery variants
//! (`usecases::variants`). A record that fails is reported, and Lambda brings the batch back
//! from it; variants already made are found recorded and not made again.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};
use shared::Deps;
use shared::adapters::dynamo::stream::change_of;
use shared::bootstrap::serve_events;
use shared::messages::Change;
use shared::ports::{Blobs, Store};
use shared::usecases::variants::make_variants;

pub async fn handler<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error> {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.payload.records {
        let made = match change_of(record) {
            Ok(Some(Change::ImageCreated(image))) => make_variants(deps, &image).await,
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = made {
            let sequence = record.change.sequence_number.clone();
            tracing::error!(event_id = %record.event_id, sequence = ?sequence, error = %e, "variants not made: the record comes again");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    Ok(response)
}

/// The Lambda's entry point: the table stream's batches.
pub async fn serve() -> Result<(), Error> {
    serve_events(handler).await
}
