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

/// Everything a handler may need from storage.
pub trait Store: Accounts + Sessions + ApiKeys + RateLimits {}
impl<T: Accounts + Sessions + ApiKeys + RateLimits> Store for T {}
