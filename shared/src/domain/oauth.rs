//! OAuth 2.1 for MCP clients, the rules without I/O: which redirect URIs a client may register
//! and present (RFC 8252 for native apps), which scopes it may ask for, and PKCE (S256 only).

use crate::domain::key_policy::Scope;
use base64::Engine;
use sha2::{Digest, Sha256};

pub const MAX_REDIRECT_URIS: usize = 10;
pub const MAX_REDIRECT_URI_LEN: usize = 512;
pub const MAX_REDIRECT_URIS_BYTES: usize = 2048;
pub const MAX_CLIENT_NAME: usize = 80;

/// A redirect URI a client may register: absolute, without a fragment; `https`, `http` on a
/// loopback address (a desktop app's local listener), or an app's own scheme (`cursor://…`).
/// `javascript:`, `data:`, `file:` and plain `http` elsewhere are refused.
pub fn check_redirect_uri(raw: &str) -> Result<url::Url, String> {
    if raw.len() > MAX_REDIRECT_URI_LEN {
        return Err(format!(
            "a redirect URI is at most {MAX_REDIRECT_URI_LEN} characters"
        ));
    }
    let uri = url::Url::parse(raw).map_err(|e| format!("'{raw}' is not an absolute URI: {e}"))?;
    if uri.fragment().is_some() {
        return Err(format!(
            "'{raw}' has a fragment, which redirect URIs may not"
        ));
    }
    match uri.scheme() {
        "https" if uri.host().is_some() => Ok(uri),
        "http" if is_loopback(&uri) => Ok(uri),
        "http" => Err(format!(
            "'{raw}': plain http is allowed only on a loopback address (127.0.0.1, [::1], localhost)"
        )),
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "https" => {
            Err(format!("'{raw}' cannot be a redirect URI"))
        }
        _ => Ok(uri),
    }
}

fn is_loopback(uri: &url::Url) -> bool {
    match uri.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether `presented` is one of the client's URIs: exactly, or (RFC 8252 §7.3) a loopback
/// URI that differs only in its port, which a native app picks when it starts listening.
pub fn redirect_matches(registered: &[String], presented: &str) -> bool {
    let Ok(p) = url::Url::parse(presented) else {
        return false;
    };
    registered.iter().any(|r| {
        r == presented
            || url::Url::parse(r).is_ok_and(|r| {
                r.scheme() == "http"
                    && p.scheme() == "http"
                    && is_loopback(&r)
                    && r.host() == p.host()
                    && r.path() == p.path()
                    && r.query() == p.query()
                    && p.fragment().is_none()
            })
    })
}

/// The scopes of ours an authorization request names, others (`offline_access`, `openid`)
/// ignored as RFC 6749 §3.3 allows; none named: every scope. Naming only others is an error.
pub fn requested_scopes(raw: Option<&str>) -> Result<Vec<Scope>, String> {
    let ours: Vec<&str> = raw
        .unwrap_or("")
        .split_whitespace()
        .filter(|n| Scope::ALL.iter().any(|s| s.as_str() == *n))
        .collect();
    if ours.is_empty() && raw.is_some_and(|r| !r.trim().is_empty()) {
        return Err(format!(
            "none of these scopes is this server's; its scopes are: {}",
            scope_string(&Scope::ALL)
        ));
    }
    parse_scopes(Some(&ours.join(" ")))
}

/// The scopes a request names (space-separated); none named: every scope.
pub fn parse_scopes(raw: Option<&str>) -> Result<Vec<Scope>, String> {
    let names: Vec<&str> = raw.unwrap_or("").split_whitespace().collect();
    if names.is_empty() {
        return Ok(Scope::ALL.to_vec());
    }
    let mut scopes = Vec::new();
    for name in names {
        let scope = Scope::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown scope '{}'; the scopes are: {}",
                    name.chars().take(40).collect::<String>(),
                    scope_string(&Scope::ALL)
                )
            })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

pub fn scope_string(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a person consents to, one line per scope.
pub fn describe(scope: Scope) -> &'static str {
    match scope {
        Scope::LibraryRead => "See your images and videos",
        Scope::LibraryWrite => "Change and delete your images, and upload new ones",
        Scope::Generate => "Make images and videos, spending your credits",
        Scope::Jobs => "Follow and cancel your jobs",
        Scope::Account => "See your credits, usage and profile",
    }
}

/// RFC 7636: a verifier of 43 to 128 unreserved characters whose SHA-256, base64url without
/// padding, is the challenge.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let digest = Sha256::digest(verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
    well_formed && subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

/// A challenge as a client must send it: the base64url of a SHA-256 (43 characters).
pub fn challenge_is_well_formed(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_follow_rfc_8252() {
        assert!(check_redirect_uri("https://claude.ai/api/mcp/auth_callback").is_ok());
        assert!(check_redirect_uri("http://127.0.0.1:33418/callback").is_ok());
        assert!(check_redirect_uri("http://localhost/cb").is_ok());
        assert!(check_redirect_uri("http://[::1]:9/cb").is_ok());
        assert!(check_redirect_uri("cursor://anysphere.cursor-retrieval/oauth/callback").is_ok());
        for bad in [
            "http://example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://example.com/cb#frag",
            "/relative",
            "file:///etc/passwd",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_loopback_redirect_may_change_its_port_and_nothing_else() {
        let reg = vec![
            "http://127.0.0.1:3000/cb".to_string(),
            "https://app.example/cb".to_string(),
        ];
        assert!(redirect_matches(&reg, "http://127.0.0.1:3000/cb"));
        assert!(redirect_matches(&reg, "http://127.0.0.1:51234/cb"));
        assert!(!redirect_matches(&reg, "http://127.0.0.1:51234/other"));
        assert!(!redirect_matches(&reg, "http://localhost:3000/cb"));
        assert!(redirect_matches(&reg, "https://app.example/cb"));
        assert!(!redirect_matches(&reg, "https://app.example:444/cb"));
        assert!(!redirect_matches(&reg, "https://app.example/cb?x=1"));
    }

    #[test]
    fn scopes_are_ours_or_refused_by_name() {
        assert_eq!(parse_scopes(None).unwrap(), Scope::ALL.to_vec());
        assert_eq!(
            parse_scopes(Some("library:read library:read generate")).unwrap(),
            vec![Scope::LibraryRead, Scope::Generate]
        );
        assert!(parse_scopes(Some("openid")).unwrap_err().contains("openid"));
        assert_eq!(
            requested_scopes(Some("offline_access generate")).unwrap(),
            vec![Scope::Generate]
        );
        assert!(requested_scopes(Some("offline_access")).is_err());
        assert_eq!(requested_scopes(None).unwrap(), Scope::ALL.to_vec());
    }

    #[test]
    fn pkce_s256_as_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(challenge_is_well_formed(challenge));
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
    }
}
