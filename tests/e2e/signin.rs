//! Sign-in with Google, Microsoft and Apple against a real OpenID Provider on loopback
//! (tests/oidc/provider.mjs), the flows driven over HTTP end to end, and every refusal leaving
//! nothing behind.

use e2e_tests::oidc::{CLIENT_ID, Provider};
use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const REDIRECT: &str = "http://127.0.0.1:9/signin/callback";

async fn stack_for(op: &Provider, idp: &str, extra: &[(&str, &str)]) -> TestStack {
    let params = op.parameters(idp);
    let mut all: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(extra);
    start_with(&all).await
}

/// How many accounts the stack holds.
async fn accounts(t: &TestStack) -> usize {
    let table = t.stack.created.tables["Table"].clone();
    let out = t
        .stack
        .clients
        .dynamodb
        .scan()
        .table_name(table)
        .filter_expression("sk = :p")
        .expression_attribute_values(
            ":p",
            aws_sdk_dynamodb::types::AttributeValue::S("PROFILE".into()),
        )
        .send()
        .await
        .unwrap();
    out.count as usize
}

/// `POST /v1/signin` with `sign_type: signin`: the provider's URL and the state.
async fn begin(t: &TestStack, idp: &str) -> (String, String) {
    begin_with(t, idp, json!({}), None).await
}

/// `begin` with more fields (a `code_challenge`) and as a signed-in caller (`bearer`).
async fn begin_with(
    t: &TestStack,
    idp: &str,
    extra: Value,
    bearer: Option<&str>,
) -> (String, String) {
    let mut body = json!({"sign_type": "signin", "sign_to": idp, "redirect_uri": REDIRECT});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = t.post("/v1/signin", body, bearer).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (
        r.body["url"].as_str().unwrap().to_string(),
        r.body["state"].as_str().unwrap().to_string(),
    )
}

async fn exchange(
    t: &TestStack,
    idp: &str,
    code: &str,
    state: &str,
    bearer: Option<&str>,
) -> Reply {
    exchange_with(t, idp, code, state, json!({}), bearer).await
}

async fn exchange_with(
    t: &TestStack,
    idp: &str,
    code: &str,
    state: &str,
    extra: Value,
    bearer: Option<&str>,
) -> Reply {
    let mut body = json!({"sign_type": "code", "sign_to": idp, "code": code, "state": state});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    t.post("/v1/signin", body, bearer).await
}

/// A Google sign-in started by `started_by` (a session, or none), signed in at the provider
/// as `login`, and its code and state posted by `posted_by`.
async fn relayed(
    t: &TestStack,
    op: &Provider,
    login: &str,
    started_by: Option<&str>,
    posted_by: Option<&str>,
) -> Reply {
    let (url, state) = begin_with(t, "google", json!({}), started_by).await;
    let back = op.authorize(&url, login).await;
    exchange(t, "google", &back.params["code"], &state, posted_by).await
}

/// An app's PKCE pair (RFC 7636 §4.1-4.2): a random verifier and its S256 challenge.
fn pkce_pair() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let verifier =
        b64.encode(uuid::Uuid::new_v4().as_bytes()) + &b64.encode(uuid::Uuid::new_v4().as_bytes());
    let challenge = b64.encode(sha2::Sha256::digest(&verifier));
    (verifier, challenge)
}

/// A whole API sign-in of `login` at the provider: our tokens' reply.
async fn sign_in_as(t: &TestStack, op: &Provider, idp: &str, login: &str) -> Reply {
    let (url, state) = begin(t, idp).await;
    let back = op.authorize(&url, login).await;
    assert_eq!(back.params["state"], state);
    exchange(t, idp, &back.params["code"], &state, None).await
}

async fn me(t: &TestStack, r: &Reply) -> Value {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let access = r.body["access_token"].as_str().unwrap();
    let me = t.get("/v1/me", Some(access)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    me.body
}

#[tokio::test]
async fn google_code_flow_creates_one_account_per_identity_with_pkce_and_nonce() {
    let op = Provider::start("google", &[]).await;
    let t = stack_for(&op, "google", &[]).await;

    let (url, state) = begin(&t, "google").await;
    let auth = reqwest::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<String, String> = auth.query_pairs().into_owned().collect();
    assert!(url.starts_with(&format!("{}/auth?", op.base)), "{url}");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["state"], state);
    assert_eq!(q["redirect_uri"], REDIRECT);
    assert!(q["nonce"].len() >= 43 && q["code_challenge"].len() == 43);
    assert!(q["scope"].split(' ').any(|s| s == "openid"));

    let back = op.authorize(&url, "alice").await;
    assert_eq!(back.to, REDIRECT);
    let first = exchange(&t, "google", &back.params["code"], &state, None).await;
    let alice = me(&t, &first).await;
    assert_eq!(alice["email"], "alice@example.com");
    assert_eq!(alice["name"], "Test alice");
    assert!(alice["username"].as_str().unwrap().starts_with("alice_"));
    assert_eq!(alice["credits"]["available"], 100);
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(accounts(&t).await, 1);

    // The state is spent: the same code and state again are refused.
    let replay = exchange(&t, "google", &back.params["code"], &state, None).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{}", replay.text);
    assert_eq!(replay.code(), Some("invalid_state"));

    // The same person again: the same account.
    let again = sign_in_as(&t, &op, "google", "alice").await;
    assert_eq!(me(&t, &again).await["id"], alice["id"]);
    assert_eq!(accounts(&t).await, 1);
    // An account made by a provider has no password to guess.
    let r = t
        .post(
            "/v1/auth/login",
            json!({"username": alice["username"], "password": ""}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = t
        .post(
            "/v1/auth/login",
            json!({"username": alice["username"], "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);

    // A code whose ID token carries another nonce than this sign-in's: refused, nothing made.
    let (url, state) = begin(&t, "google").await;
    let tampered = url.replace(
        &format!("nonce={}", nonce_of(&url)),
        "nonce=someone-elses-nonce",
    );
    let back = op.authorize(&tampered, "mallory").await;
    let r = exchange(&t, "google", &back.params["code"], &state, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.code(), Some("invalid_id_token"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nonce")
    );

    // An unknown state, and a state of this sign-in with a code of another.
    let r = exchange(&t, "google", "some-code", "an-unknown-state", None).await;
    assert_eq!(r.code(), Some("invalid_state"), "{}", r.text);
    let (_, state) = begin(&t, "google").await;
    let r = exchange(&t, "google", "not-a-code-the-provider-issued", &state, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.code(), Some("invalid_grant"));
    assert_eq!(accounts(&t).await, 1);
}

fn nonce_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "nonce")
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn bad_sign_in_requests_are_400s_naming_the_field() {
    let op = Provider::start("google", &[]).await;
    let t = stack_for(&op, "google", &[]).await;
    for (body, param) in [
        (
            json!({"sign_to": "google", "redirect_uri": REDIRECT}),
            "sign_type",
        ),
        (
            json!({"sign_type": "password", "sign_to": "google"}),
            "sign_type",
        ),
        (
            json!({"sign_type": "signin", "redirect_uri": REDIRECT}),
            "sign_to",
        ),
        (
            json!({"sign_type": "signin", "sign_to": "apple", "redirect_uri": REDIRECT}),
            "sign_to",
        ),
        (
            json!({"sign_type": "signin", "sign_to": "google"}),
            "redirect_uri",
        ),
        (
            json!({"sign_type": "signin", "sign_to": "google", "redirect_uri": "http://evil.example/cb"}),
            "redirect_uri",
        ),
        (
            json!({"sign_type": "signin", "sign_to": "google", "redirect_uri": REDIRECT, "code": "x"}),
            "code",
        ),
        (
            json!({"sign_type": "signin", "sign_to": "google", "redirect_uri": REDIRECT, "referral_code": "NOSUCHCODE"}),
            "referral_code",
        ),
        (
            json!({"sign_type": "code", "sign_to": "google", "state": "s"}),
            "code",
        ),
        (
            json!({"sign_type": "code", "sign_to": "google", "code": "c"}),
            "state",
        ),
        (
            json!({"sign_type": "code", "sign_to": "google", "code": "c", "state": "s", "user": "{}"}),
            "user",
        ),
        (
            json!({"sign_type": "id_token", "sign_to": "google"}),
            "id_token",
        ),
        (
            json!({"sign_type": "code", "sign_to": "google", "code": "c", "state": "s", "nonce": "y"}),
            "nonce",
        ),
        (
            json!({"sign_type": "signin", "sign_to": "google", "redirect_uri": REDIRECT, "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}),
            "code_challenge_method",
        ),
        (
            json!({"sign_type": "signin", "sign_to": "google", "redirect_uri": REDIRECT, "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "plain"}),
            "code_challenge_method",
        ),
        (
            json!({"sign_type": "signin", "sign_to": "google", "redirect_uri": REDIRECT, "code_challenge": "too-short", "code_challenge_method": "S256"}),
            "code_challenge",
        ),
        (
            json!({"sign_type": "signin", "sign_to": "google", "redirect_uri": REDIRECT, "code_verifier": "a".repeat(43)}),
            "code_verifier",
        ),
        (
            json!({"sign_type": "code", "sign_to": "google", "code": "c", "state": "s", "code_verifier": "short"}),
            "code_verifier",
        ),
    ] {
        let r = t.post("/v1/signin", body.clone(), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.param(), Some(param), "{body}");
    }
    // The 400 for a provider not configured here names those that are.
    let r = t
        .post(
            "/v1/signin",
            json!({"sign_type": "signin", "sign_to": "microsoft", "redirect_uri": REDIRECT}),
            None,
        )
        .await;
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("google"),
        "{}",
        r.text
    );
    let r = t.get("/v1/signin/apple", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(accounts(&t).await, 0);
}

#[tokio::test]
async fn an_identity_is_linked_to_a_password_account_only_by_its_signed_in_owner() {
    let op = Provider::start("google", &[]).await;
    let t = stack_for(&op, "google", &[]).await;
    // A password account with the email the provider will give for "bob".
    let r = t
        .post(
            "/v1/auth/register",
            json!({"username": "bob_pw", "email": "bob@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let owner = t.login("bob_pw").await;
    let owner_id = t.user_id(&owner.access).await;

    // Owning an identity with the same email takes nothing over: a new account, no email.
    let other = me(&t, &sign_in_as(&t, &op, "google", "bob").await).await;
    assert_ne!(other["id"], owner_id.as_str());
    assert_eq!(other["email"], "");
    assert_eq!(accounts(&t).await, 2);

    // Signed in, the owner starts and finishes a sign-in that links an identity; it then
    // signs in to the owner's account.
    let owner_session = Some(owner.access.as_str());
    let r = relayed(&t, &op, "bob-work", owner_session, owner_session).await;
    assert_eq!(me(&t, &r).await["id"], owner_id.as_str());
    let later = sign_in_as(&t, &op, "google", "bob-work").await;
    assert_eq!(me(&t, &later).await["id"], owner_id.as_str());

    // Not with an API key: a leaked key must not link a sign-in that outlives it.
    let (_, key) = t.api_key(&owner.access).await;
    let r = relayed(&t, &op, "bob-home", None, Some(&key)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(accounts(&t).await, 2);

    // An identity already someone's cannot be linked to another account.
    let r = relayed(&t, &op, "bob", owner_session, owner_session).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(accounts(&t).await, 2);
}

/// The attack of a relayed sign-in: the attacker signs in at the provider as themselves,
/// keeps the code and state, and gets a signed-in victim's app to post them.
#[tokio::test]
async fn an_attackers_code_relayed_to_a_victims_app_neither_links_nor_signs_in() {
    let op = Provider::start("google", &[]).await;
    let t = stack_for(&op, "google", &[]).await;
    let (_, victim) = t.new_user().await;
    let victim_id = t.user_id(&victim.access).await;
    let (_, attacker) = t.new_user().await;

    // 1. A state started without a session, posted with the victim's: refused, and the
    // attacker's identity is not the victim's afterwards.
    let r = relayed(&t, &op, "mallory", None, Some(&victim.access)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.code(), Some("invalid_state"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("session"),
        "{}",
        r.text
    );
    // 2. A state the attacker started with their own session: refused too.
    let r = relayed(
        &t,
        &op,
        "mallory",
        Some(&attacker.access),
        Some(&victim.access),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.code(), Some("invalid_state"));
    // Mallory's identity signs in to an account of its own, never the victim's.
    let mallory = me(&t, &sign_in_as(&t, &op, "google", "mallory").await).await;
    assert_ne!(mallory["id"], victim_id.as_str());

    // 3. Client-held PKCE: a relayed code and state are useless without the verifier only
    // the attacker's app holds (login CSRF with no session at all), and with the victim's
    // own verifier; the refusals spend nothing, so the rightful holder still finishes.
    let (attackers_verifier, attackers_challenge) = pkce_pair();
    let (url, state) = begin_with(
        &t,
        "google",
        json!({"code_challenge": attackers_challenge, "code_challenge_method": "S256"}),
        None,
    )
    .await;
    // The provider is given the app's challenge, so it checks the verifier too.
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["code_challenge"], attackers_challenge);
    let back3 = op.authorize(&url, "mallory").await;
    let code = &back3.params["code"];
    let r = exchange(&t, "google", code, &state, None).await;
    assert_eq!(r.code(), Some("invalid_state"), "{}", r.text);
    let (victims_verifier, _) = pkce_pair();
    let r = exchange_with(
        &t,
        "google",
        code,
        &state,
        json!({"code_verifier": victims_verifier}),
        None,
    )
    .await;
    assert_eq!(r.code(), Some("invalid_state"), "{}", r.text);
    let r = exchange_with(
        &t,
        "google",
        code,
        &state,
        json!({"code_verifier": attackers_verifier}),
        Some(&victim.access),
    )
    .await;
    assert_eq!(r.code(), Some("invalid_state"), "{}", r.text);
    let r = exchange_with(
        &t,
        "google",
        code,
        &state,
        json!({"code_verifier": attackers_verifier}),
        None,
    )
    .await;
    assert_eq!(me(&t, &r).await["id"], mallory["id"]);

    // The victim's own link, started and finished by the victim's session with its own
    // verifier (and the redirect_uri an OAuth client sends): linked to the victim.
    let (verifier, challenge) = pkce_pair();
    let (url, state) = begin_with(
        &t,
        "google",
        json!({"code_challenge": challenge, "code_challenge_method": "S256"}),
        Some(&victim.access),
    )
    .await;
    let back = op.authorize(&url, "victor").await;
    let r = exchange_with(
        &t,
        "google",
        &back.params["code"],
        &state,
        json!({"code_verifier": verifier, "redirect_uri": REDIRECT}),
        Some(&victim.access),
    )
    .await;
    assert_eq!(me(&t, &r).await["id"], victim_id.as_str());
    let later = sign_in_as(&t, &op, "google", "victor").await;
    assert_eq!(me(&t, &later).await["id"], victim_id.as_str());

    // A redirect_uri other than the sign-in's: a 400 naming it.
    let (url, state) = begin(&t, "google").await;
    let back = op.authorize(&url, "walter").await;
    let r = exchange_with(
        &t,
        "google",
        &back.params["code"],
        &state,
        json!({"redirect_uri": "http://127.0.0.1:9/elsewhere"}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.param(), Some("redirect_uri"));
}

#[tokio::test]
async fn an_id_token_links_only_with_the_nonce_the_app_set() {
    let op = Provider::start("google", &[]).await;
    let t = stack_for(&op, "google", &[]).await;
    let (_, owner) = t.new_user().await;
    let owner_id = t.user_id(&owner.access).await;
    let token = |sub: &str, nonce: &str| {
        op.sign(json!({"sub": sub, "email": format!("{sub}@example.com"), "email_verified": true, "nonce": nonce}), "op")
    };
    let post = |body: Value, bearer: Option<String>| {
        let t = &t;
        async move {
            let mut b = json!({"sign_type": "id_token", "sign_to": "google"});
            b.as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            t.post("/v1/signin", b, bearer.as_deref()).await
        }
    };
    // Another nonce than the app's: refused.
    let r = post(
        json!({"id_token": token("gina", "n-1").await, "nonce": "n-2"}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.code(), Some("invalid_id_token"));
    // A relayed token posted by a signed-in app without a nonce links nothing.
    let r = post(
        json!({"id_token": token("gina", "n-1").await}),
        Some(owner.access.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.param(), Some("nonce"));
    // And with the app's own nonce, which the relayed token does not carry: refused.
    let r = post(
        json!({"id_token": token("gina", "attackers").await, "nonce": "owners"}),
        Some(owner.access.clone()),
    )
    .await;
    assert_eq!(r.code(), Some("invalid_id_token"), "{}", r.text);
    // The owner's own token with its nonce: linked.
    let r = post(
        json!({"id_token": token("owen", "n-3").await, "nonce": "n-3"}),
        Some(owner.access.clone()),
    )
    .await;
    assert_eq!(me(&t, &r).await["id"], owner_id.as_str());
    let r = post(
        json!({"id_token": token("owen", "n-4").await, "nonce": "n-4"}),
        None,
    )
    .await;
    assert_eq!(me(&t, &r).await["id"], owner_id.as_str());
    // Gina was never linked: her token signs in to an account of her own.
    let r = post(
        json!({"id_token": token("gina", "n-5").await, "nonce": "n-5"}),
        None,
    )
    .await;
    assert_ne!(me(&t, &r).await["id"], owner_id.as_str());
}

#[tokio::test]
async fn browser_id_tokens_are_verified_and_each_signs_in_once() {
    let op = Provider::start("google", &[]).await;
    let t = stack_for(&op, "google", &[("AdminUsernames", "root")]).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = |extra: Value| {
        let mut c = json!({"sub": "dave", "email": "dave@example.com", "email_verified": true, "name": "Dave"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let post = |token: String| {
        let t = &t;
        async move {
            t.post(
                "/v1/signin",
                json!({"sign_type": "id_token", "sign_to": "google", "id_token": token}),
                None,
            )
            .await
        }
    };

    // Refused, each for its own reason, and nothing is created.
    for (why, token) in [
        (
            "expired",
            op.sign(claims(json!({"iat": now - 7200, "exp": now - 3600})), "op")
                .await,
        ),
        (
            "another audience",
            op.sign(claims(json!({"aud": "someone-else"})), "op").await,
        ),
        (
            "another issuer",
            op.sign(claims(json!({"iss": "https://accounts.example.com"})), "op")
                .await,
        ),
        (
            "issued in the future",
            op.sign(claims(json!({"iat": now + 3600, "exp": now + 7200})), "op")
                .await,
        ),
        (
            "a key the provider does not publish",
            op.sign(claims(json!({})), "unknown").await,
        ),
        ("alg none", op.sign(claims(json!({})), "none").await),
        (
            "HS256 with the client secret",
            op.sign(claims(json!({})), "hs256").await,
        ),
        ("a forged signature", {
            let good = op.sign(claims(json!({})), "op").await;
            let (head, _) = good.rsplit_once('.').unwrap();
            format!("{head}.{}", "A".repeat(342))
        }),
    ] {
        let r = post(token).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}: {}", r.text);
        assert_eq!(r.code(), Some("invalid_id_token"), "{why}");
    }
    assert_eq!(accounts(&t).await, 0);

    let token = op.sign(claims(json!({})), "op").await;
    let dave = me(&t, &post(token.clone()).await).await;
    assert_eq!(dave["email"], "dave@example.com");
    // The same token again: refused (a stolen token does not sign in twice).
    let r = post(token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // An unverified email is not taken.
    let token = op
        .sign(
            json!({"sub": "erin", "email": "erin@example.com", "email_verified": false}),
            "op",
        )
        .await;
    assert_eq!(me(&t, &post(token).await).await["email"], "");

    // A disabled account does not sign in with a provider either.
    t.register("root").await;
    let root = t.login("root").await;
    let id = dave["id"].as_str().unwrap();
    let r = t
        .post(
            &format!("/v1/admin/users/{id}/disable"),
            json!({}),
            Some(&root.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = post(op.sign(claims(json!({})), "op").await).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), Some("account_disabled"));
}

#[tokio::test]
async fn microsoft_tokens_must_name_their_own_tenants_issuer() {
    let op = Provider::start("microsoft", &[]).await;
    let t = stack_for(&op, "microsoft", &[]).await;
    let signed = sign_in_as(&t, &op, "microsoft", "megan").await;
    let megan = me(&t, &signed).await;
    assert_eq!(megan["name"], "Test megan");
    // Entra does not say the email is verified: it is not taken.
    assert_eq!(megan["email"], "");
    assert_eq!(accounts(&t).await, 1);

    // A provider whose tokens carry a tid that their issuer does not name.
    let liar = Provider::start(
        "microsoft",
        &[("OP_TID", "72f988bf-86f1-41af-91ab-2d7cd011db47")],
    )
    .await;
    let t = stack_for(&liar, "microsoft", &[]).await;
    let r = sign_in_as(&t, &liar, "microsoft", "megan").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.code(), Some("invalid_id_token"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tenant")
    );
    assert_eq!(accounts(&t).await, 0);

    // A tenant allowlist: the honest provider's tenant is not on it.
    let t = stack_for(
        &op,
        "microsoft",
        &[("MicrosoftTenants", "72f988bf-86f1-41af-91ab-2d7cd011db47")],
    )
    .await;
    let r = sign_in_as(&t, &op, "microsoft", "megan").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(accounts(&t).await, 0);
}

#[tokio::test]
async fn apple_posts_back_to_the_browser_flow_with_the_name_only_the_first_time() {
    let op = Provider::start("apple", &[]).await;
    let t = stack_for(&op, "apple", &[]).await;
    let browser = no_redirects();

    let start = browser
        .get(t.url("/v1/signin/apple?return_to=/app/library"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let binding = start.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        binding.contains("HttpOnly") && binding.contains("Secure"),
        "{binding}"
    );
    let url = start.headers()["location"].to_str().unwrap().to_string();
    assert!(url.contains("response_mode=form_post"), "{url}");

    assert!(binding.starts_with("__Host-signin_binding=") && binding.contains("Path=/;"));
    let binding = binding.split(';').next().unwrap().to_string();
    let back = op.authorize(&url, "ann").await;
    assert!(back.posted);
    assert_eq!(back.to, t.url("/v1/signin/apple/callback"));
    assert!(
        back.params.contains_key("user"),
        "Apple sends the name the first time"
    );

    // Posted by another browser (an attacker's link, a victim's browser): refused, nothing made,
    // and the sign-in is left for its own browser.
    let form = |params: &std::collections::HashMap<String, String>| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish()
    };
    let post = |cookie: Option<String>, body: String| {
        let mut r = browser
            .post(t.url("/v1/signin/apple/callback"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.send()
    };
    let stolen = post(None, form(&back.params)).await.unwrap();
    assert_eq!(stolen.status(), StatusCode::UNAUTHORIZED);
    let other = post(
        Some("__Host-signin_binding=another-browsers-binding".into()),
        form(&back.params),
    )
    .await
    .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(accounts(&t).await, 0);

    // Those refusals spent nothing: the browser that started the sign-in finishes it.
    let done = post(Some(binding.clone()), form(&back.params))
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::FOUND);
    assert_eq!(done.headers()["location"], "/app/library");
    let refresh = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Secure-refresh_token="))
        .expect("the refresh token is set as a cookie");
    assert!(
        refresh.contains("HttpOnly")
            && refresh.contains("SameSite=Strict")
            && refresh.contains("Path=/v1/auth/refresh"),
        "{refresh}"
    );
    // The page refreshes with the cookie alone: the access token comes back, the next refresh
    // token goes into the cookie again, never into the answer.
    let jar = refresh.split(';').next().unwrap().to_string();
    let refreshed = browser
        .post(t.url("/v1/auth/refresh"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let next = refreshed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        next.starts_with("__Secure-refresh_token=") && next.contains("HttpOnly"),
        "{next}"
    );
    let body: Value = refreshed.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    let ann = t.get("/v1/me", Some(&access)).await.body;
    assert_eq!(ann["name"], "Test ann");
    assert_eq!(ann["email"], "ann@privaterelay.appleid.com");
    // The spent cookie is refused (and revokes the session, as a reused token does).
    let reused = browser
        .post(t.url("/v1/auth/refresh"))
        .header("cookie", &jar)
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED);
    // The second time Apple sends no name; the account keeps the first one.
    let start = browser.get(t.url("/v1/signin/apple")).send().await.unwrap();
    let binding = start.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let url = start.headers()["location"].to_str().unwrap().to_string();
    let back = op.authorize(&url, "ann").await;
    assert!(!back.params.contains_key("user"));
    let done = post(Some(binding), form(&back.params)).await.unwrap();
    assert_eq!(done.status(), StatusCode::FOUND);
    assert_eq!(done.headers()["location"], "/");
    assert_eq!(accounts(&t).await, 1);
    let api = sign_in_via_api(&t, &op).await;
    let r = me(&t, &api).await;
    assert_eq!(r["id"], ann["id"]);
    assert_eq!(r["name"], "Test ann");
    let access = api.body["access_token"].as_str().unwrap();
    // Signing out clears the cookie.
    let out = browser
        .post(t.url("/v1/auth/logout"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let cleared = out.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cleared.starts_with("__Secure-refresh_token=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
}

/// Apple through `POST /v1/signin` (the code posted to the app, which hands it on).
async fn sign_in_via_api(t: &TestStack, op: &Provider) -> Reply {
    let (url, state) = begin(t, "apple").await;
    let back = op.authorize(&url, "ann").await;
    assert!(back.posted);
    exchange(t, "apple", &back.params["code"], &state, None).await
}

#[tokio::test]
async fn a_client_secret_apple_refuses_is_the_deployments_fault_and_says_so() {
    let op = Provider::start("apple", &[]).await;
    let t = stack_for(&op, "apple", &[("AppleKeyId", "WRONGKEYID")]).await;
    let (url, state) = begin(&t, "apple").await;
    let back = op.authorize(&url, "ann").await;
    let r = exchange(&t, "apple", &back.params["code"], &state, None).await;
    // Our configuration's fault, not the person's: a 502 that says so.
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("misconfigured") && message.contains("invalid_client"),
        "{message}"
    );
    assert_eq!(accounts(&t).await, 0);
}

#[tokio::test]
async fn a_first_sign_in_with_a_referral_code_gets_the_bonus_as_registration_does() {
    let op = Provider::start("google", &[]).await;
    let t = stack_for(&op, "google", &[("ReferralSignupCredits", "15")]).await;
    let (_, referrer) = t.new_user().await;
    let code = t
        .get("/v1/referral-link", Some(&referrer.access))
        .await
        .body["code"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .post(
            "/v1/signin",
            json!({"sign_type": "signin", "sign_to": "google", "redirect_uri": REDIRECT,
                   "referral_code": code}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (url, state) = (
        r.body["url"].as_str().unwrap().to_string(),
        r.body["state"].as_str().unwrap().to_string(),
    );
    let back = op.authorize(&url, "fay").await;
    let signed = exchange(&t, "google", &back.params["code"], &state, None).await;
    let fay = me(&t, &signed).await;
    assert_eq!(fay["credits"]["available"], 115);
    assert_eq!(fay["credits"]["earned"], 15);
    let access = signed.body["access_token"].as_str().unwrap();
    let credit = t.credits(access).await;
    let reasons: Vec<&str> = credit["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"referral_signup"), "{reasons:?}");
}
