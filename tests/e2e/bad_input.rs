//! Every bad input gets a clear 4xx in the OpenAI error shape, naming the field, with a request id.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::json;

fn assert_error_shape(r: &Reply) {
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        r.text
    );
    assert!(r.body["error"]["type"].is_string(), "{}", r.text);
    assert!(r.body["error"].get("param").is_some() && r.body["error"].get("code").is_some());
    assert!(r.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn register_fields_are_validated_by_name() {
    let t = start().await;
    let cases = [
        (
            json!({"email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
        (json!({"username": "ada_x", "password": PASSWORD}), "email"),
        (
            json!({"username": "ada_x", "email": "a@example.com"}),
            "password",
        ),
        (
            json!({"username": 5, "email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "ada_x", "email": ["a"], "password": PASSWORD}),
            "email",
        ),
        (
            json!({"username": "ada_x", "email": "a@example.com", "password": 12345678}),
            "password",
        ),
        (
            json!({"username": "a", "email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "ada x", "email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            json!({"username": "ada_x", "email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"username": "ada_x", "email": "a@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"username": "ada_x", "email": "a@example.com", "password": PASSWORD, "role": "admin"}),
            "role",
        ),
    ];
    for (body, field) in cases {
        let r = t.post("/v1/auth/register", body.clone(), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.param(), Some(field), "{body}: {}", r.text);
        assert_error_shape(&r);
    }
}

#[tokio::test]
async fn malformed_json_wrong_media_type_and_oversized_bodies() {
    let t = start().await;
    let r = t
        .send(
            t.http
                .post(t.url("/v1/auth/register"))
                .header("content-type", "application/json")
                .body("{\"username\": "),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), Some("invalid_json"));
    assert_error_shape(&r);

    let r = t
        .send(
            t.http
                .post(t.url("/v1/auth/login"))
                .header("content-type", "application/json")
                .body("[1, 2]"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let r = t
        .send(
            t.http
                .post(t.url("/v1/auth/register"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("username=ada&password=x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error_shape(&r);

    let r = t
        .send(
            t.http
                .post(t.url("/v1/auth/register"))
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), Some("missing_body"));

    let big =
        json!({"username": "x".repeat(70 * 1024), "email": "a@example.com", "password": PASSWORD});
    let r = t.post("/v1/auth/register", big, None).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_shape(&r);

    let huge = vec![b'a'; 7 * 1024 * 1024];
    let r = t
        .send(
            t.http
                .post(t.url("/v1/auth/register"))
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/uploads")
    );
    assert_error_shape(&r);
}

#[tokio::test]
async fn login_refresh_and_key_inputs() {
    let t = start().await;
    let cases = [
        ("/v1/auth/login", json!({"username": "ada"}), "password"),
        ("/v1/auth/login", json!({"password": PASSWORD}), "username"),
        (
            "/v1/auth/login",
            json!({"username": "ada", "email": "a@example.com", "password": PASSWORD}),
            "username",
        ),
        (
            "/v1/auth/login",
            json!({"username": "ada", "password": ""}),
            "password",
        ),
        ("/v1/auth/refresh", json!({}), "refresh_token"),
        (
            "/v1/auth/refresh",
            json!({"refresh_token": 42}),
            "refresh_token",
        ),
    ];
    for (path, body, field) in cases {
        let r = t.post(path, body.clone(), None).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {}",
            r.text
        );
        assert_eq!(r.param(), Some(field), "{path} {body}: {}", r.text);
    }
    let r = t
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": "rt_unknown"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let (_, session) = t.new_user().await;
    let r = t
        .post(
            "/v1/api-keys",
            json!({"name": "n".repeat(65)}),
            Some(&session.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.param(), Some("name"));
    let r = t
        .post(
            "/v1/api-keys",
            json!({"name": "ok", "scopes": []}),
            Some(&session.access),
        )
        .await;
    assert_eq!(r.param(), Some("scopes"));
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let t = start().await;
    let r = t.get("/v1/does-not-exist", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), Some("not_found"));
    assert_error_shape(&r);

    let r = t.send(t.http.patch(t.url("/v1/api-keys"))).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers["allow"], "GET, POST");
    assert_error_shape(&r);

    // A trailing slash is another path: a clean 404 (with a hint that works), never a 405
    // telling to use the very method that was sent.
    let (_, s) = t.new_user().await;
    let r = t.get("/v1/models/", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(
        r.text
            .contains("GET /v1/models (without the trailing slash)"),
        "{}",
        r.text
    );
    let r = t
        .post(
            "/v1/images/generations/",
            json!({"prompt": "x"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(
        t.get("/v1/models", None).await.status,
        StatusCode::OK,
        "the hint works"
    );
    // A literal path reached through a parameter route answers for itself: 405 with its methods.
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let r = t
            .send(
                t.http
                    .request(method.clone(), t.url("/v1/images/generations"))
                    .bearer_auth(&s.access),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}: {}",
            r.text
        );
        assert_eq!(r.headers["allow"], "POST", "{method}");
    }
    // A known path with another method lists exactly that path's methods.
    let r = t
        .send(t.http.put(t.url("/v1/images/img_x")).bearer_auth(&s.access))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
    assert_eq!(r.headers["allow"], "DELETE, GET, PATCH");
}

#[tokio::test]
async fn cors_allows_the_openai_sdk_headers() {
    let t = start().await;
    let r = t
        .send(
            t.http
                .request(reqwest::Method::OPTIONS, t.url("/v1/images/generations"))
                .header("origin", "https://app.example")
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "authorization,x-stainless-os",
                ),
        )
        .await;
    assert!(r.status.is_success());
    let allowed = r.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_string();
    for h in [
        "authorization",
        "content-type",
        "x-stainless-os",
        "x-stainless-retry-count",
        "idempotency-key",
        "openai-organization",
        "openai-project",
        "openai-beta",
    ] {
        assert!(allowed.split(',').any(|a| a == h), "{h} not in {allowed}");
    }
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    let methods = r.headers["access-control-allow-methods"].to_str().unwrap();
    for m in ["GET", "POST", "PATCH", "DELETE"] {
        assert!(
            methods.split(',').any(|a| a.trim() == m),
            "{m} not in {methods}"
        );
    }
    let r = t
        .send(
            t.http
                .get(t.url("/v1/doc"))
                .header("origin", "https://app.example"),
        )
        .await;
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    let exposed: Vec<&str> = r.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .split(',')
        .map(str::trim)
        .collect();
    // What a browser client must be able to read: the request id and the rate-limit headers.
    for h in [
        "x-request-id",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        assert!(exposed.contains(&h), "{h} not exposed: {exposed:?}");
    }
}
