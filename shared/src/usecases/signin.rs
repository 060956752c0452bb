//! Sign-in with OpenID Connect providers (Google, Microsoft, Apple), as a relying party:
//! discovery, the authorization URL (state, nonce, PKCE S256), the code exchange, the ID token
//! verified against the provider's JWKS, and the account the verified identity signs in.
//!
//! Built on `jsonwebtoken` (already verifying our own tokens) rather than the `openidconnect`
//! crate: its claim types refuse Apple's string-typed `email_verified`, and its issuer check
//! cannot express Microsoft's `{tenantid}` template, the two places this module must be exact.

use crate::config::IdentityProvider;
use crate::domain::accounts::{LoginId, Taken};
use crate::domain::signin::{
    CLOCK_SKEW_SECONDS, Idp, Pkce, SIGNIN_TTL_SECONDS, SigninState, VerifiedIdentity,
    pkce_challenge, username_for,
};
use crate::error::ApiError;
use crate::ports::Store;
use crate::usecases::Deps;
use crate::usecases::auth::{new_user, start_session, token_hash};
use crate::wire::TokenResponse;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Metadata and keys are refetched after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` refetches the keys (a rotation), but at most this often: a stream of
/// made-up key ids cannot turn into a stream of requests to the provider.
const JWKS_REFETCH_MIN: Duration = Duration::from_secs(30);
/// Provider answers read at most this large.
const ANSWER_MAX: usize = 256 * 1024;

#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

struct Keys {
    set: JwkSet,
    fetched: Instant,
}

struct Cached {
    metadata: Metadata,
    fetched: Instant,
    keys: Option<Keys>,
}

/// Per instance: providers' metadata and keys, by issuer.
static CACHE: LazyLock<Mutex<HashMap<String, Cached>>> = LazyLock::new(Default::default);

static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
});

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::Unauthorized {
        message: message.into(),
        code: "invalid_id_token",
    }
}

fn unreachable_provider(idp: Idp, e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(provider = idp.as_str(), error = %e, "identity provider failed");
    ApiError::Provider {
        status: http::StatusCode::BAD_GATEWAY,
        message: format!(
            "{} did not answer as expected; try again in a moment",
            idp.as_str()
        ),
        retry_after_secs: None,
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(idp: Idp, url: &str) -> Result<T, ApiError> {
    let resp = HTTP
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| unreachable_provider(idp, e))?;
    read_json(idp, resp).await
}

async fn read_json<T: serde::de::DeserializeOwned>(
    idp: Idp,
    mut resp: reqwest::Response,
) -> Result<T, ApiError> {
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| unreachable_provider(idp, e))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > ANSWER_MAX {
            return Err(unreachable_provider(idp, "answer too large"));
        }
    }
    if !status.is_success() {
        return Err(unreachable_provider(idp, format!("HTTP {status}")));
    }
    serde_json::from_slice(&body).map_err(|e| unreachable_provider(idp, e))
}

/// The provider's metadata, checked to be the configured issuer's (Microsoft's multi-tenant
/// metadata names a `{tenantid}` template instead).
async fn metadata(p: &IdentityProvider) -> Result<Metadata, ApiError> {
    if let Some(c) = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&p.issuer)
        && c.fetched.elapsed() < METADATA_TTL
    {
        return Ok(c.metadata.clone());
    }
    let url = format!("{}/.well-known/openid-configuration", p.issuer);
    let m: Metadata = get_json(p.idp, &url).await?;
    // Microsoft's `common` and `organizations` metadata name a `{tenantid}` template, and
    // `consumers` names the consumer tenant's own issuer: on its configured host, either is
    // Microsoft's word (tokens are then checked against what the metadata says).
    let same_host = |a: &str, b: &str| {
        let host = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
        host(a).is_some() && host(a) == host(b)
    };
    let microsofts = p.idp == Idp::Microsoft && same_host(&m.issuer, &p.issuer);
    if m.issuer.trim_end_matches('/') != p.issuer && !microsofts {
        return Err(unreachable_provider(
            p.idp,
            format!("metadata names issuer {:?}, not {:?}", m.issuer, p.issuer),
        ));
    }
    CACHE.lock().unwrap_or_else(|e| e.into_inner()).insert(
        p.issuer.clone(),
        Cached {
            metadata: m.clone(),
            fetched: Instant::now(),
            keys: None,
        },
    );
    Ok(m)
}

/// The signing key `kid` names, refetching the provider's keys once (bounded) when it is not
/// among those known.
async fn key_for(p: &IdentityProvider, m: &Metadata, kid: &str) -> Result<Jwk, ApiError> {
    // The key, if the keys fetched within the hour have it, and how old those keys are.
    let known = {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&p.issuer)
            .and_then(|c| c.keys.as_ref())
            .filter(|keys| keys.fetched.elapsed() < METADATA_TTL)
            .map(|keys| (keys.set.find(kid).cloned(), keys.fetched.elapsed()))
    };
    match known {
        Some((Some(key), _)) => return Ok(key),
        Some((None, age)) if age < JWKS_REFETCH_MIN => {
            return Err(refused(
                "the ID token is signed with a key the provider does not publish",
            ));
        }
        _ => {}
    }
    let set: JwkSet = get_json(p.idp, &m.jwks_uri).await?;
    let key = set.find(kid).cloned();
    if let Some(c) = CACHE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_mut(&p.issuer)
    {
        c.keys = Some(Keys {
            set,
            fetched: Instant::now(),
        });
    }
    key.ok_or_else(|| refused("the ID token is signed with a key the provider does not publish"))
}

/// The asymmetric algorithms the provider declares (RS256 when it declares none, as the
/// standard says); `none` and HMAC are never among them.
fn allowed_algorithms(m: &Metadata) -> Vec<Algorithm> {
    const ASYMMETRIC: [Algorithm; 8] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
    ];
    if m.id_token_signing_alg_values_supported.is_empty() {
        return vec![Algorithm::RS256];
    }
    ASYMMETRIC
        .into_iter()
        .filter(|a| {
            m.id_token_signing_alg_values_supported
                .iter()
                .any(|s| s == &format!("{a:?}"))
        })
        .collect()
}

/// `true`/`false` as Google and Microsoft send them, or `"true"`/`"false"` as Apple does.
fn truthy(v: &Option<serde_json::Value>) -> bool {
    match v {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s == "true",
        _ => false,
    }
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    aud: serde_json::Value,
    iat: i64,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
    /// Microsoft: the tenant, which the issuer must name.
    #[serde(default)]
    tid: Option<String>,
}

/// Verifies an ID token: signature with the provider's published key and a declared
/// asymmetric algorithm, `iss`, `aud` (and `azp`), `exp`, `iat`, and `nonce` when one was sent.
pub async fn verify_id_token(
    p: &IdentityProvider,
    token: &str,
    nonce: Option<&str>,
) -> Result<VerifiedIdentity, ApiError> {
    let m = metadata(p).await?;
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| refused("the ID token is not a signed JWT"))?;
    if !allowed_algorithms(&m).contains(&header.alg) {
        return Err(refused(format!(
            "the ID token's algorithm {:?} is not one the provider declares",
            header.alg
        )));
    }
    let kid = header
        .kid
        .as_deref()
        .ok_or_else(|| refused("the ID token names no signing key"))?;
    let jwk = key_for(p, &m, kid).await?;
    if jwk
        .common
        .key_algorithm
        .is_some_and(|a| format!("{a:?}") != format!("{:?}", header.alg))
    {
        return Err(refused("the ID token's algorithm is not its key's"));
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| refused("unusable signing key"))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = CLOCK_SKEW_SECONDS;
    validation.set_audience(&[&p.client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let templated = m.issuer.contains("{tenantid}");
    if !templated {
        let mut issuers = vec![m.issuer.clone()];
        // Google's tokens may name the issuer without its scheme.
        if p.idp == Idp::Google
            && let Some(bare) = m.issuer.strip_prefix("https://")
        {
            issuers.push(bare.to_string());
        }
        validation.set_issuer(&issuers);
    }
    let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
        .map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            refused(match e.kind() {
                ErrorKind::ExpiredSignature => "the ID token has expired",
                ErrorKind::InvalidAudience => "the ID token was issued to another client",
                ErrorKind::InvalidIssuer => "the ID token was issued by another issuer",
                ErrorKind::InvalidSignature => "the ID token's signature does not verify",
                _ => "the ID token is not valid",
            })
        })?
        .claims;
    if templated {
        let tid = claims
            .tid
            .as_deref()
            .ok_or_else(|| refused("the ID token names no tenant (tid)"))?;
        if claims.iss != m.issuer.replace("{tenantid}", tid) {
            return Err(refused("the ID token's issuer is not its tenant's"));
        }
        if !p.tenants.is_empty() && !p.tenants.iter().any(|t| t == tid) {
            return Err(refused("accounts of this tenant may not sign in here"));
        }
    }
    let now = crate::domain::now_epoch();
    if claims.iat > now + CLOCK_SKEW_SECONDS as i64 {
        return Err(refused("the ID token is issued in the future"));
    }
    let audiences = claims.aud.as_array().map_or(1, Vec::len);
    if audiences > 1 && claims.azp.as_deref() != Some(p.client_id.as_str()) {
        return Err(refused("the ID token was issued to another client"));
    }
    if let Some(expected) = nonce
        && claims.nonce.as_deref() != Some(expected)
    {
        return Err(refused("the ID token's nonce is not this sign-in's"));
    }
    let email = claims
        .email
        .filter(|_| truthy(&claims.email_verified))
        .and_then(|e| crate::domain::accounts::validate_email(&e).ok());
    let name = claims
        .name
        .map(|n| n.trim().chars().take(100).collect::<String>())
        .filter(|n| !n.is_empty() && !n.chars().any(char::is_control));
    if claims.sub.is_empty() || claims.sub.len() > 255 {
        return Err(refused("the ID token's subject is not usable"));
    }
    Ok(VerifiedIdentity {
        provider: p.idp,
        subject: claims.sub,
        email,
        name,
        expires_at: claims.exp,
    })
}

/// The configured provider `raw` names; a 400 on `param` naming the configured ones otherwise.
pub fn configured<'a>(
    config: &'a crate::config::Config,
    raw: Option<&str>,
    param: &str,
) -> Result<&'a IdentityProvider, ApiError> {
    let raw = raw.ok_or_else(|| ApiError::missing(param))?;
    if let Some(p) = Idp::parse(raw).and_then(|idp| config.signin.identity_provider(idp)) {
        return Ok(p);
    }
    let offered: Vec<&str> = config
        .signin
        .identity_providers
        .iter()
        .map(|p| p.idp.as_str())
        .collect();
    Err(ApiError::invalid(
        param,
        if offered.is_empty() {
            "no sign-in provider is configured on this deployment; sign in with a password"
                .to_string()
        } else {
            format!(
                "{param} must be one of the providers configured here: {}",
                offered.join(", ")
            )
        },
    ))
}

/// The provider a browser route names in its path (`{provider}`): a 404 unless configured.
pub fn provider_in_path<'a>(
    config: &'a crate::config::Config,
    named: &str,
) -> Result<&'a IdentityProvider, ApiError> {
    configured(config, Some(named), "provider").map_err(|e| ApiError::NotFound(e.to_string()))
}

/// The cookie that binds a browser sign-in to the browser that started it. `__Host-`: only
/// this host may set it (no sibling subdomain can plant one), so it has `Path=/`.
pub const BINDING_COOKIE: &str = "__Host-signin_binding";

/// A refused sign-in state: unknown, expired, already used, or another provider's.
pub fn invalid_state() -> ApiError {
    ApiError::Unauthorized {
        message: "this sign-in is unknown, expired or already used; start the sign-in again".into(),
        code: "invalid_state",
    }
}

/// A random URL-safe token of `bytes` random bytes.
pub fn random_url_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Who starts a sign-in, and so who may finish it.
pub enum Starter {
    /// The web pages: where to go afterwards, and the browser's binding cookie.
    Browser { return_to: String, binding: String },
    /// An app through `POST /v1/signin`: the signed-in user (a sign-in that links), and the
    /// app's own S256 `code_challenge` when it holds the PKCE verifier itself.
    App {
        user: Option<String>,
        code_challenge: Option<String>,
    },
}

/// A new sign-in: its state (kept server-side, taken once) and the provider's authorization
/// URL to send the browser to.
pub async fn begin<S: Store, B>(
    deps: &Deps<S, B>,
    p: &IdentityProvider,
    redirect_uri: String,
    referral_code: Option<String>,
    starter: Starter,
) -> Result<(String, String), ApiError> {
    let m = metadata(p).await?;
    let (pkce, started_by, return_to, browser_binding) = match starter {
        Starter::Browser { return_to, binding } => {
            (None, None, Some(return_to), Some(token_hash(&binding)))
        }
        Starter::App {
            user,
            code_challenge,
        } => (
            code_challenge.map(|challenge| Pkce::Client { challenge }),
            user,
            None,
            None,
        ),
    };
    let state = SigninState {
        state: random_url_token(32),
        provider: p.idp,
        nonce: random_url_token(32),
        pkce: pkce.unwrap_or_else(|| Pkce::Server {
            verifier: random_url_token(48),
        }),
        redirect_uri,
        started_by,
        referral_code,
        return_to,
        browser_binding,
        expires_at: crate::domain::now_epoch() + SIGNIN_TTL_SECONDS,
    };
    // The provider checks the verifier against this challenge too: the app's, when it holds it.
    let challenge = match &state.pkce {
        Pkce::Server { verifier } => pkce_challenge(verifier),
        Pkce::Client { challenge } => challenge.clone(),
    };
    deps.store.save_signin(&state).await?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", &p.client_id)
        .append_pair("redirect_uri", &state.redirect_uri)
        .append_pair("scope", p.idp.scopes())
        .append_pair("state", &state.state)
        .append_pair("nonce", &state.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    // Apple posts the code back (it must, when the name or email is asked for).
    if p.idp == Idp::Apple {
        query.append_pair("response_mode", "form_post");
    }
    let sep = if m.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!("{}{sep}{}", m.authorization_endpoint, query.finish());
    Ok((url, state.state))
}

/// Apple's client secret: an ES256 JWT signed with the team's key, short-lived (Apple allows
/// six months; five minutes is all one exchange needs).
async fn apple_client_secret(p: &IdentityProvider) -> Result<String, ApiError> {
    let apple = p
        .apple
        .as_ref()
        .ok_or_else(|| ApiError::internal("Apple sign-in without its signing key"))?;
    let pem = String::from_utf8_lossy(apple.private_key.get().await?).replace("\\n", "\n");
    // A .p8 file is a PKCS#8 key in PEM: its base64 body is the DER the signer takes.
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
        .split_whitespace()
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| ApiError::internal(format!("APPLE_PRIVATE_KEY is not a .p8 key: {e}")))?;
    let key = EncodingKey::from_ec_der(&der);
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(apple.key_id.clone());
    let now = crate::domain::now_epoch();
    let claims = serde_json::json!({
        "iss": apple.team_id,
        "iat": now,
        "exp": now + 300,
        "aud": p.issuer,
        "sub": p.client_id,
    });
    jsonwebtoken::encode(&header, &claims, &key).map_err(ApiError::internal)
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
}

/// Exchanges the code of a taken sign-in with its PKCE verifier (ours, or `client_verifier`
/// when the app holds it), and verifies the ID token against the nonce the sign-in kept.
pub async fn finish(
    p: &IdentityProvider,
    signin: &SigninState,
    code: &str,
    client_verifier: Option<&str>,
) -> Result<VerifiedIdentity, ApiError> {
    let verifier = match (&signin.pkce, client_verifier) {
        (Pkce::Server { verifier }, None) => verifier.as_str(),
        (Pkce::Client { .. }, Some(verifier)) => verifier,
        // The take compared the posted verifier's challenge with the sign-in's.
        _ => {
            return Err(ApiError::internal(
                "a sign-in taken without its PKCE verifier",
            ));
        }
    };
    let m = metadata(p).await?;
    let client_secret = match &p.client_secret {
        Some(secret) => String::from_utf8_lossy(secret.get().await?).into_owned(),
        None => apple_client_secret(p).await?,
    };
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &signin.redirect_uri)
        .append_pair("client_id", &p.client_id)
        .append_pair("client_secret", &client_secret)
        .append_pair("code_verifier", verifier)
        .finish();
    let resp = HTTP
        .post(&m.token_endpoint)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| unreachable_provider(p.idp, e))?;
    if resp.status().is_client_error() {
        let status = resp.status();
        let why = resp
            .json::<TokenRefusal>()
            .await
            .map(|r| r.error)
            .unwrap_or_else(|_| status.to_string());
        // Our own credentials refused: this deployment's fault, not the person's code.
        if [
            "invalid_client",
            "unauthorized_client",
            "unsupported_grant_type",
        ]
        .contains(&why.as_str())
        {
            tracing::error!(provider = p.idp.as_str(), refusal = %why, "the provider refused our client credentials");
            return Err(ApiError::Provider {
                status: http::StatusCode::BAD_GATEWAY,
                message: format!(
                    "sign-in with {} is misconfigured on this deployment ({why}); tell its operator",
                    p.idp.as_str()
                ),
                retry_after_secs: None,
            });
        }
        tracing::info!(provider = p.idp.as_str(), refusal = %why, "code exchange refused");
        return Err(ApiError::Unauthorized {
            message: format!(
                "{} refused the sign-in code ({why}); start the sign-in again",
                p.idp.as_str()
            ),
            code: "invalid_grant",
        });
    }
    let answer: TokenAnswer = read_json(p.idp, resp).await?;
    let id_token = answer
        .id_token
        .ok_or_else(|| unreachable_provider(p.idp, "no id_token in the token answer"))?;
    verify_id_token(p, &id_token, Some(&signin.nonce)).await
}

/// An ID token obtained in the browser (Google Identity Services, Sign in with Apple JS): it
/// signs in once only (a replayed token is refused until it expires).
pub async fn verify_browser_token<S: Store, B>(
    deps: &Deps<S, B>,
    p: &IdentityProvider,
    id_token: &str,
    nonce: Option<&str>,
) -> Result<VerifiedIdentity, ApiError> {
    let identity = verify_id_token(p, id_token, nonce).await?;
    // Kept as long as the token could pass; named by what is signed, so another encoding of
    // the same signature (ECDSA has two) is the same token.
    let until = identity.expires_at + CLOCK_SKEW_SECONDS as i64;
    let signed = id_token
        .rsplit_once('.')
        .map_or(id_token, |(signed, _)| signed);
    if !deps.store.spend_once(&token_hash(signed), until).await? {
        return Err(refused("this ID token was used already; sign in again"));
    }
    Ok(identity)
}

/// The tokens of the account `identity` signs in: the linked one; with `linking_user` (a
/// signed-in caller) that user, linking the identity to it; else a new account. An account is
/// never found by email alone.
pub async fn sign_in<S: Store, B>(
    deps: &Deps<S, B>,
    identity: VerifiedIdentity,
    linking_user: Option<&str>,
    referral_code: Option<&str>,
) -> Result<TokenResponse, ApiError> {
    let (provider, subject) = (identity.provider, identity.subject.as_str());
    let now = crate::domain::now_epoch();
    let linked = deps.store.identity_user(provider, subject).await?;
    let user_id = match (linking_user, linked) {
        (Some(me), Some(owner)) if owner == me => owner,
        (Some(_), Some(_)) => return Err(Taken::Identity.conflict()),
        (Some(me), None) => {
            if !deps.store.link_identity(provider, subject, me, now).await? {
                return Err(Taken::Identity.conflict());
            }
            tracing::info!(
                user_id = me,
                provider = provider.as_str(),
                "identity linked"
            );
            me.to_string()
        }
        (None, Some(owner)) => owner,
        (None, None) => match create_account(deps, &identity, referral_code).await? {
            Some(id) => id,
            // Created meanwhile by a racing first sign-in: that account it is.
            None => deps
                .store
                .identity_user(provider, subject)
                .await?
                .ok_or_else(|| ApiError::internal("identity vanished after a race"))?,
        },
    };
    let user =
        deps.store.user(&user_id).await?.ok_or_else(|| {
            ApiError::unauthorized("the account of this sign-in no longer exists")
        })?;
    if user.disabled_at.is_some() {
        return Err(ApiError::account_disabled());
    }
    tracing::info!(user_id = %user.id, provider = provider.as_str(), "signed in with a provider");
    start_session(deps, &user.id, user.role).await
}

/// A first sign-in's account: signup credits (and a referral's bonus), a generated username,
/// the provider's verified email unless another account has it. `None`: the identity was
/// linked meanwhile.
async fn create_account<S: Store, B>(
    deps: &Deps<S, B>,
    identity: &VerifiedIdentity,
    referral_code: Option<&str>,
) -> Result<Option<String>, ApiError> {
    let mut email = match &identity.email {
        Some(e)
            if deps
                .store
                .user_by_login(&LoginId::Email(e.clone()))
                .await?
                .is_none() =>
        {
            e.clone()
        }
        _ => String::new(),
    };
    for _ in 0..4 {
        let suffix = &random_url_token(6).to_lowercase().replace(['-', '_'], "x")[..6];
        let user = new_user(
            deps,
            username_for(identity, suffix),
            email.clone(),
            String::new(),
            identity.name.clone(),
            referral_code,
        )
        .await?;
        match deps
            .store
            .create_user_with_identity(&user, identity.provider, &identity.subject)
            .await?
        {
            Ok(()) => {
                tracing::info!(user_id = %user.id, provider = identity.provider.as_str(), "account created by a provider sign-in");
                return Ok(Some(user.id));
            }
            Err(Taken::Identity) => return Ok(None),
            // Registered meanwhile by someone else: this account goes without it.
            Err(Taken::Email) => email.clear(),
            Err(Taken::Username) => {}
        }
    }
    Err(ApiError::internal("no free username after four tries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_the_rfc_example() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn only_declared_asymmetric_algorithms_are_allowed() {
        let m = |algs: &[&str]| Metadata {
            issuer: "i".into(),
            authorization_endpoint: "a".into(),
            token_endpoint: "t".into(),
            jwks_uri: "j".into(),
            id_token_signing_alg_values_supported: algs.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            allowed_algorithms(&m(&["RS256", "HS256", "none"])),
            [Algorithm::RS256]
        );
        assert_eq!(allowed_algorithms(&m(&[])), [Algorithm::RS256]);
        assert_eq!(allowed_algorithms(&m(&["ES256"])), [Algorithm::ES256]);
    }

    #[test]
    fn email_verified_may_be_a_boolean_or_apples_string() {
        assert!(truthy(&Some(serde_json::json!(true))));
        assert!(truthy(&Some(serde_json::json!("true"))));
        assert!(!truthy(&Some(serde_json::json!("false"))));
        assert!(!truthy(&None));
    }
}
