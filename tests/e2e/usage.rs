//! Spend reports: `GET /v1/usage` gives the account's paid work per day, model and key, as
//! charged, and its figures add up to the ledger's.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn share<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|s| s["id"] == id)
}

#[tokio::test]
async fn usage_by_day_model_and_key_adds_up_to_the_ledger() {
    // A vendor that fails: its charge is refunded, and the report takes it back too.
    let vendor = fake_openai::failing(500, json!({"error": {"message": "boom"}})).await;
    let t = start_with(&[
        ("SignupCredits", "100"),
        ("OpenAiApiKey", "sk-fake"),
        ("OpenAiBaseUrl", &vendor.uri()),
        ("ProviderMaxRetries", "0"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let (key_a, a) = t.api_key(&s.access).await;
    let r = t
        .post(
            "/v1/api-keys",
            json!({"name": "b", "scopes": ["generate"], "budget": {"credits": 3, "period": "day"}}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (key_b, b) = (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["key"].as_str().unwrap().to_string(),
    );
    let small = |n: u32| json!({"prompt": "a lighthouse", "size": "256x256", "n": n, "model": "local-procedural"});

    let made = |r: Reply| {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    };
    made(t.generate(&s.access, small(2)).await);
    made(t.generate(&a, small(1)).await);
    // A job is charged when it is submitted, and says so.
    let job = t
        .send(
            t.http
                .post(t.url("/v1/images/generations"))
                .json(&small(1))
                .bearer_auth(&a)
                .header("prefer", "respond-async"),
        )
        .await;
    assert_eq!(job.status, StatusCode::ACCEPTED, "{}", job.text);
    assert_eq!(job.body["credits_charged"], 1, "{}", job.text);
    for _ in 0..3 {
        made(t.generate(&b, small(1)).await);
    }
    // Refused, quoted or failed work is not spend.
    let r = t.generate(&b, small(1)).await;
    assert_eq!(r.code(), Some("budget_exceeded"), "{}", r.text);
    let mut quote = small(2);
    quote["dry_run"] = true.into();
    assert_eq!(t.generate(&a, quote).await.body["object"], "quote");
    let r = t
        .generate(
            &a,
            json!({"prompt": "a cat", "model": "gpt-image-1-mini", "size": "1024x1024"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);

    let u = t.get("/v1/usage", Some(&s.access)).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["object"], "usage");
    let days = u.body["data"].as_array().unwrap();
    assert_eq!(days.len(), 30, "the last 30 days by default");
    let today = days.last().unwrap();
    assert_eq!(today["date"], u.body["end"]);
    assert_eq!(
        (&today["credits"], &today["images"], &today["generations"]),
        (&json!(7), &json!(7), &json!(6)),
        "{today}"
    );
    assert!(days[..29].iter().all(|d| d["credits"] == 0), "{}", u.text);
    assert_eq!(u.body["total"]["credits"], 7);
    // Per model: the failed vendor call is taken back to nothing, so it is not listed.
    assert_eq!(
        u.body["models"],
        json!([{"id": "local-procedural", "credits": 7, "images": 7}]),
        "{}",
        u.text
    );
    // Per key, and the signed-in session's own work.
    let by = &u.body["spent_by"];
    assert_eq!(share(by, &key_a).unwrap()["credits"], 2, "{by}");
    assert_eq!(share(by, &key_b).unwrap()["credits"], 3, "{by}");
    assert_eq!(share(by, "session").unwrap()["credits"], 2, "{by}");
    assert_eq!(by.as_array().unwrap().len(), 3, "{by}");

    // The ledger agrees: its lines of paid work (debits and refunds) add up to the report.
    let ledger = t.credits(&s.access).await["ledger"].clone();
    let paid: i64 = ledger
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| matches!(l["reason"].as_str(), Some("generation" | "refund")))
        .map(|l| -l["delta"].as_i64().unwrap())
        .sum();
    assert_eq!(paid, 7, "{ledger}");
    // And each key's listed spend.
    let keys = t.get("/v1/api-keys", Some(&s.access)).await;
    for (id, credits) in [(&key_a, 2), (&key_b, 3)] {
        let k = share(&keys.body["data"], id).unwrap();
        assert_eq!(k["spend"]["day"], credits, "{k}");
    }

    // A range of one day names it; a key without the account scope cannot read the report.
    let day = today["date"].as_str().unwrap();
    let one = t
        .get(&format!("/v1/usage?start={day}&end={day}"), Some(&a))
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(one.body["data"][0], *today);
    let r = t.get("/v1/usage", Some(&b)).await;
    assert_eq!(r.code(), Some("insufficient_scope"), "{}", r.text);
    for (query, param) in [
        ("?start=2026-02-30", "start"),
        ("?end=tomorrow", "end"),
        ("?start=2026-12-06&end=2026-12-01", "start"),
        ("?start=2026-01-01&end=2026-12-06", "start"),
        ("?days=3", "days"),
    ] {
        let r = t.get(&format!("/v1/usage{query}"), Some(&s.access)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert_eq!(r.param(), Some(param), "{query}: {}", r.text);
    }
}
