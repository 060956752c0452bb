//! Circuit breakers per vendor, shared by every Lambda instance through the table: after
//! [`THRESHOLD`] outages in a row (429, 5xx, timeouts; not a model failing on one input) a
//! vendor is skipped for [`OPEN_SECS`]; then requests reach it again, and the next outage
//! reopens it while a success closes it. The count expires [`FORGET_SECS`] after the last
//! failure, so old failures do not add up.

pub const THRESHOLD: i64 = 5;
pub const OPEN_SECS: u64 = 30;
pub const FORGET_SECS: u64 = 600;

/// A vendor's circuit as last written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Circuit {
    /// Failures in a row.
    pub failures: i64,
    /// Until when (epoch seconds) the vendor is skipped.
    pub open_until: Option<u64>,
}

impl Circuit {
    pub fn is_open(&self, now: u64) -> bool {
        self.open_until.is_some_and(|t| t > now)
    }
}
