//! `POST /mcp`: the API as a remote MCP server, over Streamable HTTP in its stateless form
//! (JSON answers, no session: what API Gateway and Lambda carry), through MCP's official Rust
//! SDK. It speaks the 2026-07-28 revision and, for clients that still begin with `initialize`,
//! the earlier ones. Every tool is one of the REST routes, called in-process through its own
//! handler with the caller's credential: limits, charges, validation and the ledger are the
//! route's. The request is admitted (and counted) once here; a bearer is an API key or the
//! token an MCP client got through OAuth (`/.well-known/oauth-protected-resource/mcp`).

mod api;
mod server;
mod tools;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use shared::http::{Admitted, Ctx, Resource, error_response, public_origin};
use shared::usecases::oauth::resource_of;
use shared::{ApiError, Deps};
use std::ops::Deref;
use std::sync::Arc;

pub use server::ImageMcp;

/// The deployment's `Deps` as the bundle holds them (for the process's life) or as the local
/// stack shares them.
#[derive(Clone)]
pub enum SharedDeps {
    Static(&'static Deps),
    Shared(Arc<Deps>),
}

impl Deref for SharedDeps {
    type Target = Deps;
    fn deref(&self) -> &Deps {
        match self {
            SharedDeps::Static(d) => d,
            SharedDeps::Shared(d) => d,
        }
    }
}

impl From<&'static Deps> for SharedDeps {
    fn from(d: &'static Deps) -> Self {
        SharedDeps::Static(d)
    }
}

impl From<Arc<Deps>> for SharedDeps {
    fn from(d: Arc<Deps>) -> Self {
        SharedDeps::Shared(d)
    }
}

pub async fn handler(deps: impl Into<SharedDeps>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "mcp");
    ctx.run(serve_mcp(deps.into(), &ctx, req, std::time::Instant::now()))
        .await
}

async fn serve_mcp(
    deps: SharedDeps,
    ctx: &Ctx,
    mut req: Request,
    started: std::time::Instant,
) -> Result<Response<Body>, ApiError> {
    let origin = public_origin(&deps.config, &req);
    req.extensions_mut().insert(Resource(resource_of(&origin)));
    let who = match ctx.admit(&deps, &req).await {
        Ok(who) => who,
        Err(e) => return Ok(refused(&e, &origin)),
    };
    // The stateless transport has only POST (no stream to GET, no session to DELETE).
    if req.method() != http::Method::POST {
        return Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header("allow", "POST")
            .body(Body::Empty)
            .map_err(ApiError::internal);
    }
    req.extensions_mut().insert(Admitted(who));
    let service = StreamableHttpService::new(
        {
            let deps = deps.clone();
            move || Ok(ImageMcp::new(deps.clone(), started))
        },
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            // API Gateway has already matched the host; a bearer is needed besides, so a
            // rebound DNS name gains a page nothing.
            .disable_allowed_hosts(),
    );
    let (parts, body) = req.into_parts();
    let body = Bytes::from(body.to_vec());
    let answer = service
        .handle(http::Request::from_parts(parts, Full::new(body)))
        .await;
    let (parts, body) = answer.into_parts();
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(never) => match never {},
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    Ok(Response::from_parts(parts, body))
}

/// A refused credential, with what an MCP client needs to sign in (RFC 9728 §5.1).
fn refused(e: &ApiError, origin: &str) -> Response<Body> {
    let mut answer = error_response(e);
    if answer.status() == StatusCode::UNAUTHORIZED {
        let presented = !matches!(
            e,
            ApiError::Unauthorized {
                code: "missing_credentials",
                ..
            }
        );
        let challenge = format!(
            "Bearer resource_metadata=\"{origin}/.well-known/oauth-protected-resource/mcp\"{}",
            if presented {
                ", error=\"invalid_token\""
            } else {
                ""
            }
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            answer.headers_mut().insert("www-authenticate", v);
        }
    }
    answer
}

/// The function's own bootstrap (the bundle's `own` section).
pub async fn serve() -> Result<(), lambda_http::Error> {
    shared::bootstrap::serve_http(|deps: &'static Deps, req| handler(deps, req)).await
}
