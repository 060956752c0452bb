//! In-memory ports, in the style of serverless-rust-demo's memory store: the same contracts as
//! the DynamoDB and S3 adapters (every conditional write, every "only once"), one lock per
//! store so each operation is as atomic as DynamoDB's. The use-case tests run against it in
//! milliseconds; the end-to-end tests keep the emulator and the real adapters.
//!
//! Faults can be queued for the metadata write of images (`fail_next_put_images`), the one
//! write whose outcome the use cases must judge.

mod accounts;
mod admin;
mod billing;
mod events;
mod identities;
mod images;
mod jobs;
mod queue;

pub use events::MemoryEvents;
pub use queue::MemoryQueue;

use crate::domain::accounts::{
    Admission, ApiKeyRecord, Live, LoginId, RateWindow, Rotation, SessionRecord, Taken, UserRecord,
};
use crate::domain::assets::{AssetKind, ImageRecord, SortOrder, UploadRecord, VersionEntry};
use crate::domain::billing::{
    Hold, HoldState, IdempotencyClaim, KeyClaim, LedgerEntry, Opened, Settlement, UserDay,
    WriteOutcome,
};
use crate::domain::jobs::{CancelOutcome, Checkpoint, Job, JobEnd, JobFilter, JobStatus, Lease};
use crate::domain::key_policy::KeyPolicy;
use crate::error::ApiError;
use crate::ports::*;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// How the next metadata write of images ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutFault {
    /// Refused before anything is written.
    Refuse,
    /// Written, but the answer is lost (the caller sees an unknown outcome).
    LoseAnswer,
    /// Not written, and the answer is lost too.
    Unknown,
}

#[derive(Default)]
struct Profile {
    user: Option<UserRecord>,
    open_charges: HashSet<String>,
    /// Live API key ids → last use (0: never).
    api_keys: HashMap<String, i64>,
    revoked_sessions: HashSet<String>,
    /// (window start, hits)
    rate: (i64, u32),
    /// Changed keys' policy versions, keys' hits in the window, and spend entries.
    key_versions: HashMap<String, u32>,
    key_hits: HashMap<String, u32>,
    key_spend: HashMap<String, i64>,
}

#[derive(Default)]
struct Idem {
    pending: bool,
    token: String,
    body_hash: String,
    response: Option<String>,
    expires_at: i64,
}

#[derive(Default)]
struct State {
    users: HashMap<String, Profile>,
    logins: HashMap<String, String>,
    referral_codes: HashMap<String, String>,
    /// Rewards granted per referrer and month.
    referral_months: HashMap<String, u32>,
    sessions: HashMap<String, SessionRecord>,
    /// refresh hash → (session id, used, expires_at)
    refresh: HashMap<String, (String, bool, i64)>,
    keys: HashMap<String, ApiKeyRecord>,
    rates: HashMap<String, u32>,
    /// (user, day) → usage counters, as `Hold::usage_counters` names them.
    user_usage: HashMap<(String, i64), HashMap<String, i64>>,
    images: HashMap<(String, String), ImageRecord>,
    /// (user, root) → version → entry
    versions: HashMap<(String, String), BTreeMap<u32, VersionEntry>>,
    uploads: HashMap<(String, String), UploadRecord>,
    /// user → sort key → entry (newest first is the reverse order, as in DynamoDB)
    ledger: HashMap<String, BTreeMap<String, LedgerEntry>>,
    /// (user, day) → (images, open reservations)
    quotas: HashMap<(String, i64), (u32, HashSet<String>)>,
    holds: HashMap<String, Hold>,
    idempotency: HashMap<(String, String), Idem>,
    faults: VecDeque<PutFault>,
    /// day → paid work settled that day
    usage: BTreeMap<i64, crate::domain::admin::DayUsage>,
    signins: HashMap<String, crate::domain::signin::SigninState>,
    /// single-use credential hash → until
    spent: HashMap<String, i64>,
    /// (provider, subject) → user
    identities: HashMap<(crate::domain::signin::Idp, String), String>,
    /// target user → audit entries, oldest first
    audit: HashMap<String, Vec<crate::domain::admin::AuditEntry>>,
    /// The outbox, by announcement id.
    outbox: BTreeMap<String, crate::messages::Announcement>,
    webhook_secrets: HashMap<String, crate::domain::webhooks::WebhookSecrets>,
    /// (user, job id) → job; ids sort by creation time.
    jobs: BTreeMap<(String, String), Job>,
}

impl State {
    /// Whether `user_id` is an enabled admin now (the admin changes' own condition).
    fn acts_as_admin(&self, user_id: &str) -> bool {
        self.users
            .get(user_id)
            .and_then(|p| p.user.as_ref())
            .is_some_and(|u| {
                u.role == crate::domain::accounts::Role::Admin && u.disabled_at.is_none()
            })
    }
}

#[derive(Default)]
pub struct MemoryStore(Mutex<State>);

impl MemoryStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues how the next `put_images` ends.
    pub fn fail_next_put_images(&self, fault: PutFault) {
        self.state().faults.push_back(fault);
    }

    /// Every hold still present (what the sweeper has yet to see).
    pub fn holds(&self) -> Vec<Hold> {
        let mut holds: Vec<Hold> = self.state().holds.values().cloned().collect();
        holds.sort_by(|a, b| a.id.cmp(&b.id));
        holds
    }
}

const DAY: i64 = 86_400;
const IDEMPOTENCY_TTL: i64 = DAY;

fn ledger_line(
    state: &mut State,
    user_id: &str,
    sk: String,
    delta: i64,
    reason: &str,
    reference: &str,
) -> bool {
    let lines = state.ledger.entry(user_id.to_string()).or_default();
    if lines.contains_key(&sk) {
        return false;
    }
    let id = sk.trim_start_matches("LEDGER#").to_string();
    lines.insert(
        sk,
        LedgerEntry {
            id,
            delta,
            reason: reason.into(),
            reference: Some(reference.into()),
            note: None,
            created_at: crate::domain::now_epoch(),
            by: None,
        },
    );
    true
}

/// Names the credential that spent on a ledger line.
fn ledger_by(state: &mut State, user_id: &str, sk: &str, by: Option<&String>) {
    if let Some(line) = state
        .ledger
        .get_mut(user_id)
        .and_then(|lines| lines.get_mut(sk))
    {
        line.by = by.cloned();
    }
}

/// Objects in memory; presigned URLs are `memory://` addresses that name the key.
#[derive(Default)]
pub struct MemoryBlobs(Mutex<HashMap<String, (Vec<u8>, String)>>);

impl MemoryBlobs {
    fn objects(&self) -> MutexGuard<'_, HashMap<String, (Vec<u8>, String)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every key stored, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.objects().keys().cloned().collect();
        keys.sort();
        keys
    }
}

impl Blobs for MemoryBlobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ApiError> {
        self.objects()
            .insert(key.to_string(), (bytes, content_type.to_string()));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(self.objects().get(key).map(|(b, _)| b.clone()))
    }

    async fn delete(&self, keys: &[String]) -> Result<(), ApiError> {
        let mut objects = self.objects();
        for k in keys {
            objects.remove(k);
        }
        Ok(())
    }

    async fn presign_get(
        &self,
        key: &str,
        signing: crate::domain::delivery::Signing,
    ) -> Result<String, ApiError> {
        Ok(format!(
            "memory://{key}?signed_at={}&expires={}",
            signing.signed_at,
            signing.expires_at()
        ))
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        bytes: u64,
        ttl: std::time::Duration,
    ) -> Result<String, ApiError> {
        Ok(format!(
            "memory://{key}?content-type={content_type}&content-length={bytes}&expires_in={}",
            ttl.as_secs()
        ))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, ApiError> {
        Ok(self.objects().get(key).map(|(b, _)| b.len() as u64))
    }
}

/// A user with `credits` to spend; its id.
pub async fn user_with_credits(store: &MemoryStore, credits: i64) -> String {
    user_with(store, credits, crate::domain::accounts::Role::User).await
}

/// An enabled admin.
pub async fn admin_user(store: &MemoryStore) -> String {
    user_with(store, 0, crate::domain::accounts::Role::Admin).await
}

async fn user_with(
    store: &MemoryStore,
    credits: i64,
    role: crate::domain::accounts::Role,
) -> String {
    let id = crate::domain::new_id("user");
    let user = UserRecord {
        id: id.clone(),
        username: id.to_lowercase(),
        email: format!("{id}@example.com"),
        password_hash: String::new(),
        name: None,
        role,
        created_at: 0,
        referral_code: id.to_uppercase(),
        referred_by: None,
        referral_rewarded_at: None,
        credits: crate::domain::accounts::CreditBalance {
            available: credits,
            earned: 0,
            spent: 0,
        },
        disabled_at: None,
        storage_bytes: 0,
    };
    store
        .create_user(&user)
        .await
        .expect("in memory")
        .expect("a fresh name");
    id
}

impl Outbox for MemoryStore {
    async fn put_announcement(
        &self,
        announcement: &crate::messages::Announcement,
    ) -> Result<(), ApiError> {
        self.state()
            .outbox
            .entry(announcement.id.clone())
            .or_insert_with(|| announcement.clone());
        Ok(())
    }
}
