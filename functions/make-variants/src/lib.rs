//! The table's stream, a second consumer: each newly stored image gets its delivery variants
//! (`usecases::variants`), and so does an older one without them when it is next changed. A
//! record that fails is reported, and Lambda brings the batch back from it; variants already
//! made are found recorded and not made again.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::{Error, LambdaEvent};
use shared::Deps;
use shared::adapters::dynamo::stream::image_written;
use shared::bootstrap::{serve_events, stream_batch};
use shared::ports::{Blobs, Store};
use shared::usecases::variants::make_variants;

pub async fn handler<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error> {
    Ok(stream_batch(&event.payload.records, |record| async move {
        match image_written(record)? {
            Some(image) => make_variants(deps, &image).await,
            None => Ok(()),
        }
    })
    .await)
}

/// The Lambda's entry point: the table stream's batches.
pub async fn serve() -> Result<(), Error> {
    serve_events(handler).await
}
