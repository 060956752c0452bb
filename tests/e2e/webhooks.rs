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
