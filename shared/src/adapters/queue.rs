//! The queues work is sent to: the generation queue (jobs) and the webhook queue (deliveries).

#[cfg(feature = "queue")]
use crate::adapters::aws::Lazy;
use crate::error::ApiError;
use crate::ports::QueueName;
use std::sync::{Arc, Mutex};

/// SQS where deployed; in the use-case tests, a list of what was sent.
#[derive(Clone)]
pub struct Queues {
    target: Target,
}

#[derive(Clone)]
enum Target {
    #[cfg(feature = "queue")]
    Sqs {
        client: Lazy<aws_sdk_sqs::Client>,
        jobs: String,
        webhooks: Option<String>,
    },
    Memory(Arc<Mutex<Vec<(QueueName, String)>>>),
    /// A function built without the `queue` feature: it has nothing to send, and says so.
    #[cfg(not(feature = "queue"))]
    Absent,
}

impl Default for Queues {
    fn default() -> Self {
        Self {
            target: Target::Memory(Default::default()),
        }
    }
}

impl Queues {
    /// What a deployed function sends through: SQS with the `queue` feature, else nothing.
    pub fn deployed(
        aws: std::sync::Arc<crate::adapters::aws::AwsSource>,
        jobs: String,
        webhooks: Option<String>,
    ) -> Self {
        #[cfg(feature = "queue")]
        {
            let client = Lazy::new(aws, |_, sdk| aws_sdk_sqs::Client::new(sdk));
            Self::sqs(client, jobs, webhooks)
        }
        #[cfg(not(feature = "queue"))]
        {
            let _ = (aws, jobs, webhooks);
            Self {
                target: Target::Absent,
            }
        }
    }

    #[cfg(feature = "queue")]
    pub fn sqs(client: Lazy<aws_sdk_sqs::Client>, jobs: String, webhooks: Option<String>) -> Self {
        Self {
            target: Target::Sqs {
                client,
                jobs,
                webhooks,
            },
        }
    }

    pub async fn send(&self, queue: QueueName, body: String) -> Result<(), ApiError> {
        match &self.target {
            Target::Memory(sent) => {
                sent.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((queue, body));
                Ok(())
            }
            #[cfg(not(feature = "queue"))]
            Target::Absent => Err(ApiError::internal(
                "this function is built without the `queue` feature of shared",
            )),
            #[cfg(feature = "queue")]
            Target::Sqs {
                client,
                jobs,
                webhooks,
            } => {
                let url = match queue {
                    QueueName::Jobs => jobs,
                    QueueName::Webhooks => webhooks
                        .as_ref()
                        .ok_or_else(|| ApiError::internal("WEBHOOK_QUEUE_URL is not configured"))?,
                };
                client
                    .get()
                    .await
                    .send_message()
                    .queue_url(url)
                    .message_body(body)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        ApiError::internal(format!(
                            "sqs: {}",
                            aws_sdk_sqs::error::DisplayErrorContext(e)
                        ))
                    })
            }
        }
    }

    /// What was sent to `queue` and not yet taken, oldest first (in-memory queues only).
    pub fn take(&self, queue: QueueName) -> Vec<String> {
        match &self.target {
            Target::Memory(sent) => {
                let mut sent = sent.lock().unwrap_or_else(|p| p.into_inner());
                let (taken, kept) = sent.drain(..).partition(|(q, _)| *q == queue);
                *sent = kept;
                taken.into_iter().map(|(_, b)| b).collect()
            }
            _ => Vec::new(),
        }
    }
}
