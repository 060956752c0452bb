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

/// What a sign-in keeps server-side between the redirect to the provider and the code's
/// return; taken once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigninState {
    pub state: String,
    pub provider: Idp,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    /// The referral code given when the sign-in started (a first sign-in registers).
    pub referral_code: Option<String>,
    /// The browser flow: where to go afterwards, and the hash of the cookie binding the
    /// sign-in to the browser that started it.
    pub return_to: Option<String>,
    pub browser_binding: Option<String>,
    pub expires_at: i64,
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
