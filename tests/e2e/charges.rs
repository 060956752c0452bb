//! A paid request whose Lambda is killed mid-way (simulated by dropping the handler's future,
//! which is what a timeout or a crash amounts to) loses the user nothing: the sweeper gives back
//! its credits, daily quota and Idempotency-Key once its hold is due, and never gives back what
//! was not taken or what paid for stored images.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use e2e_tests::fake_openai;
use e2e_tests::*;
use lambda_http::Body;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::adapters::dynamo::keys;
use shared::domain::assets::{AssetKind, ImageRecord, OutputFormat};
use shared::domain::billing::{KeyClaim, Settlement, WriteOutcome};
use shared::domain::now_epoch;
use shared::ports::{Blobs, Credits, Holds, Idempotency, Images, Quotas};
use shared::usecases::billing::{
    charges::hold_for,
    sweep::{SWEEP_BATCH, SweepReport},
};
use shared::usecases::idempotency::{body_hash, canonical_json};
use shared::usecases::jobs::steps::replayable;
use shared::wire::{ImageData, ImagesResponse};

const BODY: &str = r#"{"prompt": "a slow cat", "model": "gpt-image-1-mini"}"#;

fn generation_request(access: &str, idempotency_key: Option<&str>) -> lambda_http::Request {
    let event = std::fs::read_to_string(workspace_root().join("events/generate-image.json"))
        .unwrap()
        .replace("REPLACE_WITH_ACCESS_TOKEN", access);
    let mut req = lambda_http::request::from_str(&event).unwrap();
    *req.body_mut() = Body::from(BODY);
    if let Some(k) = idempotency_key {
        req.headers_mut()
            .insert("idempotency-key", k.parse().unwrap());
    }
    req
}

/// `BODY` through the gateway with an Idempotency-Key.
async fn generate_with_key(t: &TestStack, access: &str, key: &str) -> Reply {
    t.send(
        t.http
            .post(t.url("/v1/images/generations"))
            .bearer_auth(access)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(BODY),
    )
    .await
}

/// Metadata of a 1×1 PNG image of `user_id`, as a generation stores it.
pub(crate) fn record_of(user_id: &str, id: &str, now: i64) -> ImageRecord {
    ImageRecord {
        id: id.into(),
        user_id: user_id.to_string(),
        kind: AssetKind::Image,
        prompt: None,
        revised_prompt: None,
        model: Some("local-procedural".into()),
        provider: Some("local".into()),
        width: 1,
        height: 1,
        format: OutputFormat::Png,
        bytes: 1,
        key: format!("images/{user_id}/{id}.png"),
        thumbnail_key: None,
        created_at: now,
        parent_id: None,
        background: None,
        quality: None,
        output_compression: None,
        title: None,
        tags: vec![],
        version: 1,
        root_id: id.into(),
        variants: Vec::new(),
    }
}

async fn sweep(deps: &shared::Deps, now: i64) -> SweepReport {
    sweep_with(deps, now).await
}

/// Lambda's longest run (its maximum timeout, from AWS's documentation): a hold must outlive it.
const LONGEST_LAMBDA: i64 = 15 * 60;

/// A time at which every hold open now is due. The holds themselves are read (not the code's
/// constant), and each must outlive the longest Lambda: one due sooner could be swept while its
/// request still runs.
async fn when_due(deps: &shared::Deps) -> i64 {
    let holds = deps.store.due_holds(i64::MAX / 4, 10_000).await.unwrap();
    for h in &holds {
        assert!(
            h.due_at - h.reserved_at > LONGEST_LAMBDA,
            "hold {} is due {} s after it opened",
            h.id,
            h.due_at - h.reserved_at
        );
    }
    holds
        .iter()
        .map(|h| h.due_at)
        .max()
        .unwrap_or_else(|| now_epoch() + LONGEST_LAMBDA)
        + 1
}

async fn available(t: &TestStack, access: &str) -> i64 {
    t.credits(access).await["available"].as_i64().unwrap()
}

fn reasons(credit: &Value) -> Vec<String> {
    credit["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_killed_request_gets_its_credits_quota_and_key_back_from_the_sweeper() {
    // It counts the day's images: it must not straddle midnight UTC.
    away_from_window_edge(DAY, 120).await;
    let vendor = fake_openai::Gated::start(256, 256).await;
    let t = start_with(&[
        ("OpenAiApiKey", "sk-fake"),
        ("OpenAiBaseUrl", &vendor.uri),
        ("DailyImageLimit", "1"),
    ])
    .await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let before = available(&t, &s.access).await;

    // The "Lambda" dies while its provider call is in flight: after hold, quota and debit.
    let request = generate_image::handler(&deps, generation_request(&s.access, Some("k-1")));
    tokio::select! {
        _ = request => panic!("the vendor has not answered: the request cannot finish"),
        _ = vendor.received() => {}
    }
    let cost = before - available(&t, &s.access).await;
    assert!(cost > 0, "the credits were taken before the provider call");

    // Until the hold is due, what was taken stays taken.
    let same_key = generate_with_key(&t, &s.access, "k-1").await;
    assert_eq!(same_key.status, StatusCode::CONFLICT, "{}", same_key.text);
    let local = json!({"prompt": "a fast cat", "model": "local-procedural", "size": "256x256"});
    let r = t.generate(&s.access, local.clone()).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the day's one image is reserved"
    );
    assert_eq!(sweep(&deps, now_epoch()).await, SweepReport::default());
    assert_eq!(available(&t, &s.access).await, before - cost);

    // Once due, the sweeper gives everything back, once.
    let report = sweep(&deps, when_due(&deps).await).await;
    assert_eq!(
        (report.abandoned, report.credits_returned),
        (1, cost),
        "{report:?}"
    );
    let credit = t.credits(&s.access).await;
    assert_eq!(credit["available"].as_i64().unwrap(), before);
    assert_eq!(credit["spent"], 0);
    assert_eq!(reasons(&credit)[..2], ["refund", "generation"]);
    assert_eq!(
        sweep(&deps, when_due(&deps).await).await,
        SweepReport::default()
    );
    assert_eq!(available(&t, &s.access).await, before);

    // The key is free again: the same request now succeeds, and is charged once.
    let retried = generate_with_key(&t, &s.access, "k-1").await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    assert_eq!(available(&t, &s.access).await, before - cost);
    // A request that completes finishes its own hold: nothing is left for the sweeper.
    assert_eq!(
        sweep(&deps, when_due(&deps).await).await,
        SweepReport::default()
    );
    assert_eq!(available(&t, &s.access).await, before - cost);
    // The day's quota was given back by the first sweep and taken by the retry.
    let r = t.generate(&s.access, local).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_request_that_outlives_its_hold_stores_nothing_and_is_refunded_once() {
    let vendor = fake_openai::Gated::start(256, 256).await;
    let t = start_with(&[("OpenAiApiKey", "sk-fake"), ("OpenAiBaseUrl", &vendor.uri)]).await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let before = available(&t, &s.access).await;

    let late = {
        let deps = t.deps().await;
        let req = generation_request(&s.access, None);
        tokio::spawn(async move { generate_image::handler(&deps, req).await })
    };
    // Once the provider is called (the debit is taken), the sweeper decides the request is dead.
    vendor.received().await;
    let taken = before - available(&t, &s.access).await;
    let report = sweep(&deps, when_due(&deps).await).await;
    assert_eq!(
        (report.abandoned, report.credits_returned),
        (1, taken),
        "{report:?}"
    );
    assert_eq!(available(&t, &s.access).await, before);

    // The provider answers after all: its images must not be stored for free.
    vendor.release();
    let resp = late.await.unwrap();
    assert_eq!(resp.status(), 500);
    assert!(t.object_keys().await.is_empty(), "no objects left behind");
    let list = t.get("/v1/images", Some(&s.access)).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 0);
    let credit = t.credits(&s.access).await;
    assert_eq!(credit["available"].as_i64().unwrap(), before);
    assert_eq!(
        reasons(&credit).iter().filter(|r| *r == "refund").count(),
        1,
        "refunded exactly once"
    );
}

#[tokio::test]
async fn a_hold_without_a_debit_gives_nothing_back() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let user_id = &t.user_id(&s.access).await;
    let before = t.credits(&s.access).await;
    // A Lambda killed right after writing its hold: nothing was taken yet.
    let hold = hold_for("gen_killed_early", user_id, 50, 1, now_epoch(), None);
    deps.store.open_hold(&hold).await.unwrap();

    let report = sweep(&deps, when_due(&deps).await).await;
    assert_eq!(
        (report.abandoned, report.credits_returned),
        (1, 0),
        "{report:?}"
    );
    let after = t.credits(&s.access).await;
    assert_eq!(after["available"], before["available"], "no free credits");
    assert_eq!(reasons(&after), reasons(&before), "no ledger entry");
    assert_eq!(
        sweep(&deps, when_due(&deps).await).await,
        SweepReport::default()
    );
}

#[tokio::test]
async fn the_sweeper_frees_only_the_claim_its_request_made() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let user_id = &t.user_id(&s.access).await;
    // Request A held key "k" and died; request B claimed "k" since and is still running.
    let stale = KeyClaim {
        key: "k".into(),
        token: "claim_a".into(),
    };
    let live = KeyClaim {
        key: "k".into(),
        token: "claim_b".into(),
    };
    let hold = hold_for("gen_a", user_id, 1, 1, now_epoch(), Some(stale));
    deps.store.open_hold(&hold).await.unwrap();
    deps.store
        .claim(user_id, &live, "hash of b", now_epoch())
        .await
        .unwrap();

    assert_eq!(sweep(&deps, when_due(&deps).await).await.abandoned, 1);
    // B's claim survives: a third request with the key must wait for B, not run beside it.
    let third = t
        .send(
            t.http
                .post(t.url("/v1/images/generations"))
                .bearer_auth(&s.access)
                .header("idempotency-key", "k")
                .json(&json!({"prompt": "a cat", "size": "256x256"})),
        )
        .await;
    assert_eq!(third.status, StatusCode::CONFLICT, "{}", third.text);
}

#[tokio::test]
async fn a_lambda_killed_after_storing_its_images_keeps_the_charge_and_the_answer() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let user_id = &t.user_id(&s.access).await;
    let before = available(&t, &s.access).await;
    // Everything a generation with an Idempotency-Key does up to its metadata transaction,
    // then nothing: killed before answering.
    let body = json!({"prompt": "kept", "size": "256x256", "response_format": "b64_json"});
    let claim = KeyClaim {
        key: "k-stored".into(),
        token: "claim_stored".into(),
    };
    let now = now_epoch();
    let hash = body_hash(&canonical_json(body.to_string().as_bytes()).unwrap());
    deps.store.claim(user_id, &claim, &hash, now).await.unwrap();
    let hold = hold_for("gen_stored", user_id, 3, 1, now, Some(claim.clone()));
    deps.store.open_hold(&hold).await.unwrap();
    assert!(
        deps.store
            .reserve_daily(user_id, 1, 50, now, "gen_stored")
            .await
            .unwrap()
            .is_ok()
    );
    assert!(
        deps.store
            .debit(user_id, 3, "generation", "gen_stored")
            .await
            .unwrap()
    );
    let image = fixtures::png(&image::RgbaImage::from_pixel(
        256,
        256,
        image::Rgba([9, 8, 7, 255]),
    ));
    let record = ImageRecord {
        width: 256,
        height: 256,
        bytes: image.len() as u64,
        ..record_of(user_id, "img_stored", now)
    };
    assert!(
        deps.store
            .attach_objects("gen_stored", std::slice::from_ref(&record.key))
            .await
            .unwrap()
    );
    deps.blobs
        .put(&record.key, image.clone(), "image/png")
        .await
        .unwrap();
    // The answer as the generation records it (no bytes, an empty marker for b64_json).
    let answer = replayable(&ImagesResponse {
        partials: Vec::new(),
        image_usage: Vec::new(),
        charge: None,
        usage: None,
        created: now,
        data: vec![ImageData {
            id: "img_stored".into(),
            url: None,
            b64_json: Some("bytes that are never stored".into()),
            revised_prompt: None,
        }],
        size: "256x256".into(),
        output_format: "png".into(),
        background: "opaque".into(),
        quality: "standard".into(),
        model: "local-procedural".into(),
        provider: None,
    })
    .unwrap();
    let settlement = Settlement {
        hold: hold.clone(),
        answer: Some((claim, answer)),
        completes_upload: None,
        completes_job: None,
        commit_by: None,
        served: None,
    };
    assert!(matches!(
        deps.store
            .put_images(&[record], Some(&settlement), u64::MAX)
            .await,
        WriteOutcome::Written
    ));

    // The hold closed with the images: the sweeper finds nothing to give back.
    let report = sweep(&deps, when_due(&deps).await).await;
    assert_eq!(report, SweepReport::default());
    assert_eq!(
        available(&t, &s.access).await,
        before - 3,
        "the charge stands"
    );
    // Settled for good: a late refund of that reference gives nothing back.
    assert!(!deps.store.refund(&hold, "generation").await.unwrap());
    assert_eq!(available(&t, &s.access).await, before - 3);
    assert_eq!(
        sweep(&deps, when_due(&deps).await).await,
        SweepReport::default()
    );
    assert_eq!(
        t.object_keys().await.len(),
        1,
        "a settled hold's objects stay"
    );
    // The client's retry with its key gets the stored images, not a second charge.
    let replay = t
        .send(
            t.http
                .post(t.url("/v1/images/generations"))
                .bearer_auth(&s.access)
                .header("idempotency-key", "k-stored")
                .json(&body),
        )
        .await;
    assert_eq!(replay.status, StatusCode::OK, "{}", replay.text);
    assert_eq!(replay.body["data"][0]["id"], "img_stored");
    assert_eq!(
        b64(replay.body["data"][0]["b64_json"].as_str().unwrap()),
        image
    );
    assert_eq!(available(&t, &s.access).await, before - 3, "charged once");
}

#[tokio::test]
async fn objects_a_killed_request_wrote_before_its_metadata_are_deleted() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let user_id = &t.user_id(&s.access).await;
    let hold = hold_for("gen_half", user_id, 1, 1, now_epoch(), None);
    deps.store.open_hold(&hold).await.unwrap();
    let keys = vec![
        format!("images/{user_id}/img_half.png"),
        format!("thumbnails/{user_id}/img_half.webp"),
    ];
    assert!(deps.store.attach_objects("gen_half", &keys).await.unwrap());
    // Killed after the first upload: the second object never came.
    deps.blobs
        .put(&keys[0], b"half".to_vec(), "image/png")
        .await
        .unwrap();
    assert_eq!(t.object_keys().await, [keys[0].clone()]);

    assert_eq!(sweep(&deps, when_due(&deps).await).await.abandoned, 1);
    assert!(t.object_keys().await.is_empty(), "no orphan left");
    // A hold that is no longer pending takes no more objects.
    assert!(!deps.store.attach_objects("gen_half", &keys).await.unwrap());
}

#[tokio::test]
async fn one_sweep_goes_past_a_batch_and_past_an_unreadable_hold() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let user_id = t.user_id(&s.access).await;
    // An item that is not a readable hold sits first in line.
    let mut broken = keys::hold("broken");
    broken.insert("gsi1pk".into(), AttributeValue::S(keys::hold_index(0)));
    broken.insert(
        "gsi1sk".into(),
        AttributeValue::S(keys::hold_due(1, "broken")),
    );
    t.stack
        .clients
        .dynamodb
        .put_item()
        .table_name(&deps.config.aws.table_name)
        .set_item(Some(broken))
        .send()
        .await
        .unwrap();
    let count = SWEEP_BATCH + 20;
    let now = now_epoch();
    futures::future::join_all((0..count).map(|i| {
        let hold = hold_for(&format!("gen_{i:04}"), &user_id, 1, 1, now, None);
        let deps = &deps;
        async move { deps.store.open_hold(&hold).await.unwrap() }
    }))
    .await;

    let report = sweep(&deps, when_due(&deps).await).await;
    assert_eq!(report.abandoned, count, "{report:?}");
    assert_eq!(
        sweep(&deps, when_due(&deps).await).await,
        SweepReport::default()
    );
}

#[tokio::test]
async fn a_hold_that_cannot_be_handled_is_retried_five_minutes_later_without_holding_up_others() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let user_id = t.user_id(&s.access).await;
    let now = now_epoch();
    let mut stuck = hold_for("gen_stuck", &user_id, 0, 0, now, None);
    stuck.objects = vec![format!("images/{user_id}/img_stuck.png")];
    deps.store.open_hold(&stuck).await.unwrap();
    deps.store
        .open_hold(&hold_for("gen_fine", &user_id, 0, 0, now, None))
        .await
        .unwrap();
    let due = when_due(&deps).await;
    // S3 refuses deletes for now: the stuck hold's objects cannot be removed.
    let failing = crate::library::noting(deps);
    failing.blobs.refuse_deletes(true);
    let first = sweep_with(&failing, due).await;
    assert_eq!((first.abandoned, first.failed), (1, 1), "{first:?}");
    failing.blobs.refuse_deletes(false);
    // Not retried at once, nor before 5 minutes have passed (the README's promise).
    assert_eq!(sweep_with(&failing, due).await, SweepReport::default());
    assert_eq!(
        sweep_with(&failing, due + 5 * 60 - 1).await,
        SweepReport::default()
    );
    let later = sweep_with(&failing, due + 5 * 60).await;
    assert_eq!((later.abandoned, later.failed), (1, 0), "{later:?}");
    assert_eq!(
        sweep_with(&failing, i64::MAX / 4).await,
        SweepReport::default()
    );
}

async fn sweep_with<S: shared::ports::Store, B: Blobs>(
    deps: &shared::Deps<S, B>,
    now: i64,
) -> SweepReport {
    let event = lambda_runtime::LambdaEvent::new(
        EventBridgeEvent::default(),
        lambda_runtime::Context::default(),
    );
    sweep_holds::handler(deps, event, now).await.unwrap()
}

#[tokio::test]
async fn images_are_not_stored_under_a_claim_that_is_no_longer_theirs() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let user_id = &t.user_id(&s.access).await;
    let now = now_epoch();
    let live = KeyClaim {
        key: "k".into(),
        token: "claim_new".into(),
    };
    let stale = KeyClaim {
        key: "k".into(),
        token: "claim_old".into(),
    };
    deps.store.claim(user_id, &live, "h", now).await.unwrap();
    let hold = hold_for("gen_old", user_id, 1, 1, now, Some(stale.clone()));
    deps.store.open_hold(&hold).await.unwrap();
    let record = record_of(user_id, "img_old", now);
    let settlement = Settlement {
        hold: hold.clone(),
        answer: Some((stale, "{}".into())),
        completes_upload: None,
        completes_job: None,
        commit_by: None,
        served: None,
    };
    assert!(matches!(
        deps.store
            .put_images(&[record], Some(&settlement), u64::MAX)
            .await,
        WriteOutcome::NotWritten(_)
    ));
    assert!(
        deps.store
            .image(user_id, "img_old")
            .await
            .unwrap()
            .is_none()
    );
    // The hold is still pending: unwinding it gives everything back.
    assert_eq!(sweep(&deps, when_due(&deps).await).await.abandoned, 1);
}

#[tokio::test]
async fn a_debit_killed_before_its_ledger_line_is_refunded_with_both_lines() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let user_id = &t.user_id(&s.access).await;
    let before = t.credits(&s.access).await;
    let now = now_epoch();
    let hold = hold_for("gen_cut", user_id, 4, 1, now, None);
    deps.store.open_hold(&hold).await.unwrap();
    // The debit's balance update, made by the adapter itself, and then nothing.
    assert!(
        deps.store
            .take_credits(user_id, 4, "gen_cut")
            .await
            .unwrap()
    );
    assert_eq!(reasons(&t.credits(&s.access).await), reasons(&before));

    let report = sweep(&deps, when_due(&deps).await).await;
    assert_eq!((report.abandoned, report.credits_returned), (1, 4));
    let after = t.credits(&s.access).await;
    assert_eq!(after["available"], before["available"]);
    let lines: Vec<(String, i64)> = after["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["reference"] == "gen_cut")
        .map(|e| {
            (
                e["reason"].as_str().unwrap().to_string(),
                e["delta"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [("refund".to_string(), 4), ("generation".to_string(), -4)]
    );
}
