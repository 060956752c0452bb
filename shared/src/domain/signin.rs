//! Sign-in with OpenID Connect providers: which ones exist, what a sign-in in flight keeps,
//! and how a new account is named.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};

/// How long a sign-in may take between leaving for the provider and coming back.
pub const SIGNIN_TTL_SECONDS: i64 = 600;
/// Clock skew tolerated on `exp` and `iat`.
pub const CLOCK_SKEW_SECONDS: u64 = 60;
pub const REDIRECT_URI_MAX: usize = 2000;
/// Where the browser flow lands by default.
pub const DEFAULT_RETURN_TO: &str = "/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Idp {
    Google,
    Microsoft,
    Apple,
}

impl Idp {
    pub const ALL: [Idp; 3] = [Idp::Google, Idp::Microsoft, Idp::Apple];

    pub fn as_str(self) -> &'static str {
        match self {
            Idp::Google => "google",
            Idp::Microsoft => "microsoft",
            Idp::Apple => "apple",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The real issuer, unless the deployment overrides it (`*_ISSUER`).
    pub fn default_issuer(self) -> &'static str {
        match self {
            Idp::Google => "https://accounts.google.com",
            // The multi-tenant metadata; its issuer is a template (see `issuer_matches`).
            Idp::Microsoft => "https://login.microsoftonline.com/common/v2.0",
            Idp::Apple => "https://appleid.apple.com",
        }
    }

    /// The scopes asked for: Apple names the name scope `name` and has no `profile`.
    pub fn scopes(self) -> &'static str {
        match self {
            Idp::Apple => "openid name email",
            _ => "openid email profile",
        }
    }
}

/// Who holds the PKCE secret of a sign-in (RFC 7636).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkce {
    /// The browser flow, and app sign-ins that sent no challenge: the verifier is ours.
    Server { verifier: String },
    /// An app's sign-in: it sent the S256 challenge and alone knows the verifier, which it
    /// must present with the code (so a code and state seen elsewhere are useless).
    Client { challenge: String },
}

/// What a sign-in keeps server-side between the redirect to the provider and the code's
/// return; taken once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigninState {
    pub state: String,
    pub provider: Idp,
    pub nonce: String,
    pub pkce: Pkce,
    pub redirect_uri: String,
    /// The signed-in user who started an app sign-in: only that user may finish it, and only
    /// such a sign-in links the identity to an account.
    pub started_by: Option<String>,
    /// The referral code given when the sign-in started (a first sign-in registers).
    pub referral_code: Option<String>,
    /// The browser flow: where to go afterwards, and the hash of the cookie binding the
    /// sign-in to the browser that started it.
    pub return_to: Option<String>,
    pub browser_binding: Option<String>,
    pub expires_at: i64,
}

/// Who may take a sign-in in flight: the proof the finishing request brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimant<'a> {
    /// The browser flow: the hash of the binding cookie.
    Browser(&'a str),
    /// The app flow: the signed-in user posting the code (if any) and the S256 challenge of
    /// the `code_verifier` posted (if any); both must be what the sign-in started with.
    App {
        user: Option<&'a str>,
        challenge: Option<&'a str>,
    },
}

impl SigninState {
    /// Whether `who` may take this sign-in (the stores check the same in their conditions).
    pub fn claimable_by(&self, who: Claimant) -> bool {
        let challenge = match &self.pkce {
            Pkce::Client { challenge } => Some(challenge.as_str()),
            Pkce::Server { .. } => None,
        };
        match who {
            Claimant::Browser(binding) => self.browser_binding.as_deref() == Some(binding),
            Claimant::App {
                user,
                challenge: posted,
            } => {
                self.browser_binding.is_none()
                    && self.started_by.as_deref() == user
                    && challenge == posted
            }
        }
    }
}

/// PKCE S256: the challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// An app's `code_challenge` (S256 only: `plain` would hand the secret to whoever sees the
/// authorization URL).
pub fn validate_code_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<Option<String>, ApiError> {
    match (challenge, method) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(ApiError::missing("code_challenge")),
        (Some(_), None) => Err(ApiError::invalid(
            "code_challenge_method",
            "code_challenge_method must be S256 (RFC 7636 reads a missing method as plain, which is not accepted)",
        )),
        (Some(_), Some(m)) if m != "S256" => Err(ApiError::invalid(
            "code_challenge_method",
            "code_challenge_method must be S256",
        )),
        (Some(c), Some(_)) => {
            let base64url = |ch: char| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_';
            if c.len() == 43 && c.chars().all(base64url) {
                Ok(Some(c.to_string()))
            } else {
                Err(ApiError::invalid(
                    "code_challenge",
                    "code_challenge must be the base64url SHA-256 of the code_verifier: 43 characters, no padding",
                ))
            }
        }
    }
}

/// An app's `code_verifier`: 43 to 128 unreserved characters (RFC 7636 §4.1).
pub fn validate_code_verifier(verifier: &str) -> Result<(), ApiError> {
    let unreserved = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
    if (43..=128).contains(&verifier.len()) && verifier.chars().all(unreserved) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "code_verifier",
            "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'",
        ))
    }
}

/// A verified ID token's facts about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub provider: Idp,
    pub subject: String,
    /// Only when the provider says it is verified.
    pub email: Option<String>,
    pub name: Option<String>,
    /// The ID token's `exp`.
    pub expires_at: i64,
}

/// `redirect_uri` of the API flow: where the provider sends the browser back, registered with
/// the provider (which refuses others); https, or http on loopback for development.
pub fn validate_redirect_uri(raw: Option<&str>) -> Result<String, ApiError> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty());
    let uri = raw.ok_or_else(|| ApiError::missing("redirect_uri"))?;
    let invalid = || {
        ApiError::invalid(
            "redirect_uri",
            "redirect_uri must be an absolute https URL (http only on 127.0.0.1 or localhost) registered with the provider",
        )
    };
    if uri.len() > REDIRECT_URI_MAX || uri.contains('#') || uri.chars().any(char::is_control) {
        return Err(invalid());
    }
    let url = url::Url::parse(uri).map_err(|_| invalid())?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(uri.to_string()),
        "http" if loopback => Ok(uri.to_string()),
        _ => Err(invalid()),
    }
}

/// Where the browser flow returns: a path on this site only (never another origin).
pub fn validate_return_to(raw: Option<&str>) -> Result<String, ApiError> {
    let Some(path) = raw else {
        return Ok(DEFAULT_RETURN_TO.to_string());
    };
    // A path: '/' then URL characters, never '//' first (another host) nor a backslash
    // (which browsers read as '/'); the document's pattern says the same.
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._~!$&'()*+,;=:@%?-/".contains(c);
    let same_site = path.starts_with('/')
        && !path.starts_with("//")
        && path.len() <= REDIRECT_URI_MAX
        && path.chars().all(allowed);
    if same_site {
        Ok(path.to_string())
    } else {
        Err(ApiError::invalid(
            "return_to",
            "return_to must be a path on this site, such as /app/library",
        ))
    }
}

/// A username for an account a provider created: from the email's local part or the name,
/// cut to what usernames allow, with a random suffix so it is (almost surely) free.
pub fn username_for(identity: &VerifiedIdentity, suffix: &str) -> String {
    let seed = identity
        .email
        .as_deref()
        .and_then(|e| e.split('@').next())
        .or(identity.name.as_deref())
        .unwrap_or(identity.provider.as_str());
    let mut base: String = seed
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .take(crate::domain::accounts::USERNAME_MAX - suffix.len() - 1)
        .collect();
    if base.is_empty() {
        base = identity.provider.as_str().to_string();
    }
    format!("{base}_{suffix}")
}

/// Apple's `user` form field (first sign-in only): `{"name": {"firstName", "lastName"}}`.
pub fn apple_user_name(user_json: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(user_json).ok()?;
    let first = v["name"]["firstName"].as_str().unwrap_or("").trim();
    let last = v["name"]["lastName"].as_str().unwrap_or("").trim();
    let name = format!("{first} {last}").trim().to_string();
    (!name.is_empty() && name.chars().count() <= 100 && !name.chars().any(char::is_control))
        .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(email: Option<&str>, name: Option<&str>) -> VerifiedIdentity {
        VerifiedIdentity {
            provider: Idp::Google,
            subject: "1".into(),
            email: email.map(str::to_string),
            name: name.map(str::to_string),
            expires_at: 0,
        }
    }

    #[test]
    fn usernames_from_identities_are_valid_usernames() {
        for (id, expected) in [
            (
                identity(Some("Ada.Lovelace@x.io"), None),
                "ada.lovelace_ab12",
            ),
            (identity(None, Some("Ada Lovelace")), "ada_lovelace_ab12"),
            (identity(Some("__@x.io"), None), "google_ab12"),
            (
                identity(Some(&format!("{}@x.io", "a".repeat(60))), None),
                &format!("{}_ab12", "a".repeat(27)),
            ),
        ] {
            let name = username_for(&id, "ab12");
            assert_eq!(name, expected);
            crate::domain::accounts::validate_username(&name).unwrap();
        }
    }

    #[test]
    fn redirects_are_https_or_loopback_and_return_paths_stay_on_site() {
        assert!(validate_redirect_uri(Some("https://app.example.com/cb")).is_ok());
        assert!(validate_redirect_uri(Some("http://127.0.0.1:8080/cb")).is_ok());
        for bad in [
            "http://example.com/cb",
            "javascript:alert(1)",
            "/cb",
            "https://x.io/#a",
        ] {
            assert!(validate_redirect_uri(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(validate_return_to(None).unwrap(), "/");
        assert_eq!(
            validate_return_to(Some("/app/library")).unwrap(),
            "/app/library"
        );
        for bad in ["//evil.com", "https://evil.com", "/\\evil.com", "app", ""] {
            assert!(validate_return_to(Some(bad)).is_err(), "{bad}");
        }
    }

    fn state(pkce: Pkce, started_by: Option<&str>, browser: Option<&str>) -> SigninState {
        SigninState {
            state: "s".into(),
            provider: Idp::Google,
            nonce: "n".into(),
            pkce,
            redirect_uri: "https://app.example.com/cb".into(),
            started_by: started_by.map(str::to_string),
            referral_code: None,
            return_to: None,
            browser_binding: browser.map(str::to_string),
            expires_at: 0,
        }
    }

    #[test]
    fn a_sign_in_is_taken_only_by_the_session_and_verifier_that_started_it() {
        let server = || Pkce::Server {
            verifier: "v".into(),
        };
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let client = || Pkce::Client {
            challenge: pkce_challenge(verifier),
        };
        let app = |user, challenge| Claimant::App { user, challenge };
        let challenge = pkce_challenge(verifier);
        let c = Some(challenge.as_str());
        // Started without a session: never finished with one (it cannot link).
        assert!(state(server(), None, None).claimable_by(app(None, None)));
        assert!(!state(server(), None, None).claimable_by(app(Some("victim"), None)));
        // Started by a user: only that user finishes it.
        assert!(state(server(), Some("u"), None).claimable_by(app(Some("u"), None)));
        assert!(!state(server(), Some("u"), None).claimable_by(app(Some("v"), None)));
        assert!(!state(server(), Some("u"), None).claimable_by(app(None, None)));
        // A client's challenge: only with its verifier, and a verifier needs a challenge.
        assert!(state(client(), None, None).claimable_by(app(None, c)));
        assert!(!state(client(), None, None).claimable_by(app(None, None)));
        assert!(!state(client(), None, None).claimable_by(app(None, Some("other"))));
        assert!(!state(server(), None, None).claimable_by(app(None, c)));
        // A browser's sign-in is its callback's only.
        assert!(state(server(), None, Some("b")).claimable_by(Claimant::Browser("b")));
        assert!(!state(server(), None, Some("b")).claimable_by(Claimant::Browser("x")));
        assert!(!state(server(), None, Some("b")).claimable_by(app(None, None)));
        assert!(!state(server(), None, None).claimable_by(Claimant::Browser("b")));
    }

    #[test]
    fn code_challenges_are_s256_and_verifiers_as_rfc_7636_says() {
        let c = pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let padded = format!("{}=", &c[..42]);
        assert_eq!(
            validate_code_challenge(Some(&c), Some("S256")).unwrap(),
            Some(c.clone())
        );
        assert_eq!(validate_code_challenge(None, None).unwrap(), None);
        for (challenge, method, param) in [
            (Some(c.as_str()), None, "code_challenge_method"),
            (Some(c.as_str()), Some("plain"), "code_challenge_method"),
            (None, Some("S256"), "code_challenge"),
            (Some("short"), Some("S256"), "code_challenge"),
            (Some(padded.as_str()), Some("S256"), "code_challenge"),
        ] {
            let e = validate_code_challenge(challenge, method).unwrap_err();
            assert_eq!(e.param(), Some(param), "{challenge:?} {method:?}");
        }
        assert!(validate_code_verifier(&"a".repeat(43)).is_ok());
        assert!(validate_code_verifier(&"a~.-_".repeat(25)).is_ok());
        for bad in [
            "a".repeat(42),
            "a".repeat(129),
            format!("{}+", "a".repeat(43)),
        ] {
            assert!(validate_code_verifier(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn apple_names_come_from_the_first_sign_ins_user_field() {
        assert_eq!(
            apple_user_name(r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"x@privaterelay.appleid.com"}"#).as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(apple_user_name("{}"), None);
        assert_eq!(apple_user_name("not json"), None);
    }
}
