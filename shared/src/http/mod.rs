//! HTTP glue shared by every function: request ids, logging span, body parsing, rate-limit
//! headers and the one mapping from `ApiError` to a response. Who is calling in `credentials`,
//! the pixel routes' bodies in `forms`, the paid routes' answers (`Prefer`, 202s) in `answers`.

pub use credentials::*;

pub mod answers;
mod credentials;
#[cfg(feature = "images")]
pub mod forms;
#[cfg(feature = "images")]
pub mod multipart;
pub mod openapi;
pub mod routes;
pub mod streaming;

use crate::domain::accounts::{Admission, Live, RateWindow};
use crate::domain::accounts::{Credential, Principal, Scope};
use crate::domain::now_epoch;
use crate::error::ApiError;
use crate::ports::Store;
use crate::usecases::Deps;
use crate::usecases::auth::{API_KEY_PREFIX, token_hash, verify_access_token};
use crate::wire;
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
    /// When the handler began: a synchronous answer is due `SYNC_ANSWER_SECONDS` later.
    pub started: Instant,
}

impl Ctx {
    pub fn new(req: &Request, function: &'static str) -> Self {
        let (from_gateway, source_ip) = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(c)) => {
                (c.request_id.clone(), c.http.source_ip.clone())
            }
            Some(RequestContext::ApiGatewayV1(c)) => {
                (c.request_id.clone(), c.identity.source_ip.clone())
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
            started: Instant::now(),
        }
    }

    /// The moment a synchronous answer must be committed by.
    pub fn answer_by(&self, config: &crate::Config) -> Instant {
        self.started + config.vendors.sync_answer_within
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

/// A JSON response; every body of this API is JSON and none may be cached by intermediaries.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response<Body>, ApiError> {
    json_text(
        status,
        serde_json::to_string(value).map_err(ApiError::internal)?,
    )
}

/// A streamed answer as OpenAI sends it (`text/event-stream`): for each image, its partial
/// images (`{prefix}.partial_image`) and then the image (`{prefix}.completed`); `prefix` is
/// `image_generation` or `image_edit`. Built once the images are stored, so a client reads the
/// same events whether the transport delivers them one by one or at once.
pub fn event_stream(
    images: &wire::ImagesResponse,
    prefix: &str,
) -> Result<Response<Body>, ApiError> {
    use std::fmt::Write;
    let mut out = String::new();
    let event = |out: &mut String, kind: &str, body: serde_json::Value| {
        let _ = write!(out, "event: {prefix}.{kind}\ndata: {body}\n\n");
    };
    for (i, item) in images.data.iter().enumerate() {
        let common = serde_json::json!({
            "created_at": images.created,
            "size": images.size,
            "quality": images.quality,
            "background": images.background,
            "output_format": images.output_format,
        });
        for (k, partial) in images.partials.get(i).into_iter().flatten().enumerate() {
            let mut body = common.clone();
            body["type"] = format!("{prefix}.partial_image").into();
            body["b64_json"] = partial.clone().into();
            body["partial_image_index"] = k.into();
            event(&mut out, "partial_image", body);
        }
        let mut body = common;
        body["type"] = format!("{prefix}.completed").into();
        body["b64_json"] = item.b64_json.clone().unwrap_or_default().into();
        body["id"] = item.id.clone().into();
        // The vendor's count for this image; none for models that count no tokens (local).
        body["usage"] = images
            .image_usage
            .get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| {
                serde_json::json!({
                    "input_tokens": 0,
                    "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
                    "output_tokens": 0,
                    "total_tokens": 0,
                })
            });
        event(&mut out, "completed", body);
    }
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-store")
        .body(Body::Text(out))
        .map_err(ApiError::internal)
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

/// An OAuth endpoint's answer (RFC 6749 §5.1, §5.2): JSON that no one may cache; an error is
/// `{error, error_description}`, as OAuth clients read it.
pub fn oauth_answer<T: Serialize>(
    status: StatusCode,
    result: Result<T, crate::usecases::oauth::OAuthError>,
) -> Response<Body> {
    let (status, text) = match result {
        Ok(v) => (status, serde_json::to_string(&v)),
        Err(e) => (
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            serde_json::to_string(&e),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .header("pragma", "no-cache")
        .body(Body::Text(text.unwrap_or_default()))
        .expect("static status and headers are valid")
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

/// As [`json_body`], but an empty body (or JSON `null`) is `None`.
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
    // Every body of this API is an object (serde would read a struct from an array too); a
    // JSON `null` is no body, as the document's nullable optional bodies say.
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{' && *b != b'n') {
        return Err(ApiError::InvalidRequest {
            message: "request body must be a JSON object".into(),
            param: None,
            code: "invalid_type",
        });
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize::<_, Option<T>>(de).map_err(|e| json_error(&e))
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
/// Page cursors: the id to continue after. Any id-shaped cursor is a valid place to continue
/// from (the store starts after it whether or not it exists), so the document's pattern says
/// exactly which cursors are accepted.
pub const CURSOR_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

pub fn encode_cursor(id: &str) -> String {
    id.to_string()
}

pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    if !crate::domain::plausible_id(cursor) {
        return Err(ApiError::invalid(
            "cursor",
            "cursor is not one this API returned (pass next_cursor as it came)",
        ));
    }
    Ok(cursor.to_string())
}

/// The `limit` query parameter of a listing: 1 to `max`, `default` when absent.
pub fn page_limit(req: &Request, default: usize, max: usize) -> Result<usize, ApiError> {
    match query_param(req, "limit") {
        None => Ok(default),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("limit must be an integer from 1 to {max}"))
            }),
    }
}

pub fn redirect(location: &str) -> Result<Response<Body>, ApiError> {
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .header("cache-control", "no-store")
        .body(Body::Empty)
        .map_err(ApiError::internal)
}

/// The origin clients reach this API at: `PUBLIC_BASE_URL`, or the `Host` API Gateway
/// answered on (never a client-set forwarding header), https but http on loopback.
pub fn public_origin(config: &crate::config::Config, req: &Request) -> String {
    if let Some(base) = &config.accounts.public_base_url {
        return base.clone();
    }
    let host = req
        .headers()
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let loopback = host.starts_with("127.0.0.1") || host.starts_with("localhost");
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{host}")
}

/// The cookie the web pages keep their refresh token in: out of reach of scripts, sent only to
/// the refresh route, never cross-site. `__Secure-`: only a secure origin can set it (the
/// `__Host-` prefix would need `Path=/`, sending it with every request).
pub const REFRESH_COOKIE: &str = "__Secure-refresh_token";

pub fn refresh_cookie(token: &str, max_age: i64) -> String {
    format!(
        "{REFRESH_COOKIE}={token}; Path=/v1/auth/refresh; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict"
    )
}

/// Our tokens as an answer: the refresh token in the body, or (`in_cookie`, the web pages) only
/// in the HttpOnly refresh cookie.
pub fn token_answer(
    mut tokens: wire::TokenResponse,
    in_cookie: bool,
) -> Result<Response<Body>, ApiError> {
    if !in_cookie {
        return json(StatusCode::OK, &tokens);
    }
    let set = refresh_cookie(
        tokens.refresh_token.take().as_deref().unwrap_or_default(),
        tokens.refresh_expires_in,
    );
    let mut resp = json(StatusCode::OK, &tokens)?;
    resp.headers_mut()
        .insert("set-cookie", set.parse().map_err(ApiError::internal)?);
    Ok(resp)
}

/// Removes the refresh cookie (sign-out).
pub fn cleared_refresh_cookie() -> String {
    refresh_cookie("", 0)
}

/// A cookie of the request, by name.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
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
