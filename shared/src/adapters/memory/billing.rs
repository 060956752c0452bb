//! Credits, quotas, holds and Idempotency-Key claims, in memory.

use super::*;

/// Adds (`sign` 1) or takes back (-1) a hold in its day's usage.
fn count_usage(st: &mut State, hold: &Hold, sign: i64) {
    let day = hold.reserved_at.div_euclid(DAY);
    let counters = st
        .user_usage
        .entry((hold.user_id.clone(), day))
        .or_default();
    for (name, v) in hold.usage_counters() {
        *counters.entry(name).or_default() += sign * v;
    }
}

impl Credits for MemoryStore {
    async fn debit(
        &self,
        user_id: &str,
        amount: i64,
        reason: &str,
        reference: &str,
    ) -> Result<bool, ApiError> {
        let mut st = self.state();
        let Some(p) = st.users.get_mut(user_id) else {
            return Ok(false);
        };
        let Some(u) = p.user.as_mut() else {
            return Ok(false);
        };
        if u.credits.available < amount {
            return Ok(false);
        }
        u.credits.available -= amount;
        u.credits.spent += amount;
        p.open_charges.insert(reference.to_string());
        ledger_line(
            &mut st,
            user_id,
            format!("LEDGER#{reference}"),
            -amount,
            reason,
            reference,
        );
        Ok(true)
    }

    async fn refund(&self, hold: &Hold, reason: &str) -> Result<bool, ApiError> {
        let (user_id, amount, reference) = (hold.user_id.as_str(), hold.amount, hold.id.as_str());
        let mut st = self.state();
        let Some(p) = st.users.get_mut(user_id) else {
            return Ok(false);
        };
        if !p.open_charges.remove(reference) {
            return Ok(false);
        }
        if let Some(u) = p.user.as_mut() {
            u.credits.available += amount;
            u.credits.spent -= amount;
        }
        if let Some(spend) = &hold.spend {
            for entry in &spend.entries {
                *p.key_spend.entry(entry.clone()).or_insert(amount) -= amount;
            }
        }
        ledger_line(
            &mut st,
            user_id,
            format!("LEDGER#{reference}~refund"),
            amount,
            "refund",
            reference,
        );
        ledger_by(
            &mut st,
            user_id,
            &format!("LEDGER#{reference}~refund"),
            hold.by.as_ref(),
        );
        if ledger_line(
            &mut st,
            user_id,
            format!("LEDGER#{reference}"),
            -amount,
            reason,
            reference,
        ) {
            ledger_by(
                &mut st,
                user_id,
                &format!("LEDGER#{reference}"),
                hold.by.as_ref(),
            );
        }
        Ok(true)
    }

    async fn settle_charge(&self, user_id: &str, reference: &str) -> Result<(), ApiError> {
        if let Some(p) = self.state().users.get_mut(user_id) {
            p.open_charges.remove(reference);
        }
        Ok(())
    }

    async fn ledger(&self, user_id: &str, limit: usize) -> Result<Vec<LedgerEntry>, ApiError> {
        Ok(self
            .state()
            .ledger
            .get(user_id)
            .map(|l| l.values().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}

impl Quotas for MemoryStore {
    async fn images_today(&self, user_id: &str, now: i64) -> Result<u32, ApiError> {
        let day = now.div_euclid(DAY);
        let st = self.state();
        Ok(st
            .quotas
            .get(&(user_id.to_string(), day))
            .map_or(0, |(images, _)| *images))
    }

    async fn reserve_daily(
        &self,
        user_id: &str,
        n: u32,
        limit: u32,
        now: i64,
        reference: &str,
    ) -> Result<Result<(), i64>, ApiError> {
        let day = now.div_euclid(DAY);
        let reset_at = (day + 1) * DAY;
        let mut st = self.state();
        let (images, open) = st.quotas.entry((user_id.to_string(), day)).or_default();
        if n > limit || *images + n > limit {
            return Ok(Err(reset_at));
        }
        *images += n;
        open.insert(reference.to_string());
        Ok(Ok(()))
    }

    async fn release_daily(&self, hold: &Hold) -> Result<(), ApiError> {
        let day = hold.reserved_at.div_euclid(DAY);
        let mut st = self.state();
        if let Some((images, open)) = st.quotas.get_mut(&(hold.user_id.clone(), day))
            && open.remove(&hold.id)
        {
            *images = images.saturating_sub(hold.images);
            count_usage(&mut st, hold, -1);
        }
        Ok(())
    }

    async fn user_usage(
        &self,
        user_id: &str,
        first_day: i64,
        last_day: i64,
    ) -> Result<Vec<UserDay>, ApiError> {
        let st = self.state();
        Ok((first_day..=last_day)
            .map(|day| {
                UserDay::from_counters(
                    day,
                    st.user_usage
                        .get(&(user_id.to_string(), day))
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), *v)),
                )
            })
            .collect())
    }

    async fn settle_daily(
        &self,
        user_id: &str,
        reserved_at: i64,
        reference: &str,
    ) -> Result<(), ApiError> {
        let day = reserved_at.div_euclid(DAY);
        if let Some((_, open)) = self.state().quotas.get_mut(&(user_id.to_string(), day)) {
            open.remove(reference);
        }
        Ok(())
    }
}

impl Holds for MemoryStore {
    async fn open_charge(
        &self,
        hold: &Hold,
        daily_limit: u32,
        reason: &str,
        storage_quota: u64,
    ) -> Result<Opened, ApiError> {
        let mut st = self.state();
        let day = hold.reserved_at.div_euclid(DAY);
        let reset_at = (day + 1) * DAY;
        let used = st
            .quotas
            .get(&(hold.user_id.clone(), day))
            .map_or(0, |(n, _)| *n);
        if hold.images > 0 && used + hold.images > daily_limit {
            return Ok(Opened::QuotaFull { reset_at });
        }
        // As the table's adapter: a charge above the key's whole budget is refused first.
        if let Some(b) = hold.spend.as_ref().and_then(|s| s.budget.as_ref())
            && let Some(refused) = Opened::over_budget(b, 0, hold.amount)
        {
            return Ok(refused);
        }
        if hold.amount > 0 {
            let available = st
                .users
                .get(&hold.user_id)
                .and_then(|p| p.user.as_ref())
                .map_or(0, |u| u.credits.available);
            if available < hold.amount {
                return Ok(Opened::TooFewCredits);
            }
            if let Some(spend) = &hold.spend
                && let (Some(entry), Some(b)) = (spend.budget_entry(), &spend.budget)
            {
                let spent = st
                    .users
                    .get(&hold.user_id)
                    .and_then(|p| p.key_spend.get(entry).copied())
                    .unwrap_or(0);
                if let Some(refused) = Opened::over_budget(b, spent, hold.amount) {
                    return Ok(refused);
                }
            }
            let stored = st
                .users
                .get(&hold.user_id)
                .and_then(|p| p.user.as_ref())
                .map_or(0, |u| u.storage_bytes);
            if stored >= storage_quota {
                return Ok(Opened::StorageFull { used: stored });
            }
        }
        if st.holds.contains_key(&hold.id) {
            return Err(ApiError::internal(format!("hold {} exists", hold.id)));
        }
        st.holds.insert(hold.id.clone(), hold.clone());
        if hold.images > 0 {
            let (n, open) = st.quotas.entry((hold.user_id.clone(), day)).or_default();
            *n += hold.images;
            open.insert(hold.id.clone());
            count_usage(&mut st, hold, 1);
        }
        if hold.amount > 0 {
            if let Some(p) = st.users.get_mut(&hold.user_id) {
                if let Some(u) = p.user.as_mut() {
                    u.credits.available -= hold.amount;
                    u.credits.spent += hold.amount;
                }
                p.open_charges.insert(hold.id.clone());
                if let Some(spend) = &hold.spend {
                    for entry in &spend.entries {
                        *p.key_spend.entry(entry.clone()).or_default() += hold.amount;
                    }
                    for entry in &spend.stale {
                        p.key_spend.remove(entry);
                    }
                }
            }
            ledger_line(
                &mut st,
                &hold.user_id,
                format!("LEDGER#{}", hold.id),
                -hold.amount,
                reason,
                &hold.id,
            );
            ledger_by(
                &mut st,
                &hold.user_id,
                &format!("LEDGER#{}", hold.id),
                hold.by.as_ref(),
            );
        }
        Ok(Opened::Taken)
    }

    async fn open_hold(&self, hold: &Hold) -> Result<(), ApiError> {
        let mut st = self.state();
        if st.holds.contains_key(&hold.id) {
            return Err(ApiError::internal(format!("hold {} exists", hold.id)));
        }
        st.holds.insert(hold.id.clone(), hold.clone());
        Ok(())
    }

    async fn attach_objects(&self, id: &str, keys: &[String]) -> Result<bool, ApiError> {
        if keys.is_empty() {
            return Ok(true);
        }
        let mut st = self.state();
        match st.holds.get_mut(id) {
            Some(h) if h.state == HoldState::Pending => {
                for k in keys {
                    if !h.objects.contains(k) {
                        h.objects.push(k.clone());
                    }
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn due_holds(&self, now: i64, limit: usize) -> Result<Vec<Hold>, ApiError> {
        let mut due: Vec<Hold> = self
            .state()
            .holds
            .values()
            .filter(|h| h.due_at <= now)
            .cloned()
            .collect();
        due.sort_by(|a, b| a.due_at.cmp(&b.due_at).then_with(|| a.id.cmp(&b.id)));
        due.truncate(limit);
        Ok(due)
    }

    async fn start_refund(&self, id: &str) -> Result<bool, ApiError> {
        let mut st = self.state();
        match st.holds.get_mut(id) {
            Some(h) if h.state != HoldState::Settled => {
                h.state = HoldState::Refunding;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn hold_state(&self, id: &str) -> Result<Option<HoldState>, ApiError> {
        Ok(self.state().holds.get(id).map(|h| h.state))
    }

    async fn postpone_hold(&self, hold: &Hold, due_at: i64) -> Result<(), ApiError> {
        if let Some(h) = self.state().holds.get_mut(&hold.id) {
            h.due_at = due_at;
        }
        Ok(())
    }

    async fn hold(&self, id: &str) -> Result<Option<Hold>, ApiError> {
        Ok(self.state().holds.get(id).cloned())
    }

    async fn close_hold(&self, id: &str) -> Result<(), ApiError> {
        self.state().holds.remove(id);
        Ok(())
    }
}

impl Idempotency for MemoryStore {
    async fn claim(
        &self,
        user_id: &str,
        claim: &KeyClaim,
        body_hash: &str,
        now: i64,
    ) -> Result<IdempotencyClaim, ApiError> {
        let mut st = self.state();
        let slot = (user_id.to_string(), claim.key.clone());
        match st.idempotency.get(&slot) {
            Some(i) if i.expires_at >= now => {
                return Ok(if i.body_hash != body_hash {
                    IdempotencyClaim::Mismatch
                } else if let (false, Some(r)) = (i.pending, &i.response) {
                    IdempotencyClaim::Replay(r.clone())
                } else {
                    IdempotencyClaim::InProgress
                });
            }
            _ => {}
        }
        st.idempotency.insert(
            slot,
            Idem {
                pending: true,
                token: claim.token.clone(),
                body_hash: body_hash.to_string(),
                response: None,
                expires_at: now + IDEMPOTENCY_TTL,
            },
        );
        Ok(IdempotencyClaim::New)
    }

    async fn abandon(&self, user_id: &str, claim: &KeyClaim) -> Result<(), ApiError> {
        let mut st = self.state();
        let slot = (user_id.to_string(), claim.key.clone());
        if st
            .idempotency
            .get(&slot)
            .is_some_and(|i| i.pending && i.token == claim.token)
        {
            st.idempotency.remove(&slot);
        }
        Ok(())
    }
}
