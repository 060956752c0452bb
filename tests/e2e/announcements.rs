//! Announcements come from the table's stream, not from the request or the worker that made the
//! change: a worker that stops right after its settling transaction still has its job's webhook
//! delivered once (checked with `standardwebhooks`) and its event published once, and a stream
//! record delivered twice gives one webhook id and one event id.

use crate::bus_events::{received, subscriber};
use crate::jobs::{quiet, submit_quietly, until_over};
use crate::webhooks::{header, receiver, verified};
use e2e_tests::*;
use serde_json::{Value, json};
use std::time::Duration;

/// Requests the receiver got so far, once `at_least` have come (or after 10 s).
async fn hooks(server: &wiremock::MockServer, at_least: usize) -> Vec<wiremock::Request> {
    let mut got = Vec::new();
    for _ in 0..100 {
        got = server.received_requests().await.unwrap();
        if got.len() >= at_least {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got
}

async fn secret(t: &TestStack, access: &str) -> String {
    t.get("/v1/webhooks/secret", Some(access)).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_worker_that_stops_after_settling_still_has_its_job_announced_once() {
    let t = start_with(&[("AllowPrivateWebhookTargets", "true")]).await;
    let events = subscriber(&t).await;
    let server = receiver(&[]).await;
    let (_, s) = t.new_user().await;
    let secret = secret(&t, &s.access).await;
    let deps = quiet(&t).await;
    let (id, message) = submit_quietly(
        &deps,
        &s.access,
        json!({"prompt": "a lighthouse at dusk", "size": "256x256",
               "webhook": format!("{}/hook", server.uri())}),
    )
    .await;

    // The worker's Lambda dies right after the transaction that succeeds the job.
    let mut faulty = t.deps().await;
    faulty.config.faults.stop_after_settle = true;
    let stopped = shared::usecases::jobs::run(&faulty, &message, shared::domain::now_epoch()).await;
    assert!(stopped.is_err(), "the fault stops the attempt: {stopped:?}");
    let done = until_over(&t, &s.access, &id).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.text);

    let delivered = hooks(&server, 1).await;
    let completed: Vec<&wiremock::Request> = delivered
        .iter()
        .filter(|r| header(r, "webhook-id") == format!("msg_{id}_completed"))
        .collect();
    assert_eq!(completed.len(), 1, "{delivered:?}");
    assert!(
        verified(completed[0], &secret),
        "standardwebhooks accepts it"
    );
    let body: Value = serde_json::from_slice(&completed[0].body).unwrap();
    assert_eq!(body["status"], "succeeded");

    let seen = received(&t, &events, 3).await;
    let succeeded: Vec<&Value> = seen
        .iter()
        .filter(|e| e["detail-type"] == "Job Succeeded" && e["detail"]["id"] == id.as_str())
        .collect();
    assert_eq!(succeeded.len(), 1, "{seen:?}");
    assert_eq!(
        succeeded[0]["detail"]["event_id"],
        format!("evt_{id}_succeeded")
    );
    let created = seen
        .iter()
        .filter(|e| e["detail-type"] == "Image Created")
        .count();
    assert_eq!(created, 1, "{seen:?}");
    // Nothing more comes later: one webhook, one event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(hooks(&server, 1).await.len(), 1);
    let later = received(&t, &events, 0).await;
    assert!(
        !later.iter().any(|e| e["detail-type"] == "Job Succeeded"),
        "{later:?}"
    );
}

/// The stream record of a job's transition to `status`, as Lambda delivers it.
fn record(user_id: &str, job_id: &str, webhook: &str, from: &str, to: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join("events/announce.json")).unwrap();
    let text = text
        .replace("user_example", user_id)
        .replace("job_example", job_id)
        .replace("https://example.com/hooks/images", webhook)
        .replace("\"queued\"", &format!("\"{from}\""))
        .replace("\"processing\"", &format!("\"{to}\""));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_stream_record_delivered_twice_gives_one_webhook_id_and_one_event_id() {
    let t = start_with(&[("AllowPrivateWebhookTargets", "true")]).await;
    let events = subscriber(&t).await;
    let server = receiver(&[]).await;
    let (_, s) = t.new_user().await;
    let user_id = t.user_id(&s.access).await;
    let secret = secret(&t, &s.access).await;
    let job_id = unique("job");
    let event: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(record(
        &user_id,
        &job_id,
        &format!("{}/hook", server.uri()),
        "queued",
        "processing",
    ))
    .unwrap();
    let deps = t.deps().await;
    for _ in 0..2 {
        let invocation =
            lambda_runtime::LambdaEvent::new(event.clone(), lambda_runtime::Context::default());
        let answer = announce::handler(&deps, invocation).await.unwrap();
        assert!(answer.batch_item_failures.is_empty());
    }
    let delivered = hooks(&server, 2).await;
    let ids: Vec<String> = delivered.iter().map(|r| header(r, "webhook-id")).collect();
    assert!(!ids.is_empty());
    assert!(
        ids.iter().all(|i| *i == format!("msg_{job_id}_started")),
        "{ids:?}"
    );
    assert!(delivered.iter().all(|r| verified(r, &secret)));
    let seen = received(&t, &events, 2).await;
    let started: Vec<&Value> = seen
        .iter()
        .filter(|e| e["detail-type"] == "Job Started")
        .collect();
    assert_eq!(started.len(), 2, "both published: {seen:?}");
    assert!(
        started
            .iter()
            .all(|e| e["detail"]["event_id"] == format!("evt_{job_id}_processing")),
        "{started:?}"
    );
}
