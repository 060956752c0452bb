//! Every way a bearer credential can be bad is a 401, and API keys behave like access tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use e2e_tests::*;
use jsonwebtoken::{EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn forged_expired_and_malformed_tokens_are_rejected() {
    let t = start().await;
    let (_, session) = t.new_user().await;
    let claims = claims_of(&session.access);
    assert_eq!(
        t.get("/v1/me", Some(&session.access)).await.status,
        StatusCode::OK
    );

    // alg "none": the same claims, unsigned.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let unsigned = format!("{header}.{body}.");
    // Signed with a key that is not ours.
    let wrong_key = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"an-attacker-secret-of-sufficient-length"),
    )
    .unwrap();
    // The stack's own secret, as its functions read it (from Secrets Manager).
    let secret = t
        .stack
        .config
        .tokens
        .jwt_secret
        .get()
        .await
        .unwrap()
        .to_vec();
    // Ours, but expired an hour ago.
    let mut old = claims.clone();
    old["exp"] = json!(claims["iat"].as_i64().unwrap() - 3600);
    let expired = encode(&Header::default(), &old, &EncodingKey::from_secret(&secret)).unwrap();
    // Ours, but for another audience.
    let mut aud = claims.clone();
    aud["aud"] = json!("another-service");
    let wrong_audience =
        encode(&Header::default(), &aud, &EncodingKey::from_secret(&secret)).unwrap();

    // Our own secret, but another HMAC: the algorithm is pinned, not read from the token.
    let with_alg = |alg| {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(&secret),
        )
        .unwrap()
    };
    let hs384 = with_alg(jsonwebtoken::Algorithm::HS384);
    let hs512 = with_alg(jsonwebtoken::Algorithm::HS512);
    // Algorithm confusion: a header that says RS256 over an HMAC made with our secret as the key.
    let confused = {
        use hmac::{Hmac, Mac};
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let b = URL_SAFE_NO_PAD.encode(claims.to_string());
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
        mac.update(format!("{h}.{b}").as_bytes());
        format!(
            "{h}.{b}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };

    for (what, token) in [
        ("alg none", unsigned.as_str()),
        ("wrong key", &wrong_key),
        ("expired", &expired),
        ("wrong audience", &wrong_audience),
        ("HS384 with our secret", &hs384),
        ("HS512 with our secret", &hs512),
        ("RS256 header, HMAC with our secret", &confused),
        ("garbage", "not-a-jwt"),
    ] {
        let r = t.get("/v1/me", Some(token)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
        assert_eq!(r.body["error"]["type"], "authentication_error", "{what}");
    }
    let r = t.get("/v1/me", Some(&expired)).await;
    assert_eq!(r.code(), Some("token_expired"));

    let r = t.get("/v1/me", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), Some("missing_credentials"));
    let r = t
        .send(
            t.http
                .get(t.url("/v1/me"))
                .header("authorization", format!("Basic {}", session.access)),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_keys_work_like_access_tokens_until_revoked() {
    let t = start().await;
    let (name, session) = t.new_user().await;
    let (key_id, key) = t.api_key(&session.access).await;
    assert!(key.starts_with("sk-"));

    let me = t.get("/v1/me", Some(&key)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.body["username"], name.as_str());

    // Listed by prefix, never by secret, with its last use recorded.
    let list = t.get("/v1/api-keys", Some(&session.access)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains(&key), "the secret must not be listed");
    let entry = &list.body["data"][0];
    assert_eq!(entry["id"], key_id.as_str());
    assert!(key.starts_with(entry["prefix"].as_str().unwrap()));
    assert!(entry["last_used_at"].as_i64().is_some(), "{}", list.text);

    // Another user cannot see or revoke it.
    let (_, stranger) = t.new_user().await;
    let r = t
        .delete(&format!("/v1/api-keys/{key_id}"), Some(&stranger.access))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t.get("/v1/api-keys", Some(&stranger.access)).await;
    assert_eq!(r.body["data"], json!([]));

    let r = t
        .delete(&format!("/v1/api-keys/{key_id}"), Some(&session.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["deleted"], true);
    let r = t.get("/v1/me", Some(&key)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), Some("invalid_api_key"));
    let r = t
        .delete(&format!("/v1/api-keys/{key_id}"), Some(&session.access))
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "a second revoke finds nothing"
    );

    // A made-up key of the right shape is refused too.
    let r = t
        .get(
            "/v1/me",
            Some("sk-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn api_key_cannot_sign_out_but_signout_with_its_refresh_token_works() {
    let t = start().await;
    let (_, session) = t.new_user().await;
    let (_, key) = t.api_key(&session.access).await;
    let r = t.post("/v1/signout", json!({}), Some(&key)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.param(), Some("refresh_token"));
    let r = t
        .post(
            "/v1/signout",
            json!({"refresh_token": session.refresh}),
            Some(&key),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        t.get("/v1/me", Some(&session.access)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.get("/v1/me", Some(&key)).await.status,
        StatusCode::OK,
        "the key itself lives on"
    );
}

/// A client whose requests come from another loopback address (the gateway reports the peer).
fn from_address(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, last]))
        .build()
        .unwrap()
}

async fn sign_in(t: &TestStack, from: &reqwest::Client, login: Value, password: &str) -> Reply {
    let mut body = login;
    body["password"] = json!(password);
    t.send(from.post(t.url("/v1/auth/login")).json(&body)).await
}

#[tokio::test]
async fn failed_sign_ins_slow_the_guesser_without_locking_out_the_owner() {
    away_from_window_edge(LOGIN_WINDOW, 120).await;
    let t = start_with(&[("LoginAttemptsPer15Minutes", "3")]).await;
    let (name, _) = t.new_user().await;
    let (other, _) = t.new_user().await;
    let by_name = json!({"username": name});
    let by_email = json!({"email": format!("{name}@example.com")});
    let guesser = from_address(2);
    // Successful sign-ins do not count.
    for _ in 0..4 {
        let r = sign_in(&t, &guesser, by_name.clone(), PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    for _ in 0..3 {
        let r = sign_in(&t, &guesser, by_name.clone(), "guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = sign_in(&t, &guesser, by_name.clone(), PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address waits, even with the right password: {}",
        r.text
    );
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry));
    // Naming the account by its email instead does not reset the count.
    let r = sign_in(&t, &guesser, by_email.clone(), PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // The owner, elsewhere, is not locked out; and other accounts are not affected.
    let owner = from_address(3);
    let r = sign_in(&t, &owner, by_email.clone(), PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = sign_in(&t, &guesser, json!({"username": other}), PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Guessing from many addresses: once the account has failed 10x the limit in all, every
    // address that guessed wrong waits, while one that never failed still signs in.
    // 3 failures so far; 9 more addresses make 30.
    for last in 10..19u8 {
        let from = from_address(last);
        for _ in 0..3 {
            let r = sign_in(&t, &from, by_name.clone(), "guess").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        }
    }
    let late = from_address(30);
    let r = sign_in(&t, &late, by_name.clone(), "guess").await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a first failure is still answered"
    );
    let r = sign_in(&t, &late, by_name.clone(), PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let r = sign_in(&t, &from_address(99), by_name.clone(), PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a fresh address with the password: {}",
        r.text
    );
}

#[tokio::test]
async fn unauthenticated_routes_are_limited_per_address() {
    away_from_window_edge(HOUR, 120).await;
    let t = start_with(&[("AnonymousRateLimitPerHour", "4")]).await;
    for i in 0..4 {
        let r = t.register(&unique(&format!("ip{i}"))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = t.register(&unique("ip5")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.headers.contains_key("retry-after"));
    let r = t
        .post("/v1/auth/refresh", json!({"refresh_token": "rt_x"}), None)
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn failed_authentication_is_limited_per_address() {
    away_from_window_edge(HOUR, 120).await;
    let t = start_with(&[("AnonymousRateLimitPerHour", "4")]).await;
    let (_, s) = t.new_user().await; // register and login: the address's own limit, not this one
    let (_, key) = t.api_key(&s.access).await;
    let prober = from_address(7);
    let probe = |token: String| {
        let (t, prober) = (&t, &prober);
        async move { t.send(prober.get(t.url("/v1/me")).bearer_auth(token)).await }
    };
    for _ in 0..4 {
        let r = probe(format!("sk-{}", "0".repeat(43))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let r = probe(format!("sk-{}", "1".repeat(43))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.headers.contains_key("retry-after"));
    // A token whose signature fails costs no lookup: a plain 401, not counted.
    let r = probe("eyJhbGciOiJIUzI1NiJ9.e30.bad".into()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // An access token is checked without a lookup: a user behind the same address still gets in.
    assert_eq!(probe(s.access.clone()).await.status, StatusCode::OK);
    // Other addresses are not affected, keys included.
    let r = t.get("/v1/me", Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_profile_from_before_admission_checks_is_completed_on_first_use() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (key_id, key) = t.api_key(&s.access).await;
    let me = t.get("/v1/me", Some(&s.access)).await;
    let user_id = me.body["id"].as_str().unwrap().to_string();
    // A profile as stored before requests were admitted against it: without the two maps.
    t.alter_profile(&user_id, "REMOVE api_keys, revoked_sessions")
        .await;
    // Its API key still works (the maps are rebuilt from the user's listed keys)...
    let r = t.get("/v1/me", Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // ...sign-out still revokes at once, and so does revoking the key.
    let r = t.post("/v1/auth/logout", json!({}), Some(&s.access)).await;
    assert!(r.status.is_success(), "{}", r.text);
    assert_eq!(
        t.get("/v1/me", Some(&s.access)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = t.login(me.body["username"].as_str().unwrap()).await;
    let r = t
        .delete(&format!("/v1/api-keys/{key_id}"), Some(&again.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        t.get("/v1/me", Some(&key)).await.status,
        StatusCode::UNAUTHORIZED
    );
}
