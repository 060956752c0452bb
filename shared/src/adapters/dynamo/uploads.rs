//! Uploads: the presigned PUT's record, and its completion into a library asset.

use super::*;

pub(super) fn upload_from(it: &Item) -> Result<UploadRecord, ApiError> {
    Ok(UploadRecord {
        id: get_s(it, "id")?,
        user_id: get_s(it, "user_id")?,
        content_type: get_s(it, "content_type")?,
        declared_bytes: get_n(it, "declared_bytes")? as u64,
        key: get_s(it, "object_key")?,
        asset_id: opt_s(it, "asset_id"),
        // Completed uploads no longer expire.
        expires_at: opt_n(it, "expires_at").unwrap_or(0),
    })
}

impl Uploads for DynamoStore {
    async fn create_upload(&self, u: &UploadRecord) -> Result<(), ApiError> {
        self.client
            .get()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(
                keys::upload(&u.user_id, &u.id),
                [
                    ("entity", s("upload")),
                    ("id", s(&u.id)),
                    ("user_id", s(&u.user_id)),
                    ("content_type", s(&u.content_type)),
                    ("declared_bytes", n(u.declared_bytes as i64)),
                    ("object_key", s(&u.key)),
                    ("expires_at", n(u.expires_at)),
                ],
            )))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }

    async fn upload(&self, user_id: &str, id: &str) -> Result<Option<UploadRecord>, ApiError> {
        self.get(keys::upload(user_id, id))
            .await?
            .map(|it| upload_from(&it))
            .transpose()
    }
}

/// Marks an upload completed by `asset_id`, once only. Completed uploads are kept (without
/// TTL) so a repeated complete returns the same asset.
pub(super) fn complete_upload(table: &str, user_id: &str, id: &str, asset_id: &str) -> Update {
    Update::builder()
        .table_name(table)
        .set_key(Some(keys::upload(user_id, id)))
        .update_expression("SET asset_id = :a REMOVE expires_at")
        .condition_expression("attribute_exists(pk) AND attribute_not_exists(asset_id)")
        .expression_attribute_values(":a", s(asset_id))
        .build()
        .expect("update fields set")
}
