//! The providers' metadata and keys: discovery documents and JWKS fetched, cached and refreshed,
//! and ID tokens verified against them.

use super::*;

/// Metadata and keys are refetched after this long.
pub(super) const METADATA_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` refetches the keys (a rotation), but at most this often: a stream of
/// made-up key ids cannot turn into a stream of requests to the provider.
pub(super) const JWKS_REFETCH_MIN: Duration = Duration::from_secs(30);
/// Provider answers read at most this large.
pub(super) const ANSWER_MAX: usize = 256 * 1024;

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Metadata {
    pub(super) issuer: String,
    pub(super) authorization_endpoint: String,
    pub(super) token_endpoint: String,
    pub(super) jwks_uri: String,
    #[serde(default)]
    pub(super) id_token_signing_alg_values_supported: Vec<String>,
}

pub(super) struct Keys {
    set: JwkSet,
    fetched: Instant,
}

pub(super) struct Cached {
    metadata: Metadata,
    fetched: Instant,
    keys: Option<Keys>,
}

/// Per instance: providers' metadata and keys, by issuer.
pub(super) static CACHE: LazyLock<Mutex<HashMap<String, Cached>>> = LazyLock::new(Default::default);

pub(super) static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
});

pub(super) fn refused(message: impl Into<String>) -> ApiError {
    ApiError::Unauthorized {
        message: message.into(),
        code: "invalid_id_token",
    }
}

pub(super) fn unreachable_provider(idp: Idp, e: impl std::fmt::Display) -> ApiError {
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

pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
    idp: Idp,
    url: &str,
) -> Result<T, ApiError> {
    let resp = HTTP
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| unreachable_provider(idp, e))?;
    read_json(idp, resp).await
}

pub(super) async fn read_json<T: serde::de::DeserializeOwned>(
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
pub(super) async fn metadata(p: &IdentityProvider) -> Result<Metadata, ApiError> {
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
pub(super) async fn key_for(
    p: &IdentityProvider,
    m: &Metadata,
    kid: &str,
) -> Result<Jwk, ApiError> {
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
pub(super) fn allowed_algorithms(m: &Metadata) -> Vec<Algorithm> {
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
pub(super) fn truthy(v: &Option<serde_json::Value>) -> bool {
    match v {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s == "true",
        _ => false,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct IdClaims {
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
