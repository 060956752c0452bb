//! Wire types of the accounts API: what handlers parse and answer, and what `/v1/doc` describes.
//! Request types holding secrets deliberately do not derive `Debug`.

use crate::domain::accounts::Role;
use crate::ports::{ApiKeyRecord, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ada")]
    pub username: String,
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 8 to 128 characters; stored only as an argon2id hash and never echoed.
    #[schema(format = Password)]
    pub password: String,
    #[serde(default)]
    pub referral_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Either `username` or `email`.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
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
    pub refresh_token: String,
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
    pub email: String,
    pub role: Role,
    /// Unix seconds.
    pub created_at: i64,
    pub referral_code: String,
    pub credits: Credits,
}

impl From<&UserRecord> for UserResponse {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            role: u.role,
            created_at: u.created_at,
            referral_code: u.referral_code.clone(),
            credits: Credits {
                available: u.credits.available,
                earned: u.credits.earned,
                spent: u.credits.spent,
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
    pub name: Option<String>,
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
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ApiKeyInfo {
    pub id: String,
    pub object: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<&ApiKeyRecord> for ApiKeyInfo {
    fn from(k: &ApiKeyRecord) -> Self {
        Self {
            id: k.id.clone(),
            object: "api_key".into(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ApiKeyList {
    pub object: String,
    pub data: Vec<ApiKeyInfo>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct Deleted {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

/// The body of every error response.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}
