//! A price before the call: `dry_run: true` answers what a paid request would cost, which
//! vendors would serve it and whether the account could pay now, and takes nothing.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn dry(mut body: Value) -> Value {
    body["dry_run"] = true.into();
    body
}

#[tokio::test]
async fn a_quote_takes_nothing_and_the_call_then_costs_what_it_said() {
    let t = start_with(&[("SignupCredits", "6"), ("DailyImageLimit", "3")]).await;
    let (_, s) = t.new_user().await;
    let before = t.credits(&s.access).await;
    let body = json!({"prompt": "a harbour at dawn", "n": 2, "size": "256x256"});

    let q = t.generate(&s.access, dry(body.clone())).await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.text);
    assert_eq!(q.body["object"], "quote");
    assert_eq!(q.body["vendors"], json!(["local"]), "{}", q.text);
    assert_eq!(
        (q.body["payable"].as_bool(), q.body["job"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(q.body.get("refused_by").is_none(), "{}", q.text);
    let credits = q.body["credits"].as_i64().unwrap();
    assert_eq!(
        credits, 2,
        "a 256² image of the local model costs 1: {}",
        q.text
    );
    // Nothing was taken, stored or queued.
    assert_eq!(t.credits(&s.access).await, before);
    assert!(t.object_keys().await.is_empty());
    let library = t.get("/v1/images", Some(&s.access)).await;
    assert_eq!(library.body["data"], json!([]));

    // The call costs exactly the quote: the newest ledger line is minus it.
    let r = t.generate(&s.access, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = t.credits(&s.access).await;
    assert_eq!(
        after["ledger"][0]["delta"].as_i64(),
        Some(-credits),
        "{after}"
    );
    assert_eq!(
        after["available"].as_i64().unwrap(),
        before["available"].as_i64().unwrap() - credits
    );

    // One image of the day is left: a second call of two is quoted as not payable, naming the
    // limit, what is left and when it resets, and the call itself is refused the same way.
    let q = t.generate(&s.access, dry(body.clone())).await;
    assert_eq!(q.status, StatusCode::OK, "{}", q.text);
    assert_eq!(q.body["payable"], false, "{}", q.text);
    assert_eq!(q.body["refused_by"]["limit"], "daily_images", "{}", q.text);
    assert_eq!(q.body["refused_by"]["available"], 1);
    assert!(q.body["refused_by"]["resets_at"].as_i64().unwrap() > 0);
    let r = t.generate(&s.access, body).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);

    // One 1024² high-quality image costs 6 credits and 4 are left: quoted as not payable for
    // its credits (checked before the day's images), and refused so by the call.
    let one = json!({"prompt": "a kite", "size": "1024x1024", "quality": "high"});
    let q = t.generate(&s.access, dry(one.clone())).await;
    assert_eq!(
        (q.body["credits"].as_i64(), q.body["payable"].as_bool()),
        (Some(6), Some(false))
    );
    assert_eq!(q.body["refused_by"]["limit"], "credits", "{}", q.text);
    assert_eq!(q.body["refused_by"]["available"], 4);
    let r = t.generate(&s.access, one).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.text.contains("too few credits"), "{}", r.text);

    // A refused prompt is refused by the quote as by the call: a quote promises nothing the
    // call would refuse.
    let r = t
        .generate(&s.access, dry(json!({"prompt": "x", "n": 11})))
        .await;
    assert_eq!((r.status, r.param()), (StatusCode::BAD_REQUEST, Some("n")));
}

#[tokio::test]
async fn edits_variations_and_jobs_are_quoted_too_and_nothing_is_queued() {
    use e2e_tests::fixtures::*;
    let t = start().await;
    let (_, s) = t.new_user().await;
    let before = t.credits(&s.access).await;
    let img = png(&object_on_background(64, 64));
    let form = reqwest::multipart::Form::new()
        .text("prompt", "a red square")
        .text("dry_run", "true")
        .part("image", part(img.clone()))
        .part("mask", part(png(&mask_over_object(64, 64))));
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/edits"))
                .bearer_auth(&s.access)
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["object"], "quote", "{}", r.text);
    let form = reqwest::multipart::Form::new()
        .text("dry_run", "true")
        .text("n", "3")
        .part("image", part(img));
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/variations"))
                .bearer_auth(&s.access)
                .header("prefer", "respond-async")
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.body["object"].as_str(), r.body["job"].as_bool()),
        (Some("quote"), Some(true))
    );
    let jobs = t.get("/v1/jobs", Some(&s.access)).await;
    assert_eq!(jobs.body["data"], json!([]), "no job was made");
    assert_eq!(t.credits(&s.access).await, before);
}

#[tokio::test]
async fn a_video_is_quoted_as_the_job_it_would_be_and_nothing_is_queued() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let before = t.credits(&s.access).await;
    let r = t
        .post(
            "/v1/videos",
            json!({"prompt": "waves on a shore", "seconds": "4", "dry_run": true}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["object"], "quote", "{}", r.text);
    assert_eq!(
        (r.body["job"].as_bool(), r.body["payable"].as_bool()),
        (Some(true), Some(true))
    );
    let credits = r.body["credits"].as_i64().unwrap();
    assert!(r.headers.get("location").is_none(), "no video to poll");
    assert_eq!(
        t.get("/v1/videos", Some(&s.access)).await.body["data"],
        json!([])
    );
    assert_eq!(t.credits(&s.access).await, before);
    // The video itself costs what was quoted.
    let r = t
        .post(
            "/v1/videos",
            json!({"prompt": "waves on a shore", "seconds": "4"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = t.credits(&s.access).await;
    assert_eq!(
        after["ledger"][0]["delta"].as_i64(),
        Some(-credits),
        "{after}"
    );
}
