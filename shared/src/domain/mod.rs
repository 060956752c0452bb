//! Pure types and rules: no I/O.

pub mod accounts;
pub mod assets;
pub mod billing;
pub mod catalog;
pub mod generation;

/// Seconds since the Unix epoch, the time unit of every timestamp in the API (as OpenAI's `created`).
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A new random identifier with a readable prefix (`user_...`, `key_...`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}
