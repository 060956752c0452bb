//! What an admin may do to an account, and the audit entry each action leaves.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// The largest grant or deduction in one action: a typo must not mint a fortune.
pub const CREDIT_CHANGE_MAX: i64 = 1_000_000;
pub const REASON_MAX: usize = 200;
/// How far back `GET /v1/admin/usage` reaches.
pub const USAGE_DAYS_MAX: u32 = 366;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    GrantCredits,
    Disable,
    Enable,
    SetRole,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::GrantCredits => "grant_credits",
            AuditAction::Disable => "disable",
            AuditAction::Enable => "enable",
            AuditAction::SetRole => "set_role",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::GrantCredits,
            Self::Disable,
            Self::Enable,
            Self::SetRole,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// Who did what to whom, and when: written in the same transaction as the action itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// The admin's user id.
    pub actor: String,
    pub action: AuditAction,
    /// The user acted on.
    pub target: String,
    /// The amount and reason of a grant, or the new role.
    pub detail: String,
}

impl AuditEntry {
    pub fn new(actor: &str, action: AuditAction, target: &str, detail: String, at: i64) -> Self {
        Self {
            id: crate::domain::new_id("audit"),
            at,
            actor: actor.to_string(),
            action,
            target: target.to_string(),
            detail,
        }
    }
}

/// How an admin's write to an account ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminWrite<T> {
    Done(T),
    NoSuchUser,
    /// The acting admin is no longer an enabled admin (demoted or disabled since the request
    /// was admitted): checked in the same transaction as the change.
    NotAnAdmin,
    /// A deduction larger than the balance (balances never go below zero).
    Insufficient {
        available: i64,
    },
}

/// One UTC day of paid work, across all users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayUsage {
    /// Days since 1970-01-01.
    pub day: i64,
    /// Paid requests settled (an image request, a video job).
    pub generations: i64,
    /// Images (or videos) they delivered.
    pub images: i64,
    pub credits: i64,
    /// The same per model and the vendor that served it, with what the vendor charged.
    pub served: Vec<ServedUsage>,
}

/// Paid work of one model served by one vendor (within a day).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServedUsage {
    pub model: String,
    pub vendor: String,
    pub generations: i64,
    pub images: i64,
    pub credits: i64,
    /// What the vendor charged for the priced ones, in millionths of a dollar.
    pub cost_micros: i64,
    /// Generations whose vendor cost is not known (neither reported nor in the catalog).
    pub unpriced: i64,
}

/// What one settled request cost at its vendor: `None` when neither the vendor reported it
/// nor the catalog prices it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorCharge {
    pub model: String,
    pub vendor: String,
    pub cost_micros: Option<i64>,
}

impl VendorCharge {
    /// The day's usage counters it adds to (as `Hold::usage_counters` names a user's).
    pub fn counters(&self, images: i64, credits: i64) -> Vec<(String, i64)> {
        let at = |what: &str| format!("v#{}#{}#{what}", self.model, self.vendor);
        let mut c = vec![
            (at("generations"), 1),
            (at("images"), images),
            (at("credits"), credits),
        ];
        match self.cost_micros {
            Some(cost) => c.push((at("cost_micros"), cost)),
            None => c.push((at("unpriced"), 1)),
        }
        c
    }
}

impl DayUsage {
    /// Adds one counter named as `VendorCharge::counters` names them (others are ignored).
    pub fn add_counter(&mut self, name: &str, value: i64) {
        let Some(rest) = name.strip_prefix("v#") else {
            return;
        };
        let mut parts = rest.rsplitn(3, '#');
        let (Some(field), Some(vendor), Some(model)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let i = match self
            .served
            .iter()
            .position(|s| s.model == model && s.vendor == vendor)
        {
            Some(i) => i,
            None => {
                self.served.push(ServedUsage {
                    model: model.into(),
                    vendor: vendor.into(),
                    ..ServedUsage::default()
                });
                self.served.len() - 1
            }
        };
        let s = &mut self.served[i];
        match field {
            "generations" => s.generations += value,
            "images" => s.images += value,
            "credits" => s.credits += value,
            "cost_micros" => s.cost_micros += value,
            "unpriced" => s.unpriced += value,
            _ => {}
        }
    }
}

/// A grant (`amount` > 0) or deduction (< 0) with the reason the user reads in the ledger.
pub fn validate_grant(amount: i64, reason: &str) -> Result<(i64, String), ApiError> {
    if amount == 0 || amount.abs() > CREDIT_CHANGE_MAX {
        return Err(ApiError::invalid(
            "amount",
            format!(
                "amount must be a whole number of credits from -{CREDIT_CHANGE_MAX} to {CREDIT_CHANGE_MAX}, not zero"
            ),
        ));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ApiError::missing("reason"));
    }
    if reason.chars().count() > REASON_MAX || reason.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "reason",
            format!("reason must be at most {REASON_MAX} printable characters"),
        ));
    }
    Ok((amount, reason.to_string()))
}

/// A search prefix for usernames and emails, compared lower-case.
pub fn search_prefix(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(q) = raw.map(str::trim).filter(|q| !q.is_empty()) else {
        return Ok(None);
    };
    if q.chars().count() > crate::domain::accounts::EMAIL_MAX || q.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "q",
            "q must be the start of a username or an email, at most 254 characters",
        ));
    }
    Ok(Some(q.to_lowercase()))
}

/// The first of a user's names (username, email; lower-case) that starts with `prefix`: where
/// a search lists the user, once.
pub fn listed_at(u: &crate::domain::accounts::UserRecord, prefix: &str) -> Option<String> {
    [u.username.to_lowercase(), u.email.to_lowercase()]
        .into_iter()
        .filter(|name| name.starts_with(prefix))
        .min()
}

/// `yyyy-mm-dd` of a day counted from 1970-01-01 (Howard Hinnant's civil-from-days).
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

pub fn date_string(days: i64) -> String {
    let (y, m, d) = civil_date(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day of a `yyyy-mm-dd` date (UTC), if it is one (`2026-02-30` is not).
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s.get(0..4)?.parse().ok()?;
    let m: u32 = s.get(5..7)?.parse().ok()?;
    let d: u32 = s.get(8..10)?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let day = crate::domain::key_policy::days_from_civil(y, m, d);
    (date_string(day) == s).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(date_string(0), "1970-01-01");
        assert_eq!(date_string(59), "1970-03-01");
        // 2024-02-29 (leap day) and 2026-11-27.
        assert_eq!(date_string(19_782), "2024-02-29");
        assert_eq!(date_string(20_784), "2026-11-27");
        assert_eq!(parse_date("2026-11-27"), Some(20_784));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "26-11-27",
            "2026-11-7",
            "2026/11/27",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn grants_need_a_bounded_non_zero_amount_and_a_reason() {
        assert_eq!(
            validate_grant(-5, " refund for outage ").unwrap(),
            (-5, "refund for outage".to_string())
        );
        for (amount, reason, param) in [
            (0, "x", "amount"),
            (CREDIT_CHANGE_MAX + 1, "x", "amount"),
            (5, "  ", "reason"),
            (5, "a\u{7}b", "reason"),
        ] {
            match validate_grant(amount, reason) {
                Err(ApiError::InvalidRequest { param: p, .. }) => {
                    assert_eq!(p.as_deref(), Some(param))
                }
                other => panic!("{amount:?} {reason:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn actions_round_trip() {
        for a in [
            AuditAction::GrantCredits,
            AuditAction::Disable,
            AuditAction::Enable,
            AuditAction::SetRole,
        ] {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
    }
}
