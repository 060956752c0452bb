//! Sessions and their refresh tokens: rotation in one transaction, reuse revokes the session.

use super::*;

pub(super) fn session_from(it: &Item) -> Result<SessionRecord, ApiError> {
    Ok(SessionRecord {
        id: get_s(it, "session_id")?,
        user_id: get_s(it, "user_id")?,
        role: get_role(it)?,
        revoked: get_bool(it, "revoked"),
    })
}

pub(super) fn refresh_item(hash: &str, session: &SessionRecord, expires_at: i64) -> Item {
    item(
        keys::refresh(hash),
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
            keys::session(&session.id),
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
        self.get(keys::session(id))
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
        let Some(old) = self.get(keys::refresh(old_hash)).await? else {
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
            .set_key(Some(keys::refresh(old_hash)))
            .update_expression("SET used = :t, used_at = :now")
            .condition_expression("used = :f")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":f", AttributeValue::Bool(false))
            .expression_attribute_values(":now", n(now))
            .build()
            .expect("update fields set");
        let extend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::session(&session.id)))
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
        self.get(keys::refresh(hash))
            .await?
            .map(|it| session_from(&it))
            .transpose()
    }

    async fn revoke_session(&self, id: &str) -> Result<(), ApiError> {
        let result = self
            .update_item(keys::session(id))
            .await
            .update_expression("SET revoked = :t")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        // A missing item is not an error here.
        let session = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(e) if is_conditional_failure(&e) => return Ok(()),
            Err(e) => return Err(sdk_error(e)),
        };
        let user_id = get_s(&session, "user_id")?;
        self.revoke_on_profile(&user_id, id).await
    }
}
