//! Narrow capabilities the handlers depend on. The DynamoDB adapter implements them all.

use crate::domain::accounts::{LoginId, Role};
use crate::error::ApiError;
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: i64,
    pub referral_code: String,
    pub referred_by: Option<String>,
    pub credits: CreditBalance,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreditBalance {
    pub available: i64,
    pub earned: i64,
    pub spent: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub role: Role,
    pub revoked: bool,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is spent; the new one is live in the same session.
    Rotated(SessionRecord),
    /// The token was already used: the whole family has been revoked.
    ReuseDetected,
    /// Unknown, expired, or its session was signed out.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub user_id: String,
    pub role: Role,
    pub name: String,
    pub prefix: String,
    pub hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The state of a user's request window after counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub limit: u32,
    pub used: u32,
    /// Unix time at which the window resets.
    pub reset_at: i64,
}

pub trait Accounts: Send + Sync {
    /// Creates the user; a taken username or email is a 409 naming the field, even under races.
    fn create_user(&self, user: &UserRecord) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn user(&self, id: &str) -> impl Future<Output = Result<Option<UserRecord>, ApiError>> + Send;
    fn user_by_login(
        &self,
        login: &LoginId,
    ) -> impl Future<Output = Result<Option<UserRecord>, ApiError>> + Send;
    /// The user id owning a referral code.
    fn referrer(&self, code: &str)
    -> impl Future<Output = Result<Option<String>, ApiError>> + Send;
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
    fn touch_key(
        &self,
        user_id: &str,
        key_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
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
}

/// What kind of asset a library item is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    Image,
    Video,
    Upload,
}

impl AssetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AssetKind::Image => "image",
            AssetKind::Video => "video",
            AssetKind::Upload => "upload",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image" => Some(AssetKind::Image),
            "video" => Some(AssetKind::Video),
            "upload" => Some(AssetKind::Upload),
            _ => None,
        }
    }
}

/// Metadata of one stored asset; its bytes live in S3 under keys derived from the ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecord {
    pub id: String,
    pub user_id: String,
    pub kind: AssetKind,
    pub prompt: Option<String>,
    pub revised_prompt: Option<String>,
    pub model: Option<String>,
    pub width: u32,
    pub height: u32,
    /// png, jpeg or webp.
    pub format: String,
    pub bytes: u64,
    pub key: String,
    pub thumbnail_key: Option<String>,
    pub created_at: i64,
    pub parent_id: Option<String>,
    pub background: Option<String>,
    pub quality: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    /// 1 for an original; a new version made by PATCH is its parent's version + 1.
    pub version: u32,
}

/// Where a new asset comes from: its parent (if derived) and what it inherits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lineage {
    pub parent_id: Option<String>,
    pub version: u32,
    pub title: Option<String>,
    pub tags: Vec<String>,
}

impl Lineage {
    /// A first version, derived from `parent_id` if given.
    pub fn original(parent_id: Option<String>) -> Self {
        Self {
            parent_id,
            version: 1,
            title: None,
            tags: Vec::new(),
        }
    }

    /// The next version of `parent`, inheriting its title and tags.
    pub fn next_version_of(parent: &ImageRecord) -> Self {
        Self {
            parent_id: Some(parent.id.clone()),
            version: parent.version + 1,
            title: parent.title.clone(),
            tags: parent.tags.clone(),
        }
    }
}

/// A presigned upload waiting for its object, or completed into an asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub user_id: String,
    pub content_type: String,
    pub declared_bytes: u64,
    pub key: String,
    pub asset_id: Option<String>,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    NewestFirst,
    OldestFirst,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: String,
    /// Negative for spending, positive for grants and refunds.
    pub delta: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub created_at: i64,
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// First use: go ahead, then complete or abandon it.
    New,
    /// Same key and body already answered: replay this stored JSON.
    Replay(String),
    /// Same key, another body.
    Mismatch,
    /// Same key and body, still being processed.
    InProgress,
}

pub trait Images: Send + Sync {
    /// Stores all records or none. With a [`Settlement`], the same transaction settles its
    /// pending [`Hold`] and records the answer under the request's Idempotency-Key claim: the
    /// images, the charge for them and the replayable answer become final together. If the hold
    /// is no longer pending (its charge was given back) or the claim is no longer the request's,
    /// nothing is stored.
    fn put_images(
        &self,
        records: &[ImageRecord],
        settles: Option<&Settlement>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
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
    /// Deletes the metadata; `false` when there was none (already deleted or never the user's).
    fn delete_image(
        &self,
        user_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
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
    /// Marks a pending upload completed as `asset_id`; `false` if it was completed already.
    fn complete_upload(
        &self,
        user_id: &str,
        id: &str,
        asset_id: &str,
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    /// Credits and quota may be taken; the work is under way (or its Lambda was killed).
    Pending,
    /// The images are stored: what was taken is final.
    Settled,
    /// The work failed or was abandoned: what was taken is being given back.
    Refunding,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Settled => "settled",
            Self::Refunding => "refunding",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Settled, Self::Refunding]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A paid piece of work in flight, written before anything is taken. Whatever a Lambda that was
/// killed mid-way left behind (credits, daily quota, an Idempotency-Key) is found through it by
/// the sweeper once `due_at` has passed, and given back unless the images were stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The generation id: the reference of the debit and of the quota reservation.
    pub id: String,
    pub user_id: String,
    pub amount: i64,
    pub images: u32,
    /// When the daily quota was reserved (which UTC day it counts against).
    pub reserved_at: i64,
    pub idempotency: Option<KeyClaim>,
    /// Objects about to be written for the request: the sweeper deletes them if it never
    /// stored their metadata.
    pub objects: Vec<String>,
    /// Later than any Lambda holding it can still be running.
    pub due_at: i64,
    pub state: HoldState,
}

/// What storing a paid request's images makes final (see [`Images::put_images`]).
#[derive(Debug, Clone)]
pub struct Settlement {
    pub hold_id: String,
    pub user_id: String,
    /// The claim and the answer to replay for it (without image bytes or URLs).
    pub answer: Option<(KeyClaim, String)>,
}

pub trait Holds: Send + Sync {
    fn open_hold(&self, hold: &Hold) -> impl Future<Output = Result<(), ApiError>> + Send;
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
}

/// One request's claim on an Idempotency-Key: `token` tells this claim from a later one of the
/// same key, so that freeing or completing a stale claim cannot touch a newer request's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim {
    pub key: String,
    pub token: String,
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

/// Everything a handler may need from the metadata store.
pub trait Store:
    Accounts
    + Sessions
    + ApiKeys
    + RateLimits
    + Images
    + Credits
    + Quotas
    + Holds
    + Idempotency
    + Uploads
{
}
impl<T> Store for T where
    T: Accounts
        + Sessions
        + ApiKeys
        + RateLimits
        + Images
        + Credits
        + Quotas
        + Holds
        + Idempotency
        + Uploads
{
}
