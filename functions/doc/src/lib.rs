//! `GET /v1/doc`: the OpenAPI 3.1 document, generated from the code in `shared::http::openapi`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::http::Ctx;
use shared::http::openapi::DOCUMENT;

pub async fn handler(req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "doc");
    ctx.run(async {
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("cache-control", "public, max-age=300")
            .body(Body::Text(DOCUMENT.clone()))
            .map_err(ApiError::internal)
    })
    .await
}

/// The Lambda's entry point: the document needs no configuration.
pub async fn serve() -> Result<(), lambda_http::Error> {
    shared::bootstrap::serve_http_with((), |_, req| handler(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_the_document_for_the_api_gateway_event() {
        let event = include_str!("../../../events/doc.json");
        let req = lambda_http::request::from_str(event).unwrap();
        let resp = handler(req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-request-id"], "evt-doc-0001");
        let doc: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        assert!(doc["paths"]["/v1/auth/register"]["post"].is_object());
    }
}
