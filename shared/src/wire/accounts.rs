//! Accounts: registration, sign-in tokens, the user, API keys, credits and referrals.

use crate::domain::accounts::{ApiKeyRecord, Role, UserRecord};
use crate::domain::key_policy::{Budget, KeyPolicy, Period, Scope, Whole, period_of};
use crate::wire::present;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3 to 32 letters, digits, `_`, `-` or `.`, starting with a letter or digit.
    #[schema(example = "ada", pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    pub username: String,
    #[schema(
        example = "ada@example.com",
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s.\x00-\x1f\x7f-\x9f]+(\.[^@\s.\x00-\x1f\x7f-\x9f]+)+$"
    )]
    pub email: String,
    /// 8 to 128 characters, not all blank; stored only as an argon2id hash and never echoed.
    #[schema(format = Password, min_length = 8, max_length = 128, pattern = r"\S")]
    pub password: String,
    #[serde(default)]
    pub referral_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Either `username` or `email`.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 32, pattern = r"\S")]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 254, pattern = r"\S")]
    pub email: Option<String>,
    #[schema(format = Password, min_length = 1)]
    pub password: String,
    /// `cookie` (the web pages): the refresh token is set as an HttpOnly cookie for
    /// `/v1/auth/refresh` instead of answered. Default `body`.
    #[serde(default)]
    #[schema(pattern = "^(body|cookie)$")]
    pub refresh_token_in: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(min_length = 1, pattern = r"\S")]
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SignoutRequest {
    /// Also revoke the session this refresh token belongs to (if it is the caller's).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct TokenResponse {
    pub access_token: String,
    /// Absent when it travels in the `refresh_token` cookie instead (the web pages): scripts
    /// never see it there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
    /// Lifetime of the refresh token in seconds.
    pub refresh_expires_in: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credits {
    pub available: i64,
    pub earned: i64,
    pub spent: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct UserResponse {
    pub id: String,
    pub username: String,
    /// Empty for an account a provider created whose email was another account's.
    pub email: String,
    /// The name a sign-in provider gave, if any.
    pub name: Option<String>,
    pub role: Role,
    /// Unix seconds.
    pub created_at: i64,
    pub referral_code: String,
    pub credits: Credits,
    pub storage: Storage,
}

/// What the account stores, against its quota.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct Storage {
    /// Bytes of the images, videos and uploads it stores (every version counts).
    pub used_bytes: u64,
    /// Past this, work that stores more is refused (403 `storage_quota_exceeded`).
    pub quota_bytes: u64,
}

impl UserResponse {
    /// The account as its owner sees it, with the deployment's storage quota.
    pub fn of(u: &UserRecord, storage_quota: u64) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            created_at: u.created_at,
            referral_code: u.referral_code.clone(),
            credits: Credits {
                available: u.credits.available,
                earned: u.credits.earned,
                spent: u.credits.spent,
            },
            storage: Storage {
                used_bytes: u.storage_bytes,
                quota_bytes: storage_quota,
            },
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct SignoutResponse {
    pub signed_out: bool,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label to recognise the key by; defaults to "default".
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
    /// What the key may do; left out, everything a session may do except manage keys.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub scopes: Option<Vec<Scope>>,
    /// The models it may use (ids or aliases); left out, every model.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 50)]
    pub models: Option<Vec<String>>,
    /// Credits it may spend per UTC day or month, counted in the same write as each charge.
    #[serde(default)]
    pub budget: Option<Budget>,
    /// Requests per hour, at most the account's (which the key's requests count in too).
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 4294967295_i64)]
    pub rate_limit_per_hour: Option<Whole>,
    /// When it stops working (Unix seconds, in the future).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub expires_at: Option<Whole>,
}

/// `PATCH /v1/api-keys/{id}`: the fields sent replace the key's; `null` removes a limit.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKeyRequest {
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable, min_items = 1)]
    pub scopes: Option<Option<Vec<Scope>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable, min_items = 1, max_items = 50)]
    pub models: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable)]
    pub budget: Option<Option<Budget>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable, minimum = 1, maximum = 4294967295_i64)]
    pub rate_limit_per_hour: Option<Option<Whole>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, nullable)]
    pub expires_at: Option<Option<Whole>>,
}

/// A key's limits and its spend, as listed.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct ApiKeyLimits {
    /// `null`: every scope.
    pub scopes: Option<Vec<Scope>>,
    /// `null`: every model.
    pub models: Option<Vec<String>>,
    pub budget: Option<Budget>,
    pub rate_limit_per_hour: Option<u32>,
    pub expires_at: Option<i64>,
    /// The only URL the key works at: the MCP endpoint, for a key an MCP client was given
    /// through OAuth (its name is the client's). Absent for keys made here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

impl From<&KeyPolicy> for ApiKeyLimits {
    fn from(p: &KeyPolicy) -> Self {
        Self {
            scopes: p.scopes.clone(),
            models: p.models.clone(),
            budget: p.budget,
            rate_limit_per_hour: p.rate_limit_per_hour,
            expires_at: p.expires_at,
            resource: p.resource.clone(),
        }
    }
}

/// The only response that ever contains the key itself.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ApiKeyCreated {
    pub id: String,
    pub object: String,
    pub name: String,
    /// Shown once: store it now.
    pub key: String,
    pub prefix: String,
    pub created_at: i64,
    #[serde(flatten)]
    pub limits: ApiKeyLimits,
}

/// Credits a key has spent in the current UTC periods.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct ApiKeySpend {
    pub day: i64,
    pub month: i64,
    /// What is left of its budget this period (`null` without a budget).
    pub budget_remaining: Option<i64>,
    /// When the budget's period ends (Unix seconds).
    pub budget_resets_at: Option<i64>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ApiKeyInfo {
    pub id: String,
    pub object: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    #[serde(flatten)]
    pub limits: ApiKeyLimits,
    pub spend: ApiKeySpend,
}

impl From<&ApiKeyRecord> for ApiKeyInfo {
    fn from(k: &ApiKeyRecord) -> Self {
        let now = crate::domain::now_epoch();
        let budget = k.policy.budget.map(|b| {
            let spent = match b.period {
                Period::Day => k.spent_day,
                Period::Month => k.spent_month,
            };
            ((b.credits - spent).max(0), period_of(b.period, now).1)
        });
        Self {
            id: k.id.clone(),
            object: "api_key".into(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            limits: (&k.policy).into(),
            spend: ApiKeySpend {
                day: k.spent_day,
                month: k.spent_month,
                budget_remaining: budget.map(|b| b.0),
                budget_resets_at: budget.map(|b| b.1),
            },
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ApiKeyList {
    pub object: String,
    pub data: Vec<ApiKeyInfo>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct LedgerItem {
    pub id: String,
    pub delta: i64,
    /// `signup`, `referral_signup`, `referral`, `generation`, `refund` or `admin_grant`.
    pub reason: String,
    /// The generation, the referred user, or the admin's user id.
    pub reference: Option<String>,
    /// The reason an admin gave for a grant or deduction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at: i64,
    /// The API key that spent (or was refunded), for lines of paid work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
    /// The signed-in session that spent, for lines of paid work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

impl From<crate::domain::billing::LedgerEntry> for LedgerItem {
    fn from(e: crate::domain::billing::LedgerEntry) -> Self {
        use crate::domain::accounts::Spender;
        let by = e.by.as_deref().and_then(Spender::decode);
        Self {
            id: e.id,
            delta: e.delta,
            reason: e.reason,
            reference: e.reference,
            note: e.note,
            created_at: e.created_at,
            api_key_id: match &by {
                Some(Spender::ApiKey(id)) => Some(id.clone()),
                _ => None,
            },
            session_id: match &by {
                Some(Spender::Session(id)) => Some(id.clone()),
                _ => None,
            },
        }
    }
}

/// `GET /v1/referral-link`.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ReferralLink {
    /// Given as `referral_code` when registering.
    pub code: String,
    /// The link to share: the web pages with the code filled in.
    pub url: String,
    /// What a new user registering with the code gets on top of the signup credits.
    pub signup_credits: i64,
    /// What the referrer earns when the new user completes a first paid generation.
    pub referrer_credits: i64,
    /// The most rewards a referrer earns in a UTC month.
    pub monthly_cap: u32,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct CreditResponse {
    pub available: i64,
    pub earned: i64,
    pub spent: i64,
    /// The most recent entries, newest first.
    pub ledger: Vec<LedgerItem>,
}
