//! The admins' reads and audited changes, in memory.

use super::*;
use crate::domain::accounts::{CreditBalance, Role};
use crate::domain::admin::{AdminWrite, AuditEntry, DayUsage};

impl MemoryStore {
    /// Applies `change` to the user's record and records `audit`, under one lock.
    fn audited(
        &self,
        user_id: &str,
        audit: &AuditEntry,
        change: impl FnOnce(&mut UserRecord),
    ) -> AdminWrite<UserRecord> {
        let mut st = self.state();
        if !st.acts_as_admin(&audit.actor) {
            return AdminWrite::NotAnAdmin;
        }
        let Some(user) = st.users.get_mut(user_id).and_then(|p| p.user.as_mut()) else {
            return AdminWrite::NoSuchUser;
        };
        change(user);
        let user = user.clone();
        st.audit
            .entry(user_id.to_string())
            .or_default()
            .push(audit.clone());
        AdminWrite::Done(user)
    }
}

impl Admin for MemoryStore {
    async fn find_users(
        &self,
        prefix: Option<&str>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<UserRecord>, Option<String>), ApiError> {
        let st = self.state();
        let mut users: Vec<(String, UserRecord)> = st
            .users
            .values()
            .filter_map(|p| p.user.clone())
            .filter_map(|u| match prefix {
                None => Some((format!("{:012}#{}", u.created_at, u.id), u)),
                Some(p) => crate::domain::admin::listed_at(&u, p).map(|name| (name, u)),
            })
            .collect();
        users.sort_by(|a, b| a.0.cmp(&b.0));
        if prefix.is_none() {
            users.reverse();
        }
        let page: Vec<(String, UserRecord)> = users
            .into_iter()
            .filter(|(k, _)| match (after, prefix) {
                (None, _) => true,
                (Some(a), None) => k.as_str() < a,
                (Some(a), Some(_)) => k.as_str() > a,
            })
            .take(limit + 1)
            .collect();
        let next = (page.len() > limit).then(|| page[limit - 1].0.clone());
        Ok((page.into_iter().take(limit).map(|(_, u)| u).collect(), next))
    }

    async fn adjust_credits(
        &self,
        user_id: &str,
        delta: i64,
        audit: &AuditEntry,
        note: &str,
    ) -> Result<AdminWrite<CreditBalance>, ApiError> {
        let mut st = self.state();
        if !st.acts_as_admin(&audit.actor) {
            return Ok(AdminWrite::NotAnAdmin);
        }
        let Some(user) = st.users.get_mut(user_id).and_then(|p| p.user.as_mut()) else {
            return Ok(AdminWrite::NoSuchUser);
        };
        if user.credits.available + delta < 0 {
            return Ok(AdminWrite::Insufficient {
                available: user.credits.available,
            });
        }
        user.credits.available += delta;
        let balance = user.credits;
        st.ledger.entry(user_id.to_string()).or_default().insert(
            format!("LEDGER#admin~{}", audit.id),
            LedgerEntry {
                id: format!("admin~{}", audit.id),
                delta,
                reason: "admin_grant".into(),
                reference: Some(audit.actor.clone()),
                note: Some(note.to_string()),
                created_at: audit.at,
                by: None,
            },
        );
        st.audit
            .entry(user_id.to_string())
            .or_default()
            .push(audit.clone());
        Ok(AdminWrite::Done(balance))
    }

    async fn set_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
        audit: &AuditEntry,
    ) -> Result<AdminWrite<UserRecord>, ApiError> {
        Ok(self.audited(user_id, audit, |u| u.disabled_at = disabled_at))
    }

    async fn set_role(
        &self,
        user_id: &str,
        role: Role,
        audit: &AuditEntry,
    ) -> Result<AdminWrite<UserRecord>, ApiError> {
        Ok(self.audited(user_id, audit, |u| u.role = role))
    }

    async fn audit_trail(&self, user_id: &str, limit: usize) -> Result<Vec<AuditEntry>, ApiError> {
        let st = self.state();
        Ok(st
            .audit
            .get(user_id)
            .map(|a| a.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn usage(&self, first_day: i64, last_day: i64) -> Result<Vec<DayUsage>, ApiError> {
        Ok(self
            .state()
            .usage
            .range(first_day..=last_day)
            .map(|(_, u)| u.clone())
            .collect())
    }
}
