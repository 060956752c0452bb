//! Passwords never appear in a response or a log line, and every log line of a request carries
//! its request id.

use e2e_tests::*;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn passwords_stay_out_of_responses_and_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    // The functions' own JSON format and filter, with RUST_LOG turned all the way up.
    use tracing_subscriber::util::SubscriberInitExt;
    shared::telemetry::json_subscriber(move || writer.clone(), "trace").init();

    let t = start().await;
    let secret = "Sup3r-Secret-Passw0rd!";
    let name = unique("quiet");
    let mut bodies = Vec::new();
    let mut request_ids = Vec::new();
    let calls = [
        (
            "/v1/auth/register",
            json!({"username": name, "email": format!("{name}@example.com"), "password": secret}),
        ),
        (
            "/v1/auth/register",
            json!({"username": name, "email": format!("{name}@example.com"), "password": secret}),
        ),
        (
            "/v1/auth/login",
            json!({"username": name, "password": secret}),
        ),
        (
            "/v1/auth/login",
            json!({"username": name, "password": format!("{secret}x")}),
        ),
        (
            "/v1/auth/register",
            json!({"username": "x", "email": "bad", "password": secret}),
        ),
        (
            "/v1/auth/register",
            json!({"username": name, "email": format!("{name}@example.com"), "password": 1, "p": secret}),
        ),
    ];
    for (path, body) in calls {
        let r = t.post(path, body, None).await;
        request_ids.push(r.headers["x-request-id"].to_str().unwrap().to_string());
        bodies.push(r.text);
    }
    let bad_json = t
        .send(
            t.http
                .post(t.url("/v1/auth/login"))
                .header("content-type", "application/json")
                .body(format!(
                    "{{\"username\": \"{name}\", \"password\": \"{secret}\""
                )),
        )
        .await;
    bodies.push(bad_json.text);

    for body in &bodies {
        assert!(
            !body.contains(secret),
            "response leaks the password: {body}"
        );
    }
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(!logs.is_empty());
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
    assert!(
        leaks.is_empty(),
        "log lines contain the password: {leaks:#?}"
    );
    let hashes: Vec<&str> = logs.lines().filter(|l| l.contains("$argon2id$")).collect();
    assert!(
        hashes.is_empty(),
        "log lines contain a password hash: {hashes:#?}"
    );
    for id in &request_ids {
        assert!(logs.contains(id.as_str()), "no log line for request {id}");
    }
    // Every line written inside a request names its request id, however deep in child spans
    // it was written; and handler code never logs outside its request's span.
    let mut inside = 0;
    for line in logs.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let spans = v["spans"].as_array().cloned().unwrap_or_default();
        if let Some(request) = spans.iter().find(|s| s["name"] == "request") {
            inside += 1;
            assert!(request["request_id"].is_string(), "{line}");
        } else {
            let message = v["fields"]["message"].as_str().unwrap_or_default();
            for handler_says in ["handled", "request refused", "signed in", "account created"] {
                assert_ne!(
                    message, handler_says,
                    "logged outside a request span: {line}"
                );
            }
        }
    }
    assert!(inside > 0, "lines were written inside requests");
}
