//! What other systems hear, driven by the table's stream: each change it carries (a job's
//! transition, an asset stored or deleted, an announcement in the outbox) becomes its
//! EventBridge event and, where a job asked for one, its webhook. The use cases only write; a
//! Lambda that dies after a write loses no announcement. At least once: a change whose
//! announcement fails comes again, with the same ids (`webhook-id`, `event_id`) derived from
//! the change, so receivers drop repeats.

use crate::domain::assets::{ImageRecord, asset_detail};
use crate::error::ApiError;
use crate::messages::Change;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::usecases::jobs::announce;

/// Announces one change of the table.
pub async fn announce_change<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    change: &Change,
) -> Result<(), ApiError> {
    match change {
        // Progress and checkpoints rewrite a job without changing its status: nothing to say.
        Change::Job { old, new } if old.as_ref().is_some_and(|o| o.status == new.status) => Ok(()),
        Change::Job { new, .. } => announce(deps, new).await,
        Change::ImageCreated(r) => {
            let detail = image_detail(r, "created");
            deps.events.publish("Image Created", vec![detail]).await
        }
        Change::ImageDeleted(r) => {
            let detail = image_detail(r, "deleted");
            deps.events.publish("Image Deleted", vec![detail]).await
        }
        Change::Announced(a) => {
            let mut detail = a.detail.clone();
            detail["event_id"] = a.id.clone().into();
            deps.events.publish(&a.detail_type, vec![detail]).await
        }
    }
}

/// The asset as `GET /v1/images/{id}` shows it (without URLs), and the event's id.
fn image_detail(r: &ImageRecord, what: &str) -> serde_json::Value {
    let mut detail = asset_detail(r);
    detail["event_id"] = format!("evt_{}_{what}", r.id).into();
    detail
}
