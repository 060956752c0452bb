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
    vendor_keys_stay_out_and_vendor_events_match_the_alarms(&capture).await;
}

/// A failover with fal down and Replicate serving: neither key is in a log line or an answer,
/// and the failover and circuit events are lines the template's metric filters count.
async fn vendor_keys_stay_out_and_vendor_events_match_the_alarms(capture: &Capture) {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let (fal_key, replicate_key) = ("fal-Key-Never-Logged-7f3a", "r8_Token-Never-Logged-91c2");
    let fal = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"detail": "down"})))
        .mount(&fal)
        .await;
    let replicate = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"detail": "down too"})))
        .mount(&replicate)
        .await;
    let t = start_with(&[
        ("FalKey", fal_key),
        ("FalQueueUrl", &fal.uri()),
        ("ReplicateApiToken", replicate_key),
        ("ReplicateBaseUrl", &replicate.uri()),
        ("ProviderMaxRetries", "0"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let mut answers = Vec::new();
    for _ in 0..shared::domain::circuits::THRESHOLD {
        answers.push(
            t.generate(&s.access, json!({"prompt": "x", "model": "flux-dev"}))
                .await
                .text,
        );
    }
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    for key in [fal_key, replicate_key] {
        assert!(!logs.contains(key), "a log line contains a vendor key");
        assert!(
            answers.iter().all(|a| !a.contains(key)),
            "an answer contains a vendor key"
        );
    }
    let template = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    for event in ["vendor_failover", "circuit_opened"] {
        let pattern = format!("{{ $.fields.event = \"{event}\" }}");
        assert!(
            template.contains(&pattern),
            "no metric filter counts {event}"
        );
        let counted = logs
            .lines()
            .any(|l| serde_json::from_str::<Value>(l).is_ok_and(|v| v["fields"]["event"] == event));
        assert!(counted, "no log line an alarm would count as {event}");
    }
}
