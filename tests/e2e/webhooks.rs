//! Webhook signing secrets, checked with the official `standardwebhooks` package as a receiver.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::json;
use shared::domain::now_epoch;
use shared::domain::webhooks::{WebhookSecrets, signature_header};

/// Whether the `standardwebhooks` Python package accepts this delivery under `secret`.
pub(crate) fn receiver_accepts(
    secret: &str,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> bool {
    let script = r#"
import sys, json
from standardwebhooks.webhooks import Webhook
secret, id, ts, sig, body = sys.argv[1:6]
try:
    Webhook(secret).verify(body, {"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig})
    print("ok")
except Exception as e:
    print("refused:", e)
"#;
    let out = std::process::Command::new(workspace_root().join(".venv/bin/python"))
        .args([
            "-c",
            script,
            secret,
            id,
            &timestamp.to_string(),
            signature,
            body,
        ])
        .output()
        .expect("the venv's python runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    said.trim() == "ok"
}

#[tokio::test]
async fn a_users_secret_is_made_once_and_rotation_keeps_the_old_one_signing_for_a_day() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, key) = t.api_key(&s.access).await;
    let first = t.get("/v1/webhooks/secret", Some(&s.access)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["object"], "webhook_secret");
    assert!(first.body["previous_expires_at"].is_null());
    let old = first.body["secret"].as_str().unwrap().to_string();
    assert!(old.starts_with("whsec_"), "{old}");
    let again = t.get("/v1/webhooks/secret", Some(&key)).await;
    assert_eq!(
        again.body["secret"],
        old.as_str(),
        "one secret, readable with a key"
    );
    let (_, other) = t.new_user().await;
    let theirs = t.get("/v1/webhooks/secret", Some(&other.access)).await;
    assert_ne!(
        theirs.body["secret"],
        old.as_str(),
        "each user has their own"
    );

    let by_key = t
        .post("/v1/webhooks/secret/rotate", json!({}), Some(&key))
        .await;
    assert_eq!(by_key.status, StatusCode::FORBIDDEN, "{}", by_key.text);
    let before = now_epoch();
    let rotated = t
        .post("/v1/webhooks/secret/rotate", json!({}), Some(&s.access))
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let new = rotated.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let until = rotated.body["previous_expires_at"].as_i64().unwrap();
    assert!(
        (before + 86_400..=now_epoch() + 86_400).contains(&until),
        "{until}"
    );
    assert_eq!(
        t.get("/v1/webhooks/secret", Some(&s.access)).await.body["secret"],
        new.as_str()
    );

    // What the service signs now verifies under the new secret and under the old one alike,
    // with the official receiver library; a day later only the new one signs.
    let secrets = WebhookSecrets {
        current: new.clone(),
        previous: Some((old.clone(), until)),
    };
    let body = r#"{"id":"job_1","object":"job","status":"succeeded"}"#;
    let now = now_epoch();
    let header = signature_header(&secrets, "msg_1", now, body);
    assert!(receiver_accepts(&new, "msg_1", now, &header, body));
    assert!(receiver_accepts(&old, "msg_1", now, &header, body));
    assert!(!receiver_accepts(
        &old,
        "msg_1",
        now,
        &header,
        &body.replace("succeeded", "failed")
    ));
    let later = signature_header(&secrets, "msg_1", until, body);
    assert!(
        !later.contains(' '),
        "one signature after the grace: {later}"
    );
}

/// A receiver on loopback that answers each request with the next of `statuses` (then 200).
pub(crate) async fn receiver(statuses: &[u16]) -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let server = wiremock::MockServer::start().await;
    for (i, status) in statuses.iter().enumerate() {
        Mock::given(method("POST"))
            .and(path("/hook"))
            .respond_with(ResponseTemplate::new(*status))
            .up_to_n_times(1)
            .with_priority(i as u8 + 1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(100)
        .mount(&server)
        .await;
    server
}

pub(crate) fn header(req: &wiremock::Request, name: &str) -> String {
    req.headers[name].to_str().unwrap().to_string()
}

/// Whether the receiver library accepts `req` under `secret`.
pub(crate) fn verified(req: &wiremock::Request, secret: &str) -> bool {
    receiver_accepts(
        secret,
        &header(req, "webhook-id"),
        header(req, "webhook-timestamp").parse().unwrap(),
        &header(req, "webhook-signature"),
        std::str::from_utf8(&req.body).unwrap(),
    )
}

#[tokio::test]
async fn a_delivery_on_the_webhook_queue_reaches_the_receiver_signed() {
    let t = start_with(&[("AllowPrivateWebhookTargets", "true")]).await;
    let (_, s) = t.new_user().await;
    let secret = t.get("/v1/webhooks/secret", Some(&s.access)).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let server = receiver(&[]).await;
    let body = json!({"id": "job_1", "object": "job", "status": "succeeded"});
    let message = json!({"id": "msg_queue_1", "user_id": t.user_id(&s.access).await,
                         "url": format!("{}/hook", server.uri()), "body": body});
    let (queue_url, _) = t.stack.created.queues["WebhookQueue"].clone();
    t.stack
        .clients
        .sqs
        .send_message()
        .queue_url(&queue_url)
        .message_body(message.to_string())
        // A FIFO queue: a job's webhooks keep their order.
        .message_group_id("job_1")
        .message_deduplication_id("msg_queue_1")
        .send()
        .await
        .unwrap();
    let mut received = Vec::new();
    for _ in 0..100 {
        received = server.received_requests().await.unwrap();
        if !received.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(received.len(), 1, "delivered once");
    let req = &received[0];
    assert_eq!(header(req, "webhook-id"), "msg_queue_1");
    assert_eq!(header(req, "content-type"), "application/json");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&req.body).unwrap(),
        body
    );
    assert!(verified(req, &secret));
}

/// Redeliveries asked of the queue, as the handler asks them of SQS.
#[derive(Default)]
struct Noted(std::sync::Mutex<Vec<(String, std::time::Duration)>>);

impl deliver_webhook::Redelivery for Noted {
    async fn retry_after(&self, rh: &str, delay: std::time::Duration) -> Result<(), String> {
        self.0.lock().unwrap().push((rh.to_string(), delay));
        Ok(())
    }
}

fn sqs_event(
    body: &serde_json::Value,
    receive_count: u32,
) -> lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent> {
    let mut record = aws_lambda_events::event::sqs::SqsMessage::default();
    record.message_id = Some("m-1".into());
    record.receipt_handle = Some(format!("rh-{receive_count}"));
    record.body = Some(body.to_string());
    record
        .attributes
        .insert("ApproximateReceiveCount".into(), receive_count.to_string());
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = vec![record];
    lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default())
}

#[tokio::test]
async fn a_failed_delivery_comes_back_later_with_the_same_id_and_a_fresh_signature() {
    let t = start_with(&[("AllowPrivateWebhookTargets", "true")]).await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let secret = t.get("/v1/webhooks/secret", Some(&s.access)).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let server = receiver(&[500, 503]).await;
    let message = json!({"id": "msg_retry", "user_id": t.user_id(&s.access).await,
                         "url": format!("{}/hook", server.uri()), "body": {"status": "failed"}});
    let noted = Noted::default();
    let now = now_epoch();
    for (count, failed) in [(1, true), (2, true), (3, false)] {
        let r = deliver_webhook::handler(
            &deps,
            &noted,
            sqs_event(&message, count),
            now + count as i64,
        )
        .await
        .unwrap();
        assert_eq!(
            r.batch_item_failures.len(),
            failed as usize,
            "attempt {count}"
        );
    }
    let asked: Vec<u64> = noted
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, d)| d.as_secs())
        .collect();
    assert_eq!(asked, [30, 60], "backing off, doubling");
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 3);
    for (i, req) in received.iter().enumerate() {
        assert_eq!(
            header(req, "webhook-id"),
            "msg_retry",
            "the same id every time"
        );
        assert_eq!(
            header(req, "webhook-timestamp"),
            (now + i as i64 + 1).to_string()
        );
    }
    // The receiver's library checks the timestamp against its clock: the last is fresh.
    assert!(verified(&received[2], &secret));

    // A body that is not a delivery is kept for the dead-letter queue, never dropped silently.
    let r = deliver_webhook::handler(&deps, &noted, sqs_event(&json!({"what": 1}), 1), now)
        .await
        .unwrap();
    assert_eq!(r.batch_item_failures.len(), 1);
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed_even_behind_a_hostname() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let server = receiver(&[]).await;
    let port = server.address().port();
    let user_id = t.user_id(&s.access).await;
    let noted = Noted::default();
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
        // A name that resolves to loopback: checked after resolution too.
        format!("https://localhost:{port}/hook"),
        "https://169.254.169.254/latest/meta-data".to_string(),
    ] {
        let message = json!({"id": "msg_ssrf", "user_id": user_id, "url": url, "body": {}});
        let r = deliver_webhook::handler(&deps, &noted, sqs_event(&message, 1), now_epoch())
            .await
            .unwrap();
        assert!(
            r.batch_item_failures.is_empty(),
            "{url}: dropped, not retried"
        );
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing reached loopback"
    );
    assert!(noted.0.lock().unwrap().is_empty());
}
