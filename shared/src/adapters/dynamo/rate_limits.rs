//! Rate-limit windows, and the profile that records revoked sessions and keys: one conditional
//! write admits a request.

use super::api_keys::api_key_from;
use super::*;

/// A signed-out session stays on its user's profile this long: as long as any access token of
/// it can live (configuration refuses longer lifetimes; after that the token's own expiry
/// refuses it).
pub(super) const REVOKED_KEPT: i64 = (crate::domain::ACCESS_TOKEN_TTL_MAX_SECONDS
    + crate::domain::ACCESS_TOKEN_LEEWAY_SECONDS
    + 60) as i64;

/// The maps on a profile that admissions and charges write into (a map must exist before an
/// entry of it can be set).
pub(super) const PROFILE_MAPS: [&str; 5] = [
    "api_keys",
    "revoked_sessions",
    "key_versions",
    "key_hits",
    "key_spend",
];

impl DynamoStore {
    /// Profiles written before requests were admitted against them lack the maps: add them
    /// once, listing the user's API keys as live. Idempotent, and a no-op on a newer profile.
    /// A profile that already lists its keys only lacks the newer maps: they are added without
    /// reading the keys (a Query most functions may not make).
    pub(super) async fn ensure_profile_maps(&self, user_id: &str) -> Result<(), ApiError> {
        let newer = self
            .update_item(keys::profile(user_id))
            .await
            .update_expression(
                "SET revoked_sessions = if_not_exists(revoked_sessions, :none), key_versions = if_not_exists(key_versions, :none), key_hits = if_not_exists(key_hits, :none), key_spend = if_not_exists(key_spend, :none)",
            )
            .condition_expression("attribute_exists(api_keys)")
            .expression_attribute_values(":none", AttributeValue::M(HashMap::new()))
            .send()
            .await;
        if applied(newer)? {
            return Ok(());
        }
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
                "SET api_keys = if_not_exists(api_keys, :keys), revoked_sessions = if_not_exists(revoked_sessions, :none), key_versions = if_not_exists(key_versions, :none), key_hits = if_not_exists(key_hits, :none), key_spend = if_not_exists(key_spend, :none)",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":keys", AttributeValue::M(live))
            .expression_attribute_values(":none", AttributeValue::M(HashMap::new()))
            .send()
            .await;
        applied(result).map(|_| ())
    }

    /// The user's API keys as listed under the user (without their last use).
    pub(super) async fn list_key_items(
        &self,
        user_id: &str,
    ) -> Result<Vec<ApiKeyRecord>, ApiError> {
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
        let (mut live_condition, id, use_it) = match live {
            Live::Session(sid) => (
                "attribute_not_exists(revoked_sessions.#id)".to_string(),
                sid,
                "",
            ),
            Live::ApiKey { id, .. } => (
                "attribute_exists(api_keys.#id)".to_string(),
                id,
                ", api_keys.#id = :now",
            ),
        };
        let (version, hourly) = match live {
            Live::ApiKey {
                version, hourly, ..
            } => (Some(version), hourly),
            Live::Session(_) => (None, None),
        };
        // A key whose policy was changed since this instance read it is refused as stale
        // (version 0 has no entry: it was never changed).
        match version {
            Some(0) => live_condition.push_str(" AND attribute_not_exists(key_versions.#id)"),
            Some(_) => live_condition.push_str(" AND key_versions.#id = :kv"),
            None => {}
        }
        // The window of this hour usually exists: count in it. Once an hour the first request
        // starts a new one (a second write, also conditional on the credential); if another
        // request started it meanwhile, count in that one. The keys' own counts start again
        // with the user's window (both are the same clock hours).
        let attempts = [false, true, false];
        let (mut next, mut ensured) = (0, false);
        while let Some(&new_window) = attempts.get(next) {
            next += 1;
            let (update, window_condition) = match (new_window, hourly) {
                (true, _) => (
                    format!("SET rate_window = :w, rate_hits = :one{use_it}, key_hits = :fresh"),
                    "(attribute_not_exists(rate_window) OR rate_window < :w)",
                ),
                (false, None) => (
                    format!("SET rate_hits = rate_hits + :one{use_it}"),
                    "rate_window = :w AND rate_hits < :limit",
                ),
                (false, Some(_)) => (
                    format!(
                        "SET rate_hits = rate_hits + :one{use_it}, key_hits.#id = if_not_exists(key_hits.#id, :zero) + :one"
                    ),
                    "rate_window = :w AND rate_hits < :limit AND attribute_exists(key_hits) AND (attribute_not_exists(key_hits.#id) OR key_hits.#id < :klimit)",
                ),
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
            if new_window {
                let fresh = match hourly {
                    Some(_) => HashMap::from([(id.to_string(), n(1))]),
                    None => HashMap::new(),
                };
                request = request.expression_attribute_values(":fresh", AttributeValue::M(fresh));
            } else {
                request = request.expression_attribute_values(":limit", n(limit as i64));
                if let Some(kl) = hourly {
                    request = request
                        .expression_attribute_values(":klimit", n(kl as i64))
                        .expression_attribute_values(":zero", n(0));
                }
            }
            if let Some(v) = version.filter(|v| *v > 0) {
                request = request.expression_attribute_values(":kv", n(v as i64));
            }
            if version.is_some() {
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
            let has_maps = PROFILE_MAPS.iter().all(|m| old.contains_key(*m));
            let legacy = !old.is_empty() && !has_maps;
            if legacy && !ensured {
                self.ensure_profile_maps(user_id).await?;
                (next, ensured) = (0, true);
                continue;
            }
            if old.contains_key("disabled_at") {
                return Ok(Admission::Disabled);
            }
            let entry = |name: &str| {
                old.get(name)
                    .and_then(|m| m.as_m().ok())
                    .and_then(|m| m.get(id))
            };
            let live_now = !old.is_empty()
                && match live {
                    Live::Session(_) => entry("revoked_sessions").is_none(),
                    Live::ApiKey { .. } => entry("api_keys").is_some(),
                };
            if !live_now {
                return Ok(Admission::Revoked);
            }
            let number = |v: Option<&AttributeValue>| {
                v.and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(0)
            };
            if let Some(v) = version
                && number(entry("key_versions")) != i64::from(v)
            {
                return Ok(Admission::Stale);
            }
            let this_window = opt_n(&old, "rate_window") == Some(start);
            if this_window && !new_window {
                if opt_n(&old, "rate_hits").unwrap_or(0) >= i64::from(limit) {
                    return Ok(Admission::Limited(window(limit)));
                }
                if let Some(kl) = hourly
                    && number(entry("key_hits")) >= i64::from(kl)
                {
                    return Ok(Admission::KeyLimited(RateWindow {
                        limit: kl,
                        used: kl,
                        reset_at: start + window_secs,
                    }));
                }
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
