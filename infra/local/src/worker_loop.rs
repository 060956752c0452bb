//! Lambda's SQS event source, locally: long-polls a queue, hands batches to its consumer as real
//! `SqsEvent`s and deletes only the messages it did not report as failed.

use crate::registry::{QueueRef, SqsHandler};
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// One queue and the function that consumes it.
pub struct Consumer {
    pub queue: Arc<QueueRef>,
    pub arn: String,
    pub region: String,
    pub handler: SqsHandler,
    /// Messages per invocation (the event source's `BatchSize`).
    pub batch_size: i32,
    /// Invocations at once (its `MaximumConcurrency`): a long job does not hold up the rest.
    pub max_concurrency: usize,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub async fn run(consumer: Consumer, deps: Arc<shared::Deps>) {
    let consumer = Arc::new(consumer);
    let slots = Arc::new(tokio::sync::Semaphore::new(consumer.max_concurrency.max(1)));
    loop {
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        let (consumer, deps) = (consumer.clone(), deps.clone());
        match receive(&consumer).await {
            Ok(messages) if messages.is_empty() => {}
            Ok(messages) => {
                tokio::spawn(async move {
                    match invoke(&consumer, &deps, messages).await {
                        Ok(n) => tracing::debug!(messages = n, "queue batch handled"),
                        Err(e) => tracing::warn!(error = %e, "queue batch not settled"),
                    }
                    drop(slot);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "queue poll failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn receive(consumer: &Consumer) -> Result<Vec<aws_sdk_sqs::types::Message>, BoxError> {
    let out = consumer
        .queue
        .sqs
        .receive_message()
        .queue_url(&consumer.queue.url)
        .max_number_of_messages(consumer.batch_size)
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await?;
    Ok(out.messages.unwrap_or_default())
}

/// One invocation with the received messages, then the deletes of those not reported failed;
/// returns how many messages it had.
async fn invoke(
    consumer: &Consumer,
    deps: &Arc<shared::Deps>,
    messages: Vec<aws_sdk_sqs::types::Message>,
) -> Result<usize, BoxError> {
    let (sqs, queue_url) = (&consumer.queue.sqs, consumer.queue.url.as_str());
    let (queue_arn, region) = (consumer.arn.as_str(), consumer.region.as_str());
    let mut receipts = HashMap::new();
    let records: Vec<SqsMessage> = messages
        .iter()
        .map(|m| {
            if let (Some(id), Some(rh)) = (&m.message_id, &m.receipt_handle) {
                receipts.insert(id.clone(), rh.clone());
            }
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.md5_of_body = m.md5_of_body.clone();
            record.attributes = m
                .attributes
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                .collect();
            record.event_source = Some("aws:sqs".into());
            record.event_source_arn = Some(queue_arn.to_string());
            record.aws_region = Some(region.to_string());
            record
        })
        .collect();
    let mut event = SqsEvent::default();
    event.records = records;
    let count = event.records.len();
    let failed: HashSet<String> =
        match (consumer.handler)(deps.clone(), consumer.queue.clone(), event).await {
            Ok(resp) => resp
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            Err(e) => {
                // Like Lambda: a failed invocation leaves the whole batch for redelivery.
                tracing::warn!(error = %e, "queue consumer invocation failed");
                return Ok(count);
            }
        };
    let entries: Vec<_> = receipts
        .into_iter()
        .filter(|(id, _)| !failed.contains(id))
        .enumerate()
        .map(|(i, (_, rh))| {
            DeleteMessageBatchRequestEntry::builder()
                .id(format!("m{i}"))
                .receipt_handle(rh)
                .build()
        })
        .collect::<Result<_, _>>()?;
    if !entries.is_empty() {
        sqs.delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
    }
    Ok(count)
}
