//! API keys that can be handed out: scopes, a model allowlist, a budget held in the charge's
//! own write, a per-key hourly limit and an expiry, all changeable by the signed-in owner and
//! applied at once.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn key_with(t: &TestStack, access: &str, limits: Value) -> (String, String) {
    let r = t.post("/v1/api-keys", limits, Some(access)).await;
    assert_eq!(r.status, StatusCode::CREATED, "create key: {}", r.text);
    (
        r.body["id"].as_str().unwrap().to_string(),
        r.body["key"].as_str().unwrap().to_string(),
    )
}

async fn patch(t: &TestStack, path: &str, body: Value, token: &str) -> Reply {
    t.send(t.http.patch(t.url(path)).json(&body).bearer_auth(token))
        .await
}

async fn listed(t: &TestStack, access: &str, id: &str) -> Value {
    let r = t.get("/v1/api-keys", Some(access)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} is listed: {}", r.text))
}

const SMALL: &str = "256x256";

#[tokio::test]
async fn a_read_only_key_reads_the_library_and_is_refused_everything_else_with_the_reason() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let made = t
        .generate(&s.access, json!({"prompt": "a red kite", "size": SMALL}))
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    let id = made.body["data"][0]["id"].as_str().unwrap().to_string();
    let (key_id, key) = key_with(
        &t,
        &s.access,
        json!({"name": "gallery", "scopes": ["library:read"]}),
    )
    .await;
    let shown = listed(&t, &s.access, &key_id).await;
    assert_eq!(shown["scopes"], json!(["library:read"]), "{shown}");
    assert_eq!(shown["models"], Value::Null);

    // Reading the library works, the image's content included.
    let list = t.get("/v1/images", Some(&key)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["data"][0]["id"], id.as_str());
    assert_eq!(
        t.get(&format!("/v1/images/{id}"), Some(&key)).await.status,
        StatusCode::OK
    );
    let before = t.credits(&s.access).await;
    // Generating, deleting, jobs and the account are refused, naming the missing scope.
    for (what, reply, scope) in [
        (
            "generate",
            t.generate(&key, json!({"prompt": "a blue kite", "size": SMALL}))
                .await,
            "generate",
        ),
        (
            "delete",
            t.delete(&format!("/v1/images/{id}"), Some(&key)).await,
            "library:write",
        ),
        ("jobs", t.get("/v1/jobs", Some(&key)).await, "jobs"),
        ("credit", t.get("/v1/credit", Some(&key)).await, "account"),
    ] {
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{what}: {}",
            reply.text
        );
        assert_eq!(reply.code(), Some("insufficient_scope"), "{what}");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("'{scope}'")) && message.contains("library:read"),
            "{what}: {message}"
        );
    }
    assert_eq!(t.credits(&s.access).await["available"], before["available"]);
    assert_eq!(
        t.get(&format!("/v1/images/{id}"), Some(&s.access))
            .await
            .status,
        StatusCode::OK,
        "not deleted"
    );

    // Given the scope by its owner, the same key generates at its next request.
    let r = patch(
        &t,
        &format!("/v1/api-keys/{key_id}"),
        json!({"scopes": ["library:read", "generate"]}),
        &s.access,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["scopes"], json!(["library:read", "generate"]));
    let made = t
        .generate(&key, json!({"prompt": "a blue kite", "size": SMALL}))
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text);
    // The ledger names the key that spent, and the session that spent before it.
    let ledger = t.credits(&s.access).await["ledger"].clone();
    assert_eq!(ledger[0]["api_key_id"], key_id.as_str(), "{ledger}");
    assert!(ledger[0].get("session_id").is_none(), "{ledger}");
    assert!(ledger[1]["session_id"].is_string(), "{ledger}");
    assert!(ledger[1].get("api_key_id").is_none(), "{ledger}");
    // A key cannot change keys, not even itself.
    let r = patch(
        &t,
        &format!("/v1/api-keys/{key_id}"),
        json!({"scopes": null}),
        &key,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

#[tokio::test]
async fn a_key_uses_only_its_models_aliases_resolved() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    // An alias is stored as the model's id; an unknown model is refused by name.
    let r = t
        .post(
            "/v1/api-keys",
            json!({"models": ["no-such-model"]}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.param(), Some("models"));
    let (id, key) = key_with(&t, &s.access, json!({"models": ["stable_diffusion"]})).await;
    let shown = listed(&t, &s.access, &id).await;
    let allowed = shown["models"][0].as_str().unwrap().to_string();
    assert_ne!(allowed, "stable_diffusion", "the alias resolved: {shown}");

    let before = t.credits(&s.access).await;
    let r = t
        .generate(
            &key,
            json!({"prompt": "a fern", "size": SMALL, "model": "local-procedural"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), Some("model_not_allowed"));
    assert!(r.text.contains(&allowed), "{}", r.text);
    // A quote is refused the same way, and nothing is taken.
    let q = t
        .generate(
            &key,
            json!({"prompt": "a fern", "size": SMALL, "dry_run": true}),
        )
        .await;
    assert_eq!(q.code(), Some("model_not_allowed"), "{}", q.text);
    assert_eq!(t.credits(&s.access).await["available"], before["available"]);

    let r = patch(
        &t,
        &format!("/v1/api-keys/{id}"),
        json!({"models": ["local-procedural", "stable_diffusion"]}),
        &s.access,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t
        .generate(&key, json!({"prompt": "a fern", "size": SMALL}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn twenty_racing_requests_on_a_key_with_five_credits_of_budget_left_make_five() {
    let t = start_with(&[
        ("SignupCredits", "100"),
        ("RateLimitPerHour", "1000"),
        ("DailyImageLimit", "1000"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let (key_id, key) = key_with(
        &t,
        &s.access,
        json!({"name": "ci", "budget": {"credits": 7, "period": "day"}}),
    )
    .await;
    let body = json!({"prompt": "a tiny robot", "size": SMALL});
    // Two credits of the budget are spent first: the answer says what it cost and what is left.
    let before = t.credits(&s.access).await["available"].as_i64().unwrap();
    for i in 1..=2 {
        let r = t.generate(&key, body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.headers["x-credits-charged"], "1");
        assert_eq!(
            r.headers["x-credits-remaining"].to_str().unwrap(),
            (before - i).to_string()
        );
    }
    let shown = listed(&t, &s.access, &key_id).await;
    assert_eq!(
        (&shown["spend"]["day"], &shown["spend"]["budget_remaining"]),
        (&json!(2), &json!(5)),
        "{shown}"
    );

    let replies = futures::future::join_all((0..20).map(|_| t.generate(&key, body.clone()))).await;
    let ok: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    let refused: Vec<&Reply> = replies
        .iter()
        .filter(|r| {
            r.status == StatusCode::TOO_MANY_REQUESTS && r.code() == Some("budget_exceeded")
        })
        .collect();
    assert_eq!(
        (ok.len(), refused.len()),
        (5, 15),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.code().map(str::to_string)))
            .collect::<Vec<_>>()
    );
    // A refusal says when the budget resets, and tells the SDKs not to retry before.
    let tomorrow = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        (now / 86_400 + 1) * 86_400 - now
    };
    for r in &refused {
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(retry.abs_diff(tomorrow) <= 5, "{retry} vs {tomorrow}");
        assert_eq!(r.headers["x-should-retry"], "false");
        assert!(r.text.contains("budget"), "{}", r.text);
    }
    // Exactly the budget was taken, each line naming the key.
    let credits = t.credits(&s.access).await;
    assert_eq!(
        credits["available"].as_i64().unwrap(),
        before - 7,
        "{credits}"
    );
    let lines: Vec<&Value> = credits["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["reason"] == "generation")
        .collect();
    assert_eq!(lines.len(), 7, "{credits}");
    assert!(lines.iter().all(|l| l["api_key_id"] == key_id.as_str()));
    let shown = listed(&t, &s.access, &key_id).await;
    assert_eq!(shown["spend"]["day"], 7, "{shown}");
    assert_eq!(shown["spend"]["budget_remaining"], 0, "{shown}");
    // The quote agrees, naming the limit; the account itself could pay.
    let q = t
        .generate(
            &key,
            json!({"prompt": "a tiny robot", "size": SMALL, "dry_run": true}),
        )
        .await;
    assert_eq!(q.body["payable"], false, "{}", q.text);
    assert_eq!(q.body["refused_by"]["limit"], "budget", "{}", q.text);
    assert_eq!(q.body["refused_by"]["available"], 0, "{}", q.text);
    // The session is not held to the key's budget.
    let r = t.generate(&s.access, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Raised by its owner, the budget has room at the key's very next request.
    let r = patch(
        &t,
        &format!("/v1/api-keys/{key_id}"),
        json!({"budget": {"credits": 8, "period": "month"}}),
        &s.access,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["spend"]["budget_remaining"], 1, "{}", r.text);
    let r = t.generate(&key, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t.generate(&key, body.clone()).await;
    assert_eq!(r.code(), Some("budget_exceeded"), "{}", r.text);
}

#[tokio::test]
async fn a_keys_hourly_limit_and_expiry_refuse_with_the_reason_and_changes_are_checked() {
    let t = start_with(&[("RateLimitPerHour", "50")]).await;
    let (_, s) = t.new_user().await;
    // Limits the account does not allow, or that make no sense, are refused by name.
    for (body, param) in [
        (json!({"rate_limit_per_hour": 51}), "rate_limit_per_hour"),
        (json!({"expires_at": 1_000_000}), "expires_at"),
        (json!({"scopes": []}), "scopes"),
        (json!({"rate_limit_per_hour": -1}), "rate_limit_per_hour"),
        (json!({"scopes": ["everything"]}), "scopes"),
        (
            json!({"budget": {"credits": 0, "period": "day"}}),
            "budget.credits",
        ),
        (
            json!({"budget": {"credits": 5, "period": "week"}}),
            "budget",
        ),
    ] {
        let r = t.post("/v1/api-keys", body.clone(), Some(&s.access)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert!(
            r.param().is_some_and(|p| p.starts_with(param)),
            "{body}: {}",
            r.text
        );
    }
    away_from_window_edge(3600, 30).await;
    let (id, key) = key_with(&t, &s.access, json!({"rate_limit_per_hour": 2})).await;
    for _ in 0..2 {
        assert_eq!(t.get("/v1/me", Some(&key)).await.status, StatusCode::OK);
    }
    let r = t.get("/v1/me", Some(&key)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.text.contains("This API key's rate limit"), "{}", r.text);
    assert_eq!(r.headers["x-ratelimit-limit"], "2");
    // The account's own window still has room.
    assert_eq!(
        t.get("/v1/me", Some(&s.access)).await.status,
        StatusCode::OK
    );
    // Lifted by its owner, the key goes on at once.
    let r = patch(
        &t,
        &format!("/v1/api-keys/{id}"),
        json!({"rate_limit_per_hour": null, "name": "unlimited"}),
        &s.access,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (&r.body["name"], &r.body["rate_limit_per_hour"]),
        (&json!("unlimited"), &Value::Null)
    );
    assert_eq!(t.get("/v1/me", Some(&key)).await.status, StatusCode::OK);

    // An expiry: the key works until then, and is refused after with the reason.
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let r = patch(
        &t,
        &format!("/v1/api-keys/{id}"),
        json!({"expires_at": soon}),
        &s.access,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(t.get("/v1/me", Some(&key)).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let r = t.get("/v1/me", Some(&key)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.code(), Some("api_key_expired"));
    assert!(r.text.contains(&format!("/v1/api-keys/{id}")), "{}", r.text);

    // Another user's key, or a bad field, is refused without change.
    let (_, other) = t.new_user().await;
    let r = patch(
        &t,
        &format!("/v1/api-keys/{id}"),
        json!({"expires_at": null}),
        &other.access,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = patch(
        &t,
        &format!("/v1/api-keys/{id}"),
        json!({"rate_limit_per_hour": 0}),
        &s.access,
    )
    .await;
    assert_eq!(r.param(), Some("rate_limit_per_hour"), "{}", r.text);
    // Extended by its owner, it works again.
    let r = patch(
        &t,
        &format!("/v1/api-keys/{id}"),
        json!({"expires_at": null}),
        &s.access,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(t.get("/v1/me", Some(&key)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_profile_from_before_key_limits_is_completed_on_first_use() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let user_id = t.user_id(&s.access).await;
    let (_, key) = key_with(
        &t,
        &s.access,
        json!({"budget": {"credits": 1, "period": "day"}, "rate_limit_per_hour": 10}),
    )
    .await;
    // A profile as stored before keys had limits: without the maps of their versions, hourly
    // counts and spend.
    t.alter_profile(&user_id, "REMOVE key_versions, key_hits, key_spend")
        .await;
    // The key is admitted and charged within its budget, and refused past it.
    let body = json!({"prompt": "a red kite", "size": SMALL});
    let r = t.generate(&key, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t.generate(&key, body).await;
    assert_eq!(r.code(), Some("budget_exceeded"), "{}", r.text);
}
