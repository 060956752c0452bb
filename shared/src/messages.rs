//! What the queues and the table's stream carry, one type per message, written by its producer
//! and read by its consumer with the same type: a field renamed on one side is a compile error,
//! not a lost message.

use crate::domain::assets::ImageRecord;
use crate::domain::generation::CreateImageRequest;
use crate::domain::jobs::{Job, JobOperation, WebhookEvent};
use serde::{Deserialize, Serialize};

/// What the generation queue carries for a job made through the API.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub job_id: String,
    pub user_id: String,
}

/// Work another system submits by sending a message to the generation queue (see README):
/// validated like the HTTP request it stands for, charged to `user_id`, and queued as a job.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSubmission {
    pub user_id: String,
    /// The sender's name for this piece of work: a second message with the same reference
    /// (SQS may deliver one twice) makes no second job for 24 hours.
    pub reference: String,
    pub operation: JobOperation,
    /// The fields of the HTTP request body (`prompt`, `model`, `size`, `webhook`, …).
    pub request: CreateImageRequest,
    /// Library assets to edit or vary (`file_id`s).
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub mask: Option<String>,
}

/// One delivery on the webhook queue: the same `id` on every attempt (receivers deduplicate by it).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub id: String,
    pub user_id: String,
    pub url: String,
    /// What is posted: the job or asset object.
    pub body: serde_json::Value,
}

impl Delivery {
    /// A job's webhook for `event`: the same id however often the event is sent.
    pub fn of_job(
        job_id: &str,
        event: WebhookEvent,
        user_id: &str,
        url: &str,
        body: serde_json::Value,
    ) -> Self {
        Self {
            id: format!("msg_{job_id}_{}", event.as_str()),
            user_id: user_id.to_string(),
            url: url.to_string(),
            body,
        }
    }
}

/// An announcement the table keeps until its stream has carried it out (an outbox item), for what
/// no other item records: a refused submission from the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announcement {
    /// Derived from what is announced: writing it again announces nothing more, and the event
    /// carries it as `event_id`.
    pub id: String,
    pub detail_type: String,
    pub detail: serde_json::Value,
}

/// A change of the table, as its stream reports it, that other systems hear about.
#[derive(Debug, Clone)]
pub enum Change {
    /// A job was written: `old` is what it was before (none for a new job). Boxed: a job is
    /// several times larger than the other changes.
    Job {
        old: Option<Box<Job>>,
        new: Box<Job>,
    },
    ImageCreated(ImageRecord),
    ImageDeleted(ImageRecord),
    Announced(Announcement),
}
