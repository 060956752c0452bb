//! DynamoDB adapter: one table, generic `pk`/`sk` keys, `expires_at` as the TTL attribute.
//!
//! Item layout (pk / sk):
//! - `USER#<id>` / `PROFILE`: the user, with its credit balance
//! - `USER#<id>` / `WEBHOOK_SECRET`: the Standard Webhooks secret, and the one before it while a
//!   rotation's grace lasts
//! - `USERNAME#<lower>` / `USERNAME`, `EMAIL#<lower>` / `EMAIL`, `REFCODE#<code>` / `REFCODE`:
//!   uniqueness guards written in the same transaction as the user
//! - `SESSION#<id>` / `SESSION`: a refresh-token family; `revoked` kills its access tokens too
//! - `REFRESH#<sha256>` / `REFRESH`: one refresh token, `used` once rotated
//! - `APIKEY#<sha256>` / `APIKEY` (lookup by key) and `USER#<id>` / `APIKEY#<key id>` (listing)
//! - `RATE#<user>#<window start>` / `RATE`: request counter of one window
//! - `QUOTA#<user>#<day>` / `QUOTA`: images of one UTC day, with the open reservations in `holds`
//! - `USER#<id>` / `IMAGE#<id>`: an asset; `USER#<id>` / `VERSION#<root id>#<version, 10 digits>`:
//!   its place in its lineage (written with it, once per number)
//! - `USER#<id>` / `JOB#<id>`: a job of the generation queue, its request and its outcome
//! - `HOLD#<generation id>` / `HOLD`: a charge in flight, indexed for the sweeper under
//!   `gsi1pk = HOLDS#<shard>`, `gsi1sk = <due_at>#<id>`; the profile's `open_charges` names the
//!   debits that can still be refunded
//! - `USER#<id>` / `AUDIT#<at>#<id>`: an admin's action on the user
//! - `IDENTITY#<provider>#<sub>` / `IDENTITY`: a person at an OpenID provider, and their user
//! - `SIGNIN#<state>` / `SIGNIN`: a sign-in in flight (nonce, PKCE verifier), taken once
//! - `SPENT#<sha256>` / `SPENT`: an ID token used once, kept until it expires
//! - `USAGE#<shard>` / `DAY#<day>`: paid work of a UTC day (admins' usage report)
//! - `OUTBOX#<id>` / `OUTBOX`: an announcement no other item records, for the stream (a day)
//!
//! The table's stream (new and old images) is how changes are announced: `stream` reads its
//! records back into the changes other systems hear about.
//! - index `gsi1`: guards under `USERDIR` (admins' search by prefix), profiles under `USERS`

mod accounts;
mod admin;
mod api_keys;
#[cfg(feature = "images")]
mod circuits;
mod codec;
mod credits;
mod holds;
mod identities;
mod images;
mod jobs;
pub mod keys;
mod outbox;
mod rate_limits;
mod sessions;
pub mod stream;
mod uploads;
mod webhooks;

use crate::adapters::aws::Lazy;
use crate::domain::accounts::{
    Admission, ApiKeyRecord, CreditBalance, Live, LoginId, RateWindow, Reward, Role, Rotation,
    SessionRecord, Taken, UserRecord,
};
use crate::domain::assets::{
    AssetKind, ImageRecord, OutputFormat, SortOrder, UploadRecord, VersionEntry,
};
use crate::domain::billing::{
    Hold, HoldState, IdempotencyClaim, KeyClaim, LedgerEntry, Opened, Settlement, UserDay,
    WriteOutcome,
};
use crate::domain::key_policy::{KeyPolicy, KeySpend};
use crate::domain::signin::{Claimant, Idp, Pkce, SigninState};
use crate::error::ApiError;
use crate::ports::*;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use codec::*;
use credits::*;
use holds::*;
use keys::*;
use std::collections::HashMap;

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

    /// An UpdateItem of `key` in this table, to be given its expressions.
    async fn update_item(&self, key: Item) -> UpdateItemFluentBuilder {
        self.client
            .get()
            .await
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
    }

    /// A Query of the user's items whose sort key starts with `prefix`.
    async fn user_items(&self, user_id: &str, prefix: &str) -> QueryFluentBuilder {
        self.client
            .get()
            .await
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::user_pk(user_id)))
            .expression_attribute_values(":prefix", s(prefix))
    }

    /// Writes `it` unless an item with its key exists; `false` when one did.
    async fn put_if_absent(&self, it: Item) -> Result<bool, ApiError> {
        let result = self
            .client
            .get()
            .await
            .put_item()
            .table_name(&self.table)
            .set_item(Some(it))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        applied(result)
    }

    /// The newest `limit` of the user's items whose sort key starts with `prefix`.
    async fn newest_user_items(
        &self,
        user_id: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<Item>, ApiError> {
        let out = self
            .user_items(user_id, prefix)
            .await
            .scan_index_forward(false)
            .limit(limit as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.items.unwrap_or_default())
    }

    /// A DeleteItem of `key` in this table.
    async fn delete_item(&self, key: Item) -> DeleteItemFluentBuilder {
        self.client
            .get()
            .await
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
    }

    async fn get(&self, key: Item) -> Result<Option<Item>, ApiError> {
        self.client
            .get()
            .await
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
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
