//! The account lifecycle through the gateway, as a client sees it.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn register_login_me_refresh_signout() {
    let t = start().await;
    let name = unique("ada");
    let reg = t.register(&name).await;
    assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.text);
    assert_eq!(reg.body["username"], name.as_str());
    assert_eq!(reg.body["role"], "user");
    assert_eq!(
        reg.body["credits"]["available"], 100,
        "signup grant from template default"
    );
    assert!(reg.body.get("password").is_none() && reg.body.get("password_hash").is_none());

    let first = t.login(&name).await;
    let me = t.get("/v1/me", Some(&first.access)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["id"], reg.body["id"]);
    assert_eq!(me.body["email"], format!("{name}@example.com"));

    // Refresh rotates: a new pair, and the old refresh token is spent.
    let r = t
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": first.refresh}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let second = tokens(&r);
    assert_ne!(second.refresh, first.refresh);
    let me = t.get("/v1/me", Some(&second.access)).await;
    assert_eq!(me.status, StatusCode::OK);

    let reused = t
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": first.refresh}),
            None,
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reused.code(), Some("refresh_token_reused"));

    // Reuse revoked the whole family: the newest tokens of that session are dead too.
    let r = t
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": second.refresh}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let me = t.get("/v1/me", Some(&second.access)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signout_revokes_access_and_refresh_tokens_everywhere() {
    let t = start().await;
    let (name, session) = t.new_user().await;
    let other_session = t.login(&name).await;

    let out = t
        .post("/v1/signout", json!({}), Some(&session.access))
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    assert_eq!(out.body["signed_out"], true);

    for (path, method) in [
        ("/v1/me", "GET"),
        ("/v1/api-keys", "GET"),
        ("/v1/api-keys", "POST"),
    ] {
        let r = match method {
            "GET" => t.get(path, Some(&session.access)).await,
            _ => t.post(path, json!({}), Some(&session.access)).await,
        };
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(r.code(), Some("token_revoked"));
    }
    let r = t
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": session.refresh}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Another session of the same user is untouched; the alias route signs it out.
    let me = t.get("/v1/me", Some(&other_session.access)).await;
    assert_eq!(me.status, StatusCode::OK);
    let out = t
        .post("/v1/auth/logout", json!({}), Some(&other_session.access))
        .await;
    assert_eq!(out.status, StatusCode::OK);
    let me = t.get("/v1/me", Some(&other_session.access)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_by_email_is_case_insensitive() {
    let t = start().await;
    let (name, _) = t.new_user().await;
    let _someone_else = t.new_user().await;
    let r = t
        .post(
            "/v1/auth/login",
            json!({"email": format!("{}@EXAMPLE.com", name.to_uppercase()), "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The account signed in is the one the email names, not just any.
    let token = r.body["access_token"].as_str().unwrap();
    let me = t.get("/v1/me", Some(token)).await;
    assert_eq!(me.body["username"], name.to_lowercase());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_401() {
    let t = start().await;
    let (name, _) = t.new_user().await;
    let wrong = t
        .post(
            "/v1/auth/login",
            json!({"username": name, "password": "not the password"}),
            None,
        )
        .await;
    let unknown = t
        .post(
            "/v1/auth/login",
            json!({"username": unique("ghost"), "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test]
async fn duplicate_username_or_email_is_409_naming_the_field() {
    let t = start().await;
    let name = unique("dup");
    assert_eq!(t.register(&name).await.status, StatusCode::CREATED);

    let same_name = t
        .post(
            "/v1/auth/register",
            json!({"username": name.to_uppercase(), "email": "other@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(same_name.status, StatusCode::CONFLICT, "{}", same_name.text);
    assert_eq!(same_name.param(), Some("username"));

    let same_email = t
        .post(
            "/v1/auth/register",
            json!({"username": unique("other"), "email": format!("{name}@Example.com"), "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(
        same_email.status,
        StatusCode::CONFLICT,
        "{}",
        same_email.text
    );
    assert_eq!(same_email.param(), Some("email"));
}

#[tokio::test]
async fn twenty_concurrent_registrations_of_one_username_have_one_winner() {
    let t = start().await;
    let name = unique("race");
    let attempts = (0..20).map(|i| {
        t.post(
            "/v1/auth/register",
            json!({"username": name, "email": format!("race{i}@example.com"), "password": PASSWORD}),
            None,
        )
    });
    let replies = futures::future::join_all(attempts).await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count();
    let conflicts = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!(
        (created, conflicts),
        (1, 19),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    // And the winner can sign in.
    t.login(&name).await;
}

#[tokio::test]
async fn referral_codes_are_checked() {
    let t = start().await;
    let first = t.register(&unique("ref")).await;
    let code = first.body["referral_code"].as_str().unwrap().to_string();
    let name = unique("invited");
    let ok = t
        .post(
            "/v1/auth/register",
            json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD, "referral_code": code.to_lowercase()}),
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let name = unique("invited");
    let bad = t
        .post(
            "/v1/auth/register",
            json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD, "referral_code": "NOPE"}),
            None,
        )
        .await;
    assert_eq!(
        bad.status,
        StatusCode::BAD_REQUEST,
        "a code that names no one is a bad value of referral_code"
    );
    assert_eq!(bad.param(), Some("referral_code"));
}

#[tokio::test]
async fn admins_come_from_deploy_configuration() {
    let t = start_with(&[("AdminUsernames", "boss, other")]).await;
    let r = t
        .post(
            "/v1/auth/register",
            json!({"username": "Boss", "email": "boss@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.body["role"], "admin", "{}", r.text);
}
