//! The admin API: users, grants, roles and usage.

use super::*;
use crate::domain::accounts::{Role, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user as admins see it.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    pub email: String,
    pub role: Role,
    /// Unix seconds.
    pub created_at: i64,
    pub referral_code: String,
    /// The user id of the referrer, if the user signed up with a referral code.
    pub referred_by: Option<String>,
    pub credits: Credits,
    pub disabled: bool,
    /// Unix seconds; null while the account is enabled.
    pub disabled_at: Option<i64>,
}

impl From<&UserRecord> for AdminUser {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            role: u.role,
            created_at: u.created_at,
            referral_code: u.referral_code.clone(),
            referred_by: u.referred_by.clone(),
            credits: Credits {
                available: u.credits.available,
                earned: u.credits.earned,
                spent: u.credits.spent,
            },
            disabled: u.disabled_at.is_some(),
            disabled_at: u.disabled_at,
        }
    }
}

/// `GET /v1/admin/users`.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AdminUserList {
    pub object: String,
    pub data: Vec<AdminUser>,
    pub has_more: bool,
    /// Pass as `cursor` (with the same `q`) for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/admin/users/{id}`: the user and the admin actions on it, newest first.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AdminUserDetail {
    pub user: AdminUser,
    pub audit: Vec<crate::domain::admin::AuditEntry>,
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct GrantCreditsRequest {
    /// Credits to add (positive) or take away (negative), not zero; the balance never goes
    /// below zero.
    #[schema(minimum = -1000000, maximum = 1000000)]
    #[serde(deserialize_with = "whole_number_i64")]
    pub amount: i64,
    /// Shown to the user in their ledger, and kept in the audit entry.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub reason: String,
}

/// `POST /v1/admin/users/{id}/credits`.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct CreditGrant {
    pub user_id: String,
    pub amount: i64,
    /// The balance after the change.
    pub credits: Credits,
    /// The audit entry (and ledger line) of the change.
    pub audit_id: String,
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    /// Read as text and checked by hand: a wrong type is then a 400 naming `role` too.
    #[schema(value_type = Role)]
    pub role: String,
}

/// One UTC day of paid work across all users.
#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq)]
pub struct UsageDay {
    /// `yyyy-mm-dd` (UTC).
    pub date: String,
    /// Paid requests settled: image requests and video jobs.
    pub generations: i64,
    /// Images and videos delivered by them.
    pub images: i64,
    /// Credits charged for them.
    pub credits: i64,
    /// The same per model and the vendor that served it, with what it cost us.
    pub served: Vec<ServedDay>,
}

/// One model served by one vendor in a day: what it was charged and what it cost.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct ServedDay {
    pub model: String,
    /// `local`, `openai`, `stability`, `replicate` or `fal`.
    pub vendor: String,
    pub generations: i64,
    pub images: i64,
    pub credits: i64,
    /// What those credits sell for (`credit_price_usd` each).
    pub revenue_usd: f64,
    /// What the vendor charged for the priced generations: from the tokens it reported
    /// (OpenAI's GPT image models) or this catalog's per-image price.
    pub vendor_cost_usd: f64,
    /// Generations whose cost neither the vendor reported nor the catalog prices.
    pub unpriced: i64,
    /// Revenue less vendor cost; `null` while any generation is unpriced.
    pub margin_usd: Option<f64>,
}

/// `GET /v1/admin/usage`: every day of the period, oldest first (days without work are zeros).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct UsageReport {
    pub object: String,
    pub days: u32,
    pub data: Vec<UsageDay>,
    pub total: UsageTotal,
    /// What one credit sells for (the deployment's `CreditPriceMicros`).
    pub credit_price_usd: f64,
    /// The period's revenue, vendor cost and margin (`null` while any generation is unpriced).
    pub revenue_usd: f64,
    pub vendor_cost_usd: f64,
    pub margin_usd: Option<f64>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct UsageTotal {
    pub generations: i64,
    pub images: i64,
    pub credits: i64,
}

/// `GET /v1/usage`: the account's paid work per UTC day as charged (refunds taken back), so the
/// credits add up to the ledger's lines of those days.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AccountUsage {
    /// Always `usage`.
    pub object: String,
    /// First day, `yyyy-mm-dd` (UTC).
    pub start: String,
    /// Last day, `yyyy-mm-dd` (UTC).
    pub end: String,
    pub total: UsageTotal,
    /// The range's credits and images per model.
    pub models: Vec<UsageShare>,
    /// The range's credits and images per API key id, `session` (signed-in use) or `queue`.
    pub spent_by: Vec<UsageShare>,
    /// Every day of the range, oldest first (days without work are zeros).
    pub data: Vec<AccountUsageDay>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct AccountUsageDay {
    /// `yyyy-mm-dd` (UTC).
    pub date: String,
    /// Paid requests: image requests and videos.
    pub generations: i64,
    pub images: i64,
    pub credits: i64,
    pub models: Vec<UsageShare>,
    pub spent_by: Vec<UsageShare>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct UsageShare {
    /// A model id; or an API key id, `session` or `queue`.
    pub id: String,
    pub credits: i64,
    pub images: i64,
}
