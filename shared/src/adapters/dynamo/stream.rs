//! The table's stream read back into changes: a job written, an asset stored or deleted, an
//! announcement put in the outbox. Other items' records announce nothing.

use super::images::image_from;
use super::jobs::job_from;
use super::outbox::announcement_from;
use super::*;
use crate::messages::Change;
use aws_lambda_events::event::dynamodb::EventRecord;
use base64::Engine;
use serde_json::Value;

/// What a stream record changed, if it is anything other systems hear about.
pub fn change_of(record: &EventRecord) -> Result<Option<Change>, ApiError> {
    let new = item_of(&record.change.new_image)?;
    let old = item_of(&record.change.old_image)?;
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

/// A stream image (DynamoDB JSON) as the SDK's item; `None` when the record has none.
fn item_of(image: &serde_dynamo::Item) -> Result<Option<Item>, ApiError> {
    let json = serde_json::to_value(image).map_err(ApiError::internal)?;
    let Some(fields) = json.as_object().filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    fields
        .iter()
        .map(|(k, v)| Ok((k.clone(), attribute(v)?)))
        .collect::<Result<Item, ApiError>>()
        .map(Some)
}

fn attribute(v: &Value) -> Result<AttributeValue, ApiError> {
    let bad = || corrupt("stream image");
    let (tag, v) = v
        .as_object()
        .and_then(|o| o.iter().next())
        .ok_or_else(bad)?;
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let texts = |v: &Value| -> Result<Vec<String>, ApiError> {
        v.as_array()
            .ok_or_else(bad)?
            .iter()
            .map(|x| text(x).ok_or_else(bad))
            .collect()
    };
    let bytes = |v: &Value| -> Result<aws_sdk_dynamodb::primitives::Blob, ApiError> {
        let b64 = v.as_str().ok_or_else(bad)?;
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(aws_sdk_dynamodb::primitives::Blob::new)
            .map_err(|_| bad())
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(text(v).ok_or_else(bad)?),
        "N" => AttributeValue::N(text(v).ok_or_else(bad)?),
        "BOOL" => AttributeValue::Bool(v.as_bool().ok_or_else(bad)?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(texts(v)?),
        "NS" => AttributeValue::Ns(texts(v)?),
        "B" => AttributeValue::B(bytes(v)?),
        "BS" => AttributeValue::Bs(
            v.as_array()
                .ok_or_else(bad)?
                .iter()
                .map(bytes)
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            v.as_array()
                .ok_or_else(bad)?
                .iter()
                .map(attribute)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(
            v.as_object()
                .ok_or_else(bad)?
                .iter()
                .map(|(k, v)| Ok((k.clone(), attribute(v)?)))
                .collect::<Result<_, ApiError>>()?,
        ),
        _ => return Err(bad()),
    })
}
