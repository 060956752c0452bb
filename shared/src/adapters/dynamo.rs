//! DynamoDB adapter: one table, generic `pk`/`sk` keys, `expires_at` as the TTL attribute.
//!
//! Item layout (pk / sk):
//! - `USER#<id>` / `PROFILE`: the user, with its credit balance
//! - `USERNAME#<lower>` / `USERNAME`, `EMAIL#<lower>` / `EMAIL`, `REFCODE#<code>` / `REFCODE`:
//!   uniqueness guards written in the same transaction as the user
//! - `SESSION#<id>` / `SESSION`: a refresh-token family; `revoked` kills its access tokens too
//! - `REFRESH#<sha256>` / `REFRESH`: one refresh token, `used` once rotated
//! - `APIKEY#<sha256>` / `APIKEY` (lookup by key) and `USER#<id>` / `APIKEY#<key id>` (listing)
//! - `RATE#<user>#<window start>` / `RATE`: request counter of one window
//! - `QUOTA#<user>#<day>` / `QUOTA`: images of one UTC day, with the open reservations in `holds`
//! - `USER#<id>` / `IMAGE#<id>`: an asset; `USER#<id>` / `VERSION#<root id>#<version, 10 digits>`:
//!   its place in its lineage (written with it, once per number)
//! - `HOLD#<generation id>` / `HOLD`: a charge in flight, indexed for the sweeper under
//!   `gsi1pk = HOLDS#<shard>`, `gsi1sk = <due_at>#<id>`; the profile's `open_charges` names the
//!   debits that can still be refunded

use crate::app::Lazy;
use crate::domain::accounts::{
    ApiKeyRecord, CreditBalance, LoginId, RateWindow, Role, Rotation, SessionRecord, Taken,
    UserRecord,
};
use crate::domain::assets::{
    AssetKind, ImageRecord, OutputFormat, SortOrder, UploadRecord, VersionEntry,
};
use crate::domain::billing::{
    Hold, HoldState, IdempotencyClaim, KeyClaim, LedgerEntry, Settlement, WriteOutcome,
};
use crate::error::ApiError;
use crate::ports::*;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Lazy<Client>,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Lazy<Client>, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, ApiError> {
        self.client
            .get()
            .await
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map(|out| out.item)
            .map_err(sdk_error)
    }

    /// Runs a transaction; `Ok(Err(reasons))` when it was cancelled, with one code per item.
    /// Conflicts with a concurrent transaction are retried so callers see the real outcome.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Vec<String>>, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .get()
                .await
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Ok(())),
                // Only an answer from DynamoDB says the write did not happen: a failure to
                // send, a timeout or an unreadable answer leaves the outcome unknown.
                Err(SdkError::ServiceError(se)) => match se.into_err() {
                    TransactWriteItemsError::TransactionCanceledException(c) => {
                        let reasons: Vec<String> = c
                            .cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or("None").to_string())
                            .collect();
                        let conflict = reasons.iter().any(|r| r == "TransactionConflict");
                        let failed = reasons.iter().any(|r| r == "ConditionalCheckFailed");
                        if conflict && !failed && attempt < 6 {
                            tokio::time::sleep(std::time::Duration::from_millis(
                                20 * attempt as u64,
                            ))
                            .await;
                            continue;
                        }
                        return Ok(Err(reasons));
                    }
                    TransactWriteItemsError::InternalServerError(e) => {
                        return Err(ApiError::internal(format!(
                            "dynamodb transaction: {}",
                            DisplayErrorContext(e)
                        )));
                    }
                    other => {
                        return Ok(Err(vec![other.code().unwrap_or("Refused").to_string()]));
                    }
                },
                Err(other) => {
                    return Err(ApiError::internal(format!(
                        "dynamodb transaction: {}",
                        DisplayErrorContext(other)
                    )));
                }
            }
        }
    }
}

fn sdk_error<E, R>(err: SdkError<E, R>) -> ApiError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    ApiError::internal(format!("dynamodb: {}", DisplayErrorContext(err)))
}

/// Whether a conditional write happened: `Ok(false)` when its condition did not hold.
fn applied<O, E, R>(result: Result<O, SdkError<E, R>>) -> Result<bool, ApiError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_conditional_failure(&e) => Ok(false),
        Err(e) => Err(sdk_error(e)),
    }
}

fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn item(
    pk: String,
    sk: &str,
    attrs: impl IntoIterator<Item = (&'static str, AttributeValue)>,
) -> Item {
    let mut it = key(pk, sk);
    it.extend(attrs.into_iter().map(|(k, v)| (k.to_string(), v)));
    it
}

fn put_new(table: &str, it: Item) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(it))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("table, item set"),
        )
        .build()
}

fn corrupt(field: &str) -> ApiError {
    ApiError::internal(format!("stored item lacks a valid '{field}'"))
}

fn get_s(it: &Item, field: &str) -> Result<String, ApiError> {
    it.get(field)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| corrupt(field))
}

fn opt_s(it: &Item, field: &str) -> Option<String> {
    it.get(field).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n(it: &Item, field: &str) -> Result<i64, ApiError> {
    it.get(field)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| corrupt(field))
}

fn opt_n(it: &Item, field: &str) -> Option<i64> {
    it.get(field)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn get_bool(it: &Item, field: &str) -> bool {
    it.get(field)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

fn get_role(it: &Item) -> Result<Role, ApiError> {
    Role::parse(&get_s(it, "role")?).ok_or_else(|| corrupt("role"))
}

fn user_from(it: &Item) -> Result<UserRecord, ApiError> {
    Ok(UserRecord {
        id: get_s(it, "id")?,
        username: get_s(it, "username")?,
        email: get_s(it, "email")?,
        password_hash: get_s(it, "password_hash")?,
        role: get_role(it)?,
        created_at: get_n(it, "created_at")?,
        referral_code: get_s(it, "referral_code")?,
        referred_by: opt_s(it, "referred_by"),
        credits: CreditBalance {
            available: get_n(it, "credits_available")?,
            earned: get_n(it, "credits_earned")?,
            spent: get_n(it, "credits_spent")?,
        },
    })
}

fn api_key_from(it: &Item) -> Result<ApiKeyRecord, ApiError> {
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

fn user_pk(id: &str) -> String {
    format!("USER#{id}")
}

impl Accounts for DynamoStore {
    async fn create_user(&self, u: &UserRecord) -> Result<Result<(), Taken>, ApiError> {
        let mut profile = item(
            user_pk(&u.id),
            "PROFILE",
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
            ],
        );
        if let Some(r) = &u.referred_by {
            profile.insert("referred_by".into(), s(r));
        }
        let guard =
            |pk: String, sk: &str| put_new(&self.table, item(pk, sk, [("user_id", s(&u.id))]));
        let mut items = vec![
            put_new(&self.table, profile),
            guard(
                format!("USERNAME#{}", u.username.to_lowercase()),
                "USERNAME",
            ),
            guard(format!("EMAIL#{}", u.email.to_lowercase()), "EMAIL"),
            guard(format!("REFCODE#{}", u.referral_code), "REFCODE"),
        ];
        // The ledger explains every balance from zero: the signup grant is its first line (its
        // key sorts before every id-keyed line, as it came before them).
        if u.credits.available != 0 {
            let grant = ledger_put(
                &self.table,
                &u.id,
                "LEDGER#0signup".to_string(),
                u.credits.available,
                "signup",
                &u.id,
            );
            items.push(TransactWriteItem::builder().put(grant).build());
        }
        match self.transact(items).await? {
            Ok(()) => Ok(Ok(())),
            Err(reasons) => {
                let failed = |i: usize| {
                    reasons
                        .get(i)
                        .is_some_and(|r| r == "ConditionalCheckFailed")
                };
                if failed(1) {
                    Ok(Err(Taken::Username))
                } else if failed(2) {
                    Ok(Err(Taken::Email))
                } else {
                    Err(ApiError::internal(format!(
                        "user creation cancelled: {reasons:?}"
                    )))
                }
            }
        }
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, ApiError> {
        self.get(user_pk(id), "PROFILE")
            .await?
            .map(|it| user_from(&it))
            .transpose()
    }

    async fn user_by_login(&self, login: &LoginId) -> Result<Option<UserRecord>, ApiError> {
        let guard = match login {
            LoginId::Username(u) => self.get(format!("USERNAME#{u}"), "USERNAME").await?,
            LoginId::Email(e) => self.get(format!("EMAIL#{e}"), "EMAIL").await?,
        };
        match guard {
            Some(g) => self.user(&get_s(&g, "user_id")?).await,
            None => Ok(None),
        }
    }

    async fn referrer(&self, code: &str) -> Result<Option<String>, ApiError> {
        self.get(format!("REFCODE#{code}"), "REFCODE")
            .await?
            .map(|it| get_s(&it, "user_id"))
            .transpose()
    }
}

fn session_from(it: &Item) -> Result<SessionRecord, ApiError> {
    Ok(SessionRecord {
        id: get_s(it, "session_id")?,
        user_id: get_s(it, "user_id")?,
        role: get_role(it)?,
        revoked: get_bool(it, "revoked"),
    })
}

fn refresh_item(hash: &str, session: &SessionRecord, expires_at: i64) -> Item {
    item(
        format!("REFRESH#{hash}"),
        "REFRESH",
        [
            ("session_id", s(&session.id)),
            ("user_id", s(&session.user_id)),
            ("role", s(session.role.as_str())),
            ("used", AttributeValue::Bool(false)),
            ("expires_at", n(expires_at)),
        ],
    )
}

impl Sessions for DynamoStore {
    async fn start_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &str,
        expires_at: i64,
    ) -> Result<(), ApiError> {
        let session_item = item(
            format!("SESSION#{}", session.id),
            "SESSION",
            [
                ("session_id", s(&session.id)),
                ("user_id", s(&session.user_id)),
                ("role", s(session.role.as_str())),
                ("revoked", AttributeValue::Bool(false)),
                ("created_at", n(crate::domain::now_epoch())),
                ("expires_at", n(expires_at)),
            ],
        );
        let items = vec![
            put_new(&self.table, session_item),
            put_new(&self.table, refresh_item(refresh_hash, session, expires_at)),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(ApiError::internal(format!(
                "session creation cancelled: {reasons:?}"
            ))),
        }
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, ApiError> {
        self.get(format!("SESSION#{id}"), "SESSION")
            .await?
            .map(|it| session_from(&it))
            .transpose()
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Rotation, ApiError> {
        let Some(old) = self.get(format!("REFRESH#{old_hash}"), "REFRESH").await? else {
            return Ok(Rotation::Invalid);
        };
        // TTL deletion is lazy, so expiry is checked here rather than trusted to DynamoDB.
        if get_n(&old, "expires_at")? <= now {
            return Ok(Rotation::Invalid);
        }
        let session = session_from(&old)?;
        if get_bool(&old, "used") {
            self.revoke_session(&session.id).await?;
            return Ok(Rotation::ReuseDetected);
        }
        let spend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(format!("REFRESH#{old_hash}"), "REFRESH")))
            .update_expression("SET used = :t, used_at = :now")
            .condition_expression("used = :f")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .expression_attribute_values(":now", n(now))
            .build()
            .expect("update fields set");
        let extend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(format!("SESSION#{}", session.id), "SESSION")))
            .update_expression("SET expires_at = :exp")
            .condition_expression("revoked = :f")
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .expression_attribute_values(":exp", n(expires_at))
            .build()
            .expect("update fields set");
        let items = vec![
            TransactWriteItem::builder().update(spend).build(),
            TransactWriteItem::builder().update(extend).build(),
            put_new(&self.table, refresh_item(new_hash, &session, expires_at)),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(Rotation::Rotated(session)),
            Err(reasons) => {
                let code = |i: usize| reasons.get(i).map(String::as_str).unwrap_or("None");
                if matches!(code(0), "ConditionalCheckFailed" | "TransactionConflict") {
                    // Someone else spent this token at the same moment: treat it as reuse.
                    self.revoke_session(&session.id).await?;
                    Ok(Rotation::ReuseDetected)
                } else if code(1) == "ConditionalCheckFailed" {
                    Ok(Rotation::Invalid)
                } else {
                    Err(ApiError::internal(format!(
                        "rotation cancelled: {reasons:?}"
                    )))
                }
            }
        }
    }

    async fn refresh_session(&self, hash: &str) -> Result<Option<SessionRecord>, ApiError> {
        self.get(format!("REFRESH#{hash}"), "REFRESH")
            .await?
            .map(|it| session_from(&it))
            .transpose()
    }

    async fn revoke_session(&self, id: &str) -> Result<(), ApiError> {
        let result = self
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("SESSION#{id}"), "SESSION")))
            .update_expression("SET revoked = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await;
        // A missing item is not an error here.
        applied(result).map(|_| ())
    }
}

fn api_key_attrs(k: &ApiKeyRecord) -> [(&'static str, AttributeValue); 7] {
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
        let items = vec![
            put_new(
                &self.table,
                item(format!("APIKEY#{}", k.hash), "APIKEY", api_key_attrs(k)),
            ),
            put_new(
                &self.table,
                item(
                    user_pk(&k.user_id),
                    &format!("APIKEY#{}", k.id),
                    api_key_attrs(k),
                ),
            ),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(ApiError::internal(format!(
                "api key creation cancelled: {reasons:?}"
            ))),
        }
    }

    async fn list_keys(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, ApiError> {
        let pages: Vec<_> = self
            .client
            .get()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(user_pk(user_id)))
            .expression_attribute_values(":prefix", s("APIKEY#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect()
            .await;
        let mut keys = pages
            .into_iter()
            .map(|it| it.map_err(sdk_error).and_then(|it| api_key_from(&it)))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(keys)
    }

    async fn revoke_key(&self, user_id: &str, key_id: &str) -> Result<bool, ApiError> {
        let sk = format!("APIKEY#{key_id}");
        let Some(listed) = self.get(user_pk(user_id), &sk).await? else {
            return Ok(false);
        };
        let hash = get_s(&listed, "hash")?;
        let delete = |pk: String, sk: &str| {
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, sk)))
                        .condition_expression("attribute_exists(pk)")
                        .build()
                        .expect("table, key set"),
                )
                .build()
        };
        let items = vec![
            delete(user_pk(user_id), &sk),
            delete(format!("APIKEY#{hash}"), "APIKEY"),
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
        self.get(format!("APIKEY#{hash}"), "APIKEY")
            .await?
            .map(|it| api_key_from(&it))
            .transpose()
    }

    async fn touch_key(&self, user_id: &str, key_id: &str, now: i64) -> Result<(), ApiError> {
        let result = self
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), &format!("APIKEY#{key_id}"))))
            .update_expression("SET last_used_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        // A missing item is not an error here.
        applied(result).map(|_| ())
    }
}

impl RateLimits for DynamoStore {
    async fn hit(
        &self,
        user_id: &str,
        limit: u32,
        window_secs: i64,
        now: i64,
    ) -> Result<Result<RateWindow, RateWindow>, ApiError> {
        let start = now - now.rem_euclid(window_secs);
        let reset_at = start + window_secs;
        let result = self
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("RATE#{user_id}#{start}"), "RATE")))
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
        let start = now - now.rem_euclid(window_secs);
        let it = self.get(format!("RATE#{key}#{start}"), "RATE").await?;
        Ok(it.and_then(|it| opt_n(&it, "hits")).unwrap_or(0) as u32)
    }
}

fn image_item(r: &ImageRecord) -> Item {
    let mut it = item(
        user_pk(&r.user_id),
        &format!("IMAGE#{}", r.id),
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
            (
                "gsi1pk",
                s(format!("USER#{}#{}", r.user_id, r.kind.as_str())),
            ),
            ("gsi1sk", s(format!("IMAGE#{}", r.id))),
        ],
    );
    let optional = [
        ("prompt", &r.prompt),
        ("revised_prompt", &r.revised_prompt),
        ("model", &r.model),
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
    if let Some(q) = r.output_compression {
        it.insert("output_compression".into(), n(q as i64));
    }
    it
}

/// Versions sort by number within their lineage (zero-padded).
fn version_sk(root_id: &str, version: u32) -> String {
    format!("VERSION#{root_id}#{version:010}")
}

/// An image's place in its lineage: listing a lineage is one query, in version order.
fn version_item(r: &ImageRecord) -> Item {
    let mut it = item(
        user_pk(&r.user_id),
        &version_sk(&r.root_id, r.version),
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

fn tags_of(it: &Item) -> Vec<String> {
    it.get("tags")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default()
}

fn image_from(it: &Item) -> Result<ImageRecord, ApiError> {
    Ok(ImageRecord {
        id: get_s(it, "id")?,
        user_id: get_s(it, "user_id")?,
        kind: AssetKind::parse(&get_s(it, "kind")?).ok_or_else(|| corrupt("kind"))?,
        prompt: opt_s(it, "prompt"),
        revised_prompt: opt_s(it, "revised_prompt"),
        model: opt_s(it, "model"),
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
    })
}

impl Images for DynamoStore {
    async fn put_images(
        &self,
        records: &[ImageRecord],
        settles: Option<&Settlement>,
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
            items.push(
                TransactWriteItem::builder()
                    .update(settle_hold(&self.table, &settlement.hold_id))
                    .build(),
            );
            if let Some((claim, answer)) = &settlement.answer {
                items.push(
                    TransactWriteItem::builder()
                        .update(record_answer(
                            &self.table,
                            &settlement.user_id,
                            claim,
                            answer,
                        ))
                        .build(),
                );
            }
            if let (Some(upload), Some(first)) = (&settlement.completes_upload, records.first()) {
                items.push(
                    TransactWriteItem::builder()
                        .update(complete_upload(
                            &self.table,
                            &settlement.user_id,
                            upload,
                            &first.id,
                        ))
                        .build(),
                );
            }
        }
        let unknown = match self.transact(items).await {
            Ok(Ok(())) => return WriteOutcome::Written,
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
        // error after the commit) is told by the hold: only this transaction settles it.
        if let Some(settlement) = settles {
            match self.hold_state(&settlement.hold_id).await {
                Ok(Some(HoldState::Settled)) => return WriteOutcome::Written,
                // Still pending: this transaction (which settles it) did not commit.
                Ok(Some(HoldState::Pending)) => return WriteOutcome::NotWritten(unknown),
                _ => {}
            }
        }
        WriteOutcome::Unknown(unknown)
    }

    async fn image(&self, user_id: &str, id: &str) -> Result<Option<ImageRecord>, ApiError> {
        self.get(user_pk(user_id), &format!("IMAGE#{id}"))
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
                format!("USER#{user_id}#{}", k.as_str()),
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
            .expression_attribute_values(":prefix", s("IMAGE#"))
            .scan_index_forward(order == SortOrder::OldestFirst)
            // One more than asked tells whether another page exists.
            .limit(limit as i32 + 1);
        if let Some(after) = after {
            let mut start = key(user_pk(user_id), &format!("IMAGE#{after}"));
            if let Some(k) = kind {
                start.insert("gsi1pk".into(), s(format!("USER#{user_id}#{}", k.as_str())));
                start.insert("gsi1sk".into(), s(format!("IMAGE#{after}")));
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

    async fn delete_images(
        &self,
        user_id: &str,
        images: &[ImageRecord],
        reparent: &[(String, Option<String>)],
    ) -> Result<bool, ApiError> {
        let mut items = Vec::new();
        for r in images {
            for (sk, condition) in [
                (format!("IMAGE#{}", r.id), Some("attribute_exists(pk)")),
                (version_sk(&r.root_id, r.version), None),
            ] {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(user_pk(user_id), &sk)))
                    .set_condition_expression(condition.map(str::to_string))
                    .build()
                    .expect("table, key set");
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
        }
        for (child, parent) in reparent {
            let Some(entry) = self.image(user_id, child).await? else {
                continue;
            };
            for sk in [
                format!("IMAGE#{child}"),
                version_sk(&entry.root_id, entry.version),
            ] {
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(user_pk(user_id), &sk)))
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
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .get()
                .await
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(user_pk(user_id)))
                .expression_attribute_values(":prefix", s(format!("VERSION#{root_id}#")))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for it in page.items() {
                out.push(VersionEntry {
                    version: get_n(it, "version")? as u32,
                    image_id: get_s(it, "image_id")?,
                    parent_id: opt_s(it, "parent_id"),
                });
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(out);
            }
        }
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
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), &format!("IMAGE#{id}"))))
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

fn upload_from(it: &Item) -> Result<UploadRecord, ApiError> {
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
                user_pk(&u.user_id),
                &format!("UPLOAD#{}", u.id),
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
        self.get(user_pk(user_id), &format!("UPLOAD#{id}"))
            .await?
            .map(|it| upload_from(&it))
            .transpose()
    }
}

fn ledger_put(
    table: &str,
    user_id: &str,
    sk: String,
    delta: i64,
    reason: &str,
    reference: &str,
) -> Put {
    Put::builder()
        .table_name(table)
        .set_item(Some(item(
            user_pk(user_id),
            &sk,
            [
                ("entity", s("ledger")),
                ("id", s(sk.trim_start_matches("LEDGER#"))),
                ("delta", n(delta)),
                ("reason", s(reason)),
                ("reference", s(reference)),
                ("created_at", n(crate::domain::now_epoch())),
            ],
        )))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .expect("table, item set")
}

impl Credits for DynamoStore {
    async fn debit(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
    ) -> Result<bool, ApiError> {
        // A single conditional update: DynamoDB serialises writes to one item, so concurrent
        // debits can never take the balance below zero (no transaction conflicts to retry).
        let result = self
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), "PROFILE")))
            .update_expression("SET credits_available = credits_available - :c, credits_spent = credits_spent + :c ADD open_charges :ref")
            .condition_expression("credits_available >= :c")
            .expression_attribute_values(":c", n(amount))
            .expression_attribute_values(":ref", string_set(reference))
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e) if is_conditional_failure(&e) => return Ok(false),
            Err(e) => return Err(sdk_error(e)),
        }
        let entry = ledger_put(
            &self.table,
            user_id,
            format!("LEDGER#{reference}"),
            -amount,
            reason,
            reference,
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
            self.refund(user_id, amount, reason, reference).await?;
            return Err(sdk_error(e));
        }
        Ok(true)
    }

    async fn refund(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
    ) -> Result<bool, ApiError> {
        let give_back = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), "PROFILE")))
            .update_expression("SET credits_available = credits_available + :c, credits_spent = credits_spent - :c DELETE open_charges :refs")
            // Only an open debit is given back: never one that was settled, refunded or not made.
            .condition_expression("contains(open_charges, :ref)")
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
                    format!("LEDGER#{reference}~refund"),
                    amount,
                    "refund",
                    reference,
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
                    format!("LEDGER#{reference}"),
                    -amount,
                    reason,
                    reference,
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

    async fn settle_charge(&self, user_id: &str, reference: &str) -> Result<(), ApiError> {
        let result = self
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(user_id), "PROFILE")))
            .update_expression("DELETE open_charges :refs")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":refs", string_set(reference))
            .send()
            .await;
        applied(result).map(|_| ())
    }

    async fn ledger(&self, user_id: &str, limit: usize) -> Result<Vec<LedgerEntry>, ApiError> {
        let out = self
            .client
            .get()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(user_pk(user_id)))
            .expression_attribute_values(":prefix", s("LEDGER#"))
            .scan_index_forward(false)
            .limit(limit as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(|it| {
                Ok(LedgerEntry {
                    id: get_s(it, "id")?,
                    delta: get_n(it, "delta")?,
                    reason: get_s(it, "reason")?,
                    reference: opt_s(it, "reference"),
                    created_at: get_n(it, "created_at")?,
                })
            })
            .collect()
    }
}

const DAY: i64 = 24 * 3600;

/// The quota item of the UTC day that `at` falls in.
fn quota_key(user_id: &str, at: i64) -> Item {
    key(format!("QUOTA#{user_id}#{}", at.div_euclid(DAY)), "QUOTA")
}

impl Quotas for DynamoStore {
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
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(quota_key(user_id, now)))
            .update_expression("ADD images :n, holds :refs SET expires_at = :exp")
            .condition_expression("attribute_not_exists(images) OR images <= :room")
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

    async fn release_daily(
        &self,
        user_id: &str,
        n_images: u32,
        reserved_at: i64,
        reference: &str,
    ) -> Result<(), ApiError> {
        let result = self
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(quota_key(user_id, reserved_at)))
            .update_expression("ADD images :neg DELETE holds :refs")
            // Only an open reservation is given back, and only once.
            .condition_expression("contains(holds, :ref)")
            .expression_attribute_values(":neg", n(-(n_images as i64)))
            .expression_attribute_values(":refs", string_set(reference))
            .expression_attribute_values(":ref", s(reference))
            .send()
            .await;
        applied(result).map(|_| ())
    }

    async fn settle_daily(
        &self,
        user_id: &str,
        reserved_at: i64,
        reference: &str,
    ) -> Result<(), ApiError> {
        let result = self
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(quota_key(user_id, reserved_at)))
            .update_expression("DELETE holds :refs")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":refs", string_set(reference))
            .send()
            .await;
        applied(result).map(|_| ())
    }
}

/// Due holds are spread over a few index partitions so that no single one is hot.
const HOLD_SHARDS: u32 = 8;

fn hold_pk(id: &str) -> String {
    format!("HOLD#{id}")
}

fn hold_shard(id: &str) -> u32 {
    id.bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
        % HOLD_SHARDS
}

fn string_set(v: &str) -> AttributeValue {
    AttributeValue::Ss(vec![v.to_string()])
}

/// Marks an upload completed by `asset_id`, once only. Completed uploads are kept (without
/// TTL) so a repeated complete returns the same asset.
fn complete_upload(table: &str, user_id: &str, id: &str, asset_id: &str) -> Update {
    Update::builder()
        .table_name(table)
        .set_key(Some(key(user_pk(user_id), &format!("UPLOAD#{id}"))))
        .update_expression("SET asset_id = :a REMOVE expires_at")
        .condition_expression("attribute_exists(pk) AND attribute_not_exists(asset_id)")
        .expression_attribute_values(":a", s(asset_id))
        .build()
        .expect("update fields set")
}

fn settle_hold(table: &str, id: &str) -> Update {
    Update::builder()
        .table_name(table)
        .set_key(Some(key(hold_pk(id), "HOLD")))
        .update_expression("SET #state = :settled")
        .condition_expression("#state = :pending")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":pending", s(HoldState::Pending.as_str()))
        .expression_attribute_values(":settled", s(HoldState::Settled.as_str()))
        .build()
        .expect("update fields set")
}

/// Completes an Idempotency-Key record with the answer to replay, if `claim` still holds it.
fn record_answer(table: &str, user_id: &str, claim: &KeyClaim, answer: &str) -> Update {
    Update::builder()
        .table_name(table)
        .set_key(Some(key(idempotency_pk(user_id, &claim.key), "IDEMP")))
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

fn hold_from(it: &Item) -> Result<Hold, ApiError> {
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
    })
}

/// Kept well past `due_at`, so the sweeper always sees a hold before the TTL removes it.
const HOLD_RETENTION: i64 = 7 * DAY;

impl Holds for DynamoStore {
    async fn open_hold(&self, h: &Hold) -> Result<(), ApiError> {
        let mut it = item(
            hold_pk(&h.id),
            "HOLD",
            [
                ("entity", s("hold")),
                ("id", s(&h.id)),
                ("user_id", s(&h.user_id)),
                ("amount", n(h.amount)),
                ("images", n(h.images as i64)),
                ("reserved_at", n(h.reserved_at)),
                ("due_at", n(h.due_at)),
                ("state", s(h.state.as_str())),
                ("gsi1pk", s(format!("HOLDS#{}", hold_shard(&h.id)))),
                ("gsi1sk", s(format!("{:012}#{}", h.due_at, h.id))),
                ("expires_at", n(h.due_at + HOLD_RETENTION)),
            ],
        );
        if let Some(c) = &h.idempotency {
            it.insert("idempotency_key".into(), s(&c.key));
            it.insert("idempotency_claim".into(), s(&c.token));
        }
        self.client
            .get()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(it))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }

    async fn attach_objects(&self, id: &str, keys: &[String]) -> Result<bool, ApiError> {
        if keys.is_empty() {
            return Ok(true);
        }
        let result = self
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(hold_pk(id), "HOLD")))
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
                .expression_attribute_values(":pk", s(format!("HOLDS#{shard}")))
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
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(hold_pk(id), "HOLD")))
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
        let Some(it) = self.get(hold_pk(id), "HOLD").await? else {
            return Ok(None);
        };
        Ok(Some(
            HoldState::parse(&get_s(&it, "state")?).ok_or_else(|| corrupt("state"))?,
        ))
    }

    async fn postpone_hold(&self, h: &Hold, due_at: i64) -> Result<(), ApiError> {
        let result = self
            .client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(hold_pk(&h.id), "HOLD")))
            .update_expression("SET due_at = :due, gsi1sk = :sk")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":due", n(due_at))
            .expression_attribute_values(":sk", s(format!("{:012}#{}", due_at, h.id)))
            .send()
            .await;
        applied(result).map(|_| ())
    }

    async fn close_hold(&self, id: &str) -> Result<(), ApiError> {
        self.client
            .get()
            .await
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(hold_pk(id), "HOLD")))
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }
}

const IDEMPOTENCY_TTL: i64 = 24 * 3600;

impl Idempotency for DynamoStore {
    async fn claim(
        &self,
        user_id: &str,
        claim: &KeyClaim,
        body_hash: &str,
        now: i64,
    ) -> Result<IdempotencyClaim, ApiError> {
        let pk = idempotency_pk(user_id, &claim.key);
        let result = self
            .client
            .get()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(
                pk.clone(),
                "IDEMP",
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
        let Some(existing) = self.get(pk, "IDEMP").await? else {
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
            .client
            .get()
            .await
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(idempotency_pk(user_id, &claim.key), "IDEMP")))
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

fn idempotency_pk(user_id: &str, key: &str) -> String {
    format!("IDEMP#{user_id}#{key}")
}
