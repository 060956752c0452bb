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

mod discovery;

pub use discovery::*;

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
