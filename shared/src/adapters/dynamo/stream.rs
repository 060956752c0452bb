//! The table's stream read back into changes: a job written, an asset stored or deleted, an
//! announcement put in the outbox. Other items' records announce nothing.

use super::images::image_from;
use super::jobs::job_from;
use super::outbox::announcement_from;
use super::*;
use crate::messages::Change;
use aws_lambda_events::event::dynamodb::EventRecord;

/// What a stream record changed, if it is anything other systems hear about.
pub fn change_of(record: &EventRecord) -> Result<Option<Change>, ApiError> {
    let new = item_of(&record.change.new_image);
    let old = item_of(&record.change.old_image);
    let entity = new
        .as_ref()
        .or(old.as_ref())
        .and_then(|it| opt_s(it, "entity"));
    Ok(
        match (entity.as_deref(), record.event_name.as_str(), new, old) {
            (Some("job"), "INSERT" | "MODIFY", Some(new), old) => Some(Change::Job {
                old: old.as_ref().map(job_from).transpose()?,
                new: job_from(&new)?,
            }),
            (Some("image"), "INSERT", Some(new), _) => {
                Some(Change::ImageCreated(image_from(&new)?))
            }
            (Some("image"), "REMOVE", _, Some(old)) => {
                Some(Change::ImageDeleted(image_from(&old)?))
            }
            (Some("outbox"), "INSERT", Some(new), _) => {
                Some(Change::Announced(announcement_from(&new)?))
            }
            _ => None,
        },
    )
}

/// A stream image as the SDK's item (serde_dynamo converts each value); `None` when the
/// record has none.
fn item_of(image: &serde_dynamo::Item) -> Option<Item> {
    (!image.is_empty()).then(|| image.clone().into())
}
