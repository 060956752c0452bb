//! Jobs: paid work through the generation queue. Through the gateway the stack's own worker
//! loop runs them (SQS → worker, as on AWS). Where a test must decide when and how often a job
//! runs (a worker killed mid-job, a message delivered twice), it submits through the handler
//! with deps whose queue is in memory, and runs each delivery itself with its own clock.

use crate::bus_events::{received, subscriber};
use crate::webhooks::{header, receiver, verified};
use e2e_tests::*;
use lambda_http::Body;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::adapters::memory::MemoryQueue;
use shared::domain::now_epoch;
use shared::messages::JobMessage;
use shared::ports::QueueName;
use shared::ports::{Images, Jobs};
use shared::usecases::jobs::LEASE_SECONDS;
use shared::usecases::jobs::{Ran, run};
use std::time::Duration;

/// POST with `Prefer` (and an optional Idempotency-Key) through the gateway.
pub(crate) async fn submit(
    t: &TestStack,
    token: &str,
    body: Value,
    prefer: &str,
    key: Option<&str>,
) -> Reply {
    let mut req = t
        .http
        .post(t.url("/v1/images/generations"))
        .bearer_auth(token)
        .header("prefer", prefer)
        .json(&body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    t.send(req).await
}

/// Polls the job until it is over (succeeded, failed or canceled).
pub(crate) async fn until_over(t: &TestStack, token: &str, id: &str) -> Reply {
    for _ in 0..200 {
        let r = t.get(&format!("/v1/jobs/{id}"), Some(token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        if ["succeeded", "failed", "canceled"].contains(&r.body["status"].as_str().unwrap()) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} did not end");
}

async fn available(t: &TestStack, token: &str) -> i64 {
    t.credits(token).await["available"].as_i64().unwrap()
}

fn decoded(reply: &Value) -> Vec<Vec<u8>> {
    reply["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| pixels(&b64(d["b64_json"].as_str().unwrap())))
        .collect()
}

#[tokio::test]
async fn an_async_generation_is_queued_then_succeeds_with_what_the_sync_call_answers() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, other) = t.new_user().await;
    let body = json!({"prompt": "a lighthouse at dusk", "n": 2, "size": "256x256",
                      "response_format": "b64_json", "seed": 7});
    let before = available(&t, &s.access).await;

    let queued = submit(&t, &s.access, body.clone(), "respond-async", Some("k-1")).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.text);
    let id = queued.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        queued.headers["location"],
        format!("/v1/jobs/{id}").as_str()
    );
    assert_eq!(queued.body["object"], "job");
    assert_eq!(queued.body["operation"], "generation");
    assert_eq!(queued.body["model"], "local-procedural");
    assert!(queued.body["result"].is_null());
    // Charged at submission, like the synchronous call.
    assert_eq!(available(&t, &s.access).await, before - 2);

    let done = until_over(&t, &s.access, &id).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.text);
    assert_eq!(done.body["progress"], 100);
    assert!(done.body["started_at"].as_i64().unwrap() >= done.body["created_at"].as_i64().unwrap());
    assert!(
        done.body["completed_at"].as_i64().unwrap() >= done.body["started_at"].as_i64().unwrap()
    );
    let sync = t.generate(&s.access, body.clone()).await;
    assert_eq!(sync.status, StatusCode::OK, "{}", sync.text);
    assert_eq!(
        decoded(&done.body["result"]),
        decoded(&sync.body),
        "the job's images are the synchronous call's"
    );
    for field in ["size", "output_format", "quality", "background", "model"] {
        assert_eq!(done.body["result"][field], sync.body[field], "{field}");
    }
    assert_eq!(
        available(&t, &s.access).await,
        before - 4,
        "charged once each"
    );

    // The same key and body: the same job, not a second one.
    let replay = submit(&t, &s.access, body.clone(), "respond-async", Some("k-1")).await;
    assert_eq!(replay.status, StatusCode::ACCEPTED);
    assert_eq!(replay.body["id"], id.as_str());
    assert_eq!(replay.body["status"], "succeeded");
    assert_eq!(available(&t, &s.access).await, before - 4);

    let listed = t.get("/v1/jobs?status=succeeded", Some(&s.access)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
    let listed_image = &listed.body["data"][0]["result"]["data"][0];
    assert!(listed_image["id"].is_string());
    assert!(
        listed_image["b64_json"].is_null() && listed_image["url"].is_null(),
        "a page of jobs carries no image bytes: {listed_image}"
    );
    let queued_only = t.get("/v1/jobs?status=queued", Some(&s.access)).await;
    assert_eq!(queued_only.body["data"].as_array().unwrap().len(), 0);
    let bad = t.get("/v1/jobs?status=done", Some(&s.access)).await;
    assert_eq!(
        (bad.status, bad.param()),
        (StatusCode::BAD_REQUEST, Some("status"))
    );
    // Another user's job does not exist for them.
    let theirs = t.get(&format!("/v1/jobs/{id}"), Some(&other.access)).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let cancel = t
        .post(
            &format!("/v1/jobs/{id}/cancel"),
            json!({}),
            Some(&other.access),
        )
        .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);
    // A finished job cannot be canceled.
    let cancel = t
        .post(&format!("/v1/jobs/{id}/cancel"), json!({}), Some(&s.access))
        .await;
    assert_eq!(cancel.status, StatusCode::CONFLICT, "{}", cancel.text);
}

#[tokio::test]
async fn prefer_wait_answers_with_the_images_when_the_job_ends_in_time() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let r = submit(
        &t,
        &s.access,
        json!({"prompt": "a quiet bay", "size": "256x256"}),
        "wait=20",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let url = r.body["data"][0]["url"].as_str().unwrap();
    let image = t.http.get(url).send().await.unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    let jobs = t.get("/v1/jobs", Some(&s.access)).await;
    assert_eq!(
        jobs.body["data"][0]["status"], "succeeded",
        "it ran as a job"
    );
}

#[tokio::test]
async fn twenty_async_submissions_at_once_with_credits_for_five_accept_exactly_five() {
    let t = start_with(&[("SignupCredits", "5")]).await;
    let (_, s) = t.new_user().await;
    let body = json!({"prompt": "a kite", "size": "256x256"});
    let replies = futures::future::join_all(
        (0..20).map(|_| submit(&t, &s.access, body.clone(), "respond-async", None)),
    )
    .await;
    let accepted = replies
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED)
        .count();
    let refused: Vec<_> = replies
        .iter()
        .filter(|r| r.status != StatusCode::ACCEPTED)
        .map(|r| (r.status, r.code().map(str::to_string)))
        .collect();
    assert_eq!(accepted, 5, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|(s, c)| *s == StatusCode::TOO_MANY_REQUESTS
                && c.as_deref() == Some("insufficient_quota")),
        "{refused:?}"
    );
    assert_eq!(available(&t, &s.access).await, 0);
    for r in replies.iter().filter(|r| r.status == StatusCode::ACCEPTED) {
        let done = until_over(&t, &s.access, r.body["id"].as_str().unwrap()).await;
        assert_eq!(done.body["status"], "succeeded");
    }
    let library = t.get("/v1/images?limit=100", Some(&s.access)).await;
    assert_eq!(library.body["data"].as_array().unwrap().len(), 5);
}

/// Deps whose generation queue is a list in memory: no worker runs these jobs but the test.
pub(crate) async fn quiet(t: &TestStack) -> shared::Deps {
    let mut deps = t.deps().await;
    deps.queues = std::sync::Arc::new(MemoryQueue::default());
    deps
}

/// A new user on a stack whose jobs run only when the test runs them (see [`quiet`]).
struct QuietUser {
    t: TestStack,
    deps: shared::Deps,
    s: Tokens,
    user_id: String,
    /// Credits before anything was asked.
    before: i64,
}

async fn quiet_user(parameters: &[(&str, &str)]) -> QuietUser {
    let t = start_with(parameters).await;
    let deps = quiet(&t).await;
    let (_, s) = t.new_user().await;
    let user_id = t.user_id(&s.access).await;
    let before = available(&t, &s.access).await;
    QuietUser {
        t,
        deps,
        s,
        user_id,
        before,
    }
}

/// Submits `body` through the generate-image handler with `Prefer: respond-async`; returns the
/// job's id and the message the queue got.
pub(crate) async fn submit_quietly(
    deps: &shared::Deps,
    token: &str,
    body: Value,
) -> (String, JobMessage) {
    let event = std::fs::read_to_string(workspace_root().join("events/generate-image.json"))
        .unwrap()
        .replace("REPLACE_WITH_ACCESS_TOKEN", token);
    let mut req = lambda_http::request::from_str(&event).unwrap();
    *req.body_mut() = Body::from(body.to_string());
    req.headers_mut()
        .insert("prefer", "respond-async".parse().unwrap());
    req.headers_mut().remove("content-length");
    let resp = generate_image::handler(deps, req).await;
    let reply: Value = serde_json::from_slice(resp.body().as_ref()).unwrap();
    assert_eq!(resp.status(), 202, "{reply}");
    let mut sent = deps.queues.take(QueueName::Jobs);
    assert_eq!(sent.len(), 1);
    let message: JobMessage = serde_json::from_str(&sent.remove(0)).unwrap();
    assert_eq!(message.job_id, reply["id"].as_str().unwrap());
    (message.job_id.clone(), message)
}

async fn library_ids(deps: &shared::Deps, user_id: &str) -> Vec<String> {
    let (records, _) = deps
        .store
        .list_images(
            user_id,
            None,
            shared::domain::assets::SortOrder::NewestFirst,
            100,
            None,
        )
        .await
        .unwrap();
    records.into_iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn a_worker_killed_mid_job_is_taken_over_after_its_lease_and_the_job_succeeds_once() {
    let vendor = fake_openai::Gated::start(256, 256).await;
    let QuietUser {
        t,
        deps,
        s,
        user_id,
        before,
    } = quiet_user(&[("OpenAiApiKey", "sk-fake"), ("OpenAiBaseUrl", &vendor.uri)]).await;
    let (id, message) = submit_quietly(
        &deps,
        &s.access,
        json!({"prompt": "a slow cat", "model": "gpt-image-1-mini"}),
    )
    .await;
    let cost = before - available(&t, &s.access).await;
    assert!(cost > 0);

    // The first attempt reaches the vendor, then its Lambda dies.
    let now = now_epoch();
    let first = tokio::spawn({
        let deps = t.deps().await;
        let message = message.clone();
        async move { run(&deps, &message, now).await }
    });
    vendor.received().await;
    first.abort();
    let _ = first.await;
    let job = deps.store.job(&user_id, &id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.attempt), ("processing", 1));

    // Delivered again while the lease lasts: left for later, nothing done.
    assert_eq!(run(&deps, &message, now + 1).await.unwrap(), Ran::Later);
    // After the lease: a new attempt takes over and finishes.
    let later = now + LEASE_SECONDS + 1;
    assert_eq!(run(&deps, &message, later).await.unwrap(), Ran::Done);
    let done = t.get(&format!("/v1/jobs/{id}"), Some(&s.access)).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.text);
    let images = library_ids(&deps, &user_id).await;
    assert_eq!(images.len(), 1);
    assert_eq!(done.body["result"]["data"][0]["id"], images[0].as_str());
    // Yet another delivery changes nothing.
    assert_eq!(run(&deps, &message, later + 1).await.unwrap(), Ran::Done);
    assert_eq!(library_ids(&deps, &user_id).await, images);
    assert_eq!(
        available(&t, &s.access).await,
        before - cost,
        "charged once"
    );
    let ledger = t.credits(&s.access).await["ledger"].clone();
    let debits = ledger
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["delta"].as_i64().unwrap() < 0)
        .count();
    assert_eq!(debits, 1, "{ledger}");
    // No orphans: the objects are exactly the image and its thumbnail.
    let keys = t.object_keys().await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k.contains(&images[0])), "{keys:?}");
}

#[tokio::test]
async fn the_same_message_delivered_twice_at_once_has_one_effect() {
    let QuietUser {
        t,
        deps,
        s,
        user_id,
        before,
    } = quiet_user(&[]).await;
    let (id, message) = submit_quietly(
        &deps,
        &s.access,
        json!({"prompt": "twins", "n": 2, "size": "256x256"}),
    )
    .await;
    let now = now_epoch();
    let other = t.deps().await;
    let (a, b) = tokio::join!(run(&deps, &message, now), run(&other, &message, now));
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Ran::Done, Ran::Later]);
    let job = deps.store.job(&user_id, &id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.attempt), ("succeeded", 1));
    assert_eq!(library_ids(&deps, &user_id).await.len(), 2);
    assert_eq!(available(&t, &s.access).await, before - 2);
    assert_eq!(t.object_keys().await.len(), 4, "two images, two thumbnails");
}

#[tokio::test]
async fn canceling_a_queued_job_refunds_it_at_once_and_its_delivery_does_nothing() {
    let QuietUser {
        t,
        deps,
        s,
        user_id,
        before,
    } = quiet_user(&[]).await;
    let (id, message) = submit_quietly(
        &deps,
        &s.access,
        json!({"prompt": "never", "size": "256x256"}),
    )
    .await;
    assert_eq!(available(&t, &s.access).await, before - 1);
    let r = t
        .post(&format!("/v1/jobs/{id}/cancel"), json!({}), Some(&s.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "canceled");
    assert_eq!(available(&t, &s.access).await, before, "refunded at once");
    assert_eq!(run(&deps, &message, now_epoch()).await.unwrap(), Ran::Done);
    assert!(library_ids(&deps, &user_id).await.is_empty());
    assert!(t.object_keys().await.is_empty());
    let again = t
        .post(&format!("/v1/jobs/{id}/cancel"), json!({}), Some(&s.access))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(available(&t, &s.access).await, before, "refunded once");
}

#[tokio::test]
async fn canceling_a_processing_job_stops_it_at_its_next_checkpoint_refunded() {
    let QuietUser {
        t,
        deps,
        s,
        user_id,
        before,
    } = quiet_user(&[]).await;
    let (id, message) = submit_quietly(
        &deps,
        &s.access,
        json!({"prompt": "halfway", "size": "256x256"}),
    )
    .await;
    // A worker holds the job...
    let now = now_epoch();
    let lease = deps
        .store
        .lease_job(&user_id, &id, now, now + LEASE_SECONDS)
        .await
        .unwrap();
    assert!(matches!(lease, shared::domain::jobs::Lease::Taken(_)));
    // ... when the user cancels: it is only marked.
    let r = t
        .post(&format!("/v1/jobs/{id}/cancel"), json!({}), Some(&s.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["cancel_requested"].as_bool()
        ),
        (Some("processing"), Some(true))
    );
    assert_eq!(available(&t, &s.access).await, before - 1);
    // The next attempt stops at its first checkpoint and gives everything back.
    assert_eq!(
        run(&deps, &message, now + LEASE_SECONDS + 1).await.unwrap(),
        Ran::Done
    );
    let job = t.get(&format!("/v1/jobs/{id}"), Some(&s.access)).await;
    assert_eq!(job.body["status"], "canceled", "{}", job.text);
    assert_eq!(available(&t, &s.access).await, before);
    assert!(library_ids(&deps, &user_id).await.is_empty());
    assert!(t.object_keys().await.is_empty());
}

#[tokio::test]
async fn a_provider_failure_fails_the_job_refunded_and_its_signed_webhook_says_so() {
    let vendor = fake_openai::failing(
        500,
        json!({"error": {"message": "boom", "type": "server_error"}}),
    )
    .await;
    let hook = receiver(&[]).await;
    let t = start_with(&[
        ("OpenAiApiKey", "sk-fake"),
        ("OpenAiBaseUrl", &vendor.uri()),
        ("AllowPrivateWebhookTargets", "true"),
        ("ProviderMaxRetries", "0"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let secret = t.get("/v1/webhooks/secret", Some(&s.access)).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let before = available(&t, &s.access).await;
    let url = format!("{}/hook", hook.uri());
    let r = submit(
        &t,
        &s.access,
        json!({"prompt": "doomed", "model": "gpt-image-1-mini",
               "webhook": url, "webhook_events_filter": ["started", "completed"]}),
        "respond-async",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let done = until_over(&t, &s.access, &id).await;
    assert_eq!(done.body["status"], "failed", "{}", done.text);
    assert_eq!(
        done.body["error"]["code"], "provider_error",
        "{}",
        done.text
    );
    assert_eq!(done.body["error"]["type"], "server_error");
    // The refund follows the job's end (a moment after it reads as failed).
    let mut now_available = 0;
    for _ in 0..50 {
        now_available = available(&t, &s.access).await;
        if now_available == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now_available, before, "refunded");

    let mut hooks = Vec::new();
    for _ in 0..100 {
        hooks = hook.received_requests().await.unwrap();
        if hooks.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hooks.len(), 2, "started and completed");
    let bodies: Vec<Value> = hooks
        .iter()
        .map(|h| serde_json::from_slice(&h.body).unwrap())
        .collect();
    let statuses: Vec<&str> = bodies
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"processing") && statuses.contains(&"failed"),
        "{statuses:?}"
    );
    for (h, b) in hooks.iter().zip(&bodies) {
        assert_eq!(b["id"], id.as_str());
        assert!(verified(h, &secret), "signed with the user's secret");
        assert!(header(h, "webhook-id").contains(&id));
    }
    let failed = bodies.iter().find(|b| b["status"] == "failed").unwrap();
    assert_eq!(failed["error"]["code"], "provider_error");
}

#[tokio::test]
async fn a_webhook_is_refused_at_submission_when_it_points_inside_or_comes_without_a_job() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let before = available(&t, &s.access).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "ftp://example.com/hook",
    ] {
        let r = submit(
            &t,
            &s.access,
            json!({"prompt": "x", "size": "256x256", "webhook": url}),
            "respond-async",
            None,
        )
        .await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some("webhook")),
            "{url}: {}",
            r.text
        );
    }
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "x", "size": "256x256", "webhook": "https://example.com/hook"}),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("webhook")),
        "{}",
        r.text
    );
    assert!(r.text.contains("Prefer: respond-async"), "{}", r.text);
    let r = submit(
        &t,
        &s.access,
        json!({"prompt": "x", "size": "256x256", "webhook": "https://example.com/hook",
               "webhook_events_filter": ["finished"]}),
        "respond-async",
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("webhook_events_filter"))
    );
    assert_eq!(available(&t, &s.access).await, before, "nothing charged");
    assert!(
        t.get("/v1/jobs", Some(&s.access)).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_job_whose_message_reaches_the_dead_letter_queue_fails_refunded() {
    let QuietUser {
        t, deps, s, before, ..
    } = quiet_user(&[]).await;
    let (id, message) = submit_quietly(
        &deps,
        &s.access,
        json!({"prompt": "lost", "size": "256x256"}),
    )
    .await;
    let mut record = aws_lambda_events::event::sqs::SqsMessage::default();
    record.message_id = Some("dead-1".into());
    record.body = Some(serde_json::to_string(&message).unwrap());
    let mut junk = aws_lambda_events::event::sqs::SqsMessage::default();
    junk.message_id = Some("dead-2".into());
    junk.body = Some("not a job".into());
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = vec![record, junk];
    let r = dead_jobs::handler(
        &deps,
        lambda_runtime::LambdaEvent::new(event, Default::default()),
    )
    .await
    .unwrap();
    assert!(r.batch_item_failures.is_empty());
    let job = t.get(&format!("/v1/jobs/{id}"), Some(&s.access)).await;
    assert_eq!(job.body["status"], "failed", "{}", job.text);
    assert!(
        job.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("several attempts")
    );
    assert_eq!(available(&t, &s.access).await, before);
}

#[tokio::test]
async fn an_unreadable_job_message_is_left_for_the_dead_letter_queue() {
    let t = start().await;
    let deps = quiet(&t).await;
    let mut good = aws_lambda_events::event::sqs::SqsMessage::default();
    good.message_id = Some("m-ok".into());
    good.body = Some(json!({"job_id": "job_gone", "user_id": "user_gone"}).to_string());
    let mut bad = good.clone();
    bad.message_id = Some("m-bad".into());
    bad.body = Some("{\"job\": 1}".into());
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = vec![good, bad];
    let r = worker::handler(
        &deps,
        lambda_runtime::LambdaEvent::new(event, Default::default()),
        now_epoch(),
    )
    .await
    .unwrap();
    let failed: Vec<_> = r
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["m-bad"],
        "an unknown job is done with; an unreadable body is not"
    );
}

#[tokio::test]
async fn an_async_edit_keeps_its_inputs_only_while_it_runs_and_jobs_are_announced_on_the_bus() {
    let t = start().await;
    let queue = subscriber(&t).await;
    let (_, s) = t.new_user().await;
    let img = fixtures::object_on_background(64, 64);
    let form = reqwest::multipart::Form::new()
        .text("prompt", "a red square")
        .part("image", fixtures::part(fixtures::png(&img)))
        .part(
            "mask",
            fixtures::part(fixtures::png(&fixtures::mask_over_object(64, 64))),
        );
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/edits"))
                .bearer_auth(&s.access)
                .header("prefer", "respond-async")
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["operation"], "edit");
    let done = until_over(&t, &s.access, &id).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.text);
    let image_id = done.body["result"]["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The copies go once the images are stored (just after the job reads as succeeded).
    let mut keys = Vec::new();
    for _ in 0..50 {
        keys = t.object_keys().await;
        if keys.iter().all(|k| !k.starts_with("jobs/")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        keys.iter().all(|k| !k.starts_with("jobs/")),
        "input copies removed: {keys:?}"
    );
    assert_eq!(keys.len(), 2, "the image and its thumbnail: {keys:?}");

    // The job's announcements come in order, each when the table's stream carries its change.
    let mut events = received(&t, &queue, 2).await;
    while !events.iter().any(|e| e["detail-type"] == "Job Succeeded") {
        let more = received(&t, &queue, 1).await;
        assert!(!more.is_empty(), "no Job Succeeded: {events:?}");
        events.extend(more);
    }
    let job_event = events
        .iter()
        .find(|e| e["detail-type"] == "Job Succeeded")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(job_event["detail"]["id"], id.as_str());
    assert_eq!(
        job_event["detail"]["result"]["data"][0]["id"],
        image_id.as_str()
    );
    assert!(
        !job_event.to_string().contains("X-Amz-Signature"),
        "no URLs in events"
    );
}

#[tokio::test]
async fn other_systems_submit_work_on_the_queue_once_per_reference_and_hear_of_refusals() {
    let t = start().await;
    let events = subscriber(&t).await;
    let (_, s) = t.new_user().await;
    let user_id = t.user_id(&s.access).await;
    let before = available(&t, &s.access).await;
    let (queue, _) = t.stack.created.queues["GenerationQueue"].clone();
    let send = |body: Value| {
        let (sqs, queue) = (t.stack.clients.sqs.clone(), queue.clone());
        async move {
            sqs.send_message()
                .queue_url(&queue)
                .message_body(body.to_string())
                .send()
                .await
                .unwrap();
        }
    };
    let good = json!({"user_id": user_id, "reference": "order-42", "operation": "generation",
                      "request": {"prompt": "a barn owl", "size": "256x256", "n": 2}});
    // Sent twice, as SQS may deliver it twice: one job.
    send(good.clone()).await;
    send(good).await;
    send(
        json!({"user_id": user_id, "reference": "order-43", "operation": "generation",
                "request": {"prompt": "an owl", "size": "7x7"}}),
    )
    .await;

    let mut jobs = Vec::new();
    for _ in 0..100 {
        let r = t.get("/v1/jobs?status=succeeded", Some(&s.access)).await;
        jobs = r.body["data"].as_array().unwrap().clone();
        if !jobs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["result"]["data"].as_array().unwrap().len(), 2);
    let seen = received(&t, &events, 4).await;
    let refused = seen
        .iter()
        .find(|e| e["detail-type"] == "Submission Refused")
        .unwrap_or_else(|| panic!("{seen:?}"));
    assert_eq!(refused["detail"]["reference"], "order-43");
    assert_eq!(refused["detail"]["error"]["param"], "size");
    let all = t.get("/v1/jobs", Some(&s.access)).await;
    assert_eq!(
        all.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        all.text
    );
    assert_eq!(available(&t, &s.access).await, before - 2, "charged once");
}
