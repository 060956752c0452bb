//! HTTP glue shared by every function: request ids, logging span, body parsing, auth,
//! rate-limit headers and the one mapping from `ApiError` to a response.

#[cfg(feature = "images")]
pub mod multipart;
pub mod openapi;
pub mod routes;
pub mod wire;

use crate::Deps;
use crate::domain::accounts::Role;
use crate::domain::accounts::{Admission, Live, RateWindow};
use crate::domain::now_epoch;
use crate::error::ApiError;
use crate::ports::Store;
use crate::usecases::auth::{API_KEY_PREFIX, token_hash, verify_access_token};
use http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Mutex;
use std::time::Instant;
use tracing::Instrument;

pub const RATE_WINDOW_SECS: i64 = 3600;

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
    Session {
        session_id: String,
    },
    ApiKey {
        key_id: String,
    },
}

/// Per-request context: the request id every log line and response carries, and the
/// rate-limit state to report in headers.
pub struct Ctx {
    pub request_id: String,
    /// The client's address as API Gateway saw it (for limits on unauthenticated routes).
    pub source_ip: String,
    function: &'static str,
    method: String,
    path: String,
    rate: Mutex<Option<RateWindow>>,
    /// The methods of this path when API Gateway routed it to a parameter route that is not
    /// the path's own (`GET /v1/images/generations` reaches `GET /v1/images/{id}`).
    misrouted: Option<Vec<String>>,
}

impl Ctx {
    pub fn new(req: &Request, function: &'static str) -> Self {
        let (from_gateway, source_ip) = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(c)) => {
                (c.request_id.clone(), c.http.source_ip.clone())
            }
            _ => (None, None),
        };
        let request_id = from_gateway
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let (method, path) = (req.method().to_string(), req.uri().path().to_string());
        let misrouted = req
            .path_parameters_ref()
            .filter(|p| !p.is_empty())
            .map(|_| openapi::allowed_methods(&path))
            .filter(|allowed| !allowed.is_empty() && !allowed.contains(&method));
        Self {
            request_id,
            source_ip: source_ip.unwrap_or_else(|| "unknown".into()),
            function,
            method,
            path,
            rate: Mutex::new(None),
            misrouted,
        }
    }

    /// Runs a handler body inside the request's span and turns its outcome into a response.
    pub async fn run<F>(&self, body: F) -> Response<Body>
    where
        F: Future<Output = Result<Response<Body>, ApiError>>,
    {
        let span = tracing::info_span!(
            "request",
            request_id = %self.request_id,
            function = self.function,
            method = %self.method,
            path = %self.path,
            user_id = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let outcome = match &self.misrouted {
                Some(allowed) => Err(openapi::method_not_allowed(
                    &self.method,
                    &self.path,
                    allowed,
                )),
                None => body.await,
            };
            let mut response = match outcome {
                Ok(r) => r,
                Err(e) => {
                    match &e {
                        ApiError::Internal(source) => {
                            tracing::error!(error = %source, "request failed")
                        }
                        other => tracing::info!(error = %other, "request refused"),
                    }
                    error_response(&e)
                }
            };
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&self.request_id) {
                headers.insert("x-request-id", v);
            }
            let rate = *self.rate.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(w) = rate.filter(|_| !headers.contains_key("x-ratelimit-limit")) {
                for (name, value) in rate_headers(&w) {
                    headers.insert(name, HeaderValue::from(value));
                }
            }
            tracing::info!(
                status = response.status().as_u16(),
                latency_ms = started.elapsed().as_millis() as u64,
                "handled"
            );
            response
        }
        .instrument(span)
        .await
    }

    /// Checks the bearer credential (access JWT or API key) and counts the request against the
    /// user's hourly limit. Revoked sessions and deleted keys fail here, on every endpoint.
    /// A signed-in session (not an API key): managing API keys needs one, so a leaked key
    /// cannot mint copies of itself that outlive its revocation.
    pub async fn authenticate_session<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        req: &Request,
    ) -> Result<Principal, ApiError> {
        let who = self.authenticate(deps, req).await?;
        if matches!(who.credential, Credential::ApiKey { .. }) {
            return Err(ApiError::Forbidden(
                "API keys cannot manage API keys: sign in (POST /v1/auth/login) and use the access token".into(),
            ));
        }
        Ok(who)
    }

    /// The caller, admitted: its credential is checked and its request counted in one write
    /// (an authenticated request's only bookkeeping). An API key is looked up once per
    /// instance; whether it is still live is part of that write, so revocation is immediate.
    pub async fn authenticate<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        req: &Request,
    ) -> Result<Principal, ApiError> {
        let token = bearer_token(req)?;
        let principal = match self.identify(deps, token).await {
            // Only failures that cost a lookup count: a token whose signature fails costs
            // nothing (and answers without any AWS call).
            Err(
                e @ ApiError::Unauthorized {
                    code: "invalid_api_key",
                    ..
                },
            ) => {
                return Err(self.failed_auth(deps, e).await);
            }
            other => other?,
        };
        tracing::Span::current().record("user_id", principal.user_id.as_str());
        let now = now_epoch();
        let limit = deps.config.rate_limit_per_hour;
        let live = match &principal.credential {
            Credential::Session { session_id } => Live::Session(session_id),
            Credential::ApiKey { key_id } => Live::ApiKey(key_id),
        };
        let admission = deps
            .store
            .admit(&principal.user_id, live, limit, RATE_WINDOW_SECS, now)
            .await?;
        match admission {
            Admission::Admitted(window) => {
                *self.rate.lock().unwrap_or_else(|p| p.into_inner()) = Some(window);
                Ok(principal)
            }
            Admission::Limited(window) => {
                let retry = (window.reset_at - now).max(1) as u64;
                Err(ApiError::RateLimited {
                    message: format!(
                        "Rate limit reached: {limit} requests per hour. Try again in {retry} seconds."
                    ),
                    retry_after_secs: retry,
                    limit,
                    reset_epoch: window.reset_at as u64,
                })
            }
            Admission::Revoked => {
                let e = match principal.credential {
                    Credential::Session { .. } => ApiError::Unauthorized {
                        message: "access token has been revoked; sign in again".into(),
                        code: "token_revoked",
                    },
                    Credential::ApiKey { .. } => {
                        deps.api_keys.forget(token);
                        ApiError::Unauthorized {
                            message: "invalid API key".into(),
                            code: "invalid_api_key",
                        }
                    }
                };
                Err(self.failed_auth(deps, e).await)
            }
        }
    }
}

impl Ctx {
    /// Who a bearer token names. An address that has failed too often is refused before an
    /// API key costs a lookup (an access token's signature costs none).
    async fn identify<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        token: &str,
    ) -> Result<Principal, ApiError> {
        if token.starts_with(API_KEY_PREFIX) {
            if let Some(e) = deps.failed_auth.refusal(&self.source_ip, now_epoch()) {
                return Err(e);
            }
            let key = match deps.api_keys.get(token) {
                Some(key) => key,
                None => {
                    let key = deps
                        .store
                        .key_by_hash(&token_hash(token))
                        .await?
                        .ok_or_else(|| ApiError::Unauthorized {
                            message: "invalid API key".into(),
                            code: "invalid_api_key",
                        })?;
                    deps.api_keys.remember(token, &key);
                    key
                }
            };
            return Ok(Principal {
                user_id: key.user_id,
                role: key.role,
                credential: Credential::ApiKey { key_id: key.id },
            });
        }
        // Whether the session is still signed in is checked by the admission's write.
        let claims = verify_access_token(&deps.config, token)?;
        Ok(Principal {
            user_id: claims.sub,
            role: claims.role,
            credential: Credential::Session {
                session_id: claims.sid,
            },
        })
    }

    /// Counts a failed authentication that cost a lookup for the client's address; past the
    /// limit the answer is a 429, and this instance refuses that address's API keys without a
    /// lookup until the window ends. One client cannot spend every user's share of the table
    /// on bad keys.
    async fn failed_auth<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        unauthorized: ApiError,
    ) -> ApiError {
        let now = now_epoch();
        if let Some(e) = deps.failed_auth.refusal(&self.source_ip, now) {
            return e;
        }
        let limit = deps.config.anonymous_rate_limit_per_hour;
        let key = format!("authfail:{}", self.source_ip);
        match deps.store.hit(&key, limit, RATE_WINDOW_SECS, now).await {
            Ok(Ok(_)) => unauthorized,
            Ok(Err(window)) => {
                deps.failed_auth.block(&self.source_ip, window);
                deps.failed_auth
                    .refusal(&self.source_ip, now)
                    .unwrap_or(unauthorized)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not count a failed authentication");
                unauthorized
            }
        }
    }

    /// Limits the unauthenticated routes (register, login, refresh) per client address.
    pub async fn throttle_address<S: Store, B>(&self, deps: &Deps<S, B>) -> Result<(), ApiError> {
        let now = now_epoch();
        let limit = deps.config.anonymous_rate_limit_per_hour;
        let key = format!("ip:{}", self.source_ip);
        match deps.store.hit(&key, limit, RATE_WINDOW_SECS, now).await? {
            Ok(_) => Ok(()),
            Err(w) => Err(limited(
                w,
                now,
                format!("Too many requests from this address: {limit} per hour."),
            )),
        }
    }

    /// Before a password is checked: refused when this address has failed too often for this
    /// account, or when the account has failed too often from everywhere and this address is
    /// among those that failed. Only failures count, and per address: nobody can lock the
    /// owner out by failing on purpose, while guessing is slowed from each address and, across
    /// many, for every address that has guessed wrong.
    pub async fn check_sign_in<S: Store, B>(
        &self,
        deps: &Deps<S, B>,
        account: &str,
    ) -> Result<(), ApiError> {
        let now = now_epoch();
        let limit = deps.config.login_attempts_per_window;
        let (here, everywhere) = self.sign_in_keys(account);
        let (here_hits, all_hits) = futures::try_join!(
            deps.store.hits(&here, LOGIN_WINDOW_SECS, now),
            deps.store.hits(&everywhere, LOGIN_WINDOW_SECS, now),
        )?;
        let account_wide = limit.saturating_mul(ACCOUNT_WIDE_FACTOR);
        if here_hits >= limit || (all_hits >= account_wide && here_hits > 0) {
            let reset_at = now - now.rem_euclid(LOGIN_WINDOW_SECS) + LOGIN_WINDOW_SECS;
            let window = RateWindow {
                limit,
                used: here_hits,
                reset_at,
            };
            return Err(limited(
                window,
                now,
                format!(
                    "Too many failed sign-in attempts for this account from this address: {limit} per 15 minutes."
                ),
            ));
        }
        Ok(())
    }

    /// Counts a wrong password for this account, from this address and in all.
    pub async fn sign_in_failed<S: Store, B>(&self, deps: &Deps<S, B>, account: &str) {
        let now = now_epoch();
        let (here, everywhere) = self.sign_in_keys(account);
        let (a, b) = futures::join!(
            deps.store.hit(&here, u32::MAX, LOGIN_WINDOW_SECS, now),
            deps.store
                .hit(&everywhere, u32::MAX, LOGIN_WINDOW_SECS, now),
        );
        if let Err(e) = a.and(b) {
            tracing::warn!(error = %e, "could not count a failed sign-in");
        }
    }

    fn sign_in_keys(&self, account: &str) -> (String, String) {
        (
            format!("login:{account}:{}", self.source_ip),
            format!("login:{account}"),
        )
    }
}

/// Failures on one account from every address together that make each failing address wait,
/// as a multiple of the per-address limit (a correct password from an address that has not
/// failed is still let in).
pub const ACCOUNT_WIDE_FACTOR: u32 = 10;

/// API keys this instance has looked up (by the key's hash): who they belong to does not
/// change, and whether they are still live is checked by every request's admission. Bounded.
#[derive(Debug, Default)]
pub struct KnownKeys(Mutex<std::collections::HashMap<String, (String, Role, String)>>);

const KNOWN_KEYS: usize = 10_000;

impl KnownKeys {
    fn get(&self, token: &str) -> Option<crate::domain::accounts::ApiKeyRecord> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (user_id, role, id) = map.get(&token_hash(token))?.clone();
        Some(crate::domain::accounts::ApiKeyRecord {
            id,
            user_id,
            role,
            name: String::new(),
            prefix: String::new(),
            hash: String::new(),
            created_at: 0,
            last_used_at: None,
        })
    }

    fn remember(&self, token: &str, key: &crate::domain::accounts::ApiKeyRecord) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= KNOWN_KEYS {
            map.clear();
        }
        map.insert(
            token_hash(token),
            (key.user_id.clone(), key.role, key.id.clone()),
        );
    }

    fn forget(&self, token: &str) {
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
    fn block(&self, address: &str, window: RateWindow) {
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

    fn refusal(&self, address: &str, now: i64) -> Option<ApiError> {
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

/// Window of the per-account sign-in limit.
pub const LOGIN_WINDOW_SECS: i64 = 15 * 60;

fn limited(w: RateWindow, now: i64, message: String) -> ApiError {
    let retry = (w.reset_at - now).max(1) as u64;
    ApiError::RateLimited {
        message: format!("{message} Try again in {retry} seconds."),
        retry_after_secs: retry,
        limit: w.limit,
        reset_epoch: w.reset_at.max(0) as u64,
    }
}

fn rate_headers(w: &RateWindow) -> [(&'static str, u64); 3] {
    [
        ("x-ratelimit-limit", w.limit as u64),
        (
            "x-ratelimit-remaining",
            w.limit.saturating_sub(w.used) as u64,
        ),
        ("x-ratelimit-reset", w.reset_at.max(0) as u64),
    ]
}

/// The token from `Authorization: Bearer <token>`.
pub fn bearer_token(req: &Request) -> Result<&str, ApiError> {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized {
            message: "missing credentials: send 'Authorization: Bearer <access token or API key>'"
                .into(),
            code: "missing_credentials",
        })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::unauthorized(
            "malformed Authorization header: expected 'Bearer <token>'",
        )),
    }
}

/// A JSON response; every body of this API is JSON and none may be cached by intermediaries.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response<Body>, ApiError> {
    json_text(
        status,
        serde_json::to_string(value).map_err(ApiError::internal)?,
    )
}

/// A response from JSON already serialised (e.g. an idempotent replay).
pub fn json_text(status: StatusCode, json: String) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::Text(json))
        .map_err(ApiError::internal)
}

pub fn error_response(e: &ApiError) -> Response<Body> {
    let mut builder = Response::builder()
        .status(e.status())
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    for (name, value) in e.headers() {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::Text(e.body().to_string()))
        .expect("static status and headers are valid")
}

fn is_json_content_type(req: &Request) -> Option<bool> {
    let ct = req.headers().get(http::header::CONTENT_TYPE)?;
    let media = ct
        .to_str()
        .ok()?
        .split(';')
        .next()?
        .trim()
        .to_ascii_lowercase();
    Some(
        media == "application/json"
            || (media.starts_with("application/") && media.ends_with("+json")),
    )
}

/// Parses a required JSON body: 415 for another media type, 413 over the limit, 400 naming the
/// field for malformed JSON, missing fields, wrong types and unknown fields.
pub fn json_body<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    optional_json_body(req, limit)?.ok_or_else(|| ApiError::InvalidRequest {
        message: "a JSON request body is required".into(),
        param: None,
        code: "missing_body",
    })
}

/// As [`json_body`], but an empty body is `None`.
pub fn optional_json_body<T: DeserializeOwned>(
    req: &Request,
    limit: usize,
) -> Result<Option<T>, ApiError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > limit {
        return Err(ApiError::PayloadTooLarge(format!(
            "request body is {} bytes; this endpoint accepts at most {limit} bytes of JSON",
            body.len()
        )));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if is_json_content_type(req) != Some(true) {
        return Err(ApiError::UnsupportedMediaType(
            "request body must be JSON: send 'Content-Type: application/json'".into(),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de)
        .map(Some)
        .map_err(|e| json_error(&e))
}

pub(crate) fn json_error(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner();
    let msg = inner.to_string();
    if !inner.is_data() {
        return ApiError::InvalidRequest {
            message: format!("request body is not valid JSON: {msg}"),
            param: None,
            code: "invalid_json",
        };
    }
    let path = e.path().to_string();
    let field = |prefix: &str| -> Option<String> {
        let rest = msg.strip_prefix(prefix)?;
        let name = rest.split('`').next()?;
        Some(if path == "." {
            name.to_string()
        } else {
            format!("{path}.{name}")
        })
    };
    if let Some(name) = field("missing field `") {
        return ApiError::missing(&name);
    }
    if msg.starts_with("unknown field `") {
        // The path already ends with the unknown field's name.
        return ApiError::InvalidRequest {
            message: format!("Unrecognized request argument supplied: {path}"),
            param: Some(path),
            code: "unknown_parameter",
        };
    }
    let detail = msg.split(" at line ").next().unwrap_or(&msg);
    ApiError::InvalidRequest {
        message: format!("invalid value for '{path}': {detail}"),
        param: Some(path),
        code: "invalid_type",
    }
}

/// A path parameter the route guarantees (e.g. `{id}`).
pub fn path_param(req: &Request, name: &str) -> Result<String, ApiError> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::invalid(name.to_string(), format!("missing path parameter '{name}'"))
        })
}

/// The first value of a query parameter.
pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// Refuses query parameters the endpoint does not define, naming the first one.
pub fn reject_unknown_query(req: &Request, allowed: &[&str]) -> Result<(), ApiError> {
    let query = req.query_string_parameters_ref();
    if let Some((name, _)) = query.and_then(|q| q.iter().find(|(k, _)| !allowed.contains(k))) {
        return Err(ApiError::InvalidRequest {
            message: format!(
                "unknown query parameter '{name}'; this endpoint takes: {}",
                allowed.join(", ")
            ),
            param: Some(name.to_string()),
            code: "unknown_parameter",
        });
    }
    Ok(())
}

/// A 302 to a presigned URL.
pub fn redirect(location: &str) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .header("cache-control", "no-store")
        .body(Body::Empty)
        .map_err(ApiError::internal)
}

/// The `Idempotency-Key` header, validated (1–255 visible ASCII characters).
pub fn idempotency_key(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().map(str::trim).unwrap_or("");
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        n: u8,
    }

    fn req(ct: Option<&str>, body: &str) -> Request {
        let mut b = http::Request::builder().method("POST").uri("/x");
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(Body::Text(body.into())).unwrap()
    }

    fn param_of(e: ApiError) -> (StatusCode, Option<String>) {
        let status = e.status();
        let param = e.body()["error"]["param"].as_str().map(str::to_string);
        (status, param)
    }

    #[test]
    fn json_errors_name_the_field() {
        let ct = Some("application/json");
        let e = json_body::<Sample>(&req(ct, r#"{"name":"a"}"#), 1024).unwrap_err();
        assert_eq!(param_of(e), (StatusCode::BAD_REQUEST, Some("n".into())));
        let e = json_body::<Sample>(&req(ct, r#"{"name":"a","n":"x"}"#), 1024).unwrap_err();
        assert_eq!(param_of(e), (StatusCode::BAD_REQUEST, Some("n".into())));
        let e = json_body::<Sample>(&req(ct, r#"{"name":"a","n":1,"x":2}"#), 1024).unwrap_err();
        assert_eq!(param_of(e), (StatusCode::BAD_REQUEST, Some("x".into())));
        let e = json_body::<Sample>(&req(ct, r#"{"name":"#), 1024).unwrap_err();
        assert_eq!(param_of(e), (StatusCode::BAD_REQUEST, None));
    }

    #[test]
    fn wrong_media_type_and_size() {
        let e = json_body::<Sample>(&req(Some("text/plain"), r#"{"name":"a","n":1}"#), 1024)
            .unwrap_err();
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let e = json_body::<Sample>(&req(None, r#"{"name":"a","n":1}"#), 1024).unwrap_err();
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let e = json_body::<Sample>(&req(Some("application/json"), &"x".repeat(2000)), 1024)
            .unwrap_err();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let ok = json_body::<Sample>(
            &req(
                Some("application/json; charset=utf-8"),
                r#"{"name":"a","n":1}"#,
            ),
            1024,
        )
        .unwrap();
        assert_eq!(ok.n, 1);
    }

    #[test]
    fn bearer_parsing() {
        let r = http::Request::builder()
            .header("authorization", "bearer abc")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(bearer_token(&r).unwrap(), "abc");
        let r = http::Request::builder()
            .header("authorization", "Basic abc")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(
            bearer_token(&r).unwrap_err().status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
