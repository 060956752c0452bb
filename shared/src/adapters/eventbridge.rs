//! Events for other systems, on an EventBridge bus (`source` `imageapi`). Publishing never fails
//! the request that caused it: the change is already stored; a lost event is logged.

use crate::adapters::aws::Lazy;
use crate::ports::Events;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures::future::BoxFuture;

pub const SOURCE: &str = "imageapi";

/// An EventBridge bus.
pub struct EventBus {
    client: Lazy<aws_sdk_eventbridge::Client>,
    bus: String,
}

/// Where no bus is configured (the use-case tests, a deploy without events): nothing is sent.
pub struct NoEvents;

impl Events for NoEvents {
    fn publish<'a>(&'a self, _: &'a str, _: Vec<serde_json::Value>) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

impl EventBus {
    pub fn new(client: Lazy<aws_sdk_eventbridge::Client>, bus: String) -> Self {
        Self { client, bus }
    }
}

impl Events for EventBus {
    fn publish<'a>(
        &'a self,
        detail_type: &'a str,
        details: Vec<serde_json::Value>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(self.put(detail_type, details))
    }
}

impl EventBus {
    /// Publishes one event per detail, ten to a call (EventBridge's limit).
    async fn put(&self, detail_type: &str, details: Vec<serde_json::Value>) {
        let (client, bus) = (&self.client, &self.bus);
        for chunk in details.chunks(10) {
            let entries: Vec<PutEventsRequestEntry> = chunk
                .iter()
                .map(|d| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(bus)
                        .source(SOURCE)
                        .detail_type(detail_type)
                        .detail(d.to_string())
                        .build()
                })
                .collect();
            match client
                .get()
                .await
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) if out.failed_entry_count() == 0 => {}
                Ok(out) => {
                    tracing::error!(
                        detail_type,
                        failed = out.failed_entry_count(),
                        "events not published"
                    )
                }
                Err(e) => tracing::error!(
                    detail_type,
                    error = %aws_sdk_eventbridge::error::DisplayErrorContext(e),
                    "events not published"
                ),
            }
        }
    }
}
