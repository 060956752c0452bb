//! Credentials: password hashing (argon2id), access tokens (HS256 JWT, algorithm pinned),
//! opaque refresh tokens and API keys (random, stored as SHA-256).

use crate::config::Config;
use crate::domain::accounts::{ApiKeyRecord, SessionRecord};
use crate::domain::accounts::{CreditBalance, RateWindow, Role, UserRecord};
use crate::domain::now_epoch;
use crate::error::ApiError;
use crate::ports::Sessions;
use crate::usecases::Deps;
use crate::wire::TokenResponse;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{LazyLock, Mutex};

pub const API_KEY_PREFIX: &str = "sk-";
pub const REFRESH_TOKEN_PREFIX: &str = "rt_";

/// Hashes with argon2id and its recommended parameters; CPU-heavy, so off the async executor.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&random_bytes::<16>()).map_err(ApiError::internal)?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Verifies a password; with `None` (unknown user) it still spends the same work on a dummy
/// hash so response time does not reveal which usernames exist.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let ok = PasswordHash::new(&phc)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && ok
    })
    .await
    .map_err(ApiError::internal)
}

static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("salt");
    Argon2::default()
        .hash_password(b"timing-equaliser", &salt)
        .expect("argon2 with default params")
        .to_string()
});

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    )
}

/// An opaque refresh token (256 random bits); only its hash is stored.
pub fn new_refresh_token() -> String {
    random_token(REFRESH_TOKEN_PREFIX)
}

/// An API key `sk-...` (256 random bits); shown once, only its hash is stored.
pub fn new_api_key() -> String {
    random_token(API_KEY_PREFIX)
}

/// What is displayed for a key after creation: enough to recognise it, useless to an attacker.
pub fn api_key_display_prefix(key: &str) -> String {
    key.chars().take(API_KEY_PREFIX.len() + 6).collect()
}

/// High-entropy secrets need no slow hash: SHA-256 makes the stored value useless if leaked.
pub fn token_hash(token: &str) -> String {
    token_hash_bytes(token.as_bytes())
}

pub fn token_hash_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A referral code: 10 characters from an alphabet without look-alikes (no 0/O, 1/I/L).
pub fn new_referral_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    random_bytes::<10>()
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The user a referral code names (`None` without a code); an unknown code is a 400 on
/// `referral_code`.
pub async fn referrer_of<S: crate::ports::Accounts, B>(
    deps: &Deps<S, B>,
    referral_code: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let unknown = || {
        ApiError::invalid(
            "referral_code",
            "no referral code like this one; check it, or register without it",
        )
    };
    match referral_code.map(str::trim).filter(|c| !c.is_empty()) {
        // Codes are short: a long one is unknown without asking the store.
        Some(code) if !crate::domain::plausible_id(code) => Err(unknown()),
        Some(code) => Ok(Some(
            deps.store
                .referrer(&code.to_uppercase())
                .await?
                .ok_or_else(unknown)?,
        )),
        None => Ok(None),
    }
}

/// A new account's record (not yet stored): the signup credits, and with a known
/// `referral_code` its referrer and bonus. An unknown code is a 400 on `referral_code`.
pub async fn new_user<S: crate::ports::Accounts, B>(
    deps: &Deps<S, B>,
    username: String,
    email: String,
    password_hash: String,
    name: Option<String>,
    referral_code: Option<&str>,
) -> Result<crate::domain::accounts::UserRecord, ApiError> {
    let referred_by = referrer_of(deps, referral_code).await?;
    let bonus = if referred_by.is_some() {
        deps.config.accounts.referral_signup_credits
    } else {
        0
    };
    Ok(UserRecord {
        id: crate::domain::new_id("user"),
        role: Role::for_new_user(&username, &deps.config.accounts.admin_usernames),
        username,
        email,
        password_hash,
        name,
        created_at: crate::domain::now_epoch(),
        referral_code: new_referral_code(),
        credits: CreditBalance {
            // A referred user earns a bonus at once; its referrer earns later (see referrals).
            available: deps.config.accounts.signup_credits + bonus,
            earned: bonus,
            spent: 0,
        },
        referred_by,
        referral_rewarded_at: None,
        disabled_at: None,
        storage_bytes: 0,
    })
}

/// Starts a session (refresh-token family) for a signed-in user and returns its first tokens.
pub async fn start_session<S: Sessions, B>(
    deps: &Deps<S, B>,
    user_id: &str,
    role: Role,
) -> Result<TokenResponse, ApiError> {
    let now = crate::domain::now_epoch();
    let session = SessionRecord {
        id: crate::domain::new_id("sess"),
        user_id: user_id.to_string(),
        role,
        revoked: false,
    };
    let refresh_token = new_refresh_token();
    let refresh_ttl = deps.config.tokens.refresh_token_ttl.as_secs() as i64;
    deps.store
        .start_session(&session, &token_hash(&refresh_token), now + refresh_ttl)
        .await?;
    token_response(&deps.config, &session, refresh_token, now).await
}

/// Signs an access token for `session` and pairs it with `refresh_token`.
pub async fn token_response(
    config: &Config,
    session: &SessionRecord,
    refresh_token: String,
    now: i64,
) -> Result<TokenResponse, ApiError> {
    let (access_token, expires_in) =
        issue_access_token(config, &session.user_id, &session.id, session.role, now).await?;
    Ok(TokenResponse {
        access_token,
        refresh_token: Some(refresh_token),
        token_type: "Bearer".into(),
        expires_in,
        refresh_expires_in: config.tokens.refresh_token_ttl.as_secs() as i64,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Session (refresh-token family) id: sign-out revokes it, and with it this token.
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub role: Role,
}

pub const JWT_ALGORITHM: Algorithm = Algorithm::HS256;

/// Signs a short-lived access token; returns it with its lifetime in seconds.
pub async fn issue_access_token(
    config: &Config,
    user_id: &str,
    session_id: &str,
    role: Role,
    now: i64,
) -> Result<(String, i64), ApiError> {
    let ttl = config.tokens.access_token_ttl.as_secs() as i64;
    let claims = Claims {
        iss: config.tokens.jwt_issuer.clone(),
        aud: config.tokens.jwt_audience.clone(),
        sub: user_id.to_string(),
        sid: session_id.to_string(),
        jti: uuid::Uuid::new_v4().simple().to_string(),
        iat: now,
        exp: now + ttl,
        role,
    };
    let token = jsonwebtoken::encode(
        &Header::new(JWT_ALGORITHM),
        &claims,
        &EncodingKey::from_secret(config.tokens.jwt_secret.get().await?),
    )
    .map_err(ApiError::internal)?;
    Ok((token, ttl))
}

/// Checks signature (HS256 only: `none` and every other algorithm are refused), issuer,
/// audience and expiry. Revocation is checked by the caller against the session.
pub async fn verify_access_token(config: &Config, token: &str) -> Result<Claims, ApiError> {
    let secret = config.tokens.jwt_secret.get().await?;
    let mut validation = Validation::new(JWT_ALGORITHM);
    validation.set_issuer(&[&config.tokens.jwt_issuer]);
    validation.set_audience(&[&config.tokens.jwt_audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = crate::domain::ACCESS_TOKEN_LEEWAY_SECONDS;
    jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(secret), &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => ApiError::Unauthorized {
                message: "access token has expired; refresh it at /v1/auth/refresh".into(),
                code: "token_expired",
            },
            _ => ApiError::unauthorized("invalid access token"),
        })
}

/// API keys this instance has looked up (by the key's hash): who they belong to does not
/// change, and whether they are still live, and their policy still the one read, is checked by
/// every request's admission. Bounded.
#[derive(Debug, Default)]
pub struct KnownKeys(Mutex<std::collections::HashMap<String, ApiKeyRecord>>);

const KNOWN_KEYS: usize = 10_000;

impl KnownKeys {
    pub(crate) fn get(&self, token: &str) -> Option<ApiKeyRecord> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&token_hash(token)).cloned()
    }

    pub(crate) fn remember(&self, token: &str, key: &ApiKeyRecord) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= KNOWN_KEYS {
            map.clear();
        }
        // Only what identifies and limits the key is kept.
        let known = ApiKeyRecord {
            name: String::new(),
            prefix: String::new(),
            hash: String::new(),
            last_used_at: None,
            ..key.clone()
        };
        map.insert(token_hash(token), known);
    }

    pub(crate) fn forget(&self, token: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&token_hash(token));
    }
}

/// Addresses this instance knows to be over the failed-authentication limit, until their
/// window ends. Bounded: past the cap, the oldest entries go first.
#[derive(Debug, Default)]
pub struct FailedAuth(Mutex<std::collections::HashMap<String, RateWindow>>);

const FAILED_AUTH_ENTRIES: usize = 10_000;

impl FailedAuth {
    pub(crate) fn block(&self, address: &str, window: RateWindow) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= FAILED_AUTH_ENTRIES {
            let now = now_epoch();
            map.retain(|_, w| w.reset_at > now);
            if map.len() >= FAILED_AUTH_ENTRIES
                && let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, w)| w.reset_at)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(address.to_string(), window);
    }

    pub(crate) fn refusal(&self, address: &str, now: i64) -> Option<ApiError> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let window = map.get(address).filter(|w| w.reset_at > now)?;
        Some(limited(
            *window,
            now,
            format!(
                "Too many failed authentications from this address: {} per hour.",
                window.limit
            ),
        ))
    }
}

pub(crate) fn limited(w: RateWindow, now: i64, message: String) -> ApiError {
    let retry = (w.reset_at - now).max(1) as u64;
    ApiError::RateLimited {
        message: format!("{message} Try again in {retry} seconds."),
        retry_after_secs: retry,
        limit: w.limit,
        reset_epoch: w.reset_at.max(0) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config() -> Config {
        let vars: HashMap<String, String> = [
            ("TABLE_NAME", "t"),
            ("BUCKET_NAME", "b"),
            ("QUEUE_URL", "q"),
            ("JWT_SECRET", "test-secret-test-secret-test-secret!"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        Config::from_map(&vars).unwrap()
    }

    #[tokio::test]
    async fn password_round_trip_and_unknown_user_fails() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify_password("wrong horse".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(!verify_password("correct horse".into(), None).await.unwrap());
    }

    /// The README promises argon2id at 19 MiB, t=2, and the same work for unknown users: the
    /// dummy hash an unknown user is checked against must carry the very same parameters.
    #[tokio::test]
    async fn hashes_are_argon2id_19_mib_t2_and_unknown_users_cost_the_same() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        let params = |phc: &str| {
            let parsed = PasswordHash::new(phc).unwrap();
            (
                parsed.algorithm.to_string(),
                parsed.version,
                parsed.params.to_string(),
                parsed.hash.map(|h| h.len()),
            )
        };
        let ours = params(&hash);
        assert_eq!(ours.0, "argon2id");
        assert_eq!(ours.1, Some(0x13));
        assert_eq!(ours.2, "m=19456,t=2,p=1");
        assert_eq!(params(&DUMMY_HASH), ours);
        // No password matches the dummy, not even the one it was made from.
        assert!(
            !verify_password("timing-equaliser".into(), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn access_token_round_trip() {
        let c = config();
        let now = crate::domain::now_epoch();
        let (token, ttl) = issue_access_token(&c, "user_1", "sess_1", Role::User, now)
            .await
            .unwrap();
        assert_eq!(ttl, 900);
        let claims = verify_access_token(&c, &token).await.unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str()),
            ("user_1", "sess_1")
        );
    }

    #[tokio::test]
    async fn wrong_issuer_or_secret_is_rejected() {
        let c = config();
        let now = crate::domain::now_epoch();
        let (token, _) = issue_access_token(&c, "u", "s", Role::User, now)
            .await
            .unwrap();
        let mut other = c.clone();
        other.tokens.jwt_secret =
            crate::secrets::Secret::plain("JWT_SECRET", "another-secret-another-secret-another");
        assert!(verify_access_token(&other, &token).await.is_err());
        let mut other = c.clone();
        other.tokens.jwt_issuer = "someone-else".into();
        assert!(verify_access_token(&other, &token).await.is_err());
    }

    #[test]
    fn referral_codes_use_the_unambiguous_alphabet() {
        let code = new_referral_code();
        assert_eq!(code.len(), 10);
        assert!(code.chars().all(|c| !"01OIL".contains(c)), "{code}");
        assert_ne!(code, new_referral_code());
    }

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        let (a, b) = (new_api_key(), new_api_key());
        assert_ne!(a, b);
        assert!(a.starts_with("sk-") && a.len() == 3 + 43);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert_eq!(api_key_display_prefix(&a).len(), 9);
    }
}
