//! One HTTP server for every route of the template. Each request becomes the event AWS would
//! deliver, parsed by lambda_http exactly as on Lambda, and is answered by the route's function
//! handler: the HTTP API's payload 2.0, answered whole; or, under a REST API's stage
//! (`/stream/...`), the REST API's payload 1.0, its answer passed on as it comes, as the REST
//! API's response streaming does.

use crate::registry::HttpHandler;
use crate::template::{Cors, Route};
use base64::Engine;
use futures::StreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{Request as HyperRequest, Response as HyperResponse};
use serde_json::{Map, Value, json};
use shared::http::routes::match_route;
use shared::http::streaming::Reply;
use shared::{ApiError, Deps};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

/// An answer's body: whole, or passed on chunk by chunk.
pub type Out = UnsyncBoxBody<Bytes, Infallible>;

/// API Gateway HTTP API's payload limit.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// Lambda's synchronous invocation payload limit (the whole event, binary bodies base64-encoded):
/// bigger requests never reach a function.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

pub struct Gateway {
    pub routes: Vec<(Route, HttpHandler)>,
    pub cors: Option<Cors>,
    pub deps: Arc<Deps>,
    /// The emulator, whose S3 this gateway serves under `/_s3` (presigned URLs name it).
    pub s3_origin: String,
    pub http: reqwest::Client,
}

/// Where presigned URLs point in the local stack: the emulator's S3 under the API's origin.
pub const S3_PREFIX: &str = "/_s3";

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

impl Gateway {
    fn find(
        &self,
        method: &str,
        path: &str,
    ) -> Option<(&Route, &HttpHandler, BTreeMap<String, String>)> {
        // A REST API's routes are under its stage's prefix; every other path is the HTTP API's.
        let (stage, path) = self
            .routes
            .iter()
            .filter_map(|(r, _)| r.stage.as_deref())
            .find_map(|stage| {
                let rest = path.strip_prefix(&format!("/{stage}"))?;
                rest.starts_with('/').then_some((Some(stage), rest))
            })
            .unwrap_or((None, path));
        self.routes
            .iter()
            .filter(|(r, _)| r.stage.as_deref() == stage)
            .filter(|(r, _)| r.method == "ANY" || r.method == method)
            .filter_map(|(r, h)| {
                match_route(&r.path, path).map(|(score, params)| {
                    let decoded = params
                        .into_iter()
                        .map(|(k, v)| (k, percent_decode(&v)))
                        .collect();
                    (score, r, h, decoded)
                })
            })
            .max_by_key(|(score, ..)| *score)
            .map(|(_, r, h, p)| (r, h, p))
    }

    /// `peer`: the client's address, which API Gateway reports as `sourceIp`.
    pub async fn handle(
        &self,
        req: HyperRequest<Incoming>,
        peer: std::net::IpAddr,
    ) -> HyperResponse<Out> {
        if req.uri().path().starts_with(&format!("{S3_PREFIX}/")) {
            return self.s3(req).await.map(BodyExt::boxed_unsync);
        }
        let origin = req.headers().get("origin").cloned();
        let mut response = if req.method() == hyper::Method::OPTIONS
            && req.headers().contains_key("access-control-request-method")
            && self.cors.is_some()
        {
            self.preflight().map(BodyExt::boxed_unsync)
        } else {
            self.invoke(req, peer).await
        };
        if let (Some(cors), Some(_)) = (&self.cors, origin) {
            let h = response.headers_mut();
            if let Ok(v) = cors.allow_origins.join(",").parse() {
                h.insert("access-control-allow-origin", v);
            }
            if let Ok(v) = cors.expose_headers.join(",").parse() {
                h.insert("access-control-expose-headers", v);
            }
        }
        response
    }

    /// Passes a presigned request on to the emulator's S3 (which, like S3, checks what was
    /// signed), and its answer back.
    async fn s3(&self, req: HyperRequest<Incoming>) -> HyperResponse<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let failed = |status: u16, why: String| {
            HyperResponse::builder()
                .status(status)
                .header("content-type", "text/plain")
                .body(Full::new(Bytes::from(why)))
                .expect("a plain answer")
        };
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return failed(413, "too large".into()),
        };
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let url = format!("{}{}", self.s3_origin, &path_and_query[S3_PREFIX.len()..]);
        let mut out = self.http.request(parts.method.clone(), &url).body(body);
        for (name, value) in &parts.headers {
            if !matches!(name.as_str(), "host" | "connection" | "content-length") {
                out = out.header(name, value);
            }
        }
        let resp = match out.send().await {
            Ok(r) => r,
            Err(e) => return failed(502, format!("the emulator's S3 did not answer: {e}")),
        };
        let mut answer = HyperResponse::builder().status(resp.status().as_u16());
        for (name, value) in resp.headers() {
            if !matches!(
                name.as_str(),
                "connection" | "transfer-encoding" | "content-length"
            ) {
                answer = answer.header(name, value);
            }
        }
        match resp.bytes().await {
            Ok(bytes) => answer
                .body(Full::new(bytes))
                .unwrap_or_else(|e| failed(502, e.to_string())),
            Err(e) => failed(502, format!("the emulator's S3 answer was cut: {e}")),
        }
    }

    fn preflight(&self) -> HyperResponse<Full<Bytes>> {
        let cors = self.cors.as_ref().expect("checked by caller");
        let mut b = HyperResponse::builder()
            .status(204)
            .header("access-control-allow-methods", cors.allow_methods.join(","))
            .header("access-control-allow-headers", cors.allow_headers.join(","));
        if let Some(age) = cors.max_age {
            b = b.header("access-control-max-age", age.to_string());
        }
        b.body(Full::new(Bytes::new())).expect("valid preflight")
    }

    async fn invoke(
        &self,
        req: HyperRequest<Incoming>,
        peer: std::net::IpAddr,
    ) -> HyperResponse<Out> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return error(&request_id, &too_large()),
        };
        let method = parts.method.as_str().to_string();
        let path = parts.uri.path().to_string();
        let Some((route, handler, params)) = self.find(&method, &path) else {
            // The template has a catch-all route; without one API Gateway answers 404 itself.
            return error(
                &request_id,
                &ApiError::NotFound(format!("Unknown route: {method} {path}")),
            );
        };
        let event = match &route.stage {
            None => api_gateway_event(&parts, &body, route, &params, &request_id, peer),
            Some(stage) => rest_api_event(&parts, &body, route, &params, &request_id, peer, stage),
        }
        .to_string();
        if event.len() > MAX_EVENT_BYTES {
            return error(&request_id, &too_large());
        }
        let request = match lambda_http::request::from_str(&event) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    &request_id,
                    &ApiError::internal(format!("event conversion: {e}")),
                );
            }
        };
        match handler(self.deps.clone(), request).await {
            Reply::Whole(response) => {
                let (parts, body) = response.into_parts();
                let bytes = shared::http::streaming::body_bytes(body);
                HyperResponse::from_parts(parts, Full::new(bytes).boxed_unsync())
            }
            // Only the REST API streams: the HTTP API buffers whatever a function sends.
            Reply::Streaming(response) if route.stage.is_some() => {
                let (parts, chunks) = response.into_parts();
                let body = StreamBody::new(chunks.map(|c| c.map(Frame::data)));
                HyperResponse::from_parts(parts, body.boxed_unsync())
            }
            Reply::Streaming(response) => {
                let (parts, body) = shared::http::streaming::whole(Reply::Streaming(response))
                    .await
                    .into_parts();
                HyperResponse::from_parts(
                    parts,
                    Full::new(Bytes::from(body.to_vec())).boxed_unsync(),
                )
            }
        }
    }
}

fn too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "request exceeds the {} MB a function can receive (binary bodies count base64-encoded); \
         upload large files with POST /v1/uploads",
        MAX_EVENT_BYTES / (1024 * 1024)
    ))
}

fn error(request_id: &str, e: &ApiError) -> HyperResponse<Out> {
    let r = shared::http::error_response(e);
    let (mut parts, body) = r.into_parts();
    if let Ok(v) = request_id.parse() {
        parts.headers.insert("x-request-id", v);
    }
    HyperResponse::from_parts(parts, Full::new(Bytes::from(body.to_vec())).boxed_unsync())
}

/// The payload-format-1.0 event a REST API's Lambda proxy integration builds for a request:
/// every body base64-encoded (the API's binary media types are `*/*`, so that multipart
/// uploads arrive intact).
fn rest_api_event(
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    route: &Route,
    params: &BTreeMap<String, String>,
    request_id: &str,
    peer: std::net::IpAddr,
    stage: &str,
) -> Value {
    let (mut headers, mut multi_headers) = (Map::new(), Map::new());
    for (name, value) in &parts.headers {
        let value = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
        headers.insert(name.as_str().to_string(), value.clone());
        multi_headers
            .entry(name.as_str().to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("an array")
            .push(value);
    }
    let (mut query, mut multi_query) = (Map::new(), Map::new());
    for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        query.insert(k.to_string(), json!(v));
        multi_query
            .entry(k.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("an array")
            .push(json!(v));
    }
    let path = &parts.uri.path()[stage.len() + 1..];
    let nonempty = |m: Map<String, Value>| (!m.is_empty()).then_some(Value::Object(m));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    json!({
        "resource": route.path,
        "path": path,
        "httpMethod": parts.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": nonempty(query),
        "multiValueQueryStringParameters": nonempty(multi_query),
        "pathParameters": (!params.is_empty()).then(|| json!(params)),
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"),
            "httpMethod": parts.method.as_str(),
            "identity": {
                "sourceIp": peer.to_string(),
                "userAgent": parts.headers.get("user-agent").and_then(|h| h.to_str().ok()).unwrap_or(""),
            },
            "path": parts.uri.path(),
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTimeEpoch": now.as_millis() as u64,
            "resourceId": "local",
            "resourcePath": route.path,
            "stage": stage,
        },
        "body": (!body.is_empty()).then(|| base64::engine::general_purpose::STANDARD.encode(body)),
        "isBase64Encoded": !body.is_empty(),
    })
}

/// The payload-format-2.0 event API Gateway builds for a request.
// Long: one field of the event per line, as API Gateway fills them.
fn api_gateway_event(
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    route: &Route,
    params: &BTreeMap<String, String>,
    request_id: &str,
    peer: std::net::IpAddr,
) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == "cookie" {
            cookies.extend(value.split("; ").map(|c| Value::String(c.to_string())));
            continue;
        }
        // API Gateway joins repeated headers with commas.
        match headers.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let mut query = Map::new();
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        match query.get_mut(k.as_ref()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                query.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
    }
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let route_key = format!("{} {}", route.method, route.path);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.to_string(),
                "userAgent": parts.headers.get("user-agent").and_then(|h| h.to_str().ok()).unwrap_or(""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": "",
            "timeEpoch": now.as_millis() as u64,
        },
        "isBase64Encoded": is_base64,
    });
    if !body.is_empty() {
        event["body"] = Value::String(body);
    }
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !params.is_empty() {
        event["pathParameters"] = json!(params);
    }
    event
}
