//! Referral links: a new user registering with a code gets a bonus at once; the referrer earns
//! when that user completes a first paid generation, once (even racing), within a monthly cap,
//! each grant a ledger line.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Registers a user with `code` and signs in.
async fn referred(t: &TestStack, code: &str) -> (String, Tokens) {
    let name = unique("ref");
    let r = t
        .post(
            "/v1/auth/register",
            json!({"username": name, "email": format!("{name}@example.com"),
                   "password": PASSWORD, "referral_code": code}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let tokens = t.login(&name).await;
    (name, tokens)
}

fn lines<'a>(credit: &'a Value, reason: &str) -> Vec<&'a Value> {
    credit["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["reason"] == reason)
        .collect()
}

#[tokio::test]
async fn a_referred_users_first_paid_generation_earns_its_referrer_once() {
    let t = start_with(&[
        ("ReferralSignupCredits", "15"),
        ("ReferrerCredits", "40"),
        ("PublicBaseUrl", "https://images.example.com/"),
    ])
    .await;
    let (_, a) = t.new_user().await;
    let link = t.get("/v1/referral-link", Some(&a.access)).await;
    assert_eq!(link.status, StatusCode::OK, "{}", link.text);
    let code = link.body["code"].as_str().unwrap().to_string();
    assert_eq!(
        link.body["url"],
        format!("https://images.example.com/?ref={code}")
    );
    assert_eq!(
        (
            link.body["signup_credits"].as_i64(),
            link.body["referrer_credits"].as_i64()
        ),
        (Some(15), Some(40))
    );
    let a_before = t.credits(&a.access).await;

    // The new user: the signup credits and the bonus, each a ledger line; the bonus is earned.
    let (_, b) = referred(&t, &code.to_lowercase()).await;
    let b_credit = t.credits(&b.access).await;
    assert_eq!(b_credit["available"], 100 + 15);
    assert_eq!(b_credit["earned"], 15);
    assert_eq!(lines(&b_credit, "referral_signup")[0]["delta"], 15);
    assert_eq!(lines(&b_credit, "signup")[0]["delta"], 100);
    assert_eq!(
        t.credits(&a.access).await,
        a_before,
        "an empty account earns its referrer nothing"
    );

    // Free work (an upload's transform) earns nothing; the first paid generation does, once.
    let r = t
        .generate(&b.access, json!({"prompt": "a fox", "size": "256x256"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a_after = t.credits(&a.access).await;
    assert_eq!(
        a_after["available"].as_i64().unwrap(),
        a_before["available"].as_i64().unwrap() + 40
    );
    assert_eq!(
        a_after["earned"].as_i64().unwrap(),
        a_before["earned"].as_i64().unwrap() + 40
    );
    let grant = lines(&a_after, "referral");
    assert_eq!(grant.len(), 1);
    assert_eq!(grant[0]["delta"], 40);
    let again = t
        .generate(
            &b.access,
            json!({"prompt": "a second fox", "size": "256x256"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        t.credits(&a.access).await["available"],
        a_after["available"],
        "once per referred user"
    );

    // Two first generations at once: one reward.
    let (_, c) = referred(&t, &code).await;
    let (x, y) = tokio::join!(
        t.generate(&c.access, json!({"prompt": "one", "size": "256x256"})),
        t.generate(&c.access, json!({"prompt": "two", "size": "256x256"}))
    );
    assert_eq!((x.status, y.status), (StatusCode::OK, StatusCode::OK));
    let a_final = t.credits(&a.access).await;
    assert_eq!(
        a_final["available"].as_i64().unwrap(),
        a_after["available"].as_i64().unwrap() + 40
    );
    assert_eq!(lines(&a_final, "referral").len(), 2);

    // An unknown code is a 400 naming it, and nothing is created.
    let name = unique("nobody");
    let r = t
        .post(
            "/v1/auth/register",
            json!({"username": name, "email": format!("{name}@example.com"),
                   "password": PASSWORD, "referral_code": "NOSUCHCODE"}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("referral_code")),
        "{}",
        r.text
    );
    let login = t
        .post(
            "/v1/auth/login",
            json!({"username": name, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_referrer_earns_at_most_its_monthly_cap() {
    let t = start_with(&[("ReferrerMonthlyCap", "1"), ("ReferrerCredits", "10")]).await;
    let (_, a) = t.new_user().await;
    let code = t.get("/v1/referral-link", Some(&a.access)).await.body["code"]
        .as_str()
        .unwrap()
        .to_string();
    let link = t.get("/v1/referral-link", Some(&a.access)).await;
    assert!(
        link.body["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "the request's own origin: {}",
        link.text
    );
    let before = t.credits(&a.access).await["available"].as_i64().unwrap();
    for _ in 0..2 {
        let (_, b) = referred(&t, &code).await;
        let r = t
            .generate(&b.access, json!({"prompt": "x", "size": "256x256"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let after = t.credits(&a.access).await;
    assert_eq!(
        after["available"].as_i64().unwrap(),
        before + 10,
        "the second is over the cap"
    );
    assert_eq!(lines(&after, "referral").len(), 1);
}
