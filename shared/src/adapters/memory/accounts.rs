//! Users, sessions, API keys and admissions, in memory.

use super::*;
use crate::domain::accounts::Reward;

impl Accounts for MemoryStore {
    async fn create_user(&self, user: &UserRecord) -> Result<Result<(), Taken>, ApiError> {
        let mut st = self.state();
        let (name, email) = (
            format!("username:{}", user.username.to_lowercase()),
            format!("email:{}", user.email.to_lowercase()),
        );
        if st.logins.contains_key(&name) {
            return Ok(Err(Taken::Username));
        }
        let has_email = !user.email.is_empty();
        if has_email && st.logins.contains_key(&email) {
            return Ok(Err(Taken::Email));
        }
        st.logins.insert(name, user.id.clone());
        if has_email {
            st.logins.insert(email, user.id.clone());
        }
        st.referral_codes
            .insert(user.referral_code.clone(), user.id.clone());
        st.users.insert(
            user.id.clone(),
            Profile {
                user: Some(user.clone()),
                ..Profile::default()
            },
        );
        let signup = user.credits.available - user.credits.earned;
        if signup != 0 {
            ledger_line(
                &mut st,
                &user.id,
                "LEDGER#0signup".into(),
                signup,
                "signup",
                &user.id,
            );
        }
        if let (Some(referrer), true) = (&user.referred_by, user.credits.earned != 0) {
            ledger_line(
                &mut st,
                &user.id,
                "LEDGER#0signup~referral".into(),
                user.credits.earned,
                "referral_signup",
                referrer,
            );
        }
        Ok(Ok(()))
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, ApiError> {
        Ok(self.state().users.get(id).and_then(|p| p.user.clone()))
    }

    async fn user_by_login(&self, login: &LoginId) -> Result<Option<UserRecord>, ApiError> {
        let key = match login {
            LoginId::Username(u) => format!("username:{u}"),
            LoginId::Email(e) => format!("email:{e}"),
        };
        let st = self.state();
        Ok(st
            .logins
            .get(&key)
            .and_then(|id| st.users.get(id))
            .and_then(|p| p.user.clone()))
    }

    async fn referrer(&self, code: &str) -> Result<Option<String>, ApiError> {
        Ok(self.state().referral_codes.get(code).cloned())
    }

    async fn reward_referrer(
        &self,
        referred: &str,
        referrer: &str,
        credits: i64,
        monthly_cap: u32,
        now: i64,
    ) -> Result<Reward, ApiError> {
        let mut st = self.state();
        let month = format!("{referrer}#{}", now.div_euclid(30 * 86_400));
        let Some(user) = st.users.get_mut(referred).and_then(|p| p.user.as_mut()) else {
            return Ok(Reward::AlreadyGiven);
        };
        if user.referral_rewarded_at.is_some() || user.referred_by.as_deref() != Some(referrer) {
            return Ok(Reward::AlreadyGiven);
        }
        user.referral_rewarded_at = Some(now);
        let granted = st.referral_months.entry(month).or_default();
        if *granted >= monthly_cap {
            return Ok(Reward::CapReached);
        }
        *granted += 1;
        if let Some(r) = st.users.get_mut(referrer).and_then(|p| p.user.as_mut()) {
            r.credits.available += credits;
            r.credits.earned += credits;
        }
        ledger_line(
            &mut st,
            referrer,
            format!("LEDGER#referral~{referred}"),
            credits,
            "referral",
            referred,
        );
        Ok(Reward::Granted)
    }
}

impl Sessions for MemoryStore {
    async fn start_session(
        &self,
        session: &SessionRecord,
        refresh_hash: &str,
        expires_at: i64,
    ) -> Result<(), ApiError> {
        let mut st = self.state();
        st.sessions.insert(session.id.clone(), session.clone());
        st.refresh
            .insert(refresh_hash.into(), (session.id.clone(), false, expires_at));
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRecord>, ApiError> {
        Ok(self.state().sessions.get(id).cloned())
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<Rotation, ApiError> {
        let mut st = self.state();
        let Some((sid, used, exp)) = st.refresh.get(old_hash).cloned() else {
            return Ok(Rotation::Invalid);
        };
        if exp <= now {
            return Ok(Rotation::Invalid);
        }
        let Some(session) = st.sessions.get(&sid).cloned() else {
            return Ok(Rotation::Invalid);
        };
        if used {
            if let Some(s) = st.sessions.get_mut(&sid) {
                s.revoked = true;
            }
            return Ok(Rotation::ReuseDetected);
        }
        if session.revoked {
            return Ok(Rotation::Invalid);
        }
        st.refresh.insert(old_hash.into(), (sid.clone(), true, exp));
        st.refresh.insert(new_hash.into(), (sid, false, expires_at));
        Ok(Rotation::Rotated(session))
    }

    async fn refresh_session(&self, hash: &str) -> Result<Option<SessionRecord>, ApiError> {
        let st = self.state();
        Ok(st
            .refresh
            .get(hash)
            .and_then(|(sid, ..)| st.sessions.get(sid).cloned()))
    }

    async fn revoke_session(&self, id: &str) -> Result<(), ApiError> {
        let mut st = self.state();
        let Some(s) = st.sessions.get_mut(id) else {
            return Ok(());
        };
        s.revoked = true;
        let user_id = s.user_id.clone();
        if let Some(p) = st.users.get_mut(&user_id) {
            p.revoked_sessions.insert(id.to_string());
        }
        Ok(())
    }
}

impl ApiKeys for MemoryStore {
    async fn create_key(&self, key: &ApiKeyRecord) -> Result<(), ApiError> {
        let mut st = self.state();
        st.keys.insert(key.hash.clone(), key.clone());
        if let Some(p) = st.users.get_mut(&key.user_id) {
            p.api_keys.insert(key.id.clone(), 0);
        }
        Ok(())
    }

    async fn list_keys(&self, user_id: &str) -> Result<Vec<ApiKeyRecord>, ApiError> {
        let st = self.state();
        let used = st
            .users
            .get(user_id)
            .map(|p| p.api_keys.clone())
            .unwrap_or_default();
        let mut keys: Vec<ApiKeyRecord> = st
            .keys
            .values()
            .filter(|k| k.user_id == user_id)
            .cloned()
            .map(|mut k| {
                k.last_used_at = used.get(&k.id).copied().filter(|t| *t > 0);
                if let Some(p) = st.users.get(user_id) {
                    let now = crate::domain::now_epoch();
                    (k.spent_day, k.spent_month) =
                        crate::domain::key_policy::spent_now(&p.key_spend, &k.id, now);
                }
                k
            })
            .collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    async fn revoke_key(&self, user_id: &str, key_id: &str) -> Result<bool, ApiError> {
        let mut st = self.state();
        let before = st.keys.len();
        st.keys
            .retain(|_, k| !(k.user_id == user_id && k.id == key_id));
        if let Some(p) = st.users.get_mut(user_id) {
            p.api_keys.remove(key_id);
        }
        Ok(st.keys.len() < before)
    }

    async fn key_by_hash(&self, hash: &str) -> Result<Option<ApiKeyRecord>, ApiError> {
        Ok(self.state().keys.get(hash).cloned())
    }

    async fn key_spent(&self, user_id: &str, entry: &str) -> Result<i64, ApiError> {
        Ok(self
            .state()
            .users
            .get(user_id)
            .and_then(|p| p.key_spend.get(entry).copied())
            .unwrap_or(0))
    }

    async fn update_key(
        &self,
        old: &ApiKeyRecord,
        name: &str,
        policy: &KeyPolicy,
    ) -> Result<Option<ApiKeyRecord>, ApiError> {
        let (user_id, key_id) = (old.user_id.as_str(), old.id.as_str());
        let mut st = self.state();
        let Some(key) = st
            .keys
            .values_mut()
            .find(|k| k.user_id == user_id && k.id == key_id)
        else {
            return Ok(None);
        };
        if key.version != old.version {
            return Err(crate::domain::key_policy::changed_meanwhile());
        }
        key.name = name.to_string();
        key.policy = policy.clone();
        key.version += 1;
        let updated = key.clone();
        if let Some(p) = st.users.get_mut(user_id) {
            p.key_versions.insert(key_id.to_string(), updated.version);
        }
        Ok(Some(updated))
    }
}

impl RateLimits for MemoryStore {
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
        let mut st = self.state();
        let Some(p) = st.users.get_mut(user_id) else {
            return Ok(Admission::Revoked);
        };
        if p.user.as_ref().is_some_and(|u| u.disabled_at.is_some()) {
            return Ok(Admission::Disabled);
        }
        let live_now = match live {
            Live::Session(sid) => !p.revoked_sessions.contains(sid),
            Live::ApiKey { id, .. } => p.api_keys.contains_key(id),
        };
        if !live_now {
            return Ok(Admission::Revoked);
        }
        if let Live::ApiKey { id, version, .. } = live
            && p.key_versions.get(id).copied().unwrap_or(0) != version
        {
            return Ok(Admission::Stale);
        }
        if p.rate.0 != start {
            p.rate = (start, 0);
            p.key_hits.clear();
        }
        if p.rate.1 >= limit {
            return Ok(Admission::Limited(window(limit)));
        }
        if let Live::ApiKey {
            id,
            hourly: Some(kl),
            ..
        } = live
        {
            let hits = p.key_hits.entry(id.to_string()).or_insert(0);
            if *hits >= kl {
                return Ok(Admission::KeyLimited(RateWindow {
                    limit: kl,
                    used: kl,
                    reset_at: start + window_secs,
                }));
            }
            *hits += 1;
        }
        p.rate.1 += 1;
        if let Live::ApiKey { id, .. } = live {
            p.api_keys.insert(id.to_string(), now);
        }
        Ok(Admission::Admitted(window(p.rate.1)))
    }

    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window_secs: i64,
        now: i64,
    ) -> Result<Result<RateWindow, RateWindow>, ApiError> {
        let start = crate::domain::accounts::window_start(now, window_secs);
        let reset_at = start + window_secs;
        let mut st = self.state();
        let hits = st.rates.entry(format!("{key}#{start}")).or_insert(0);
        if *hits >= limit {
            return Ok(Err(RateWindow {
                limit,
                used: limit,
                reset_at,
            }));
        }
        *hits += 1;
        Ok(Ok(RateWindow {
            limit,
            used: *hits,
            reset_at,
        }))
    }

    async fn hits(&self, key: &str, window_secs: i64, now: i64) -> Result<u32, ApiError> {
        let start = crate::domain::accounts::window_start(now, window_secs);
        Ok(*self
            .state()
            .rates
            .get(&format!("{key}#{start}"))
            .unwrap_or(&0))
    }
}

impl WebhookSecretStore for MemoryStore {
    async fn webhook_secrets(
        &self,
        user_id: &str,
    ) -> Result<Option<crate::domain::webhooks::WebhookSecrets>, ApiError> {
        Ok(self.state().webhook_secrets.get(user_id).cloned())
    }

    async fn create_webhook_secret(
        &self,
        user_id: &str,
        secret: &str,
    ) -> Result<crate::domain::webhooks::WebhookSecrets, ApiError> {
        Ok(self
            .state()
            .webhook_secrets
            .entry(user_id.to_string())
            .or_insert_with(|| crate::domain::webhooks::WebhookSecrets {
                current: secret.to_string(),
                previous: None,
            })
            .clone())
    }

    async fn rotate_webhook_secret(
        &self,
        user_id: &str,
        expected: &str,
        secret: &str,
        until: i64,
    ) -> Result<Option<crate::domain::webhooks::WebhookSecrets>, ApiError> {
        let mut state = self.state();
        let Some(stored) = state.webhook_secrets.get_mut(user_id) else {
            return Ok(None);
        };
        if stored.current != expected {
            return Ok(None);
        }
        stored.previous = Some((
            std::mem::replace(&mut stored.current, secret.to_string()),
            until,
        ));
        Ok(Some(stored.clone()))
    }
}
