//! Account rules: what a valid username, email and password are, and who is an admin.

pub use crate::domain::key_policy::{KeyPolicy, KeySpend, Scope};
use crate::error::ApiError;
use serde::{Deserialize, Serialize};

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 8;
/// Bounded so a huge password cannot make argon2 a denial-of-service lever.
pub const PASSWORD_MAX: usize = 128;
pub const EMAIL_MAX: usize = 254;
pub const API_KEY_NAME_MAX: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// Admins are bootstrapped from deploy-time configuration, never from request input.
    pub fn for_new_user(username: &str, admin_usernames: &[String]) -> Self {
        if admin_usernames
            .iter()
            .any(|a| a == &username.to_lowercase())
        {
            Role::Admin
        } else {
            Role::User
        }
    }
}

/// Usernames keep the case the user chose; uniqueness is case-insensitive.
pub fn validate_username(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let len = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(ApiError::invalid(
            "username",
            format!("username must be {USERNAME_MIN} to {USERNAME_MAX} characters long"),
        ));
    }
    if !name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ApiError::invalid(
            "username",
            "username may contain only letters, digits, '_', '-' and '.', and must start with a letter or digit",
        ));
    }
    Ok(name.to_string())
}

/// A deliberately modest check: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Returned lower-cased, which is also the uniqueness key.
pub fn validate_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let invalid = || {
        ApiError::invalid(
            "email",
            "email must be a valid address like name@example.com",
        )
    };
    if email.chars().count() > EMAIL_MAX
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return Err(invalid());
    }
    Ok(email)
}

pub fn validate_password(password: &str) -> Result<(), ApiError> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(ApiError::invalid(
            "password",
            format!("password must be at least {PASSWORD_MIN} characters long"),
        ));
    }
    if len > PASSWORD_MAX {
        return Err(ApiError::invalid(
            "password",
            format!("password must be at most {PASSWORD_MAX} characters long"),
        ));
    }
    if password.trim().is_empty() {
        return Err(ApiError::invalid("password", "password must not be blank"));
    }
    Ok(())
}

pub fn validate_api_key_name(raw: Option<&str>) -> Result<String, ApiError> {
    let name = raw.unwrap_or("").trim();
    if name.is_empty() {
        return Ok("default".to_string());
    }
    if name.chars().count() > API_KEY_NAME_MAX || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            format!("name must be at most {API_KEY_NAME_MAX} printable characters"),
        ));
    }
    Ok(name.to_string())
}

/// A login identifier: `username` or `email`, exactly one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginId {
    Username(String),
    Email(String),
}

impl LoginId {
    pub fn from_fields(username: Option<&str>, email: Option<&str>) -> Result<Self, ApiError> {
        let username = username.map(str::trim).filter(|s| !s.is_empty());
        let email = email.map(str::trim).filter(|s| !s.is_empty());
        match (username, email) {
            (Some(_), Some(_)) => Err(ApiError::invalid(
                "username",
                "send either username or email, not both",
            )),
            (Some(u), None) => Ok(LoginId::Username(u.to_lowercase())),
            (None, Some(e)) => Ok(LoginId::Email(e.to_lowercase())),
            (None, None) => Err(ApiError::missing("username")),
        }
    }

    /// Whether an account could have this name: longer ones cannot exist (and must not reach
    /// a storage key).
    pub fn is_plausible(&self) -> bool {
        match self {
            LoginId::Username(u) => u.chars().count() <= USERNAME_MAX,
            LoginId::Email(e) => e.chars().count() <= EMAIL_MAX,
        }
    }
}

/// Which unique name of a new account another account already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Username,
    Email,
    /// The provider identity was linked to an account meanwhile.
    Identity,
}

impl Taken {
    /// The answer a client gets: 409 naming the field. Revealing a taken email is a decision
    /// (see the README's accounts section): without a mail channel, nothing else lets the
    /// owner learn why sign-up failed.
    pub fn conflict(self) -> ApiError {
        let (param, message) = match self {
            Taken::Username => ("username", "username is already taken"),
            Taken::Email => ("email", "email is already registered; sign in instead"),
            Taken::Identity => (
                "sign_to",
                "this sign-in is already linked to another account",
            ),
        };
        ApiError::Conflict {
            message: message.into(),
            param: Some(param.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    /// Empty for an account a provider created whose email was another account's.
    pub email: String,
    /// Empty for an account that only signs in with a provider.
    pub password_hash: String,
    /// The person's name, as a provider gave it.
    pub name: Option<String>,
    pub role: Role,
    pub created_at: i64,
    pub referral_code: String,
    pub referred_by: Option<String>,
    /// When the referrer was rewarded for this user's first paid generation (once, ever).
    pub referral_rewarded_at: Option<i64>,
    pub credits: CreditBalance,
    /// Set by an admin: every credential of the account is refused while it is.
    pub disabled_at: Option<i64>,
    /// Bytes of the assets the account stores (images, videos, uploads, versions): what its
    /// storage quota counts. Thumbnails and previews are not counted.
    pub storage_bytes: u64,
}

/// What became of a referrer's reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reward {
    Granted,
    /// Rewarded before (a racing first generation won).
    AlreadyGiven,
    /// The referrer reached this month's cap: nothing granted, and nothing later either.
    CapReached,
}
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreditBalance {
    pub available: i64,
    pub earned: i64,
    pub spent: i64,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: String,
    pub role: Role,
    pub revoked: bool,
}
/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old token is spent; the new one is live in the same session.
    Rotated(SessionRecord),
    /// The token was already used: the whole family has been revoked.
    ReuseDetected,
    /// Unknown, expired, or its session was signed out.
    Invalid,
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub user_id: String,
    pub role: Role,
    pub name: String,
    pub prefix: String,
    pub hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub policy: KeyPolicy,
    /// Raised by every change of the policy: a request admitted with an older one reloads it.
    pub version: u32,
    /// Credits spent this UTC day and month (as listed; zero elsewhere).
    pub spent_day: i64,
    pub spent_month: i64,
}
/// The credential a request presents, as it must still be live for the request to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live<'a> {
    /// An access token of this session (not signed out, not revoked by a refresh reuse).
    Session(&'a str),
    /// This API key (not revoked, its policy still at `version`); its last use is recorded by
    /// the same write, and with `hourly`, the request counts in the key's own window too.
    ApiKey {
        id: &'a str,
        version: u32,
        hourly: Option<u32>,
    },
}

/// Whether a request is let in: its credential is still live and the user's window has room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted(RateWindow),
    Limited(RateWindow),
    /// The key's own hourly limit is reached.
    KeyLimited(RateWindow),
    /// The key's policy changed since it was read: read it again.
    Stale,
    Revoked,
    /// The account is disabled: every credential of it fails at once.
    Disabled,
}

/// When the fixed window of `secs` seconds that `now` falls in started.
pub fn window_start(now: i64, secs: i64) -> i64 {
    now - now.rem_euclid(secs)
}

/// The state of a user's request window after counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    pub limit: u32,
    pub used: u32,
    /// Unix time at which the window resets.
    pub reset_at: i64,
}

/// Who is calling, once their credentials have been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub role: Role,
    pub credential: Credential,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token of this session (refresh-token family).
    Session { session_id: String },
    ApiKey {
        key_id: String,
        policy: KeyPolicy,
        version: u32,
    },
    /// A submission of the generation queue (another system of the deployment, on the user's
    /// behalf).
    Queue,
}

impl Principal {
    /// A 403 naming the scope unless the credential has it (sessions have every scope).
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        match &self.credential {
            Credential::ApiKey { policy, .. } if !policy.allows(scope) => {
                Err(ApiError::Forbidden {
                    message: format!(
                        "this API key lacks the '{}' scope this request needs; its scopes: {}",
                        scope.as_str(),
                        policy
                            .scopes
                            .iter()
                            .flatten()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    code: "insufficient_scope",
                })
            }
            _ => Ok(()),
        }
    }

    /// A 403 unless the credential may use `model` (an id, aliases resolved).
    pub fn may_use(&self, model: &str) -> Result<(), ApiError> {
        match &self.credential {
            Credential::ApiKey { policy, .. } => policy.check_model(model),
            Credential::Session { .. } | Credential::Queue => Ok(()),
        }
    }

    /// What a charge by this credential counts against (API keys only).
    pub fn key_spend(&self, now: i64) -> Option<KeySpend> {
        match &self.credential {
            Credential::ApiKey { key_id, policy, .. } => {
                Some(KeySpend::new(key_id, policy.budget, now))
            }
            Credential::Session { .. } | Credential::Queue => None,
        }
    }

    /// Who spent, as a ledger line names it: the API key's id or the session's.
    pub fn spender(&self) -> Spender {
        match &self.credential {
            Credential::ApiKey { key_id, .. } => Spender::ApiKey(key_id.clone()),
            Credential::Session { session_id } => Spender::Session(session_id.clone()),
            Credential::Queue => Spender::Queue,
        }
    }
}

/// The credential a ledger line was spent by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spender {
    ApiKey(String),
    Session(String),
    Queue,
}

impl Spender {
    /// Stored as one attribute: `api_key:<id>`, `session:<id>` or `queue:generation`.
    pub fn encode(&self) -> String {
        match self {
            Spender::ApiKey(id) => format!("api_key:{id}"),
            Spender::Session(id) => format!("session:{id}"),
            Spender::Queue => "queue:generation".into(),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        match s.split_once(':')? {
            ("api_key", id) => Some(Spender::ApiKey(id.into())),
            ("session", id) => Some(Spender::Session(id.into())),
            ("queue", _) => Some(Spender::Queue),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(e: ApiError) -> Option<String> {
        match e {
            ApiError::InvalidRequest { param, .. } => param,
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn usernames() {
        assert_eq!(validate_username(" Ada_99 ").unwrap(), "Ada_99");
        for bad in [
            "ab",
            "",
            "-ada",
            "ada lovelace",
            "ädä",
            &"a".repeat(33),
            "a/b",
        ] {
            assert_eq!(
                param(validate_username(bad).unwrap_err()).as_deref(),
                Some("username"),
                "{bad}"
            );
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            validate_email(" Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            "a@.com",
            "a@b..com",
        ] {
            assert_eq!(
                param(validate_email(bad).unwrap_err()).as_deref(),
                Some("email"),
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords() {
        assert!(validate_password("correct horse").is_ok());
        for bad in ["short", "        ", &"x".repeat(129)] {
            assert_eq!(
                param(validate_password(bad).unwrap_err()).as_deref(),
                Some("password")
            );
        }
    }

    #[test]
    fn admins_come_from_configuration_case_insensitively() {
        let admins = vec!["root".to_string()];
        assert_eq!(Role::for_new_user("Root", &admins), Role::Admin);
        assert_eq!(Role::for_new_user("rooty", &admins), Role::User);
    }

    #[test]
    fn login_needs_exactly_one_identifier() {
        assert_eq!(
            LoginId::from_fields(Some("Ada"), None).unwrap(),
            LoginId::Username("ada".into())
        );
        assert_eq!(
            LoginId::from_fields(None, Some("A@X.io")).unwrap(),
            LoginId::Email("a@x.io".into())
        );
        assert!(LoginId::from_fields(None, None).is_err());
        assert!(LoginId::from_fields(Some("a"), Some("b@c.d")).is_err());
    }

    #[test]
    fn api_key_names() {
        assert_eq!(validate_api_key_name(None).unwrap(), "default");
        assert_eq!(validate_api_key_name(Some(" ci ")).unwrap(), "ci");
        assert!(validate_api_key_name(Some(&"n".repeat(65))).is_err());
    }
}
