//! Holds of paid work in flight, and Idempotency-Key claims.

use super::*;

/// Settling closes the hold, only if it is still pending (a swept one stores nothing).
pub(super) fn close_pending_hold(table: &str, id: &str) -> Delete {
    Delete::builder()
        .table_name(table)
        .set_key(Some(keys::hold(id)))
        .condition_expression("#state = :pending")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":pending", s(HoldState::Pending.as_str()))
        .build()
        .expect("table, key set")
}

/// Completes an Idempotency-Key record with the answer to replay, if `claim` still holds it.
pub(super) fn record_answer(table: &str, user_id: &str, claim: &KeyClaim, answer: &str) -> Update {
    Update::builder()
        .table_name(table)
        .set_key(Some(keys::idempotency(user_id, &claim.key)))
        .update_expression("SET #state = :done, #response = :r")
        .condition_expression("#state = :pending AND #claim = :token")
        .expression_attribute_names("#state", "state")
        .expression_attribute_names("#response", "response")
        .expression_attribute_names("#claim", "claim")
        .expression_attribute_values(":done", s("done"))
        .expression_attribute_values(":pending", s("pending"))
        .expression_attribute_values(":token", s(&claim.token))
        .expression_attribute_values(":r", s(answer))
        .build()
        .expect("update fields set")
}

pub(super) fn hold_from(it: &Item) -> Result<Hold, ApiError> {
    Ok(Hold {
        id: get_s(it, "id")?,
        user_id: get_s(it, "user_id")?,
        amount: get_n(it, "amount")?,
        images: get_n(it, "images")? as u32,
        reserved_at: get_n(it, "reserved_at")?,
        objects: it
            .get("objects")
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default(),
        idempotency: match (opt_s(it, "idempotency_key"), opt_s(it, "idempotency_claim")) {
            (Some(key), Some(token)) => Some(KeyClaim { key, token }),
            _ => None,
        },
        due_at: get_n(it, "due_at")?,
        state: HoldState::parse(&get_s(it, "state")?).ok_or_else(|| corrupt("state"))?,
        // What a refund gives back to the key's spend (its budget is not needed for that).
        spend: match (opt_s(it, "spend_day"), opt_s(it, "spend_month")) {
            (Some(day), Some(month)) => Some(KeySpend {
                entries: [day, month],
                stale: Default::default(),
                budget: None,
            }),
            _ => None,
        },
        by: opt_s(it, "by"),
        model: opt_s(it, "model"),
    })
}

/// Kept well past `due_at`, so the sweeper always sees a hold before the TTL removes it.
pub(super) const HOLD_RETENTION: i64 = 7 * DAY;

/// A hold as stored, indexed for the sweeper by its due time.
fn hold_item(h: &Hold) -> Item {
    let mut it = item(
        keys::hold(&h.id),
        [
            ("entity", s("hold")),
            ("id", s(&h.id)),
            ("user_id", s(&h.user_id)),
            ("amount", n(h.amount)),
            ("images", n(h.images as i64)),
            ("reserved_at", n(h.reserved_at)),
            ("due_at", n(h.due_at)),
            ("state", s(h.state.as_str())),
            ("gsi1pk", s(keys::hold_index(keys::hold_shard(&h.id)))),
            ("gsi1sk", s(keys::hold_due(h.due_at, &h.id))),
            ("expires_at", n(h.due_at + HOLD_RETENTION)),
        ],
    );
    if let Some(c) = &h.idempotency {
        it.insert("idempotency_key".into(), s(&c.key));
        it.insert("idempotency_claim".into(), s(&c.token));
    }
    if !h.objects.is_empty() {
        it.insert("objects".into(), AttributeValue::Ss(h.objects.clone()));
    }
    if let Some(spend) = &h.spend {
        it.insert("spend_day".into(), s(&spend.entries[0]));
        it.insert("spend_month".into(), s(&spend.entries[1]));
    }
    if let Some(by) = &h.by {
        it.insert("by".into(), s(by));
    }
    if let Some(model) = &h.model {
        it.insert("model".into(), s(model));
    }
    it
}

impl Holds for DynamoStore {
    async fn open_hold(&self, h: &Hold) -> Result<(), ApiError> {
        self.client
            .get()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(hold_item(h)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }

    async fn open_charge(
        &self,
        h: &Hold,
        daily_limit: u32,
        reason: &str,
        storage_quota: u64,
    ) -> Result<Opened, ApiError> {
        let reset_at = (h.reserved_at.div_euclid(DAY) + 1) * DAY;
        if h.images > daily_limit {
            return Ok(Opened::QuotaFull { reset_at });
        }
        // A charge larger than the key's whole budget needs no write to refuse.
        if let Some(b) = h.spend.as_ref().and_then(|s| s.budget.as_ref())
            && let Some(refused) = Opened::over_budget(b, 0, h.amount)
        {
            return Ok(refused);
        }
        let mut ensured = false;
        loop {
            let mut items = vec![put_new(&self.table, hold_item(h))];
            let quota_at = (h.images > 0).then(|| {
                items.push(
                    TransactWriteItem::builder()
                        .update(reserve_quota(&self.table, h, daily_limit, reset_at))
                        .build(),
                );
                items.len() - 1
            });
            let credits_at = (h.amount > 0).then(|| {
                items.push(
                    TransactWriteItem::builder()
                        .update(take_credits(&self.table, h, Some(storage_quota)))
                        .build(),
                );
                items.push(
                    TransactWriteItem::builder()
                        .put(ledger_put(
                            &self.table,
                            &h.user_id,
                            LedgerLine::Debit(&h.id),
                            -h.amount,
                            reason,
                            &h.id,
                            h.by.as_deref(),
                        ))
                        .build(),
                );
                items.len() - 2
            });
            let reasons = match self.transact(items).await? {
                Ok(()) => return Ok(Opened::Taken),
                Err(reasons) => reasons,
            };
            let failed = |i: Option<usize>| {
                i.and_then(|i| reasons.get(i))
                    .is_some_and(|r| r == "ConditionalCheckFailed")
            };
            if failed(quota_at) {
                return Ok(Opened::QuotaFull { reset_at });
            }
            if !failed(credits_at) {
                return Err(ApiError::internal(format!(
                    "opening a charge was cancelled: {reasons:?}"
                )));
            }
            // Which of the profile's conditions failed, from the profile as it is now.
            let profile = self
                .get(keys::profile(&h.user_id))
                .await?
                .unwrap_or_default();
            if h.spend.is_some() && !profile.contains_key("key_spend") && !ensured {
                // A profile older than key spend: add its maps once and try again.
                self.ensure_profile_maps(&h.user_id).await?;
                ensured = true;
                continue;
            }
            let available = opt_n(&profile, "credits_available").unwrap_or(0);
            if available < h.amount {
                return Ok(Opened::TooFewCredits);
            }
            if let Some(spend) = &h.spend
                && let (Some(entry), Some(b)) = (spend.budget_entry(), &spend.budget)
            {
                let spent = profile
                    .get("key_spend")
                    .and_then(|m| m.as_m().ok())
                    .and_then(|m| m.get(entry))
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0);
                if let Some(refused) = Opened::over_budget(b, spent, h.amount) {
                    return Ok(refused);
                }
            }
            let used = opt_n(&profile, "storage_bytes").unwrap_or(0).max(0) as u64;
            return Ok(if used >= storage_quota {
                Opened::StorageFull { used }
            } else {
                // The balance changed between the two reads: as good as too few.
                Opened::TooFewCredits
            });
        }
    }

    async fn attach_objects(&self, id: &str, keys: &[String]) -> Result<bool, ApiError> {
        if keys.is_empty() {
            return Ok(true);
        }
        let result = self
            .update_item(keys::hold(id))
            .await
            .update_expression("ADD objects :keys")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(HoldState::Pending.as_str()))
            .expression_attribute_values(":keys", AttributeValue::Ss(keys.to_vec()))
            .send()
            .await;
        applied(result)
    }

    async fn due_holds(&self, now: i64, limit: usize) -> Result<Vec<Hold>, ApiError> {
        let mut holds = Vec::new();
        for shard in 0..HOLD_SHARDS {
            let out = self
                .client
                .get()
                .await
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :pk AND gsi1sk < :due")
                .expression_attribute_values(":pk", s(keys::hold_index(shard)))
                // Every `<due_at>#id` with due_at <= now sorts below `<now + 1>`.
                .expression_attribute_values(":due", s(format!("{:012}", now + 1)))
                .limit(limit as i32)
                .send()
                .await
                .map_err(sdk_error)?;
            for it in out.items.unwrap_or_default() {
                // One unreadable item must not stop every other hold from being swept.
                match hold_from(&it) {
                    Ok(h) => holds.push(h),
                    Err(e) => {
                        tracing::error!(item = ?it.get("pk"), error = %e, "unreadable hold skipped")
                    }
                }
            }
        }
        holds.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.id.cmp(&b.id)));
        holds.truncate(limit);
        Ok(holds)
    }

    async fn start_refund(&self, id: &str) -> Result<bool, ApiError> {
        let result = self
            .update_item(keys::hold(id))
            .await
            .update_expression("SET #state = :refunding")
            .condition_expression("#state IN (:pending, :refunding)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", s(HoldState::Pending.as_str()))
            .expression_attribute_values(":refunding", s(HoldState::Refunding.as_str()))
            .send()
            .await;
        applied(result)
    }

    async fn hold_state(&self, id: &str) -> Result<Option<HoldState>, ApiError> {
        let Some(it) = self.get(keys::hold(id)).await? else {
            return Ok(None);
        };
        Ok(Some(
            HoldState::parse(&get_s(&it, "state")?).ok_or_else(|| corrupt("state"))?,
        ))
    }

    async fn postpone_hold(&self, h: &Hold, due_at: i64) -> Result<(), ApiError> {
        let result = self
            .update_item(keys::hold(&h.id))
            .await
            .update_expression("SET due_at = :due, gsi1sk = :sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":due", n(due_at))
            .expression_attribute_values(":sk", s(keys::hold_due(due_at, &h.id)))
            .send()
            .await;
        applied(result).map(|_| ())
    }

    async fn hold(&self, id: &str) -> Result<Option<Hold>, ApiError> {
        self.get(keys::hold(id))
            .await?
            .map(|it| hold_from(&it))
            .transpose()
    }

    async fn close_hold(&self, id: &str) -> Result<(), ApiError> {
        self.delete_item(keys::hold(id))
            .await
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }
}

pub(super) const IDEMPOTENCY_TTL: i64 = 24 * 3600;

impl Idempotency for DynamoStore {
    async fn claim(
        &self,
        user_id: &str,
        claim: &KeyClaim,
        body_hash: &str,
        now: i64,
    ) -> Result<IdempotencyClaim, ApiError> {
        let slot = keys::idempotency(user_id, &claim.key);
        let result = self
            .client
            .get()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(
                slot.clone(),
                [
                    ("state", s("pending")),
                    ("claim", s(&claim.token)),
                    ("body_hash", s(body_hash)),
                    ("created_at", n(now)),
                    ("expires_at", n(now + IDEMPOTENCY_TTL)),
                ],
            )))
            // An expired record (TTL deletion is lazy) may be taken over.
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => return Ok(IdempotencyClaim::New),
            Err(e) if is_conditional_failure(&e) => {}
            Err(e) => return Err(sdk_error(e)),
        }
        let Some(existing) = self.get(slot).await? else {
            // Abandoned between our write and read: the caller may simply retry.
            return Ok(IdempotencyClaim::InProgress);
        };
        if get_s(&existing, "body_hash")? != body_hash {
            return Ok(IdempotencyClaim::Mismatch);
        }
        match (
            opt_s(&existing, "state").as_deref(),
            opt_s(&existing, "response"),
        ) {
            (Some("done"), Some(response)) => Ok(IdempotencyClaim::Replay(response)),
            _ => Ok(IdempotencyClaim::InProgress),
        }
    }

    async fn abandon(&self, user_id: &str, claim: &KeyClaim) -> Result<(), ApiError> {
        let result = self
            .delete_item(keys::idempotency(user_id, &claim.key))
            .await
            .condition_expression("#state = :pending AND #claim = :token")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":token", s(&claim.token))
            .send()
            .await;
        applied(result).map(|_| ())
    }
}
