//! The circuits of this process only: what a deployment without a table, and the use-case
//! tests, count failures in. The rule is `domain::circuits`; the shared twin is the table's.

use crate::domain::catalog::ProviderKind;
use crate::domain::circuits::{Circuit, FORGET_SECS, OPEN_SECS, THRESHOLD};
use crate::ports::Circuits;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;

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
