//! Events for other systems, on an EventBridge bus (`source` `imageapi`). Publishing never fails
//! the request that caused it: the change is already stored; a lost event is logged.

use crate::adapters::aws::Lazy;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

pub const SOURCE: &str = "imageapi";

/// The bus, or nothing where none is configured (the use-case tests, a deploy without events).
#[derive(Clone, Default)]
pub struct EventBus {
    target: Option<(Lazy<aws_sdk_eventbridge::Client>, String)>,
}

impl EventBus {
    pub fn new(client: Lazy<aws_sdk_eventbridge::Client>, bus_name: String) -> Self {
        Self {
            target: Some((client, bus_name)),
        }
    }

    /// Publishes one event per detail, ten to a call (EventBridge's limit).
    pub async fn publish(&self, detail_type: &str, details: Vec<serde_json::Value>) {
        let Some((client, bus)) = &self.target else {
            return;
        };
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
