//! The event bus in memory: what was published, kept for the test that holds a clone.

use crate::error::ApiError;
use crate::ports::Events;
use futures::future::BoxFuture;
use serde_json::Value;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct MemoryEvents(Arc<Mutex<Vec<(String, Value)>>>);

impl MemoryEvents {
    /// What was published since the last call, oldest first: `(detail-type, detail)`.
    pub fn take(&self) -> Vec<(String, Value)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Events for MemoryEvents {
    fn publish<'a>(
        &'a self,
        detail_type: &'a str,
        details: Vec<Value>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(details.into_iter().map(|d| (detail_type.to_string(), d)));
        Box::pin(async { Ok(()) })
    }
}
