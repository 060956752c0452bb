//! API keys: created, listed, looked up by hash and revoked.

use super::*;

pub(super) fn api_key_from(it: &Item) -> Result<ApiKeyRecord, ApiError> {
    Ok(ApiKeyRecord {
        id: get_s(it, "key_id")?,
        user_id: get_s(it, "user_id")?,
        role: get_role(it)?,
        name: get_s(it, "name")?,
        prefix: get_s(it, "prefix")?,
        hash: get_s(it, "hash")?,
        created_at: get_n(it, "created_at")?,
        last_used_at: opt_n(it, "last_used_at"),
    })
}

pub(super) fn api_key_attrs(k: &ApiKeyRecord) -> [(&'static str, AttributeValue); 7] {
    [
        ("key_id", s(&k.id)),
        ("user_id", s(&k.user_id)),
        ("role", s(k.role.as_str())),
        ("name", s(&k.name)),
        ("prefix", s(&k.prefix)),
        ("hash", s(&k.hash)),
        ("created_at", n(k.created_at)),
    ]
}

impl ApiKeys for DynamoStore {
    async fn create_key(&self, k: &ApiKeyRecord) -> Result<(), ApiError> {
        self.ensure_profile_maps(&k.user_id).await?;
        let items = vec![
            put_new(&self.table, item(keys::api_key(&k.hash), api_key_attrs(k))),
            put_new(
                &self.table,
                item(keys::user_api_key(&k.user_id, &k.id), api_key_attrs(k)),
            ),
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(keys::profile(&k.user_id)))
                        .update_expression("SET api_keys.#kid = :never")
                        .condition_expression("attribute_exists(api_keys)")
                        .expression_attribute_names("#kid", &k.id)
                        .expression_attribute_values(":never", n(0))
                        .build()
                        .expect("update fields set"),
                )
                .build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(ApiError::internal(format!(
                "api key creation cancelled: {reasons:?}"
            ))),
        }
    }

    async fn list_keys(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, ApiError> {
        let mut keys = self.list_key_items(user_id).await?;
        // Last uses are recorded on the profile by each request's admission.
        let used = self
            .get(keys::profile(user_id))
            .await?
            .and_then(|p| p.get("api_keys").and_then(|m| m.as_m().ok()).cloned())
            .unwrap_or_default();
        for k in &mut keys {
            k.last_used_at = used
                .get(&k.id)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .filter(|t: &i64| *t > 0);
        }
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(keys)
    }

    async fn revoke_key(&self, user_id: &str, key_id: &str) -> Result<bool, ApiError> {
        self.ensure_profile_maps(user_id).await?;
        let listing = keys::user_api_key(user_id, key_id);
        let Some(listed) = self.get(listing.clone()).await? else {
            return Ok(false);
        };
        let hash = get_s(&listed, "hash")?;
        let delete = |k: Item| {
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(k))
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .expect("table, key set"),
                )
                .build()
        };
        let unlist = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::profile(user_id)))
            .update_expression("REMOVE api_keys.#kid")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#kid", key_id)
            .build()
            .expect("update fields set");
        let items = vec![
            delete(listing),
            delete(keys::api_key(&hash)),
            TransactWriteItem::builder().update(unlist).build(),
        ];
        // Cancelled means a concurrent revoke won: either way the key is gone.
        match self.transact(items).await? {
            Ok(()) => Ok(true),
            Err(reasons) if reasons.iter().any(|r| r == "ConditionalCheckFailed") => Ok(false),
            Err(reasons) => Err(ApiError::internal(format!(
                "api key revocation cancelled: {reasons:?}"
            ))),
        }
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKeyRecord>, ApiError> {
        self.get(keys::api_key(hash))
            .await?
            .map(|it| api_key_from(&it))
            .transpose()
    }
}
