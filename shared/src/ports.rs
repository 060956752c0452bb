//! Narrow capabilities the handlers depend on. The DynamoDB adapter implements them all.

use crate::domain::accounts::{
    Admission, ApiKeyRecord, CreditBalance, Live, LoginId, RateWindow, Reward, Role, Rotation,
    SessionRecord, Taken, UserRecord,
};
use crate::domain::admin::{AdminWrite, AuditEntry, DayUsage};
use crate::domain::assets::{AssetKind, ImageRecord, SortOrder, UploadRecord, VersionEntry};
use crate::domain::billing::{
    Hold, HoldState, IdempotencyClaim, KeyClaim, LedgerEntry, Opened, Settlement, WriteOutcome,
};
use crate::domain::catalog::ProviderKind;
use crate::domain::circuits::Circuit;
use crate::domain::jobs::{CancelOutcome, Checkpoint, Job, JobEnd, JobFilter, JobStatus, Lease};
use crate::domain::signin::{Claimant, Idp, SigninState};
use crate::domain::webhooks::WebhookSecrets;
use crate::error::ApiError;
use futures::future::BoxFuture;
use std::future::Future;

/// The queues use cases send to: the generation queue (jobs) and the webhook deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    Jobs,
    Webhooks,
}

pub trait Accounts: Send + Sync {
    /// Creates the user, unless its username or email is taken (even under races).
    fn create_user(
        &self,
        user: &UserRecord,
    ) -> impl Future<Output = Result<Result<(), Taken>, ApiError>> + Send;
    fn user(&self, id: &str) -> impl Future<Output = Result<Option<UserRecord>, ApiError>> + Send;
    fn user_by_login(
        &self,
        login: &LoginId,
    ) -> impl Future<Output = Result<Option<UserRecord>, ApiError>> + Send;
    /// The user id owning a referral code.
    fn referrer(&self, code: &str)
    -> impl Future<Output = Result<Option<String>, ApiError>> + Send;
    /// Grants `referrer` `credits` for `referred`'s first paid generation: at most once per
    /// referred user (even under races), at most `monthly_cap` a UTC month per referrer, with a
    /// ledger line.
    fn reward_referrer(
        &self,
        referred: &str,
        referrer: &str,
        credits: i64,
        monthly_cap: u32,
        now: i64,
    ) -> impl Future<Output = Result<Reward, ApiError>> + Send;
}

/// What admins read and change; every change is written with its audit entry.
pub trait Admin: Send + Sync {
    /// Users whose username or email starts with `prefix` (lower-case), or every user newest
    /// first; the second value is the cursor to continue after, when there is more.
    fn find_users(
        &self,
        prefix: Option<&str>,
        limit: usize,
        after: Option<&str>,
    ) -> impl Future<Output = Result<(Vec<UserRecord>, Option<String>), ApiError>> + Send;
    /// Moves the balance by `delta` (never below zero) with a ledger line naming the admin.
    fn adjust_credits(
        &self,
        user_id: &str,
        delta: i64,
        audit: &AuditEntry,
        note: &str,
    ) -> impl Future<Output = Result<AdminWrite<CreditBalance>, ApiError>> + Send;
    /// Disables (`Some(at)`) or enables the account.
    fn set_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
        audit: &AuditEntry,
    ) -> impl Future<Output = Result<AdminWrite<UserRecord>, ApiError>> + Send;
    fn set_role(
        &self,
        user_id: &str,
        role: Role,
        audit: &AuditEntry,
    ) -> impl Future<Output = Result<AdminWrite<UserRecord>, ApiError>> + Send;
    /// The audit entries about one user, newest first.
    fn audit_trail(
        &self,
        user_id: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, ApiError>> + Send;
    /// Paid work per UTC day from `first_day` to `last_day` (days since 1970), days without
    /// any left out.
    fn usage(
        &self,
        first_day: i64,
        last_day: i64,
    ) -> impl Future<Output = Result<Vec<DayUsage>, ApiError>> + Send;
}

/// Sign-ins with OpenID providers: their state in flight and the identities they link.
pub trait Identities: Send + Sync {
    fn save_signin(&self, state: &SigninState)
    -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Takes a sign-in once: `None` when unknown, expired, already taken, another provider's,
    /// or not `who`'s to take (`SigninState::claimable_by`). A refused take leaves the
    /// sign-in as it was.
    fn take_signin(
        &self,
        state: &str,
        provider: Idp,
        now: i64,
        who: Claimant<'_>,
    ) -> impl Future<Output = Result<Option<SigninState>, ApiError>> + Send;
    /// Records a single-use credential (by hash) until `until`; `false` when it was used before.
    fn spend_once(
        &self,
        hash: &str,
        until: i64,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// The user an identity signs in.
    fn identity_user(
        &self,
        provider: Idp,
        subject: &str,
    ) -> impl Future<Output = Result<Option<String>, ApiError>> + Send;
    /// Links an identity to an existing user; `false` when it is already someone's.
    fn link_identity(
        &self,
        provider: Idp,
        subject: &str,
        user_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// Creates the user and links the identity in one write.
    fn create_user_with_identity(
        &self,
        user: &UserRecord,
        provider: Idp,
        subject: &str,
    ) -> impl Future<Output = Result<Result<(), Taken>, ApiError>> + Send;
}

pub trait Sessions: Send + Sync {
    /// Starts a session with its first refresh token (stored by hash).
    fn start_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &str,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn session(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<SessionRecord>, ApiError>> + Send;
    /// Spends `old_hash` and stores `new_hash` atomically; a second use revokes the family.
    fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<Rotation, ApiError>> + Send;
    /// The session id a refresh token belongs to, if it is known.
    fn refresh_session(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<SessionRecord>, ApiError>> + Send;
    fn revoke_session(&self, id: &str) -> impl Future<Output = Result<(), ApiError>> + Send;
}

pub trait ApiKeys: Send + Sync {
    fn create_key(&self, key: &ApiKeyRecord) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn list_keys(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<ApiKeyRecord>, ApiError>> + Send;
    /// Deletes the key; `false` when the user has no key with that id.
    fn revoke_key(
        &self,
        user_id: &str,
        key_id: &str,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    fn key_by_hash(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<ApiKeyRecord>, ApiError>> + Send;
}

pub trait RateLimits: Send + Sync {
    /// Counts one request in the user's current window; `Err(window)` once the limit is reached.
    fn hit(
        &self,
        user_id: &str,
        limit: u32,
        window_secs: i64,
        now: i64,
    ) -> impl Future<Output = Result<Result<RateWindow, RateWindow>, ApiError>> + Send;
    /// Checks that `live` is still valid and counts one request of the user's window, in one
    /// write (an authenticated request's only bookkeeping).
    fn admit(
        &self,
        user_id: &str,
        live: Live<'_>,
        limit: u32,
        window_secs: i64,
        now: i64,
    ) -> impl Future<Output = Result<Admission, ApiError>> + Send;
    /// How many hits the current window of `key` has, without counting one.
    fn hits(
        &self,
        key: &str,
        window_secs: i64,
        now: i64,
    ) -> impl Future<Output = Result<u32, ApiError>> + Send;
}

pub trait Images: Send + Sync {
    /// Stores all records or none, all of one user's, and only if their bytes fit in what
    /// remains of `storage_quota` (else `NotWritten` with a 403 `storage_quota_exceeded`); the
    /// user's stored bytes grow in the same write. With a [`Settlement`], the same transaction
    /// settles its pending [`Hold`] and records the answer under the request's Idempotency-Key
    /// claim: the images, the charge for them and the replayable answer become final together.
    /// If the hold is no longer pending (its charge was given back) or the claim is no longer
    /// the request's, nothing is stored.
    fn put_images(
        &self,
        records: &[ImageRecord],
        settles: Option<&Settlement>,
        storage_quota: u64,
    ) -> impl Future<Output = WriteOutcome> + Send;
    fn image(
        &self,
        user_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<ImageRecord>, ApiError>> + Send;
    /// One page; the second value is the id to continue after, when there is more.
    fn list_images(
        &self,
        user_id: &str,
        kind: Option<AssetKind>,
        order: SortOrder,
        limit: usize,
        after: Option<&str>,
    ) -> impl Future<Output = Result<(Vec<ImageRecord>, Option<String>), ApiError>> + Send;
    /// Deletes the metadata of `images` (and their places in their lineages), re-points
    /// `reparent` children (id, new parent) and gives their bytes back to the user's storage
    /// in one write; `false` when one was already gone.
    fn delete_images(
        &self,
        user_id: &str,
        images: &[ImageRecord],
        reparent: &[(String, Option<String>)],
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// The versions of the lineage whose first version is `root_id`, oldest first.
    fn versions(
        &self,
        user_id: &str,
        root_id: &str,
    ) -> impl Future<Output = Result<Vec<VersionEntry>, ApiError>> + Send;
    /// Changes title and/or tags; `None` when the image does not exist.
    fn update_image_meta(
        &self,
        user_id: &str,
        id: &str,
        title: Option<Option<String>>,
        tags: Option<Vec<String>>,
    ) -> impl Future<Output = Result<Option<ImageRecord>, ApiError>> + Send;
}

pub trait Uploads: Send + Sync {
    fn create_upload(
        &self,
        upload: &UploadRecord,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn upload(
        &self,
        user_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<UploadRecord>, ApiError>> + Send;
}

pub trait Credits: Send + Sync {
    /// Takes `amount` credits atomically, never below zero; `Ok(false)` when there are too few.
    /// The same write marks `reference` as an open charge on the balance, so that a refund can
    /// tell whether there is anything to give back.
    fn debit(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// Gives back the debit of `reference` (made for `reason`) if it is still open; refunding a
    /// reference that was never debited, already refunded or settled does nothing. `Ok(true)`
    /// when credits moved; the ledger then shows the debit and its refund.
    fn refund(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// Makes the debit of `reference` final (it can no longer be refunded).
    fn settle_charge(
        &self,
        user_id: &str,
        reference: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn ledger(
        &self,
        user_id: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, ApiError>> + Send;
}

pub trait Quotas: Send + Sync {
    /// Reserves `n` of the images of `now`'s UTC day under `reference`; `Err(reset_at)` when that
    /// would pass `limit`.
    fn reserve_daily(
        &self,
        user_id: &str,
        n: u32,
        limit: u32,
        now: i64,
        reference: &str,
    ) -> impl Future<Output = Result<Result<(), i64>, ApiError>> + Send;
    /// Gives back the reservation `reference` made at `reserved_at`, if it is still open.
    fn release_daily(
        &self,
        user_id: &str,
        n: u32,
        reserved_at: i64,
        reference: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Makes the reservation final (the images were made).
    fn settle_daily(
        &self,
        user_id: &str,
        reserved_at: i64,
        reference: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

pub trait Holds: Send + Sync {
    fn open_hold(&self, hold: &Hold) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Opens `hold` and takes what it names, all in one write: its objects listed, `images` of
    /// the day's quota (at most `daily_limit`) and `amount` credits with the debit's ledger line
    /// (`reason`), only while the account stores less than `storage_quota`. Nothing is taken
    /// unless everything is.
    fn open_charge(
        &self,
        hold: &Hold,
        daily_limit: u32,
        reason: &str,
        storage_quota: u64,
    ) -> impl Future<Output = Result<Opened, ApiError>> + Send;
    /// Names the objects the request is about to write; `Ok(false)` if the hold is no longer
    /// pending (then nothing may be written).
    fn attach_objects(
        &self,
        id: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// Holds whose `due_at` has passed at `now`, oldest first, at most `limit`.
    fn due_holds(
        &self,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Hold>, ApiError>> + Send;
    /// Pending → refunding (or already refunding). `Ok(false)` when the hold is settled or gone:
    /// then there is nothing to give back.
    fn start_refund(&self, id: &str) -> impl Future<Output = Result<bool, ApiError>> + Send;
    fn hold_state(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<HoldState>, ApiError>> + Send;
    /// Moves a hold that could not be handled to the back of the sweeper's queue.
    fn postpone_hold(
        &self,
        hold: &Hold,
        due_at: i64,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn close_hold(&self, id: &str) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn hold(&self, id: &str) -> impl Future<Output = Result<Option<Hold>, ApiError>> + Send;
}

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

pub trait Idempotency: Send + Sync {
    fn claim(
        &self,
        user_id: &str,
        claim: &KeyClaim,
        body_hash: &str,
        now: i64,
    ) -> impl Future<Output = Result<IdempotencyClaim, ApiError>> + Send;
    /// Frees the key after a failure, so the client can retry with it; only this pending claim.
    fn abandon(
        &self,
        user_id: &str,
        claim: &KeyClaim,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// Private object storage; objects leave it only through presigned URLs.
pub trait Blobs: Send + Sync {
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, ApiError>> + Send;
    /// Deletes every key; missing keys are not an error.
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn presign_get(
        &self,
        key: &str,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;
    /// A presigned PUT with the content type and length bound into the signature.
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        bytes: u64,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;
    /// The size of an object, or `None` when it does not exist.
    fn size(&self, key: &str) -> impl Future<Output = Result<Option<u64>, ApiError>> + Send;
}

/// Puts a vendor's input where the vendor can fetch it: inputs too large to send inline
/// (Replicate takes `data:` URIs up to about 256 KB) go as short-lived URLs instead.
pub trait Staging: Send + Sync {
    /// A URL the vendor may GET the bytes from, for a while.
    fn stage(
        &self,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> BoxFuture<'_, Result<String, ApiError>>;
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

/// Where work is sent to be done later: the generation queue (jobs) and the webhook queue
/// (deliveries). SQS where deployed.
pub trait Queue: Send + Sync {
    fn send(&self, queue: QueueName, body: String) -> BoxFuture<'_, Result<(), ApiError>>;
    /// What was sent to `queue` and not yet taken, oldest first: only a queue that records what
    /// it is given (the in-memory twin) has any; a real one answers nothing.
    fn take(&self, _queue: QueueName) -> Vec<String> {
        Vec::new()
    }
}

/// Where changes are announced to other systems (EventBridge where deployed). Publishing never
/// fails the request that caused it: the change is already stored; a lost event is logged.
pub trait Events: Send + Sync {
    fn publish<'a>(
        &'a self,
        detail_type: &'a str,
        details: Vec<serde_json::Value>,
    ) -> BoxFuture<'a, ()>;
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

/// Everything a handler may need from the metadata store.
pub trait Store:
    Accounts
    + Admin
    + Identities
    + Sessions
    + ApiKeys
    + RateLimits
    + Images
    + Credits
    + Quotas
    + Holds
    + Idempotency
    + Uploads
    + WebhookSecretStore
    + Jobs
{
}
impl<T> Store for T where
    T: Accounts
        + Admin
        + Identities
        + Sessions
        + ApiKeys
        + RateLimits
        + Images
        + Credits
        + Quotas
        + Holds
        + Idempotency
        + Uploads
        + WebhookSecretStore
        + Jobs
{
}
