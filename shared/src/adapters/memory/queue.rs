//! The queues in memory: what was sent, kept until a test takes it.

use crate::error::ApiError;
use crate::ports::{InOrder, Queue, QueueName};
use futures::future::BoxFuture;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct MemoryQueue(Arc<Mutex<Vec<(QueueName, String)>>>);

impl Queue for MemoryQueue {
    fn send(
        &self,
        queue: QueueName,
        body: String,
        _order: Option<InOrder>,
    ) -> BoxFuture<'_, Result<(), ApiError>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((queue, body));
        Box::pin(async { Ok(()) })
    }

    fn take(&self, queue: QueueName) -> Vec<String> {
        let mut sent = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (taken, kept) = sent.drain(..).partition(|(q, _)| *q == queue);
        *sent = kept;
        taken.into_iter().map(|(_, b)| b).collect()
    }
}
