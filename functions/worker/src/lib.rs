//! The generation-queue consumer. Until async jobs exist it validates and acknowledges each
//! message; a message it cannot read is reported as a batch item failure, so SQS retries it and
//! finally moves it to the dead-letter queue instead of losing it.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Error, LambdaEvent};
use serde::Deserialize;

#[derive(Deserialize)]
struct JobMessage {
    job_id: String,
}

pub async fn handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for record in event.payload.records {
        let Some(message_id) = record.message_id.filter(|id| !id.is_empty()) else {
            // Without an id a failure cannot be reported; SQS would retry the whole batch.
            tracing::error!("message without id: acknowledged to avoid a poison batch");
            continue;
        };
        match record
            .body
            .as_deref()
            .map(serde_json::from_str::<JobMessage>)
        {
            Some(Ok(job)) => {
                tracing::info!(%message_id, job_id = %job.job_id, "job message acknowledged")
            }
            Some(Err(e)) => {
                tracing::warn!(%message_id, error = %e, "unreadable job message");
                response.add_failure(message_id);
            }
            None => {
                tracing::warn!(%message_id, "empty job message");
                response.add_failure(message_id);
            }
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> LambdaEvent<SqsEvent> {
        LambdaEvent::new(serde_json::from_str(json).unwrap(), Default::default())
    }

    #[tokio::test]
    async fn acknowledges_readable_messages() {
        let resp = handler(event(include_str!("../../../events/worker.json")))
            .await
            .unwrap();
        assert!(resp.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn reports_unreadable_messages_by_id() {
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/worker.json")).unwrap();
        v["Records"][1]["body"] = "not json".into();
        let bad_id = v["Records"][1]["messageId"].as_str().unwrap().to_string();
        let resp = handler(event(&v.to_string())).await.unwrap();
        let failed: Vec<_> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        assert_eq!(failed, vec![bad_id]);
    }
}
