//! Credit balances and the ledger; the daily image quota.

use super::*;

pub(super) fn ledger_put(
    table: &str,
    user_id: &str,
    line: LedgerLine,
    delta: i64,
    reason: &str,
    reference: &str,
    by: Option<&str>,
) -> Put {
    let mut line = item(
        keys::ledger(user_id, &line),
        [
            ("entity", s("ledger")),
            ("id", s(keys::ledger_id(&line))),
            ("delta", n(delta)),
            ("reason", s(reason)),
            ("reference", s(reference)),
            ("created_at", n(crate::domain::now_epoch())),
        ],
    );
    if let Some(by) = by {
        line.insert("by".into(), s(by));
    }
    Put::builder()
        .table_name(table)
        .set_item(Some(line))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .expect("table, item set")
}

/// A debit: the balance moves and the reference is marked open (a refund needs the mark).
const TAKE_CREDITS: &str = "SET credits_available = credits_available - :c, credits_spent = credits_spent + :c ADD open_charges :ref";
/// Never below zero: DynamoDB serialises writes to one item.
const ENOUGH_CREDITS: &str = "credits_available >= :c";
/// A day's quota grows by :n under the reference :refs, within :room (a reservation alone).
const RESERVE_QUOTA: &str = "ADD images :n, holds :refs SET expires_at = :exp";
const QUOTA_ROOM: &str = "attribute_not_exists(images) OR images <= :room";

/// The debit of `h`, as a transaction's part (see `open_charge`); with a storage quota, only
/// while the account stores less than it. A key's debit also counts in its day's and month's
/// spend (dropping the periods before), within its budget.
pub(super) fn take_credits(table: &str, h: &Hold, storage_quota: Option<u64>) -> Update {
    let mut set = vec![
        "credits_available = credits_available - :c".to_string(),
        "credits_spent = credits_spent + :c".to_string(),
    ];
    let mut condition = vec![ENOUGH_CREDITS.to_string()];
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::profile(&h.user_id)))
        .expression_attribute_values(":c", n(h.amount))
        .expression_attribute_values(":ref", string_set(&h.id));
    let mut remove = Vec::new();
    if let Some(spend) = &h.spend {
        for (i, entry) in spend.entries.iter().enumerate() {
            update = update.expression_attribute_names(format!("#s{i}"), entry);
            set.push(format!(
                "key_spend.#s{i} = if_not_exists(key_spend.#s{i}, :zero) + :c"
            ));
        }
        for (i, entry) in spend.stale.iter().enumerate() {
            update = update.expression_attribute_names(format!("#x{i}"), entry);
            remove.push(format!("key_spend.#x{i}"));
        }
        update = update.expression_attribute_values(":zero", n(0));
        condition.push("attribute_exists(key_spend)".into());
        if let Some(b) = &spend.budget {
            condition.push(format!(
                "(attribute_not_exists(key_spend.#s{0}) OR key_spend.#s{0} <= :kmax)",
                b.entry
            ));
            update = update.expression_attribute_values(":kmax", n(b.credits - h.amount));
        }
    }
    if let Some(quota) = storage_quota {
        condition.push("(attribute_not_exists(storage_bytes) OR storage_bytes < :quota)".into());
        update = update.expression_attribute_values(":quota", n(quota.min(i64::MAX as u64) as i64));
    }
    let mut expression = format!("SET {} ADD open_charges :ref", set.join(", "));
    if !remove.is_empty() {
        expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    update
        .update_expression(expression)
        .condition_expression(condition.join(" AND "))
        .build()
        .expect("update fields set")
}

/// The reservation of a hold's images in its day's quota, as a transaction's part. The same
/// item counts the day's paid work for `GET /v1/usage` (per model and per spender), so it is
/// kept [`USAGE_KEPT_DAYS`].
pub(super) fn reserve_quota(table: &str, h: &Hold, limit: u32, reset_at: i64) -> Update {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::quota(&h.user_id, h.reserved_at)))
        .condition_expression(QUOTA_ROOM);
    let counts = usage_counts(h, 1);
    counts
        .names
        .into_iter()
        .fold(update, |u, (k, v)| u.expression_attribute_names(k, v))
        .set_expression_attribute_values(Some(
            counts
                .values
                .into_iter()
                .chain([
                    (":refs".to_string(), string_set(&h.id)),
                    (":room".to_string(), n((limit - h.images) as i64)),
                    (":exp".to_string(), n(reset_at + USAGE_KEPT_DAYS * DAY)),
                ])
                .collect(),
        ))
        .update_expression(format!(
            "ADD {}, holds :refs SET expires_at = :exp",
            counts.adds
        ))
        .build()
        .expect("update fields set")
}

/// How long a day's quota item, with its usage counts, is kept.
pub(super) const USAGE_KEPT_DAYS: i64 = 400;

/// The `ADD` clauses that count (`sign` 1) or take back (-1) a hold in its day's usage (see
/// `Hold::usage_counters`), with the names and values they use.
struct UsageCounts {
    adds: String,
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
}

fn usage_counts(h: &Hold, sign: i64) -> UsageCounts {
    let counters = h.usage_counters();
    UsageCounts {
        adds: (0..counters.len())
            .map(|i| format!("#u{i} :u{i}"))
            .collect::<Vec<_>>()
            .join(", "),
        names: counters
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (format!("#u{i}"), name.clone()))
            .collect(),
        values: counters
            .iter()
            .enumerate()
            .map(|(i, (_, v))| (format!(":u{i}"), n(sign * v)))
            .collect(),
    }
}

/// A day's usage from its quota item (missing: a day without paid work).
fn user_day(day: i64, it: Option<&Item>) -> UserDay {
    UserDay::from_counters(
        day,
        it.into_iter()
            .flatten()
            .filter_map(|(name, v)| Some((name.clone(), v.as_n().ok()?.parse::<i64>().ok()?))),
    )
}

/// What settling a hold makes final beside the images, on items other than the profile: the
/// day's quota no longer lists it. (The profile's open charge is closed in the images' own
/// profile update, which a transaction may name once: see `put_images`.)
pub(super) fn finish_charge(table: &str, h: &Hold) -> Vec<Update> {
    let mut updates = Vec::new();
    if h.images > 0 {
        updates.push(
            Update::builder()
                .table_name(table)
                .set_key(Some(keys::quota(&h.user_id, h.reserved_at)))
                .update_expression("DELETE holds :refs")
                .expression_attribute_values(":refs", string_set(&h.id))
                .build()
                .expect("update fields set"),
        );
    }
    updates
}

impl DynamoStore {
    /// The first half of a debit: the balance moves and `reference` is marked open, without
    /// its ledger line (which `debit` writes next). Public so that a test can stop a debit
    /// exactly where a killed Lambda would.
    pub async fn take_credits(
        &self,
        user_id: &str,
        amount: i64,
        reference: &str,
    ) -> Result<bool, ApiError> {
        // A single conditional update: DynamoDB serialises writes to one item, so concurrent
        // debits can never take the balance below zero (no transaction conflicts to retry).
        let result = self
            .update_item(keys::profile(user_id))
            .await
            .update_expression(TAKE_CREDITS)
            .condition_expression(ENOUGH_CREDITS)
            .expression_attribute_values(":c", n(amount))
            .expression_attribute_values(":ref", string_set(reference))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(sdk_error(e)),
        }
    }
}

impl DynamoStore {
    /// Gives back the open debit `reference` and its count in `spend`, with a refund line
    /// naming `by` (see `Credits::refund`).
    async fn give_back(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
        spend: Option<&KeySpend>,
        by: Option<&str>,
    ) -> Result<bool, ApiError> {
        let mut expression =
            "SET credits_available = credits_available + :c, credits_spent = credits_spent - :c"
                .to_string();
        let mut give_back = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::profile(user_id)));
        // The key's spend goes back too (an entry whose period is over comes back as zero, and
        // is dropped later).
        if let Some(spend) = spend {
            for (i, entry) in spend.entries.iter().enumerate() {
                give_back = give_back.expression_attribute_names(format!("#s{i}"), entry);
                expression.push_str(&format!(
                    ", key_spend.#s{i} = if_not_exists(key_spend.#s{i}, :c) - :c"
                ));
            }
        }
        let give_back = give_back
            .update_expression(format!("{expression} DELETE open_charges :refs"))
            // Only an open debit is given back: never one that was settled, refunded or not made.
            .condition_expression(if spend.is_some() {
                "contains(open_charges, :ref) AND attribute_exists(key_spend)"
            } else {
                "contains(open_charges, :ref)"
            })
            .expression_attribute_values(":c", n(amount))
            .expression_attribute_values(":refs", string_set(reference))
            .expression_attribute_values(":ref", s(reference))
            .build()
            .expect("update fields set");
        let items = vec![
            TransactWriteItem::builder().update(give_back).build(),
            TransactWriteItem::builder()
                .put(ledger_put(
                    &self.table,
                    user_id,
                    LedgerLine::Refund(reference),
                    amount,
                    "refund",
                    reference,
                    by,
                ))
                .build(),
        ];
        match self.transact(items).await? {
            Ok(()) => {
                // A Lambda killed between its debit and the debit's ledger line left the line
                // out: write it now (if absent), so the ledger explains the refund.
                let debit = ledger_put(
                    &self.table,
                    user_id,
                    LedgerLine::Debit(reference),
                    -amount,
                    reason,
                    reference,
                    by,
                );
                let result = self
                    .client
                    .get()
                    .await
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(debit.item))
                    .set_condition_expression(debit.condition_expression)
                    .send()
                    .await;
                applied(result)?;
                Ok(true)
            }
            // Nothing open to give back, or the refund record exists already.
            Err(reasons) if reasons.iter().any(|r| r == "ConditionalCheckFailed") => Ok(false),
            Err(reasons) => Err(ApiError::internal(format!("refund cancelled: {reasons:?}"))),
        }
    }
}

impl Credits for DynamoStore {
    async fn debit(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
    ) -> Result<bool, ApiError> {
        if !self.take_credits(user_id, amount, reference).await? {
            return Ok(false);
        }
        let entry = ledger_put(
            &self.table,
            user_id,
            LedgerLine::Debit(reference),
            -amount,
            reason,
            reference,
            None,
        );
        if let Err(e) = self
            .client
            .get()
            .await
            .put_item()
            .set_item(entry.item.clone().into())
            .table_name(&self.table)
            .send()
            .await
        {
            // The balance moved but its record did not: give the credits back and fail loudly.
            self.give_back(user_id, amount, reason, reference, None, None)
                .await?;
            return Err(sdk_error(e));
        }
        Ok(true)
    }

    async fn refund(&self, hold: &Hold, reason: &str) -> Result<bool, ApiError> {
        self.give_back(
            &hold.user_id,
            hold.amount,
            reason,
            &hold.id,
            hold.spend.as_ref(),
            hold.by.as_deref(),
        )
        .await
    }

    async fn settle_charge(&self, user_id: &str, reference: &str) -> Result<(), ApiError> {
        let result = self
            .update_item(keys::profile(user_id))
            .await
            .update_expression("DELETE open_charges :refs")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":refs", string_set(reference))
            .send()
            .await;
        applied(result).map(|_| ())
    }

    async fn ledger(&self, user_id: &str, limit: usize) -> Result<Vec<LedgerEntry>, ApiError> {
        self.newest_user_items(user_id, keys::LEDGER_PREFIX, limit)
            .await?
            .iter()
            .map(|it| {
                Ok(LedgerEntry {
                    id: get_s(it, "id")?,
                    delta: get_n(it, "delta")?,
                    reason: get_s(it, "reason")?,
                    reference: opt_s(it, "reference"),
                    note: opt_s(it, "note"),
                    created_at: get_n(it, "created_at")?,
                    by: opt_s(it, "by"),
                })
            })
            .collect()
    }
}

pub(super) const DAY: i64 = 24 * 3600;

impl Quotas for DynamoStore {
    async fn images_today(&self, user_id: &str, now: i64) -> Result<u32, ApiError> {
        Ok(match self.get(keys::quota(user_id, now)).await? {
            Some(item) if item.contains_key("images") => get_n(&item, "images")?.max(0) as u32,
            _ => 0,
        })
    }

    async fn reserve_daily(
        &self,
        user_id: &str,
        n_images: u32,
        limit: u32,
        now: i64,
        reference: &str,
    ) -> Result<Result<(), i64>, ApiError> {
        let day = now.div_euclid(DAY);
        let reset_at = (day + 1) * DAY;
        if n_images > limit {
            return Ok(Err(reset_at));
        }
        let result = self
            .update_item(keys::quota(user_id, now))
            .await
            .update_expression(RESERVE_QUOTA)
            .condition_expression(QUOTA_ROOM)
            .expression_attribute_values(":n", n(n_images as i64))
            .expression_attribute_values(":refs", string_set(reference))
            .expression_attribute_values(":room", n((limit - n_images) as i64))
            .expression_attribute_values(":exp", n(reset_at + DAY))
            .send()
            .await;
        Ok(if applied(result)? {
            Ok(())
        } else {
            Err(reset_at)
        })
    }

    async fn release_daily(&self, hold: &Hold) -> Result<(), ApiError> {
        let counts = usage_counts(hold, -1);
        let update = self
            .update_item(keys::quota(&hold.user_id, hold.reserved_at))
            .await
            .update_expression(format!("ADD {} DELETE holds :refs", counts.adds))
            // Only an open reservation is given back, and only once.
            .condition_expression("contains(holds, :ref)")
            .expression_attribute_values(":refs", string_set(&hold.id))
            .expression_attribute_values(":ref", s(&hold.id));
        let update = counts
            .names
            .into_iter()
            .fold(update, |u, (k, v)| u.expression_attribute_names(k, v));
        let update = counts
            .values
            .into_iter()
            .fold(update, |u, (k, v)| u.expression_attribute_values(k, v));
        applied(update.send().await).map(|_| ())
    }

    async fn user_usage(
        &self,
        user_id: &str,
        first_day: i64,
        last_day: i64,
    ) -> Result<Vec<UserDay>, ApiError> {
        let days: Vec<i64> = (first_day..=last_day).collect();
        let mut found: HashMap<i64, Item> = HashMap::new();
        // At most 100 keys a batch; what DynamoDB leaves unprocessed is asked again.
        for chunk in days.chunks(100) {
            let mut pending: Vec<Item> = chunk
                .iter()
                .map(|d| keys::quota(user_id, d * DAY))
                .collect();
            let mut rounds = 0;
            while !pending.is_empty() {
                rounds += 1;
                if rounds > 8 {
                    return Err(ApiError::internal("usage: keys left unprocessed"));
                }
                let keys_and_attributes = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(pending.clone()))
                    .consistent_read(true)
                    .build()
                    .map_err(ApiError::internal)?;
                let out = self
                    .client
                    .get()
                    .await
                    .batch_get_item()
                    .request_items(&self.table, keys_and_attributes)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                for it in out
                    .responses
                    .unwrap_or_default()
                    .remove(&self.table)
                    .unwrap_or_default()
                {
                    if let Some(day) = opt_s(&it, "pk")
                        .and_then(|pk| pk.rsplit('#').next().and_then(|d| d.parse::<i64>().ok()))
                    {
                        found.insert(day, it);
                    }
                }
                pending = out
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.table)
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
        }
        Ok(days.iter().map(|d| user_day(*d, found.get(d))).collect())
    }

    async fn settle_daily(
        &self,
        user_id: &str,
        reserved_at: i64,
        reference: &str,
    ) -> Result<(), ApiError> {
        let result = self
            .update_item(keys::quota(user_id, reserved_at))
            .await
            .update_expression("DELETE holds :refs")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":refs", string_set(reference))
            .send()
            .await;
        applied(result).map(|_| ())
    }
}
