//! Events for other systems, on an EventBridge bus (`source` `imageapi`), published by the
//! table's stream: a failure is returned, and the change comes again.

use crate::adapters::aws::Lazy;
use crate::error::ApiError;
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
    fn publish<'a>(
        &'a self,
        _: &'a str,
        _: Vec<serde_json::Value>,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
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
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.put(detail_type, details))
    }
}

impl EventBus {
    /// Publishes one event per detail, ten to a call (EventBridge's limit); an entry EventBridge
    /// refuses fails the call, so the stream brings the change again.
    async fn put(
        &self,
        detail_type: &str,
        details: Vec<serde_json::Value>,
    ) -> Result<(), ApiError> {
        for chunk in details.chunks(10) {
            let entries: Vec<PutEventsRequestEntry> = chunk
                .iter()
                .map(|d| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(SOURCE)
                        .detail_type(detail_type)
                        .detail(d.to_string())
                        .build()
                })
                .collect();
            let out = self
                .client
                .get()
                .await
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    ApiError::internal(format!(
                        "events not published: {}",
                        aws_sdk_eventbridge::error::DisplayErrorContext(e)
                    ))
                })?;
            if out.failed_entry_count() > 0 {
                return Err(ApiError::internal(format!(
                    "{} of {} {detail_type} events not published",
                    out.failed_entry_count(),
                    chunk.len()
                )));
            }
        }
        Ok(())
    }
}
