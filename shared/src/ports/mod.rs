//! Narrow capabilities the handlers depend on. The DynamoDB adapter implements them all.

use crate::domain::accounts::{
    Admission, ApiKeyRecord, CreditBalance, Live, LoginId, RateWindow, Reward, Role, Rotation,
    SessionRecord, Taken, UserRecord,
};
use crate::domain::admin::{AdminWrite, AuditEntry, DayUsage};
use crate::domain::assets::{AssetKind, ImageRecord, SortOrder, UploadRecord, VersionEntry};
use crate::domain::billing::{
    Hold, HoldState, IdempotencyClaim, KeyClaim, LedgerEntry, Opened, Settlement, UserDay,
    WriteOutcome,
};
use crate::domain::catalog::ProviderKind;
use crate::domain::circuits::Circuit;
use crate::domain::jobs::{CancelOutcome, Checkpoint, Job, JobEnd, JobFilter, JobStatus, Lease};
use crate::domain::key_policy::KeyPolicy;
use crate::domain::signin::{Claimant, Idp, SigninState};
use crate::domain::webhooks::WebhookSecrets;
use crate::error::ApiError;
use futures::future::BoxFuture;
use std::future::Future;

mod accounts;
mod assets;
mod billing;
mod jobs;

pub use accounts::*;
pub use assets::*;
pub use billing::*;
pub use jobs::*;

/// The queues use cases send to: the generation queue (jobs) and the webhook deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    Jobs,
    Webhooks,
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
    + Outbox
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
        + Outbox
{
}
