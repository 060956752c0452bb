//! Ports of accounts: users, admin changes, linked identities, sessions, API keys and rate limits.

use super::*;

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
    /// Credits counted in one of a key's spend entries (`KeySpend::entries`).
    fn key_spent(
        &self,
        user_id: &str,
        entry: &str,
    ) -> impl Future<Output = Result<i64, ApiError>> + Send;
    /// Replaces the name and policy of `key` (as it was read) and raises its version, so that
    /// every instance admitting it reads the change at its next request; `None` when it was
    /// revoked meanwhile, a conflict when another change came first.
    fn update_key(
        &self,
        key: &ApiKeyRecord,
        name: &str,
        policy: &KeyPolicy,
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
