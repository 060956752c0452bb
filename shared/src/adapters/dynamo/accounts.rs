//! Users, API keys, rate-limit windows and the profile that records revocations.

use super::*;

pub(super) fn user_from(it: &Item) -> Result<UserRecord, ApiError> {
    Ok(UserRecord {
        id: get_s(it, "id")?,
        username: get_s(it, "username")?,
        email: get_s(it, "email")?,
        password_hash: opt_s(it, "password_hash").unwrap_or_default(),
        name: opt_s(it, "name"),
        role: get_role(it)?,
        created_at: get_n(it, "created_at")?,
        referral_code: get_s(it, "referral_code")?,
        referred_by: opt_s(it, "referred_by"),
        referral_rewarded_at: opt_n(it, "referral_rewarded_at"),
        credits: CreditBalance {
            available: get_n(it, "credits_available")?,
            earned: get_n(it, "credits_earned")?,
            spent: get_n(it, "credits_spent")?,
        },
        disabled_at: opt_n(it, "disabled_at"),
        // Accounts from before the quota count from their first change; a count taken below
        // zero by deleting older assets reads as zero.
        storage_bytes: opt_n(it, "storage_bytes").unwrap_or(0).max(0) as u64,
    })
}

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

/// An identity at a provider, and the user it signs in.
pub(super) fn identity_item(provider: Idp, subject: &str, user_id: &str, at: i64) -> Item {
    item(
        keys::identity(provider.as_str(), subject),
        [
            ("entity", s("identity")),
            ("user_id", s(user_id)),
            ("provider", s(provider.as_str())),
            ("subject", s(subject)),
            ("created_at", n(at)),
        ],
    )
}

impl DynamoStore {
    /// The user, its guards and first ledger lines, and `identity` if any, in one transaction.
    pub(super) async fn create_user_with(
        &self,
        u: &UserRecord,
        identity: Option<(Idp, &str)>,
    ) -> Result<Result<(), Taken>, ApiError> {
        let mut profile = item(
            keys::profile(&u.id),
            [
                ("entity", s("user")),
                ("id", s(&u.id)),
                ("username", s(&u.username)),
                ("email", s(&u.email)),
                ("password_hash", s(&u.password_hash)),
                ("role", s(u.role.as_str())),
                ("created_at", n(u.created_at)),
                ("referral_code", s(&u.referral_code)),
                ("credits_available", n(u.credits.available)),
                ("credits_earned", n(u.credits.earned)),
                ("credits_spent", n(u.credits.spent)),
                // What the storage quota counts; present from the start, so its condition is
                // the quota itself (older profiles lack it until their first asset).
                ("storage_bytes", n(u.storage_bytes as i64)),
                // Checked by every authenticated request in the same write as its rate count:
                // the API keys that are live (id → last use) and the sessions signed out.
                ("api_keys", AttributeValue::M(HashMap::new())),
                ("revoked_sessions", AttributeValue::M(HashMap::new())),
            ],
        );
        if let Some(r) = &u.referred_by {
            profile.insert("referred_by".into(), s(r));
        }
        if let Some(name) = &u.name {
            profile.insert("name".into(), s(name));
        }
        profile.insert("gsi1pk".into(), s(keys::USER_LISTING));
        profile.insert("gsi1sk".into(), s(keys::user_listing(u.created_at, &u.id)));
        let guard = |k: Item| put_new(&self.table, item(k, [("user_id", s(&u.id))]));
        // The name guards are also the admins' directory, searchable by prefix.
        let listed = |k: Item, name: String| {
            put_new(
                &self.table,
                item(
                    k,
                    [
                        ("user_id", s(&u.id)),
                        ("gsi1pk", s(keys::USER_DIRECTORY)),
                        ("gsi1sk", s(name)),
                    ],
                ),
            )
        };
        let (username, email) = (u.username.to_lowercase(), u.email.to_lowercase());
        // What each item's failed condition would mean (None: a bug, not a taken name).
        let mut items = vec![
            put_new(&self.table, profile),
            listed(keys::username(&username), username.clone()),
        ];
        let mut taken = vec![None, Some(Taken::Username)];
        // An account a provider created may have no email (it was another account's).
        if !email.is_empty() {
            items.push(listed(keys::email(&email), email.clone()));
            taken.push(Some(Taken::Email));
        }
        items.push(guard(keys::referral_code(&u.referral_code)));
        taken.push(None);
        if let Some((provider, subject)) = identity {
            items.push(put_new(
                &self.table,
                identity_item(provider, subject, &u.id, u.created_at),
            ));
            taken.push(Some(Taken::Identity));
        }
        // The ledger explains every balance from zero: the signup grant is its first line, and
        // a referred user's bonus (what it earned) its second.
        let signup = u.credits.available - u.credits.earned;
        if signup != 0 {
            let grant = ledger_put(
                &self.table,
                &u.id,
                LedgerLine::Signup,
                signup,
                "signup",
                &u.id,
            );
            items.push(TransactWriteItem::builder().put(grant).build());
        }
        if let (Some(referrer), true) = (&u.referred_by, u.credits.earned != 0) {
            let bonus = ledger_put(
                &self.table,
                &u.id,
                LedgerLine::ReferralSignup,
                u.credits.earned,
                "referral_signup",
                referrer,
            );
            items.push(TransactWriteItem::builder().put(bonus).build());
        }
        match self.transact(items).await? {
            Ok(()) => Ok(Ok(())),
            Err(reasons) => {
                let failed = reasons
                    .iter()
                    .zip(&taken)
                    .find(|(r, _)| *r == "ConditionalCheckFailed");
                match failed {
                    Some((_, Some(what))) => Ok(Err(*what)),
                    _ => Err(ApiError::internal(format!(
                        "user creation cancelled: {reasons:?}"
                    ))),
                }
            }
        }
    }
}

impl Accounts for DynamoStore {
    async fn create_user(&self, u: &UserRecord) -> Result<Result<(), Taken>, ApiError> {
        self.create_user_with(u, None).await
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, ApiError> {
        self.get(keys::profile(id))
            .await?
            .map(|it| user_from(&it))
            .transpose()
    }

    async fn user_by_login(&self, login: &LoginId) -> Result<Option<UserRecord>, ApiError> {
        let guard = match login {
            LoginId::Username(u) => self.get(keys::username(u)).await?,
            LoginId::Email(e) => self.get(keys::email(e)).await?,
        };
        match guard {
            Some(g) => self.user(&get_s(&g, "user_id")?).await,
            None => Ok(None),
        }
    }

    async fn referrer(&self, code: &str) -> Result<Option<String>, ApiError> {
        self.get(keys::referral_code(code))
            .await?
            .map(|it| get_s(&it, "user_id"))
            .transpose()
    }

    async fn reward_referrer(
        &self,
        referred: &str,
        referrer: &str,
        credits: i64,
        monthly_cap: u32,
        now: i64,
    ) -> Result<Reward, ApiError> {
        // Marks the referred user rewarded, once, and only for the referrer it names.
        let mark = || {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(keys::profile(referred)))
                .update_expression("SET referral_rewarded_at = :now")
                .condition_expression(
                    "attribute_not_exists(referral_rewarded_at) AND referred_by = :referrer",
                )
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":referrer", s(referrer))
                .build()
                .expect("table, key and expression set")
        };
        let grant = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::profile(referrer)))
            .update_expression(
                "SET credits_available = credits_available + :c, credits_earned = credits_earned + :c",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":c", n(credits))
            .build()
            .expect("table, key and expression set");
        let line = ledger_put(
            &self.table,
            referrer,
            LedgerLine::Referral(referred),
            credits,
            "referral",
            referred,
        );
        let month = keys::referral_month(referrer, now);
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(month))
            .update_expression(
                "SET granted = if_not_exists(granted, :zero) + :one, expires_at = :expires",
            )
            .condition_expression("attribute_not_exists(granted) OR granted < :cap")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cap", n(monthly_cap as i64))
            .expression_attribute_values(":expires", n(now + 62 * 24 * 3600))
            .build()
            .expect("table, key and expression set");
        let mark_only = || async {
            self.transact(vec![TransactWriteItem::builder().update(mark()).build()])
                .await
                .map(|r| r.is_ok())
        };
        if monthly_cap == 0 {
            return Ok(if mark_only().await? {
                Reward::CapReached
            } else {
                Reward::AlreadyGiven
            });
        }
        let items = vec![
            TransactWriteItem::builder().update(mark()).build(),
            TransactWriteItem::builder().update(grant).build(),
            TransactWriteItem::builder().put(line).build(),
            TransactWriteItem::builder().update(count).build(),
        ];
        let failed = |reasons: &[String], i: usize| {
            reasons
                .get(i)
                .is_some_and(|r| r == "ConditionalCheckFailed")
        };
        match self.transact(items).await? {
            Ok(()) => Ok(Reward::Granted),
            Err(reasons) if failed(&reasons, 0) || failed(&reasons, 2) => Ok(Reward::AlreadyGiven),
            // Over the cap, or the referrer's account is gone: marked all the same, so later
            // generations do not try again.
            Err(reasons) if failed(&reasons, 3) || failed(&reasons, 1) => {
                let capped = failed(&reasons, 3);
                Ok(match mark_only().await? {
                    true if capped => Reward::CapReached,
                    _ => Reward::AlreadyGiven,
                })
            }
            Err(reasons) => Err(ApiError::internal(format!(
                "referral reward cancelled: {reasons:?}"
            ))),
        }
    }
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

/// A signed-out session stays on its user's profile this long: as long as any access token of
/// it can live (configuration refuses longer lifetimes; after that the token's own expiry
/// refuses it).
const REVOKED_KEPT: i64 = (crate::domain::ACCESS_TOKEN_TTL_MAX_SECONDS
    + crate::domain::ACCESS_TOKEN_LEEWAY_SECONDS
    + 60) as i64;

impl DynamoStore {
    /// Profiles written before requests were admitted against them lack the two maps: add them
    /// once, listing the user's API keys as live. Idempotent, and a no-op on a newer profile.
    async fn ensure_profile_maps(&self, user_id: &str) -> Result<(), ApiError> {
        let live: HashMap<String, AttributeValue> = self
            .list_key_items(user_id)
            .await?
            .iter()
            .map(|k| (k.id.clone(), n(0)))
            .collect();
        let result = self
            .update_item(keys::profile(user_id))
            .await
            .update_expression(
                "SET api_keys = if_not_exists(api_keys, :keys), revoked_sessions = if_not_exists(revoked_sessions, :none)",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":keys", AttributeValue::M(live))
            .expression_attribute_values(":none", AttributeValue::M(HashMap::new()))
            .send()
            .await;
        applied(result).map(|_| ())
    }

    /// The user's API keys as listed under the user (without their last use).
    async fn list_key_items(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, ApiError> {
        let pages: Vec<_> = self
            .user_items(user_id, keys::API_KEY_PREFIX)
            .await
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        pages
            .into_iter()
            .map(|it| it.map_err(sdk_error).and_then(|it| api_key_from(&it)))
            .collect::<Result<Vec<_>, _>>()
    }

    /// Records a signed-out session on its user's profile, where every request's admission
    /// sees it, and drops the records old enough to be moot.
    pub(super) async fn revoke_on_profile(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<(), ApiError> {
        self.ensure_profile_maps(user_id).await?;
        let now = crate::domain::now_epoch();
        let result = self
            .update_item(keys::profile(user_id))
            .await
            .update_expression("SET revoked_sessions.#sid = :now")
            .condition_expression("attribute_exists(revoked_sessions)")
            .expression_attribute_names("#sid", session_id)
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let profile = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) if is_conditional_failure(&e) => return Ok(()),
            Err(e) => return Err(sdk_error(e)),
        };
        let stale: Vec<String> = profile
            .get("revoked_sessions")
            .and_then(|m| m.as_m().ok())
            .into_iter()
            .flatten()
            .filter(|(_, at)| {
                at.as_n()
                    .ok()
                    .and_then(|v| v.parse::<i64>().ok())
                    .is_some_and(|at| at < now - REVOKED_KEPT)
            })
            .map(|(sid, _)| sid.clone())
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let mut update = self.update_item(keys::profile(user_id)).await;
        let mut removes = Vec::new();
        for (i, sid) in stale.iter().enumerate() {
            update = update.expression_attribute_names(format!("#s{i}"), sid);
            removes.push(format!("revoked_sessions.#s{i}"));
        }
        update
            .update_expression(format!("REMOVE {}", removes.join(", ")))
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }
}

impl RateLimits for DynamoStore {
    // Long: one conditional UpdateItem and the reading of its three outcomes.
    async fn admit(
        &self,
        user_id: &str,
        live: Live<'_>,
        limit: u32,
        window_secs: i64,
        now: i64,
    ) -> Result<Admission, ApiError> {
        let start = crate::domain::accounts::window_start(now, window_secs);
        let window = |used| RateWindow {
            limit,
            used,
            reset_at: start + window_secs,
        };
        let (live_condition, id, use_it) = match live {
            Live::Session(sid) => ("attribute_not_exists(revoked_sessions.#id)", sid, ""),
            Live::ApiKey(kid) => (
                "attribute_exists(api_keys.#id)",
                kid,
                ", api_keys.#id = :now",
            ),
        };
        // The window of this hour usually exists: count in it. Once an hour the first request
        // starts a new one (a second write, also conditional on the credential); if another
        // request started it meanwhile, count in that one.
        let attempts = [false, true, false];
        let (mut next, mut ensured) = (0, false);
        while let Some(&new_window) = attempts.get(next) {
            next += 1;
            let (update, window_condition) = if new_window {
                (
                    format!("SET rate_window = :w, rate_hits = :one{use_it}"),
                    "(attribute_not_exists(rate_window) OR rate_window < :w)",
                )
            } else {
                (
                    format!("SET rate_hits = rate_hits + :one{use_it}"),
                    "rate_window = :w AND rate_hits < :limit",
                )
            };
            let mut request = self
                .update_item(keys::profile(user_id))
                .await
                .update_expression(update)
                .condition_expression(format!(
                    "attribute_exists(pk) AND attribute_not_exists(disabled_at) AND {live_condition} AND {window_condition}"
                ))
                .expression_attribute_names("#id", id)
                .expression_attribute_values(":w", n(start))
                .expression_attribute_values(":one", n(1))
                .return_values(ReturnValue::UpdatedNew)
                .return_values_on_condition_check_failure(
                    aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                );
            if !new_window {
                request = request.expression_attribute_values(":limit", n(limit as i64));
            }
            if matches!(live, Live::ApiKey(_)) {
                request = request.expression_attribute_values(":now", n(now));
            }
            let old = match request.send().await {
                Ok(out) => {
                    let used = out
                        .attributes
                        .as_ref()
                        .and_then(|a| opt_n(a, "rate_hits"))
                        .unwrap_or(1);
                    return Ok(Admission::Admitted(window(used as u32)));
                }
                Err(SdkError::ServiceError(e)) => match e.into_err() {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                        c.item.unwrap_or_default()
                    }
                    other => return Err(ApiError::internal(format!("dynamodb: {}", DisplayErrorContext(other)))),
                },
                Err(e) => return Err(sdk_error(e)),
            };
            // Why the condition failed, from the item as it was. A profile older than these
            // checks lacks their maps: add them once and start again.
            let has_maps = old.contains_key("api_keys") && old.contains_key("revoked_sessions");
            let legacy = !old.is_empty() && !has_maps;
            if legacy && !ensured {
                self.ensure_profile_maps(user_id).await?;
                (next, ensured) = (0, true);
                continue;
            }
            if old.contains_key("disabled_at") {
                return Ok(Admission::Disabled);
            }
            let map_has = |name: &str| {
                old.get(name)
                    .and_then(|m| m.as_m().ok())
                    .is_some_and(|m| m.contains_key(id))
            };
            let live_now = !old.is_empty()
                && match live {
                    Live::Session(_) => !map_has("revoked_sessions"),
                    Live::ApiKey(_) => map_has("api_keys"),
                };
            if !live_now {
                return Ok(Admission::Revoked);
            }
            if opt_n(&old, "rate_window") == Some(start) && !new_window {
                return Ok(Admission::Limited(window(limit)));
            }
        }
        Err(ApiError::internal(
            "the request could not be counted in its window",
        ))
    }

    async fn hit(
        &self,
        user_id: &str,
        limit: u32,
        window_secs: i64,
        now: i64,
    ) -> Result<Result<RateWindow, RateWindow>, ApiError> {
        let start = crate::domain::accounts::window_start(now, window_secs);
        let reset_at = start + window_secs;
        let result = self
            .update_item(keys::rate(user_id, start))
            .await
            .update_expression("ADD hits :one SET expires_at = :exp")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit as i64))
            // Kept a little past the window so clock skew between instances cannot reset it early.
            .expression_attribute_values(":exp", n(reset_at + 60))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let used = out
                    .attributes
                    .as_ref()
                    .and_then(|a| opt_n(a, "hits"))
                    .unwrap_or(1);
                Ok(Ok(RateWindow {
                    limit,
                    used: used as u32,
                    reset_at,
                }))
            }
            Err(e) if is_conditional_failure(&e) => Ok(Err(RateWindow {
                limit,
                used: limit,
                reset_at,
            })),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn hits(&self, key: &str, window_secs: i64, now: i64) -> Result<u32, ApiError> {
        let start = crate::domain::accounts::window_start(now, window_secs);
        let it = self.get(keys::rate(key, start)).await?;
        Ok(it.and_then(|it| opt_n(&it, "hits")).unwrap_or(0) as u32)
    }
}
