//! What admins read and change: the user directory, audited changes to an account, and the
//! usage counted by each settlement.

use super::*;
use crate::domain::admin::{AdminWrite, AuditAction, AuditEntry, DayUsage, listed_at};
use aws_sdk_dynamodb::types::builders::UpdateBuilder;

/// Shards of the daily usage counters: settlements spread over them by hold id (plain updates
/// of one item are serialised by DynamoDB, never refused).
const USAGE_SHARDS: u32 = 8;

fn audit_put(table: &str, a: &AuditEntry) -> TransactWriteItem {
    put_new(
        table,
        item(
            keys::audit(&a.target, a.at, &a.id),
            [
                ("entity", s("audit")),
                ("id", s(&a.id)),
                ("at", n(a.at)),
                ("actor", s(&a.actor)),
                ("action", s(a.action.as_str())),
                ("target", s(&a.target)),
                ("detail", s(&a.detail)),
            ],
        ),
    )
}

fn audit_from(it: &Item) -> Result<AuditEntry, ApiError> {
    Ok(AuditEntry {
        id: get_s(it, "id")?,
        at: get_n(it, "at")?,
        actor: get_s(it, "actor")?,
        action: AuditAction::parse(&get_s(it, "action")?).ok_or_else(|| corrupt("action"))?,
        target: get_s(it, "target")?,
        detail: get_s(it, "detail")?,
    })
}

/// How an audited change ended.
enum Audited {
    Done(UserRecord),
    /// The update's own condition failed: the profile as it is now (`None`: no such user).
    Refused(Option<UserRecord>),
    NotAnAdmin,
}

impl Audited {
    fn write(self) -> AdminWrite<UserRecord> {
        match self {
            Audited::Done(u) => AdminWrite::Done(u),
            Audited::Refused(_) => AdminWrite::NoSuchUser,
            Audited::NotAnAdmin => AdminWrite::NotAnAdmin,
        }
    }
}

impl DynamoStore {
    /// Adds a settled request's paid work to its day's counter. After the settlement, not in
    /// it: a hot counter must never fail (by transaction conflicts) the write that stores
    /// images already made. A lost count is logged, never the request's failure. Free work
    /// (transforms, uploads) is not counted.
    pub(super) async fn count_usage(&self, settled: &Settlement) {
        let hold = &settled.hold;
        if hold.amount == 0 && hold.images == 0 {
            return;
        }
        let shard = keys::hold_shard(&hold.id) % USAGE_SHARDS;
        let day = crate::domain::now_epoch().div_euclid(crate::domain::DAY_SECONDS);
        // Per model and vendor too, with what the vendor charged.
        let by_vendor = settled
            .served
            .as_ref()
            .map(|v| v.counters(i64::from(hold.images), hold.amount))
            .unwrap_or_default();
        let mut adds = vec![
            "generations :one".to_string(),
            "images :images".into(),
            "credits :credits".into(),
        ];
        let mut update = self.update_item(keys::usage(shard, day)).await;
        for (i, (name, value)) in by_vendor.into_iter().enumerate() {
            adds.push(format!("#v{i} :v{i}"));
            update = update
                .expression_attribute_names(format!("#v{i}"), name)
                .expression_attribute_values(format!(":v{i}"), n(value));
        }
        let result = update
            .update_expression(format!("ADD {}", adds.join(", ")))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":images", n(hold.images as i64))
            .expression_attribute_values(":credits", n(hold.amount))
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %DisplayErrorContext(&e), hold = %hold.id, "usage not counted");
        }
    }

    /// One audited change to a profile: the update (and `line`, a ledger line), the audit
    /// entry and the check that the acting admin (`audit.actor`) is still an enabled admin
    /// stand or fall together. The profile as it is afterwards, or `Err` with the profile as it
    /// is (`None`: no such user) when the update's condition failed.
    async fn audited(
        &self,
        user_id: &str,
        update: UpdateBuilder,
        line: Option<Put>,
        audit: &AuditEntry,
    ) -> Result<Audited, ApiError> {
        // Two admins demoting each other at once: the second transaction finds its actor
        // demoted and is refused, so an admin always remains.
        const ENABLED_ADMIN: &str = "#role = :admin AND attribute_not_exists(disabled_at)";
        // A transaction touches an item once: an admin's change to their own account carries
        // the check in its own condition.
        let own = audit.actor == user_id;
        let update = if own {
            let condition = update
                .get_condition_expression()
                .clone()
                .unwrap_or_default();
            update
                .condition_expression(format!("({condition}) AND {ENABLED_ADMIN}"))
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":admin", s(Role::Admin.as_str()))
        } else {
            update
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .update(update.build().expect("update fields set"))
                .build(),
        ];
        if !own {
            let actor = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(keys::profile(&audit.actor)))
                .condition_expression(format!("attribute_exists(pk) AND {ENABLED_ADMIN}"))
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":admin", s(Role::Admin.as_str()))
                .build()
                .expect("condition check fields set");
            items.push(TransactWriteItem::builder().condition_check(actor).build());
        }
        items.extend(line.map(|l| TransactWriteItem::builder().put(l).build()));
        items.push(audit_put(&self.table, audit));
        let failed = |reasons: &[String], i: usize| {
            reasons
                .get(i)
                .is_some_and(|r| r == "ConditionalCheckFailed")
        };
        let refused = match self.transact(items).await? {
            Ok(()) => false,
            Err(reasons) if !own && failed(&reasons, 1) => return Ok(Audited::NotAnAdmin),
            Err(reasons) if failed(&reasons, 0) => true,
            Err(reasons) => {
                return Err(ApiError::internal(format!(
                    "admin change cancelled: {reasons:?}"
                )));
            }
        };
        Ok(match (refused, self.user(user_id).await?) {
            (false, Some(u)) => Audited::Done(u),
            // Their own account: the condition failed on the role, or on the change itself.
            (true, Some(u)) if own && (u.role != Role::Admin || u.disabled_at.is_some()) => {
                Audited::NotAnAdmin
            }
            (_, now) => Audited::Refused(now),
        })
    }

    fn profile_update(&self, user_id: &str) -> UpdateBuilder {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::profile(user_id)))
            .condition_expression("attribute_exists(pk)")
    }
}

impl Admin for DynamoStore {
    async fn find_users(
        &self,
        prefix: Option<&str>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<UserRecord>, Option<String>), ApiError> {
        let client = self.client.get().await;
        let Some(prefix) = prefix else {
            // Every user, newest first, from the profiles' own index entries.
            let mut query = client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :pk")
                .expression_attribute_values(":pk", s(keys::USER_LISTING))
                .scan_index_forward(false)
                .limit(limit as i32 + 1);
            if let Some(after) = after {
                let id = after.split_once('#').map(|(_, id)| id).unwrap_or_default();
                let mut start = keys::profile(id);
                start.insert("gsi1pk".into(), s(keys::USER_LISTING));
                start.insert("gsi1sk".into(), s(after));
                query = query.set_exclusive_start_key(Some(start));
            }
            let out = query.send().await.map_err(sdk_error)?;
            let mut users = out
                .items()
                .iter()
                .map(super::accounts::user_from)
                .collect::<Result<Vec<_>, _>>()?;
            // One more than the page, read only to know whether there is more.
            let next = (users.len() > limit)
                .then(|| users.truncate(limit))
                .and_then(|()| users.last())
                .map(|u| keys::user_listing(u.created_at, &u.id));
            return Ok((users, next));
        };
        // Usernames and emails in one sorted stream; a user matching by both is listed at the
        // first of its names only, so no user shows up twice, on one page or across pages.
        let mut users: Vec<UserRecord> = Vec::new();
        let mut start = after.map(str::to_string);
        let mut cursor = None;
        'pages: loop {
            let mut query = client
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :pk AND begins_with(gsi1sk, :prefix)")
                .expression_attribute_values(":pk", s(keys::USER_DIRECTORY))
                .expression_attribute_values(":prefix", s(prefix))
                .limit(limit as i32 + 1);
            if let Some(name) = &start {
                // Usernames cannot hold '@': the guard a name belongs to is told by it.
                let mut k = if name.contains('@') {
                    keys::email(name)
                } else {
                    keys::username(name)
                };
                k.insert("gsi1pk".into(), s(keys::USER_DIRECTORY));
                k.insert("gsi1sk".into(), s(name));
                query = query.set_exclusive_start_key(Some(k));
            }
            let out = query.send().await.map_err(sdk_error)?;
            let entries = out
                .items()
                .iter()
                .map(|it| Ok((get_s(it, "gsi1sk")?, get_s(it, "user_id")?)))
                .collect::<Result<Vec<_>, ApiError>>()?;
            let found =
                futures::future::try_join_all(entries.iter().map(|(_, id)| self.user(id))).await?;
            for ((name, _), user) in entries.into_iter().zip(found) {
                let listed_here = user
                    .as_ref()
                    .is_some_and(|u| listed_at(u, prefix).as_deref() == Some(name.as_str()));
                if listed_here {
                    if users.len() == limit {
                        break 'pages;
                    }
                    users.extend(user);
                }
                cursor = Some(name.clone());
                start = Some(name);
            }
            if out.last_evaluated_key.is_none() {
                cursor = None;
                break;
            }
        }
        Ok((users, cursor))
    }

    async fn adjust_credits(
        &self,
        user_id: &str,
        delta: i64,
        audit: &AuditEntry,
        note: &str,
    ) -> Result<AdminWrite<CreditBalance>, ApiError> {
        let update = self
            .profile_update(user_id)
            .update_expression("SET credits_available = credits_available + :d")
            .condition_expression("attribute_exists(pk) AND credits_available >= :need")
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":need", n((-delta).max(0)));
        let mut line = ledger_put(
            &self.table,
            user_id,
            LedgerLine::Admin(&audit.id),
            delta,
            "admin_grant",
            &audit.actor,
            None,
        );
        line.item.insert("note".into(), s(note));
        Ok(
            match self.audited(user_id, update, Some(line), audit).await? {
                Audited::Done(u) => AdminWrite::Done(u.credits),
                Audited::Refused(Some(u)) => AdminWrite::Insufficient {
                    available: u.credits.available,
                },
                Audited::Refused(None) => AdminWrite::NoSuchUser,
                Audited::NotAnAdmin => AdminWrite::NotAnAdmin,
            },
        )
    }

    async fn set_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<AdminWrite<UserRecord>, ApiError> {
        let update = match disabled_at {
            Some(at) => self
                .profile_update(user_id)
                .update_expression("SET disabled_at = :at")
                .expression_attribute_values(":at", n(at)),
            None => self
                .profile_update(user_id)
                .update_expression("REMOVE disabled_at"),
        };
        Ok(self.audited(user_id, update, None, audit).await?.write())
    }

    async fn set_role(
        &self,
        user_id: &str,
        role: Role,
        audit: &AuditEntry,
    ) -> Result<AdminWrite<UserRecord>, ApiError> {
        let update = self
            .profile_update(user_id)
            .update_expression("SET #role = :role")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":role", s(role.as_str()));
        Ok(self.audited(user_id, update, None, audit).await?.write())
    }

    async fn audit_trail(&self, user_id: &str, limit: usize) -> Result<Vec<AuditEntry>, ApiError> {
        self.newest_user_items(user_id, keys::AUDIT_PREFIX, limit)
            .await?
            .iter()
            .map(audit_from)
            .collect()
    }

    async fn usage(&self, first_day: i64, last_day: i64) -> Result<Vec<DayUsage>, ApiError> {
        let client = self.client.get().await;
        let mut days: std::collections::BTreeMap<i64, DayUsage> = Default::default();
        for shard in 0..USAGE_SHARDS {
            let pages: Vec<_> = client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
                .expression_attribute_values(":pk", s(keys::usage_shard(shard)))
                .expression_attribute_values(":first", keys::usage(shard, first_day)["sk"].clone())
                .expression_attribute_values(":last", keys::usage(shard, last_day)["sk"].clone())
                .into_paginator()
                .items()
                .send()
                .collect()
                .await;
            for it in pages {
                let it = it.map_err(sdk_error)?;
                let day = get_s(&it, "sk")?
                    .trim_start_matches("DAY#")
                    .parse::<i64>()
                    .map_err(|_| corrupt("sk"))?;
                let d = days.entry(day).or_insert(DayUsage {
                    day,
                    ..DayUsage::default()
                });
                d.generations += opt_n(&it, "generations").unwrap_or(0);
                d.images += opt_n(&it, "images").unwrap_or(0);
                d.credits += opt_n(&it, "credits").unwrap_or(0);
                for (name, value) in &it {
                    if let Some(v) = value.as_n().ok().and_then(|v| v.parse::<i64>().ok()) {
                        d.add_counter(name, v);
                    }
                }
            }
        }
        Ok(days.into_values().collect())
    }
}
