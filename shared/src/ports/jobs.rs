//! Ports of jobs and what they announce: jobs, webhook secrets, the queues, the event bus and
//! vendors' circuits.

use super::*;

/// Jobs of the generation queue. Every state change is conditional on the state it leaves.
pub trait Jobs: Send + Sync {
    /// Writes a new queued job and, in the same write, makes its hold (same id, still pending)
    /// due at `hold_due_at` without its Idempotency-Key claim, and with `answer` completes that
    /// claim with the job: from then on the key replays the job.
    fn create_job(
        &self,
        job: &Job,
        hold_due_at: i64,
        answer: Option<&(KeyClaim, String)>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn job(
        &self,
        user_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<Job>, ApiError>> + Send;
    /// One page of the user's jobs that `filter` admits, in its order; the second value is
    /// the id to continue after.
    fn list_jobs(
        &self,
        user_id: &str,
        filter: JobFilter,
        limit: usize,
        after: Option<&str>,
    ) -> impl Future<Output = Result<(Vec<Job>, Option<String>), ApiError>> + Send;
    /// Takes the job for a new attempt if it is queued, or processing under a lease that ended
    /// before `now`: processing, attempt + 1, leased until `lease_until`.
    fn lease_job(
        &self,
        user_id: &str,
        id: &str,
        now: i64,
        lease_until: i64,
    ) -> impl Future<Output = Result<Lease, ApiError>> + Send;
    /// Records `progress` if `attempt` still holds the job, and says whether to go on.
    fn checkpoint_job(
        &self,
        user_id: &str,
        id: &str,
        attempt: u32,
        progress: u8,
    ) -> impl Future<Output = Result<Checkpoint, ApiError>> + Send;
    /// Ends the job if it is still in `from` (and, with `attempt`, still that attempt's);
    /// `Ok(false)` when it was not.
    fn end_job(
        &self,
        user_id: &str,
        id: &str,
        from: JobStatus,
        attempt: Option<u32>,
        end: &JobEnd,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// Cancels a queued job at once, or marks a processing one for its worker to stop.
    fn request_cancel(
        &self,
        user_id: &str,
        id: &str,
        now: i64,
    ) -> impl Future<Output = Result<CancelOutcome, ApiError>> + Send;
    /// Deletes a job that has ended; `false` when it is missing or still running.
    fn delete_job(
        &self,
        user_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
}

/// A user's Standard Webhooks signing secrets.
pub trait WebhookSecretStore: Send + Sync {
    /// The user's secrets, if one was ever made.
    fn webhook_secrets(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<WebhookSecrets>, ApiError>> + Send;
    /// Stores `secret` as the user's first one, unless one exists: returns what is stored, so
    /// two racing first uses agree on one secret.
    fn create_webhook_secret(
        &self,
        user_id: &str,
        secret: &str,
    ) -> impl Future<Output = Result<WebhookSecrets, ApiError>> + Send;
    /// Makes `secret` the current one; the one it replaces (if it is `expected`) still signs
    /// until `until`. `None` when the current secret is no longer `expected` (a racing rotation).
    fn rotate_webhook_secret(
        &self,
        user_id: &str,
        expected: &str,
        secret: &str,
        until: i64,
    ) -> impl Future<Output = Result<Option<WebhookSecrets>, ApiError>> + Send;
}

/// How a message keeps its place: messages of one `group` are delivered one at a time, in the
/// order they were sent, and a repeat of `dedup_id` within five minutes is dropped (an SQS FIFO
/// queue: the webhook queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InOrder {
    pub group: String,
    pub dedup_id: String,
}

/// Where work is sent to be done later: the generation queue (jobs) and the webhook queue
/// (deliveries). SQS where deployed.
pub trait Queue: Send + Sync {
    fn send(
        &self,
        queue: QueueName,
        body: String,
        order: Option<InOrder>,
    ) -> BoxFuture<'_, Result<(), ApiError>>;
    /// What was sent to `queue` and not yet taken, oldest first: only a queue that records what
    /// it is given (the in-memory twin) has any; a real one answers nothing.
    fn take(&self, _queue: QueueName) -> Vec<String> {
        Vec::new()
    }
}

/// Where changes are announced to other systems (EventBridge where deployed). Only the table's
/// stream publishes: a change is announced after it is stored, and again if publishing failed.
pub trait Events: Send + Sync {
    fn publish<'a>(
        &'a self,
        detail_type: &'a str,
        details: Vec<serde_json::Value>,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
}

/// Announcements that no other item records (an outbox in the table, carried out by its
/// stream).
pub trait Outbox: Send + Sync {
    /// Keeps `announcement` for the stream; the same id again writes nothing new.
    fn put_announcement(
        &self,
        announcement: &crate::messages::Announcement,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// Where circuits are kept. Errors are swallowed by implementations (logged): a circuit that
/// cannot be read is closed, and the request goes to the vendor as it would without one.
pub trait Circuits: Send + Sync {
    fn read(&self, vendor: ProviderKind) -> BoxFuture<'_, Circuit>;
    /// Counts a failure; opens the circuit at the threshold. Returns whether this call opened it.
    fn failed(&self, vendor: ProviderKind, now: u64) -> BoxFuture<'_, bool>;
    /// Closes the circuit (called only when it had failures).
    fn succeeded(&self, vendor: ProviderKind) -> BoxFuture<'_, ()>;
}
