//! Users: created, found by login, changed; API keys are in `api_keys`, admission in
//! `rate_limits`.

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
                // Keys' policy versions, hourly counts and spend (see `PROFILE_MAPS`).
                ("key_versions", AttributeValue::M(HashMap::new())),
                ("key_hits", AttributeValue::M(HashMap::new())),
                ("key_spend", AttributeValue::M(HashMap::new())),
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
                None,
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
                None,
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
            None,
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
