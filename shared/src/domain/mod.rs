//! Pure types and rules: no I/O.

pub mod accounts;
pub mod admin;
pub mod assets;
pub mod billing;
pub mod catalog;
pub mod circuits;
pub mod delivery;
pub mod generation;
pub mod jobs;
pub mod key_policy;
pub mod oauth;
pub mod prompts;
pub mod signin;
pub mod videos;
pub mod webhooks;

pub const DAY_SECONDS: i64 = 86_400;

/// The longest an access token may live: a signed-out session is remembered this long, so a
/// token of it can never outlive the record that refuses it.
pub const ACCESS_TOKEN_TTL_MAX_SECONDS: u64 = DAY_SECONDS as u64;
/// Clock skew tolerated on an access token's `exp` (a signed-out session's record outlives it).
pub const ACCESS_TOKEN_LEEWAY_SECONDS: u64 = 5;

/// Seconds since the Unix epoch, the time unit of every timestamp in the API (as OpenAI's `created`).
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The longest id this API makes or accepts (ours are a prefix and 32 hex digits).
pub const MAX_ID_LEN: usize = 64;

/// Whether `id` could be one of ours: checked before it reaches a storage key, so that a
/// huge or odd id is simply not found (a 404) instead of a key the database refuses (a 500).
pub fn plausible_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A new random identifier with a readable prefix (`user_...`, `key_...`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}
