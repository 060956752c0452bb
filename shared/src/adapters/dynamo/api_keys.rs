//! API keys: created, listed, looked up by hash and revoked.

use super::*;
use crate::domain::key_policy::{changed_meanwhile, spend_entry_is_stale, spent_now};

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
        // Keys made before policies have none: every scope, no limits.
        policy: match opt_s(it, "policy") {
            Some(json) => serde_json::from_str(&json).map_err(|_| corrupt("policy"))?,
            None => KeyPolicy::default(),
        },
        version: opt_n(it, "version").unwrap_or(0) as u32,
        spent_day: 0,
        spent_month: 0,
    })
}

pub(super) fn api_key_attrs(k: &ApiKeyRecord) -> [(&'static str, AttributeValue); 9] {
    [
        ("key_id", s(&k.id)),
        ("user_id", s(&k.user_id)),
        ("role", s(k.role.as_str())),
        ("name", s(&k.name)),
        ("prefix", s(&k.prefix)),
        ("hash", s(&k.hash)),
        ("created_at", n(k.created_at)),
        ("policy", s(policy_json(&k.policy))),
        ("version", n(i64::from(k.version))),
    ]
}

fn policy_json(p: &KeyPolicy) -> String {
    serde_json::to_string(p).expect("a policy serializes")
}

/// The profile's spend entries (`key_spend`), as numbers.
fn spend_entries(profile: &Item) -> HashMap<String, i64> {
    profile
        .get("key_spend")
        .and_then(|m| m.as_m().ok())
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse().ok()?)))
        .collect()
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
        // Last uses and spend are recorded on the profile by each request's admission and
        // charge.
        let profile = self.get(keys::profile(user_id)).await?.unwrap_or_default();
        let used = profile
            .get("api_keys")
            .and_then(|m| m.as_m().ok())
            .cloned()
            .unwrap_or_default();
        let spend = spend_entries(&profile);
        let now = crate::domain::now_epoch();
        for k in &mut keys {
            k.last_used_at = used
                .get(&k.id)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .filter(|t: &i64| *t > 0);
            (k.spent_day, k.spent_month) = spent_now(&spend, &k.id, now);
        }
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        // Entries of periods that are over (of keys unused since) are dropped here; best
        // effort, as a charge drops the ones just before its own.
        let stale: Vec<&String> = spend
            .keys()
            .filter(|e| spend_entry_is_stale(e, now))
            .take(50)
            .collect();
        if !stale.is_empty() {
            let mut update = self.update_item(keys::profile(user_id)).await;
            let mut removes = Vec::new();
            for (i, e) in stale.iter().enumerate() {
                update = update.expression_attribute_names(format!("#e{i}"), *e);
                removes.push(format!("key_spend.#e{i}"));
            }
            if let Err(e) = update
                .update_expression(format!("REMOVE {}", removes.join(", ")))
                .condition_expression("attribute_exists(key_spend)")
                .send()
                .await
            {
                tracing::warn!(error = %DisplayErrorContext(e), "could not drop stale key spend");
            }
        }
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
            .update_expression("REMOVE api_keys.#kid, key_versions.#kid, key_hits.#kid")
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

    async fn key_spent(&self, user_id: &str, entry: &str) -> Result<i64, ApiError> {
        let profile = self.get(keys::profile(user_id)).await?.unwrap_or_default();
        Ok(spend_entries(&profile).get(entry).copied().unwrap_or(0))
    }

    async fn update_key(
        &self,
        old: &ApiKeyRecord,
        name: &str,
        policy: &KeyPolicy,
    ) -> Result<Option<ApiKeyRecord>, ApiError> {
        let (user_id, key_id) = (old.user_id.as_str(), old.id.as_str());
        self.ensure_profile_maps(user_id).await?;
        let listing = keys::user_api_key(user_id, key_id);
        let version = old.version + 1;
        // Both copies of the key change together, and only from the version read; the
        // profile's version entry is what admissions compare with.
        let change = |k: Item| {
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(k))
                        .update_expression("SET #name = :name, policy = :policy, version = :v")
                        .condition_expression(
                            "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :old)",
                        )
                        .expression_attribute_names("#name", "name")
                        .expression_attribute_values(":name", s(name))
                        .expression_attribute_values(":policy", s(policy_json(policy)))
                        .expression_attribute_values(":v", n(i64::from(version)))
                        .expression_attribute_values(":old", n(i64::from(old.version)))
                        .build()
                        .expect("update fields set"),
                )
                .build()
        };
        let announce = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::profile(user_id)))
            .update_expression("SET key_versions.#kid = :v")
            .condition_expression(
                "attribute_exists(api_keys.#kid) AND attribute_exists(key_versions)",
            )
            .expression_attribute_names("#kid", key_id)
            .expression_attribute_values(":v", n(i64::from(version)))
            .build()
            .expect("update fields set");
        let items = vec![
            change(listing.clone()),
            change(keys::api_key(&old.hash)),
            TransactWriteItem::builder().update(announce).build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(Some(ApiKeyRecord {
                name: name.to_string(),
                policy: policy.clone(),
                version,
                ..old.clone()
            })),
            // Changed by a concurrent request (the client may retry), or revoked meanwhile.
            Err(reasons)
                if reasons
                    .first()
                    .is_some_and(|r| r == "ConditionalCheckFailed") =>
            {
                match self.get(listing).await? {
                    Some(_) => Err(changed_meanwhile()),
                    None => Ok(None),
                }
            }
            Err(reasons) if reasons.iter().any(|r| r == "ConditionalCheckFailed") => Ok(None),
            Err(reasons) => Err(ApiError::internal(format!(
                "api key update cancelled: {reasons:?}"
            ))),
        }
    }
}
