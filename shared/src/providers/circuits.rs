//! Circuit breakers per vendor, shared by every Lambda instance through the table: after
//! [`THRESHOLD`] outages in a row (429, 5xx, timeouts; not a model failing on one input) a
//! vendor is skipped for [`OPEN_SECS`]; then requests reach it again, and the next outage
//! reopens it while a success closes it. The count expires [`FORGET_SECS`] after the last
//! failure, so old failures do not add up.

use crate::domain::catalog::ProviderKind;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;

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

/// Where circuits are kept. Errors are swallowed by implementations (logged): a circuit that
/// cannot be read is closed, and the request goes to the vendor as it would without one.
pub trait Circuits: Send + Sync {
    fn read(&self, vendor: ProviderKind) -> BoxFuture<'_, Circuit>;
    /// Counts a failure; opens the circuit at the threshold. Returns whether this call opened it.
    fn failed(&self, vendor: ProviderKind, now: u64) -> BoxFuture<'_, bool>;
    /// Closes the circuit (called only when it had failures).
    fn succeeded(&self, vendor: ProviderKind) -> BoxFuture<'_, ()>;
}

/// Circuits of this process only (use-case tests and a deployment without a table).
#[derive(Default)]
pub struct LocalCircuits(Mutex<HashMap<ProviderKind, (Circuit, u64)>>);

impl LocalCircuits {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<ProviderKind, (Circuit, u64)>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Circuits for LocalCircuits {
    fn read(&self, vendor: ProviderKind) -> BoxFuture<'_, Circuit> {
        let now = crate::domain::now_epoch() as u64;
        let c = self.with(|m| match m.get(&vendor) {
            Some((c, expires)) if *expires > now => *c,
            _ => Circuit::default(),
        });
        Box::pin(async move { c })
    }

    fn failed(&self, vendor: ProviderKind, now: u64) -> BoxFuture<'_, bool> {
        let opened = self.with(|m| {
            let entry = m.entry(vendor).or_default();
            if entry.1 <= now {
                entry.0 = Circuit::default();
            }
            entry.0.failures += 1;
            entry.1 = now + FORGET_SECS;
            let opens = entry.0.failures >= THRESHOLD && !entry.0.is_open(now);
            if opens {
                entry.0.open_until = Some(now + OPEN_SECS);
            }
            opens
        });
        Box::pin(async move { opened })
    }

    fn succeeded(&self, vendor: ProviderKind) -> BoxFuture<'_, ()> {
        self.with(|m| m.remove(&vendor));
        Box::pin(async {})
    }
}
