//! The webhook-queue consumer: one signed POST per message, a job's messages in their order. A
//! receiver that fails (non-2xx, timeout, unreachable) gets the message back later, doubling the
//! wait from 30 s up to 6 h, so the 13 receives the queue allows span about a day before the
//! dead-letter queue; the `webhook-id` stays the same on every attempt. A target that is
//! refused (private address, not https) is logged and dropped: retrying cannot make it
//! deliverable.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Error, LambdaEvent};
use shared::Deps;
use shared::messages::Delivery;
use shared::ports::{Blobs, Store};
use shared::usecases::deliveries::{Outcome, attempt, backoff};
use std::future::Future;
use std::time::Duration;

/// Puts a received message back on the queue after `delay` (SQS: its visibility timeout).
pub trait Redelivery: Send + Sync {
    fn retry_after(
        &self,
        receipt_handle: &str,
        delay: Duration,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

pub struct SqsRedelivery {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl Redelivery for SqsRedelivery {
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), String> {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(delay.as_secs().min(43_200) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
    }
}

pub async fn handler<S: Store, B: Blobs, R: Redelivery>(
    deps: &Deps<S, B>,
    redelivery: &R,
    event: LambdaEvent<SqsEvent>,
    now: i64,
) -> Result<SqsBatchResponse, Error> {
    // A FIFO queue, a group per job: the batch's messages are handled in order, and after a
    // failure the rest of its group is not tried (it comes back with it, in its order).
    let mut response = SqsBatchResponse::default();
    let mut stopped: Vec<&str> = Vec::new();
    for record in &event.payload.records {
        let group = record
            .attributes
            .get("MessageGroupId")
            .map(String::as_str)
            .unwrap_or_default();
        let done = !stopped.contains(&group) && deliver(deps, redelivery, record, now).await;
        if !done {
            stopped.push(group);
            match record.message_id.clone().filter(|id| !id.is_empty()) {
                Some(id) => response.add_failure(id),
                None => tracing::error!("message without id: acknowledged to avoid a poison batch"),
            }
        }
    }
    Ok(response)
}

/// One message; `false` when it must come back (reported as a batch item failure).
async fn deliver<S: Store, B: Blobs, R: Redelivery>(
    deps: &Deps<S, B>,
    redelivery: &R,
    record: &SqsMessage,
    now: i64,
) -> bool {
    let message_id = record.message_id.as_deref().unwrap_or_default();
    let delivery: Delivery = match record.body.as_deref().map(serde_json::from_str) {
        Some(Ok(d)) => d,
        other => {
            let reason = match other {
                Some(Err(e)) => e.to_string(),
                _ => "no body".into(),
            };
            // Kept for the dead-letter queue, where someone can read it.
            tracing::error!(%message_id, %reason, "unreadable webhook delivery");
            return false;
        }
    };
    let attempt_no: u32 = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let failure = match attempt(deps, &delivery, now).await {
        Ok(Outcome::Delivered(status)) => {
            tracing::info!(webhook_id = %delivery.id, user_id = %delivery.user_id, status, attempt = attempt_no, "webhook delivered");
            return true;
        }
        Ok(Outcome::Refused(why)) => {
            tracing::error!(webhook_id = %delivery.id, user_id = %delivery.user_id, %why, "webhook target refused: dropped");
            return true;
        }
        Ok(Outcome::Retry(why)) => why,
        Err(e) => e.to_string(),
    };
    let delay = backoff(attempt_no);
    tracing::warn!(webhook_id = %delivery.id, user_id = %delivery.user_id, why = %failure, attempt = attempt_no, retry_in_s = delay.as_secs(), "webhook not delivered");
    if let Some(rh) = record.receipt_handle.as_deref()
        && let Err(e) = redelivery.retry_after(rh, delay).await
    {
        // The queue's own visibility timeout then decides when it comes back.
        tracing::warn!(webhook_id = %delivery.id, error = %e, "could not set the retry delay");
    }
    false
}

/// The Lambda's entry point: the webhook queue's batches; a delivery to retry later goes back
/// to the same queue.
pub async fn serve() -> Result<(), Error> {
    let deps = Deps::from_env()?;
    let sdk = shared::adapters::aws::sdk_config(
        &deps.config.aws.region,
        deps.config.aws.endpoint_url.as_deref(),
    )
    .await;
    let redelivery = SqsRedelivery {
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url: deps
            .config
            .aws
            .webhook_queue_url
            .clone()
            .ok_or("WEBHOOK_QUEUE_URL is not set")?,
    };
    let (deps, redelivery) = (&deps, &redelivery);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: LambdaEvent<SqsEvent>| async move {
            Box::pin(handler(
                deps,
                redelivery,
                event,
                shared::domain::now_epoch(),
            ))
            .await
        },
    ))
    .await
}
