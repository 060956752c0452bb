//! Assets, their lineages, and uploads.

use super::uploads::complete_upload;
use super::*;

pub(super) fn image_item(r: &ImageRecord) -> Item {
    let mut it = item(
        keys::image(&r.user_id, &r.id),
        [
            ("entity", s("image")),
            ("id", s(&r.id)),
            ("user_id", s(&r.user_id)),
            ("kind", s(r.kind.as_str())),
            ("width", n(r.width as i64)),
            ("height", n(r.height as i64)),
            ("format", s(r.format.as_str())),
            ("bytes", n(r.bytes as i64)),
            ("object_key", s(&r.key)),
            ("created_at", n(r.created_at)),
            ("root_id", s(&r.root_id)),
            ("gsi1pk", s(keys::kind_index(&r.user_id, r.kind))),
            ("gsi1sk", s(keys::image_sort(&r.id))),
        ],
    );
    let optional = [
        ("prompt", &r.prompt),
        ("revised_prompt", &r.revised_prompt),
        ("model", &r.model),
        ("provider", &r.provider),
        ("thumbnail_key", &r.thumbnail_key),
        ("parent_id", &r.parent_id),
        ("background", &r.background),
        ("quality", &r.quality),
        ("title", &r.title),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            it.insert(k.to_string(), s(v));
        }
    }
    if !r.tags.is_empty() {
        it.insert(
            "tags".into(),
            AttributeValue::L(r.tags.iter().map(s).collect()),
        );
    }
    it.insert("version".into(), n(r.version as i64));
    if !r.variants.is_empty() {
        it.insert(
            "variants".into(),
            AttributeValue::L(r.variants.iter().map(s).collect()),
        );
    }
    if let Some(q) = r.output_compression {
        it.insert("output_compression".into(), n(q as i64));
    }
    it
}

/// An image's place in its lineage: listing a lineage is one query, in version order.
pub(super) fn version_item(r: &ImageRecord) -> Item {
    let mut it = item(
        keys::version(&r.user_id, &r.root_id, r.version),
        [
            ("entity", s("version")),
            ("image_id", s(&r.id)),
            ("version", n(r.version as i64)),
        ],
    );
    if let Some(p) = &r.parent_id {
        it.insert("parent_id".into(), s(p));
    }
    it
}

pub(super) fn image_from(it: &Item) -> Result<ImageRecord, ApiError> {
    Ok(ImageRecord {
        id: get_s(it, "id")?,
        user_id: get_s(it, "user_id")?,
        kind: AssetKind::parse(&get_s(it, "kind")?).ok_or_else(|| corrupt("kind"))?,
        prompt: opt_s(it, "prompt"),
        revised_prompt: opt_s(it, "revised_prompt"),
        model: opt_s(it, "model"),
        provider: opt_s(it, "provider"),
        width: get_n(it, "width")? as u32,
        height: get_n(it, "height")? as u32,
        format: OutputFormat::parse(&get_s(it, "format")?).ok_or_else(|| corrupt("format"))?,
        bytes: get_n(it, "bytes")? as u64,
        key: get_s(it, "object_key")?,
        thumbnail_key: opt_s(it, "thumbnail_key"),
        created_at: get_n(it, "created_at")?,
        parent_id: opt_s(it, "parent_id"),
        background: opt_s(it, "background"),
        quality: opt_s(it, "quality"),
        output_compression: opt_n(it, "output_compression").map(|q| q.clamp(0, 100) as u8),
        title: opt_s(it, "title"),
        tags: tags_of(it),
        version: opt_n(it, "version").unwrap_or(1) as u32,
        // Written since versions have lineages; an older item is the first of its own.
        root_id: opt_s(it, "root_id").map_or_else(|| get_s(it, "id"), Ok)?,
        variants: list_of(it, "variants"),
    })
}

/// The profile's part of storing assets: `ADD storage_bytes` within the quota, and the
/// settled debit closed (`None` when there is neither).
fn profile_change(
    table: &str,
    user_id: &str,
    adding: u64,
    storage_quota: u64,
    open_charge: Option<&str>,
) -> Option<Update> {
    let mut actions = Vec::new();
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::profile(user_id)));
    if adding > 0 {
        actions.push("ADD storage_bytes :b");
        // `put_images` refuses more than the whole quota before it gets here.
        let room = storage_quota.saturating_sub(adding).min(i64::MAX as u64) as i64;
        update = update
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(storage_bytes) OR storage_bytes <= :room)",
            )
            .expression_attribute_values(":b", n(adding as i64))
            .expression_attribute_values(":room", n(room));
    }
    if let Some(hold) = open_charge {
        actions.push("DELETE open_charges :refs");
        update = update.expression_attribute_values(":refs", string_set(hold));
    }
    if actions.is_empty() {
        return None;
    }
    Some(
        update
            .update_expression(actions.join(" "))
            .build()
            .expect("update fields set"),
    )
}

impl DynamoStore {
    /// Storing `adding` bytes more is refused: the 403 says how much the owner stores now.
    async fn storage_refusal(&self, owner: &str, quota: u64, adding: u64) -> WriteOutcome {
        match self.user(owner).await {
            Ok(u) => WriteOutcome::NotWritten(ApiError::storage_full(
                u.map_or(0, |u| u.storage_bytes),
                quota,
                adding,
            )),
            Err(e) => WriteOutcome::NotWritten(e),
        }
    }
}

impl Images for DynamoStore {
    // Long: the items of one transaction and the reading of how it ended.
    async fn put_images(
        &self,
        records: &[ImageRecord],
        settles: Option<&Settlement>,
        storage_quota: u64,
    ) -> WriteOutcome {
        // Each image and its place in its lineage: a version number is taken once only, so two
        // new versions made at the same moment cannot both be "version 2".
        let mut items: Vec<TransactWriteItem> = records
            .iter()
            .flat_map(|r| {
                [
                    put_new(&self.table, image_item(r)),
                    put_new(&self.table, version_item(r)),
                ]
            })
            .collect();
        if let Some(settlement) = settles {
            // The hold is closed and what it took becomes final, with the images: the charge,
            // the images and the replayable answer stand or fall together.
            let hold = &settlement.hold;
            items.push(
                TransactWriteItem::builder()
                    .delete(close_pending_hold(&self.table, &hold.id))
                    .build(),
            );
            for update in finish_charge(&self.table, hold) {
                items.push(TransactWriteItem::builder().update(update).build());
            }
            if let Some((claim, answer)) = &settlement.answer {
                items.push(
                    TransactWriteItem::builder()
                        .update(record_answer(
                            &self.table,
                            &settlement.hold.user_id,
                            claim,
                            answer,
                        ))
                        .build(),
                );
            }
            if let Some(job) = &settlement.completes_job {
                items.push(
                    TransactWriteItem::builder()
                        .update(super::jobs::complete_job(
                            &self.table,
                            &settlement.hold.user_id,
                            job,
                        ))
                        .build(),
                );
            }
            if let (Some(upload), Some(first)) = (&settlement.completes_upload, records.first()) {
                items.push(
                    TransactWriteItem::builder()
                        .update(complete_upload(
                            &self.table,
                            &settlement.hold.user_id,
                            upload,
                            &first.id,
                        ))
                        .build(),
                );
            }
        }
        // The owner's profile, named once: its stored bytes grow, only within the quota, and
        // the settled hold's debit is no longer open.
        let adding: u64 = records.iter().map(|r| r.bytes).sum();
        let owner = records
            .first()
            .map(|r| r.user_id.as_str())
            .or(settles.map(|s| s.hold.user_id.as_str()))
            .unwrap_or_default();
        let open_charge = settles
            .map(|s| &s.hold)
            .filter(|h| h.amount > 0)
            .map(|h| h.id.as_str());
        // More than the whole quota: no room can be enough (the profile's condition would let
        // an older profile without the count through).
        if adding > storage_quota {
            return self.storage_refusal(owner, storage_quota, adding).await;
        }
        let quota_item = items.len();
        if let Some(update) = profile_change(&self.table, owner, adding, storage_quota, open_charge)
        {
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let unknown = match self.transact(items).await {
            Ok(Ok(())) => {
                if let Some(s) = settles {
                    self.count_usage(s).await;
                }
                return WriteOutcome::Written;
            }
            Ok(Err(reasons))
                if adding > 0
                    && reasons
                        .get(quota_item)
                        .is_some_and(|r| r == "ConditionalCheckFailed") =>
            {
                return self.storage_refusal(owner, storage_quota, adding).await;
            }
            Ok(Err(reasons)) => {
                // Items 2i+1 are the lineage places: a taken one is a version made meanwhile.
                let version_taken = reasons
                    .iter()
                    .take(2 * records.len())
                    .enumerate()
                    .any(|(i, r)| i % 2 == 1 && r == "ConditionalCheckFailed");
                return WriteOutcome::NotWritten(if version_taken {
                    ApiError::Conflict {
                        message: "another version of this image was made at the same moment; retry"
                            .into(),
                        param: None,
                    }
                } else {
                    ApiError::internal(format!("image metadata write cancelled: {reasons:?}"))
                });
            }
            Err(e) => e,
        };
        // Whether it committed after all (an earlier attempt whose answer was lost, or an
        // error after the commit) is told by the first image: only this transaction writes it.
        if let Some(first) = records.first() {
            match self.image(&first.user_id, &first.id).await {
                Ok(Some(_)) => return WriteOutcome::Written,
                Ok(None) => return WriteOutcome::NotWritten(unknown),
                Err(_) => {}
            }
        }
        WriteOutcome::Unknown(unknown)
    }

    async fn image(&self, user_id: &str, id: &str) -> Result<Option<ImageRecord>, ApiError> {
        self.get(keys::image(user_id, id))
            .await?
            .map(|it| image_from(&it))
            .transpose()
    }

    async fn list_images(
        &self,
        user_id: &str,
        kind: Option<AssetKind>,
        order: SortOrder,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<ImageRecord>, Option<String>), ApiError> {
        // A kind has its own GSI partition, so pages are full (no post-query filtering).
        let (index, pk_name, sk_name, pk) = match kind {
            None => (None, "pk", "sk", user_pk(user_id)),
            Some(k) => (
                Some("gsi1"),
                "gsi1pk",
                "gsi1sk",
                keys::kind_index(user_id, k),
            ),
        };
        let mut query = self
            .client
            .get()
            .await
            .query()
            .table_name(&self.table)
            .set_index_name(index.map(str::to_string))
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_names("#sk", sk_name)
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(keys::IMAGE_PREFIX))
            .scan_index_forward(order == SortOrder::OldestFirst)
            // One more than asked tells whether another page exists.
            .limit(limit as i32 + 1);
        if let Some(after) = after {
            let mut start = keys::image(user_id, after);
            if let Some(k) = kind {
                start.insert("gsi1pk".into(), s(keys::kind_index(user_id, k)));
                start.insert("gsi1sk".into(), s(keys::image_sort(after)));
            }
            query = query.set_exclusive_start_key(Some(start));
        }
        // A query page stops at 1 MB: keep reading until one record more than asked, or the end.
        let mut records = Vec::with_capacity(limit + 1);
        loop {
            let out = query.clone().send().await.map_err(sdk_error)?;
            for it in out.items.unwrap_or_default() {
                records.push(image_from(&it)?);
            }
            match out.last_evaluated_key {
                Some(last) if records.len() <= limit => {
                    query = query.set_exclusive_start_key(Some(last));
                }
                _ => break,
            }
        }
        let next = if records.len() > limit {
            records.truncate(limit);
            records.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok((records, next))
    }

    async fn update_image_meta(
        &self,
        user_id: &str,
        id: &str,
        title: Option<Option<String>>,
        tags: Option<Vec<String>>,
    ) -> Result<Option<ImageRecord>, ApiError> {
        self.update_meta_inner(user_id, id, title, tags).await
    }

    async fn record_variants(
        &self,
        user_id: &str,
        id: &str,
        names: &[String],
    ) -> Result<bool, ApiError> {
        let sent = self
            .update_item(keys::image(user_id, id))
            .await
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET variants = :v")
            .expression_attribute_values(":v", AttributeValue::L(names.iter().map(s).collect()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn delete_images(
        &self,
        user_id: &str,
        images: &[ImageRecord],
        reparent: &[(String, Option<String>)],
    ) -> Result<bool, ApiError> {
        let mut items = Vec::new();
        for r in images {
            for (k, condition) in [
                (keys::image(user_id, &r.id), Some("attribute_exists(pk)")),
                (keys::version(user_id, &r.root_id, r.version), None),
            ] {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(k))
                    .set_condition_expression(condition.map(str::to_string))
                    .build()
                    .expect("table, key set");
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        let freed: u64 = images.iter().map(|r| r.bytes).sum();
        if freed > 0 {
            let shrink = Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::profile(user_id)))
                .update_expression("ADD storage_bytes :b")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":b", n(-(freed as i64)))
                .build()
                .expect("update fields set");
            items.push(TransactWriteItem::builder().update(shrink).build());
        }
        for (child, parent) in reparent {
            let Some(entry) = self.image(user_id, child).await? else {
                continue;
            };
            for k in [
                keys::image(user_id, child),
                keys::version(user_id, &entry.root_id, entry.version),
            ] {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(k))
                    .condition_expression("attribute_exists(pk)");
                let update = match parent {
                    Some(p) => update
                        .update_expression("SET parent_id = :p")
                        .expression_attribute_values(":p", s(p)),
                    None => update.update_expression("REMOVE parent_id"),
                };
                items.push(
                    TransactWriteItem::builder()
                        .update(update.build().expect("update fields set"))
                        .build(),
                );
            }
        }
        Ok(self.transact(items).await?.is_ok())
    }

    async fn versions(&self, user_id: &str, root_id: &str) -> Result<Vec<VersionEntry>, ApiError> {
        let items: Vec<_> = self
            .user_items(user_id, &keys::versions_prefix(root_id))
            .await
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        items
            .into_iter()
            .map(|it| {
                let it = it.map_err(sdk_error)?;
                Ok(VersionEntry {
                    version: get_n(&it, "version")? as u32,
                    image_id: get_s(&it, "image_id")?,
                    parent_id: opt_s(&it, "parent_id"),
                })
            })
            .collect()
    }
}

impl DynamoStore {
    async fn update_meta_inner(
        &self,
        user_id: &str,
        id: &str,
        title: Option<Option<String>>,
        tags: Option<Vec<String>>,
    ) -> Result<Option<ImageRecord>, ApiError> {
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut req = self
            .update_item(keys::image(user_id, id))
            .await
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllNew);
        match title {
            Some(Some(t)) => {
                sets.push("title = :title");
                req = req.expression_attribute_values(":title", s(t));
            }
            Some(None) => removes.push("title"),
            None => {}
        }
        match tags {
            Some(t) if t.is_empty() => removes.push("tags"),
            Some(t) => {
                sets.push("tags = :tags");
                req = req.expression_attribute_values(
                    ":tags",
                    AttributeValue::L(t.iter().map(s).collect()),
                );
            }
            None => {}
        }
        let mut expr = String::new();
        if !sets.is_empty() {
            expr.push_str(&format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expr.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        if expr.is_empty() {
            return self.image(user_id, id).await;
        }
        match req.update_expression(expr.trim()).send().await {
            Ok(out) => out.attributes.as_ref().map(image_from).transpose(),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }
}
