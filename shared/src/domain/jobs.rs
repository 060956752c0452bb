//! Jobs: paid image work run by the queue worker instead of inside the HTTP request. A job is
//! charged at submission (the same hold as a synchronous request, under the job's id) and moves
//! queued → processing → succeeded | failed | canceled by conditional writes only.

use crate::domain::generation::CreateImageRequest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Processing,
    Succeeded,
    Failed,
    Canceled,
}

impl JobStatus {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobOperation {
    Generation,
    Edit,
    Variation,
    /// A clip of `POST /v1/videos`: its result is one asset of kind `video`.
    Video,
}

impl JobOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generation => "generation",
            Self::Edit => "edit",
            Self::Variation => "variation",
            Self::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Generation, Self::Edit, Self::Variation, Self::Video]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// An input image kept for the worker: its bytes are copied at submission, so deleting the
/// source asset meanwhile does not change the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredInput {
    pub key: String,
    /// The library asset it came from (the result's parent).
    #[serde(default)]
    pub asset_id: Option<String>,
}

/// Which of a user's jobs a listing shows, and in which order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub operation: Option<JobOperation>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
}

impl JobFilter {
    pub fn admits(&self, job: &Job) -> bool {
        self.status.is_none_or(|s| job.status == s)
            && self.operation.is_none_or(|o| job.operation == o)
    }
}

/// What the worker runs: the request as validated at submission (its seed pinned), and the
/// input images of edits and variations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    pub operation: JobOperation,
    pub fields: CreateImageRequest,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<StoredInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<StoredInput>,
    /// A video's length; its picture, if any, is `images[0]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
}

impl JobRequest {
    /// Every object the job keeps its inputs in.
    pub fn input_keys(&self) -> Vec<String> {
        self.images
            .iter()
            .chain(&self.mask)
            .map(|i| i.key.clone())
            .collect()
    }
}

/// Which transitions a job's webhook is sent for (Replicate's `webhook_events_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    /// The worker began the job.
    Started,
    /// The job ended: succeeded, failed or canceled.
    Completed,
}

impl WebhookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Started, Self::Completed]
            .into_iter()
            .find(|e| e.as_str() == s)
    }
}

/// How a job failed: the status and OpenAI-shaped body the synchronous call would have answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFailure {
    pub status: u16,
    /// `{"message", "type", "param", "code"}`.
    pub error: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub user_id: String,
    pub status: JobStatus,
    pub progress: u8,
    pub operation: JobOperation,
    pub model: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// The synchronous answer without image bytes or URLs (refilled when read).
    pub result: Option<String>,
    pub failure: Option<JobFailure>,
    /// [`JobRequest`] as JSON.
    pub request: String,
    /// How many times a worker took the job; the settling write names the attempt.
    pub attempt: u32,
    /// Until when the current attempt may run; a later delivery takes over after it.
    pub lease_until: i64,
    pub cancel_requested: bool,
    pub webhook: Option<String>,
    pub webhook_events: Vec<WebhookEvent>,
    /// What the submission was charged (given back if the job fails or is canceled).
    pub credits: i64,
}

/// How a job ends, as written by the one transition that ends it.
#[derive(Debug, Clone)]
pub struct JobEnd {
    pub status: JobStatus,
    pub failure: Option<JobFailure>,
    pub completed_at: i64,
}

/// What a worker's attempt to take a job found.
#[derive(Debug, Clone)]
pub enum Lease {
    /// Taken: this is attempt `job.attempt`, valid until `job.lease_until`.
    Taken(Job),
    /// Another attempt holds a live lease.
    Busy {
        lease_until: i64,
    },
    /// Already over (or canceled while queued).
    Finished(Job),
    Missing,
}

/// What a checkpoint of a running attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    Continue,
    /// The user asked to cancel: stop and give back.
    CancelRequested,
    /// A later attempt took the job over (or it ended): stop, store nothing.
    Lost,
}

/// What a cancel request did.
#[derive(Debug, Clone)]
pub enum CancelOutcome {
    /// Was queued: canceled now (the caller gives back what it took).
    Canceled(Job),
    /// Is processing: the worker stops at its next checkpoint.
    Requested(Job),
    /// Already over.
    Finished(Job),
    Missing,
}

/// `Prefer` (RFC 7240) as this API reads it: `respond-async` and `wait=N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prefer {
    pub respond_async: bool,
    /// Seconds to keep the request open for the result (at most [`MAX_WAIT_SECONDS`]).
    pub wait: Option<u32>,
}

/// Replicate's bound, within API Gateway's 29 s.
pub const MAX_WAIT_SECONDS: u32 = 25;

impl Prefer {
    /// Parses every `Prefer` header value; unknown preferences are ignored, as RFC 7240 says.
    /// `wait` above the bound is clamped, not refused (a preference, not a demand).
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut prefer = Self::default();
        for value in values {
            for token in value.split([',', ';']) {
                let token = token.trim();
                let (name, arg) = match token.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (token, None),
                };
                if name.eq_ignore_ascii_case("respond-async") {
                    prefer.respond_async = true;
                } else if name.eq_ignore_ascii_case("wait")
                    && let Some(secs) = arg.and_then(|a| a.parse::<u64>().ok())
                {
                    prefer.wait = Some(secs.min(MAX_WAIT_SECONDS as u64) as u32);
                }
            }
        }
        prefer
    }

    /// Whether the work goes to the queue (a wait also does: the request only waits for it).
    pub fn queued(self) -> bool {
        self.respond_async || self.wait.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_reads_respond_async_and_wait_among_other_preferences() {
        assert_eq!(Prefer::parse([]), Prefer::default());
        assert!(!Prefer::parse(["return=minimal"]).queued());
        let p = Prefer::parse(["return=minimal, Respond-Async"]);
        assert_eq!((p.respond_async, p.wait), (true, None));
        let p = Prefer::parse(["wait=10"]);
        assert_eq!((p.respond_async, p.wait), (false, Some(10)));
        assert!(p.queued());
        assert_eq!(Prefer::parse(["respond-async", "wait=600"]).wait, Some(25));
        assert_eq!(Prefer::parse(["wait=soon"]).wait, None);
        assert_eq!(Prefer::parse(["respond-async; wait=\"5\""]).wait, Some(5));
    }

    #[test]
    fn terminal_statuses_are_the_three_ends() {
        let ends: Vec<_> = JobStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .map(JobStatus::as_str)
            .collect();
        assert_eq!(ends, ["succeeded", "failed", "canceled"]);
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
    }
}
