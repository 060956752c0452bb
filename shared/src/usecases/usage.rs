//! The account's spend report: paid work per UTC day, model and key over a bounded range, from
//! the day items every charge and refund counts in (so it adds up to the ledger).

use crate::domain::admin::{date_string, parse_date};
use crate::domain::{DAY_SECONDS, now_epoch};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::wire::{AccountUsage, AccountUsageDay, UsageShare, UsageTotal};
use std::collections::BTreeMap;

/// At most this many days a report (one batch read).
pub const USAGE_RANGE_DAYS: i64 = 92;
/// Without `start`, this many days up to `end`.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

/// The range a report asks for: `start` and `end` (`yyyy-mm-dd`, inclusive), by default the
/// last 30 days up to today.
pub fn range(start: Option<&str>, end: Option<&str>, now: i64) -> Result<(i64, i64), ApiError> {
    let day = |param: &str, v: &str| {
        parse_date(v).ok_or_else(|| {
            ApiError::invalid(
                param,
                format!("{param} must be a date like 2026-12-06 (UTC)"),
            )
        })
    };
    let today = now.div_euclid(DAY_SECONDS);
    let last = end.map(|e| day("end", e)).transpose()?.unwrap_or(today);
    let first = match start {
        Some(s) => day("start", s)?,
        None => last - DEFAULT_RANGE_DAYS + 1,
    };
    if first > last {
        return Err(ApiError::invalid("start", "start must not be after end"));
    }
    if last - first + 1 > USAGE_RANGE_DAYS {
        return Err(ApiError::invalid(
            "start",
            format!("a report covers at most {USAGE_RANGE_DAYS} days: ask for several ranges"),
        ));
    }
    Ok((first, last))
}

fn shares(items: impl Iterator<Item = (String, i64, i64)>) -> Vec<UsageShare> {
    let mut sum: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (id, credits, images) in items {
        let e = sum.entry(id).or_default();
        e.0 += credits;
        e.1 += images;
    }
    sum.into_iter()
        .filter(|(_, (c, i))| *c != 0 || *i != 0)
        .map(|(id, (credits, images))| UsageShare {
            id,
            credits,
            images,
        })
        .collect()
}

/// `api_key:<id>` is reported as the key id; `session` and `queue` as they are.
fn spender_id(s: String) -> String {
    match s.strip_prefix("api_key:") {
        Some(id) => id.to_string(),
        None => s,
    }
}

pub async fn report<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<AccountUsage, ApiError> {
    let (first, last) = range(start, end, now_epoch())?;
    let days = deps.store.user_usage(user_id, first, last).await?;
    let data: Vec<AccountUsageDay> = days
        .into_iter()
        .map(|d| AccountUsageDay {
            date: date_string(d.day),
            generations: d.generations,
            images: d.images,
            credits: d.credits,
            models: shares(d.models.into_iter()),
            spent_by: shares(
                d.spenders
                    .into_iter()
                    .map(|(s, c, i)| (spender_id(s), c, i)),
            ),
        })
        .collect();
    let total = UsageTotal {
        generations: data.iter().map(|d| d.generations).sum(),
        images: data.iter().map(|d| d.images).sum(),
        credits: data.iter().map(|d| d.credits).sum(),
    };
    let flat = |pick: fn(&AccountUsageDay) -> &Vec<UsageShare>| {
        shares(
            data.iter()
                .flat_map(|d| pick(d).iter())
                .map(|s| (s.id.clone(), s.credits, s.images)),
        )
    };
    Ok(AccountUsage {
        object: "usage".into(),
        start: date_string(first),
        end: date_string(last),
        total,
        models: flat(|d| &d.models),
        spent_by: flat(|d| &d.spent_by),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-06 12:00 UTC.
    const NOW: i64 = 1_796_558_400;

    #[test]
    fn ranges_are_bounded_and_default_to_thirty_days() {
        let today = NOW / DAY_SECONDS;
        assert_eq!(range(None, None, NOW).unwrap(), (today - 29, today));
        assert_eq!(
            range(Some("2026-12-01"), Some("2026-12-06"), NOW).unwrap(),
            (today - 5, today)
        );
        let param = |r: Result<(i64, i64), ApiError>| match r.unwrap_err() {
            ApiError::InvalidRequest { param, .. } => param.unwrap(),
            e => panic!("{e:?}"),
        };
        assert_eq!(
            param(range(Some("2026-12-07"), Some("2026-12-06"), NOW)),
            "start"
        );
        assert_eq!(param(range(Some("2026-01-01"), None, NOW)), "start");
        assert_eq!(param(range(None, Some("yesterday"), NOW)), "end");
    }
}
