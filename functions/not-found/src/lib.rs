//! The catch-all route: unknown paths get the API's own 404 body, known paths with another
//! method a 405 with `Allow`, instead of API Gateway's bare `{"message":"Not Found"}`.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::http::Ctx;
use shared::http::openapi::{allowed_methods, method_not_allowed};

pub async fn handler(req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "not-found");
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    ctx.run(async move {
        let allowed = allowed_methods(&path);
        if !allowed.is_empty() {
            return Err(method_not_allowed(&method, &path, &allowed));
        }
        // Only a hint that works: the same path without its trailing slash, for this method.
        let trimmed = path.trim_end_matches('/');
        let hint = if trimmed != path && allowed_methods(trimmed).contains(&method) {
            format!(" Did you mean {method} {trimmed} (without the trailing slash)?")
        } else {
            " The routes of this API are listed at /v1/doc.".to_string()
        };
        Err(ApiError::NotFound(format!(
            "Unknown route: {method} {path}.{hint}"
        )))
    })
    .await
}

/// The Lambda's entry point: the answer needs no configuration.
pub async fn serve() -> Result<(), lambda_http::Error> {
    shared::bootstrap::serve_http_with((), |_, req| handler(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;

    #[tokio::test]
    async fn unknown_route_gets_an_openai_shaped_404() {
        let event = include_str!("../../../events/not-found.json");
        let resp = handler(lambda_http::request::from_str(event).unwrap()).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert!(resp.headers().contains_key("x-request-id"));
        let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "not_found");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("/v1/nope")
        );
    }

    #[tokio::test]
    async fn known_path_with_wrong_method_is_405_with_allow() {
        let event = include_str!("../../../events/not-found.json")
            .replace("/v1/nope", "/v1/me")
            .replace("\"GET\"", "\"PUT\"");
        let resp = handler(lambda_http::request::from_str(&event).unwrap()).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()["allow"], "GET");
    }
}
