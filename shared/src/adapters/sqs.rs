//! The queues work is sent to over SQS: the generation queue (jobs) and the webhook queue
//! (deliveries).

#[cfg(feature = "queue")]
use crate::adapters::aws::Lazy;
use crate::error::ApiError;
use crate::ports::{InOrder, Queue, QueueName};
use futures::future::BoxFuture;

#[cfg(feature = "queue")]
pub struct SqsQueues {
    client: Lazy<aws_sdk_sqs::Client>,
    jobs: String,
    webhooks: Option<String>,
}

#[cfg(feature = "queue")]
impl SqsQueues {
    pub fn new(client: Lazy<aws_sdk_sqs::Client>, jobs: String, webhooks: Option<String>) -> Self {
        Self {
            client,
            jobs,
            webhooks,
        }
    }
}

#[cfg(feature = "queue")]
impl Queue for SqsQueues {
    fn send(
        &self,
        queue: QueueName,
        body: String,
        order: Option<InOrder>,
    ) -> BoxFuture<'_, Result<(), ApiError>> {
        Box::pin(async move {
            let url = match queue {
                QueueName::Jobs => &self.jobs,
                QueueName::Webhooks => self
                    .webhooks
                    .as_ref()
                    .ok_or_else(|| ApiError::internal("WEBHOOK_QUEUE_URL is not configured"))?,
            };
            self.client
                .get()
                .await
                .send_message()
                .queue_url(url)
                .message_body(body)
                .set_message_group_id(order.as_ref().map(|o| o.group.clone()))
                .set_message_deduplication_id(order.map(|o| o.dedup_id))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    ApiError::internal(format!(
                        "sqs: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    ))
                })
        })
    }
}

/// A function built without the `queue` feature: it has nothing to send, and says so.
pub struct NoQueue;

impl Queue for NoQueue {
    fn send(
        &self,
        _: QueueName,
        _: String,
        _: Option<InOrder>,
    ) -> BoxFuture<'_, Result<(), ApiError>> {
        Box::pin(async {
            Err(ApiError::internal(
                "this function is built without the `queue` feature of shared",
            ))
        })
    }
}
