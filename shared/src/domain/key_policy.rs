//! What an API key may do: its scopes, models, budget, hourly limit and expiry, and the UTC
//! periods its spend is counted in.

use crate::domain::DAY_SECONDS;
use crate::domain::admin::civil_date;
use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// What a key can be allowed to do; a key without a list may do all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Scope {
    /// List, get and download images and videos, and their versions.
    #[serde(rename = "library:read")]
    LibraryRead,
    /// Delete or change assets, and upload inputs.
    #[serde(rename = "library:write")]
    LibraryWrite,
    /// Paid and free image and video work: generations, edits, variations, transforms, videos.
    #[serde(rename = "generate")]
    Generate,
    /// List, get and cancel jobs.
    #[serde(rename = "jobs")]
    Jobs,
    /// The account: profile, credits, ledger, usage, referral link and webhook secret.
    #[serde(rename = "account")]
    Account,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::LibraryRead,
        Scope::LibraryWrite,
        Scope::Generate,
        Scope::Jobs,
        Scope::Account,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::LibraryRead => "library:read",
            Scope::LibraryWrite => "library:write",
            Scope::Generate => "generate",
            Scope::Jobs => "jobs",
            Scope::Account => "account",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Month,
}

/// A JSON integer, also when written with a zero fraction (`5.0` is an integer to JSON Schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Whole(pub i64);

impl<'de> Deserialize<'de> for Whole {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        n.as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (-9.0e15..9.0e15).contains(f))
                    .map(|f| f as i64)
            })
            .map(Whole)
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number")))
    }
}

fn whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Whole::deserialize(d).map(|w| w.0)
}

/// Credits a key may spend per UTC day or month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    #[serde(deserialize_with = "whole")]
    pub credits: i64,
    pub period: Period,
}

/// The limits a key carries; every one is optional (`None`: no limit beyond the account's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Scope>>,
    /// Model ids (aliases already resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_hour: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The one resource this key works at (RFC 8707): the MCP endpoint's URL, for the keys
    /// OAuth issues to MCP clients. Set only by the token endpoint, never by a PATCH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

pub const MAX_KEY_MODELS: usize = 50;

/// An hourly limit as sent: a whole number of requests (its range is checked by `validate`).
pub fn hourly_limit(w: Whole) -> Result<u32, ApiError> {
    u32::try_from(w.0).map_err(|_| {
        ApiError::invalid(
            "rate_limit_per_hour",
            "rate_limit_per_hour must be a positive number of requests, at most the account's limit",
        )
    })
}

/// Scopes in the order given, each once.
pub fn distinct_scopes(scopes: Vec<Scope>) -> Vec<Scope> {
    let mut out: Vec<Scope> = Vec::new();
    for s in scopes {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
pub const MAX_BUDGET_CREDITS: i64 = 1_000_000_000;

impl KeyPolicy {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.as_ref().is_none_or(|s| s.contains(&scope))
    }

    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Checks what a client may set: an hourly limit within the account's, an expiry in the
    /// future, a positive budget, and non-empty lists without repeats.
    pub fn validate(&self, account_rate_limit: u32, now: i64) -> Result<(), ApiError> {
        if self.scopes.as_ref().is_some_and(Vec::is_empty) {
            return Err(ApiError::invalid(
                "scopes",
                "scopes must name at least one scope (leave it out for a key that may do everything)",
            ));
        }
        if let Some(models) = &self.models
            && (models.is_empty() || models.len() > MAX_KEY_MODELS)
        {
            return Err(ApiError::invalid(
                "models",
                format!(
                    "models must list 1 to {MAX_KEY_MODELS} model ids (leave it out for a key that may use every model)"
                ),
            ));
        }
        if let Some(b) = &self.budget
            && !(1..=MAX_BUDGET_CREDITS).contains(&b.credits)
        {
            return Err(ApiError::invalid(
                "budget.credits",
                format!("budget.credits must be between 1 and {MAX_BUDGET_CREDITS}"),
            ));
        }
        if let Some(limit) = self.rate_limit_per_hour
            && !(1..=account_rate_limit).contains(&limit)
        {
            return Err(ApiError::invalid(
                "rate_limit_per_hour",
                format!(
                    "rate_limit_per_hour must be between 1 and the account's limit, {account_rate_limit}"
                ),
            ));
        }
        if let Some(at) = self.expires_at
            && at <= now
        {
            return Err(ApiError::invalid(
                "expires_at",
                "expires_at must be in the future (Unix seconds)",
            ));
        }
        Ok(())
    }

    /// A 403 unless this key may use `model` (an id, aliases resolved).
    pub fn check_model(&self, model: &str) -> Result<(), ApiError> {
        match &self.models {
            Some(models) if !models.iter().any(|m| m == model) => Err(ApiError::Forbidden {
                message: format!(
                    "this API key may not use the model '{model}'; it may use: {}",
                    models.join(", ")
                ),
                code: "model_not_allowed",
            }),
            _ => Ok(()),
        }
    }
}

/// The answer to a change of a key made from a version another change has replaced.
pub fn changed_meanwhile() -> ApiError {
    ApiError::Conflict {
        message: "the key was changed by another request meanwhile; read it again and retry".into(),
        param: None,
    }
}

/// The UTC period a key's spend is counted in at `now`: its label and when it ends.
pub fn period_of(period: Period, now: i64) -> (String, i64) {
    let day = now.div_euclid(DAY_SECONDS);
    match period {
        Period::Day => (format!("d{day}"), (day + 1) * DAY_SECONDS),
        Period::Month => {
            let (y, m, _) = civil_date(day);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (
                format!("m{y:04}{m:02}"),
                days_from_civil(ny, nm, 1) * DAY_SECONDS,
            )
        }
    }
}

/// The label of the period before the one `now` falls in.
pub fn previous_period(period: Period, now: i64) -> String {
    period_of(period, period_before(period, now)).0
}

/// A moment of the period before the one `now` falls in.
fn period_before(period: Period, now: i64) -> i64 {
    let day = now.div_euclid(DAY_SECONDS);
    let before = match period {
        Period::Day => day - 1,
        Period::Month => {
            let (y, m, _) = civil_date(day);
            days_from_civil(y, m, 1) - 1
        }
    };
    before * DAY_SECONDS
}

/// The label of the period two before the one `now` falls in: the newest whose entries may be
/// dropped (a charge begun just before a period ended may still count in the one before).
pub fn period_two_before(period: Period, now: i64) -> String {
    previous_period(period, period_before(period, now))
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's days-from-civil).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where a key's spend of one period is counted: an entry of the profile's `key_spend` map.
pub fn spend_entry(key_id: &str, label: &str) -> String {
    format!("{key_id}/{label}")
}

/// What a charge by an API key counts against: the day's and the month's spend entries (both
/// kept, so a budget can change period), older ones (dropped by the same write), and the
/// budget's own entry and room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpend {
    /// The current day's and month's entries.
    pub entries: [String; 2],
    /// The day's and month's entries two periods back, removed as the current ones are
    /// written (the previous ones stay: a charge begun before midnight may still count there).
    pub stale: [String; 2],
    pub budget: Option<BudgetRoom>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetRoom {
    /// Which of `entries` the budget counts (0: day, 1: month).
    pub entry: usize,
    pub credits: i64,
    pub resets_at: i64,
}

impl KeySpend {
    pub fn new(key_id: &str, budget: Option<Budget>, now: i64) -> Self {
        let (day, day_ends) = period_of(Period::Day, now);
        let (month, month_ends) = period_of(Period::Month, now);
        let budget = budget.map(|b| match b.period {
            Period::Day => BudgetRoom {
                entry: 0,
                credits: b.credits,
                resets_at: day_ends,
            },
            Period::Month => BudgetRoom {
                entry: 1,
                credits: b.credits,
                resets_at: month_ends,
            },
        });
        Self {
            entries: [spend_entry(key_id, &day), spend_entry(key_id, &month)],
            stale: [
                spend_entry(key_id, &period_two_before(Period::Day, now)),
                spend_entry(key_id, &period_two_before(Period::Month, now)),
            ],
            budget,
        }
    }

    /// The budget's entry, when the key has a budget.
    pub fn budget_entry(&self) -> Option<&str> {
        self.budget.as_ref().map(|b| self.entries[b.entry].as_str())
    }
}

/// A key's spend this UTC day and this month, from the profile's spend entries.
pub fn spent_now(
    entries: &std::collections::HashMap<String, i64>,
    key_id: &str,
    now: i64,
) -> (i64, i64) {
    (
        current_spend(entries, key_id, Period::Day, now),
        current_spend(entries, key_id, Period::Month, now),
    )
}

fn current_spend(
    entries: &std::collections::HashMap<String, i64>,
    key_id: &str,
    period: Period,
    now: i64,
) -> i64 {
    let (label, _) = period_of(period, now);
    entries
        .get(&spend_entry(key_id, &label))
        .copied()
        .unwrap_or(0)
        .max(0)
}

/// Whether a spend entry belongs to a period that is over, and not the one just before (so
/// it can be dropped).
pub fn spend_entry_is_stale(entry: &str, now: i64) -> bool {
    let current = [
        period_of(Period::Day, now).0,
        period_of(Period::Month, now).0,
        previous_period(Period::Day, now),
        previous_period(Period::Month, now),
    ];
    entry
        .rsplit_once('/')
        .is_none_or(|(_, label)| !current.iter().any(|c| c == label))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-06 12:00 UTC.
    const NOW: i64 = 1_796_558_400;

    #[test]
    fn periods_are_utc_days_and_calendar_months() {
        let day = NOW / DAY_SECONDS;
        assert_eq!(
            period_of(Period::Day, NOW),
            (format!("d{day}"), (day + 1) * DAY_SECONDS)
        );
        let (label, ends) = period_of(Period::Month, NOW);
        assert_eq!(label, "m202612");
        assert_eq!(
            crate::domain::admin::date_string(ends / DAY_SECONDS),
            "2027-01-01"
        );
        assert_eq!(previous_period(Period::Month, NOW), "m202611");
        assert_eq!(previous_period(Period::Day, NOW), format!("d{}", day - 1));
        // A leap February ends on the 29th.
        let feb = days_from_civil(2028, 2, 10) * DAY_SECONDS;
        assert_eq!(
            crate::domain::admin::date_string(period_of(Period::Month, feb).1 / DAY_SECONDS),
            "2028-03-01"
        );
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 11, 27), 20_784);
    }

    #[test]
    fn spend_entries_of_past_periods_are_stale() {
        let spend = KeySpend::new(
            "key_a",
            Some(Budget {
                credits: 5,
                period: Period::Month,
            }),
            NOW,
        );
        assert_eq!(spend.budget_entry(), Some("key_a/m202612"));
        assert!(!spend_entry_is_stale(&spend.entries[0], NOW));
        assert!(!spend_entry_is_stale(&spend.entries[1], NOW));
        assert!(spend_entry_is_stale(&spend.stale[0], NOW));
        assert!(spend_entry_is_stale(&spend.stale[1], NOW));
        assert_eq!(spend.stale[1], "key_a/m202610");
        // Yesterday's entry stays: a charge begun before midnight may still count in it.
        let yesterday = spend_entry("key_a", &previous_period(Period::Day, NOW));
        assert!(!spend_entry_is_stale(&yesterday, NOW));
    }

    #[test]
    fn policies_are_checked() {
        let ok = KeyPolicy {
            scopes: Some(vec![Scope::LibraryRead]),
            models: Some(vec!["local-sketch".into()]),
            budget: Some(Budget {
                credits: 5,
                period: Period::Day,
            }),
            rate_limit_per_hour: Some(10),
            expires_at: Some(NOW + 60),
            resource: None,
        };
        assert!(ok.validate(100, NOW).is_ok());
        assert!(ok.allows(Scope::LibraryRead) && !ok.allows(Scope::Generate));
        assert!(ok.check_model("local-sketch").is_ok());
        assert!(ok.check_model("gpt-image-2").is_err());
        let param = |p: KeyPolicy| match p.validate(100, NOW).unwrap_err() {
            ApiError::InvalidRequest { param, .. } => param.unwrap(),
            e => panic!("{e:?}"),
        };
        assert_eq!(
            param(KeyPolicy {
                rate_limit_per_hour: Some(101),
                ..ok.clone()
            }),
            "rate_limit_per_hour"
        );
        assert_eq!(
            param(KeyPolicy {
                expires_at: Some(NOW),
                ..ok.clone()
            }),
            "expires_at"
        );
        assert_eq!(
            param(KeyPolicy {
                scopes: Some(vec![]),
                ..ok.clone()
            }),
            "scopes"
        );
        assert_eq!(
            distinct_scopes(vec![Scope::Jobs, Scope::Account, Scope::Jobs]),
            vec![Scope::Jobs, Scope::Account]
        );
        let whole: Budget = serde_json::from_str(r#"{"credits": 5.0, "period": "day"}"#).unwrap();
        assert_eq!(whole.credits, 5);
        assert!(serde_json::from_str::<Budget>(r#"{"credits": 5.5, "period": "day"}"#).is_err());
        assert_eq!(
            param(KeyPolicy {
                budget: Some(Budget {
                    credits: 0,
                    period: Period::Day
                }),
                ..ok
            }),
            "budget.credits"
        );
        assert!(KeyPolicy::default().allows(Scope::Account));
    }
}
