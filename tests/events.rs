//! The payloads in events/ are real API Gateway v2 events: fed to the handlers exactly as
//! Lambda would deliver them (and as `cargo lambda invoke --data-file` does), they work.

use e2e_tests::*;
use lambda_http::{Body, Response};
use serde_json::Value;

fn event(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("events").join(format!("{name}.json"))).unwrap()
}

fn request(name: &str, token: Option<&str>) -> lambda_http::Request {
    let mut text = event(name);
    if let Some(t) = token {
        text = text.replace("REPLACE_WITH_ACCESS_TOKEN", t);
    }
    lambda_http::request::from_str(&text).expect("a valid API Gateway v2 event")
}

fn json(resp: &Response<Body>) -> Value {
    serde_json::from_slice(resp.body().as_ref()).unwrap()
}

#[tokio::test]
async fn account_events_drive_the_handlers() {
    let t = start().await;
    let deps = t.deps().await;

    let resp = register::handler(&deps, request("register", None)).await;
    assert_eq!(resp.status(), 201, "{:?}", json(&resp));
    assert_eq!(json(&resp)["username"], "ada");
    assert_eq!(
        resp.headers()["x-request-id"],
        "evt-register-0001",
        "the gateway's request id is echoed"
    );

    let resp = login::handler(&deps, request("login", None)).await;
    assert_eq!(resp.status(), 200);
    let access = json(&resp)["access_token"].as_str().unwrap().to_string();

    let resp = me::handler(&deps, request("me", Some(&access))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(&resp)["email"], "ada@example.com");

    let resp = create_api_key::handler(&deps, request("create-api-key", Some(&access))).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(json(&resp)["name"], "ci");

    let resp = list_api_keys::handler(&deps, request("list-api-keys", Some(&access))).await;
    assert_eq!(json(&resp)["data"].as_array().unwrap().len(), 1);

    // The sample ids and tokens in the events are not real: they are refused properly.
    let resp = revoke_api_key::handler(&deps, request("revoke-api-key", Some(&access))).await;
    assert_eq!(resp.status(), 404);
    let resp = refresh_token::handler(&deps, request("refresh-token", None)).await;
    assert_eq!(resp.status(), 401);

    let resp = signout::handler(&deps, request("signout", Some(&access))).await;
    assert_eq!(resp.status(), 200);
    let resp = me::handler(&deps, request("me", Some(&access))).await;
    assert_eq!(resp.status(), 401);
}
