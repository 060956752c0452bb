//! `GET /.well-known/oauth-protected-resource[/mcp]` (RFC 9728) and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414): what an MCP client reads to sign
//! in, all from this API's own origin.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::Config;
use shared::http::{Ctx, public_origin};
use shared::usecases::oauth::{authorization_server, protected_resource};

pub async fn handler(config: &Config, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "oauth-metadata");
    ctx.run(async {
        let origin = public_origin(config, &req);
        let path = req.uri().path();
        let doc = if path.starts_with("/.well-known/oauth-authorization-server") {
            authorization_server(&origin)
        } else {
            protected_resource(&origin)
        };
        // The same for everyone and rarely changed: clients and caches may keep it an hour.
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("cache-control", "public, max-age=3600")
            .header("access-control-allow-origin", "*")
            .body(Body::Text(doc.to_string()))
            .map_err(shared::ApiError::internal)
    })
    .await
}

/// The metadata needs the configuration alone: no AWS client is built.
pub async fn serve() -> Result<(), lambda_http::Error> {
    shared::bootstrap::serve_http_with(Config::from_env()?, handler).await
}
