//! The table's stream read back into changes: a job written, an asset stored or deleted, an
//! announcement put in the outbox. Other items' records announce nothing.

use super::images::image_from;
use super::jobs::job_from;
use super::outbox::announcement_from;
use super::*;
use crate::domain::assets::ImageRecord;
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
                old: old.as_ref().map(job_from).transpose()?.map(Box::new),
                new: Box::new(job_from(&new)?),
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

/// The asset a record stored or changed, when it is one: what its delivery variants are made
/// from (an asset stored before variants existed gets them when it is next changed).
pub fn image_written(record: &EventRecord) -> Result<Option<ImageRecord>, ApiError> {
    let Some(new) = item_of(&record.change.new_image) else {
        return Ok(None);
    };
    let written = matches!(record.event_name.as_str(), "INSERT" | "MODIFY");
    if !written || opt_s(&new, "entity").as_deref() != Some("image") {
        return Ok(None);
    }
    image_from(&new).map(Some)
}

/// A stream image as the SDK's item (serde_dynamo converts each value); `None` when the
/// record has none.
fn item_of(image: &serde_dynamo::Item) -> Option<Item> {
    (!image.is_empty()).then(|| image.clone().into())
}
