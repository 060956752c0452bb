//! Admins: find users, change their credits, disable and enable them, grant the role, read the
//! usage; everyone else is refused, and every change leaves an audit entry.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A stack whose admin is `root`, signed in.
async fn with_admin() -> (TestStack, Tokens, String) {
    let t = start_with(&[("AdminUsernames", "root")]).await;
    let r = t.register("root").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let root = t.login("root").await;
    let id = t.user_id(&root.access).await;
    (t, root, id)
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn admins_list_and_search_users_and_nobody_else_may() {
    let (t, root, root_id) = with_admin().await;
    let (ada, ada_tokens) = t.new_user().await;
    let ada_id = t.user_id(&ada_tokens.access).await;
    let (_, bob_tokens) = t.new_user().await;
    let bob_id = t.user_id(&bob_tokens.access).await;

    // Not an admin: 403 on every admin route, before anything is read or changed.
    for (method, path) in [
        ("GET", "/v1/admin/users".to_string()),
        ("GET", format!("/v1/admin/users/{bob_id}")),
        ("POST", format!("/v1/admin/users/{ada_id}/credits")),
        ("POST", format!("/v1/admin/users/{bob_id}/disable")),
        ("POST", format!("/v1/admin/users/{ada_id}/role")),
        ("GET", "/v1/admin/usage".to_string()),
    ] {
        let r = match method {
            "GET" => t.get(&path, Some(&ada_tokens.access)).await,
            _ => {
                t.post(
                    &path,
                    json!({"amount": 5, "reason": "x", "role": "admin"}),
                    Some(&ada_tokens.access),
                )
                .await
            }
        };
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        assert_eq!(r.code(), Some("forbidden"));
    }
    assert_eq!(t.credits(&ada_tokens.access).await["available"], 100);

    // Everyone, newest first, a page at a time.
    let first = t.get("/v1/admin/users?limit=2", Some(&root.access)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(ids(&first.body), [bob_id.clone(), ada_id.clone()]);
    assert_eq!(first.body["has_more"], true);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = t
        .get(
            &format!("/v1/admin/users?limit=2&cursor={cursor}"),
            Some(&root.access),
        )
        .await;
    assert_eq!(ids(&rest.body), [root_id.as_str()]);
    assert_eq!(rest.body["has_more"], false);
    assert_eq!(rest.body["next_cursor"], Value::Null);
    // A page that ends exactly at the last user says there is no more.
    let all = t.get("/v1/admin/users?limit=3", Some(&root.access)).await;
    assert_eq!(ids(&all.body).len(), 3);
    assert_eq!(all.body["has_more"], false, "{}", all.text);
    // An admin's API key is refused: a leaked key must not make admins that outlive it.
    let (_, key) = t.api_key(&root.access).await;
    let r = t.get("/v1/admin/users", Some(&key)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let shown = &first.body["data"][1];
    assert_eq!(shown["username"], ada.as_str());
    assert_eq!(shown["email"], format!("{ada}@example.com"));
    assert_eq!(shown["credits"]["available"], 100);
    assert_eq!(shown["disabled"], false);

    // By username or email prefix, any case; a user matching by both is listed once.
    let by_name = t
        .get(
            &format!("/v1/admin/users?q={}", ada.to_uppercase()),
            Some(&root.access),
        )
        .await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.text);
    assert_eq!(ids(&by_name.body), [ada_id.as_str()]);
    let by_email = t
        .get(
            &format!("/v1/admin/users?q={ada}@EXAMPLE"),
            Some(&root.access),
        )
        .await;
    assert_eq!(ids(&by_email.body), [ada_id.as_str()]);
    let users = t.get("/v1/admin/users?q=user_", Some(&root.access)).await;
    let mut found = ids(&users.body);
    found.sort();
    let mut expected = vec![ada_id.clone(), bob_id.clone()];
    expected.sort();
    assert_eq!(found, expected);
    // Paging a search: one user per page, nobody twice, nobody missed.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/admin/users?q=user_&limit=1&cursor={c}"),
            None => "/v1/admin/users?q=user_&limit=1".to_string(),
        };
        let page = t.get(&path, Some(&root.access)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        seen.extend(ids(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
        assert!(seen.len() <= 4, "paging does not end: {seen:?}");
    }
    seen.sort();
    assert_eq!(seen, expected, "each user on exactly one page");
    let none = t.get("/v1/admin/users?q=zzz", Some(&root.access)).await;
    assert_eq!(ids(&none.body), Vec::<String>::new());
    assert_eq!(none.body["has_more"], false);

    // A cursor belongs to its search; garbage and bad limits are 400s naming the parameter.
    let c = by_email.body["next_cursor"].clone();
    assert_eq!(c, Value::Null);
    for (query, param) in [
        (
            format!("q=zzz&cursor={cursor}", cursor = cursor_of(&first)),
            "cursor",
        ),
        ("cursor=!!!".to_string(), "cursor"),
        ("limit=0".to_string(), "limit"),
        ("limit=101".to_string(), "limit"),
        ("sort=name".to_string(), "sort"),
    ] {
        let r = t
            .get(&format!("/v1/admin/users?{query}"), Some(&root.access))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert_eq!(r.param(), Some(param), "{query}");
    }

    // One user, and a 404 for an id that is nobody's.
    let one = t
        .get(&format!("/v1/admin/users/{bob_id}"), Some(&root.access))
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body["user"]["id"], bob_id.as_str());
    assert_eq!(one.body["audit"], json!([]));
    for id in ["user_0123456789abcdef0123456789abcdef", "../../x"] {
        let r = t
            .get(&format!("/v1/admin/users/{id}"), Some(&root.access))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}: {}", r.text);
    }
}

fn cursor_of(page: &Reply) -> String {
    page.body["next_cursor"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn credit_changes_are_ledger_lines_naming_the_admin_and_never_overdraw() {
    let (t, root, root_id) = with_admin().await;
    let (_, ada) = t.new_user().await;
    let ada_id = t.user_id(&ada.access).await;
    let path = format!("/v1/admin/users/{ada_id}/credits");

    let r = t
        .post(
            &path,
            json!({"amount": 25, "reason": "Refund for the outage"}),
            Some(&root.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["credits"]["available"], 125);
    let audit_id = r.body["audit_id"].as_str().unwrap().to_string();
    let credit = t.credits(&ada.access).await;
    assert_eq!(credit["available"], 125);
    let line = &credit["ledger"][0];
    assert_eq!(line["reason"], "admin_grant");
    assert_eq!(line["delta"], 25);
    assert_eq!(line["reference"], root_id.as_str());
    assert_eq!(line["note"], "Refund for the outage");

    // More than the balance: refused, nothing moves, nothing is recorded.
    let r = t
        .post(
            &path,
            json!({"amount": -126, "reason": "x"}),
            Some(&root.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.param(), Some("amount"));
    assert!(r.body["error"]["message"].as_str().unwrap().contains("125"));
    let r = t
        .post(
            &path,
            json!({"amount": -125, "reason": "Chargeback"}),
            Some(&root.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(t.credits(&ada.access).await["available"], 0);

    for (body, param) in [
        (json!({"amount": 0, "reason": "x"}), "amount"),
        (json!({"amount": 1_000_001, "reason": "x"}), "amount"),
        (json!({"amount": 1.5, "reason": "x"}), "amount"),
        (json!({"reason": "x"}), "amount"),
        (json!({"amount": 5}), "reason"),
        (json!({"amount": 5, "reason": "  "}), "reason"),
        (json!({"amount": 5, "reason": "x".repeat(201)}), "reason"),
        (json!({"amount": 5, "reason": "x", "note": "y"}), "note"),
    ] {
        let r = t.post(&path, body.clone(), Some(&root.access)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.param(), Some(param), "{body}");
    }
    let r = t
        .post(
            "/v1/admin/users/user_0123456789abcdef0123456789abcdef/credits",
            json!({"amount": 5, "reason": "x"}),
            Some(&root.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // The audit trail: who, what, when, newest first.
    let one = t
        .get(&format!("/v1/admin/users/{ada_id}"), Some(&root.access))
        .await;
    let audit = one.body["audit"].as_array().unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[1]["id"], audit_id.as_str());
    assert_eq!(audit[1]["action"], "grant_credits");
    assert_eq!(audit[1]["actor"], root_id.as_str());
    assert_eq!(audit[1]["target"], ada_id.as_str());
    assert!(audit[1]["detail"].as_str().unwrap().contains("+25"));
    assert!(audit[0]["detail"].as_str().unwrap().contains("-125"));
    assert!(audit[0]["at"].as_i64().unwrap() >= audit[1]["at"].as_i64().unwrap());
}

#[tokio::test]
async fn a_disabled_account_is_refused_everywhere_at_once_until_enabled() {
    let (t, root, root_id) = with_admin().await;
    let (ada, tokens) = t.new_user().await;
    let ada_id = t.user_id(&tokens.access).await;
    let (_, key) = t.api_key(&tokens.access).await;

    let r = t
        .post(
            &format!("/v1/admin/users/{ada_id}/disable"),
            json!({}),
            Some(&root.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["disabled"], true);

    // The access token and the API key fail on the very next request; refresh and sign-in too.
    for credential in [&tokens.access, &key] {
        let r = t.get("/v1/me", Some(credential)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.code(), Some("account_disabled"));
        let r = t
            .generate(credential, json!({"prompt": "a lighthouse"}))
            .await;
        assert_eq!(r.code(), Some("account_disabled"), "{}", r.text);
    }
    let r = t
        .post(
            "/v1/auth/refresh",
            json!({"refresh_token": tokens.refresh}),
            None,
        )
        .await;
    assert_eq!(r.code(), Some("account_disabled"), "{}", r.text);
    let r = t
        .post(
            "/v1/auth/login",
            json!({"username": ada, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), Some("account_disabled"));
    // Only the password's owner learns the account is disabled.
    let r = t
        .post(
            "/v1/auth/login",
            json!({"username": ada, "password": "not the password"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(t.credits(&root.access).await["available"], 100);

    // An admin cannot lock themselves out.
    let r = t
        .post(
            &format!("/v1/admin/users/{root_id}/disable"),
            json!({}),
            Some(&root.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    let r = t
        .post(
            &format!("/v1/admin/users/{ada_id}/enable"),
            json!({}),
            Some(&root.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["disabled"], false);
    assert_eq!(t.get("/v1/me", Some(&key)).await.status, StatusCode::OK);
    let me = t.get("/v1/me", Some(&tokens.access)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    t.login(&ada).await;

    let one = t
        .get(&format!("/v1/admin/users/{ada_id}"), Some(&root.access))
        .await;
    let actions: Vec<&str> = one.body["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["enable", "disable"]);
}

/// Two admins demoting each other at the same moment: one wins, the other is refused (its
/// own role is checked in the transaction that would change the other's), and an admin remains.
#[tokio::test]
async fn two_admins_racing_to_demote_each_other_leave_one_admin() {
    let (t, root, root_id) = with_admin().await;
    let (_, ada) = t.new_user().await;
    let ada_id = t.user_id(&ada.access).await;
    let role = |id: &str| format!("/v1/admin/users/{id}/role");
    let r = t
        .post(&role(&ada_id), json!({"role": "admin"}), Some(&root.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for round in 0..6 {
        let (root_path, ada_path) = (role(&root_id), role(&ada_id));
        let (a, b) = tokio::join!(
            t.post(&ada_path, json!({"role": "user"}), Some(&root.access)),
            t.post(&root_path, json!({"role": "user"}), Some(&ada.access)),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::FORBIDDEN],
            "round {round}: {} / {}",
            a.text,
            b.text
        );
        // The winner remains an admin, the other does not; the winner makes it one again.
        let (winner, loser) = if a.status == StatusCode::OK {
            (&root, &ada_id)
        } else {
            (&ada, &root_id)
        };
        let mut roles = Vec::new();
        for id in [&root_id, &ada_id] {
            let user = t
                .get(&format!("/v1/admin/users/{id}"), Some(&winner.access))
                .await;
            assert_eq!(user.status, StatusCode::OK, "{}", user.text);
            roles.push(user.body["user"]["role"].as_str().unwrap().to_string());
        }
        roles.sort();
        assert_eq!(roles, ["admin", "user"], "round {round}");
        let r = t
            .post(&role(loser), json!({"role": "admin"}), Some(&winner.access))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // An admin disabled meanwhile changes nothing: disabled accounts are refused at admission,
    // and a change already admitted is refused by its own transaction (tested in memory).
    let r = t
        .post(
            &format!("/v1/admin/users/{ada_id}/disable"),
            json!({}),
            Some(&root.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t
        .post(&role(&root_id), json!({"role": "user"}), Some(&ada.access))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

#[tokio::test]
async fn an_admin_grants_the_role_and_a_removed_role_takes_effect_at_once() {
    let (t, root, root_id) = with_admin().await;
    let (_, ada) = t.new_user().await;
    let ada_id = t.user_id(&ada.access).await;
    let role = |id: &str| format!("/v1/admin/users/{id}/role");

    let r = t
        .post(&role(&ada_id), json!({"role": "admin"}), Some(&root.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["role"], "admin");
    // Ada's token, issued before, is an admin's now: the role is read from the account.
    let r = t.get("/v1/admin/users", Some(&ada.access)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let r = t
        .post(&role(&ada_id), json!({"role": "user"}), Some(&root.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t.get("/v1/admin/users", Some(&ada.access)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    for (body, param) in [
        (json!({"role": "owner"}), "role"),
        (json!({}), "role"),
        (json!({"role": 1}), "role"),
    ] {
        let r = t
            .post(&role(&ada_id), body.clone(), Some(&root.access))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.param(), Some(param), "{body}: {}", r.text);
    }
    let r = t
        .post(&role(&root_id), json!({"role": "user"}), Some(&root.access))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let audit = t
        .get(&format!("/v1/admin/users/{ada_id}"), Some(&root.access))
        .await
        .body["audit"]
        .clone();
    let details: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["detail"].as_str().unwrap())
        .collect();
    assert_eq!(details, ["user", "admin"]);
}

#[tokio::test]
async fn usage_counts_paid_work_per_day() {
    let (t, root, _) = with_admin().await;
    let (_, ada) = t.new_user().await;
    away_from_window_edge(86_400, 60).await;
    let before = t.get("/v1/admin/usage?days=7", Some(&root.access)).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    let days = before.body["data"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(before.body["total"]["generations"], 0);

    let spent_before = t.credits(&ada.access).await["spent"].as_i64().unwrap();
    let r = t
        .generate(&ada.access, json!({"prompt": "two lighthouses", "n": 2}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let spent = t.credits(&ada.access).await["spent"].as_i64().unwrap() - spent_before;
    assert!(spent > 0);

    let after = t.get("/v1/admin/usage?days=7", Some(&root.access)).await;
    let today = after.body["data"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let utc_today = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        shared::domain::admin::date_string(secs.div_euclid(86_400))
    };
    assert_eq!(today["date"], utc_today.as_str());
    assert_eq!(
        (
            today["generations"].as_i64(),
            today["images"].as_i64(),
            today["credits"].as_i64()
        ),
        (Some(1), Some(2), Some(spent))
    );
    assert_eq!(after.body["total"]["credits"], spent);
    let default = t.get("/v1/admin/usage", Some(&root.access)).await;
    assert_eq!(default.body["data"].as_array().unwrap().len(), 30);

    for query in ["days=0", "days=367", "days=x", "from=1"] {
        let r = t
            .get(&format!("/v1/admin/usage?{query}"), Some(&root.access))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
    }
}

#[tokio::test]
async fn usage_shows_what_each_vendor_charged_and_the_margin() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // OpenAI reports the tokens an image took; they are priced at its published rates.
    let openai = MockServer::start().await;
    let png = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        fake_openai::png(1024, 1024),
    );
    Mock::given(method("POST"))
        .and(path("/images/generations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1,
            "data": [{"b64_json": png}],
            "usage": {"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172,
                "input_tokens_details": {"text_tokens": 12, "image_tokens": 0}},
        })))
        .mount(&openai)
        .await;
    let t = start_with(&[
        ("AdminUsernames", "root"),
        ("OpenAiApiKey", "sk-fake"),
        ("OpenAiBaseUrl", &openai.uri()),
        ("CreditPriceMicros", "20000"),
    ])
    .await;
    assert_eq!(t.register("root").await.status, StatusCode::CREATED);
    let root = t.login("root").await;
    let (_, ada) = t.new_user().await;
    away_from_window_edge(86_400, 60).await;
    let charged = |r: &Reply| -> i64 {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.headers["x-credits-charged"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let gpt = charged(
        &t.generate(
            &ada.access,
            json!({"prompt": "a lighthouse", "model": "gpt-image-2", "size": "1024x1024"}),
        )
        .await,
    );
    let local = charged(
        &t.generate(
            &ada.access,
            json!({"prompt": "a lighthouse", "model": "local-procedural", "size": "256x256"}),
        )
        .await,
    );

    // Through the official SDK in strict mode: OpenAI's usage as the SDK types it, and the
    // charge headers.
    let (_, key) = t.api_key(&ada.access).await;
    let out = tokio::process::Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/sdk/images_usage.py"))
        .env("OPENAI_BASE_URL", t.url("/v1"))
        .env("OPENAI_API_KEY", &key)
        .kill_on_drop(true)
        .output()
        .await
        .expect("the SDK script runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sdk: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&sdk["output_tokens"], &sdk["text_tokens"]),
        (&json!(4160), &json!(12)),
        "{sdk}"
    );
    assert_eq!(sdk["charged"], gpt.to_string(), "{sdk}");
    let balance = t.credits(&ada.access).await["available"].clone();
    assert_eq!(sdk["remaining"], balance.to_string(), "{sdk}");

    let u = t.get("/v1/admin/usage?days=1", Some(&root.access)).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["credit_price_usd"], 0.02);
    let served = &u.body["data"][0]["served"];
    let row = |model: &str| -> Value {
        served
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["model"] == model)
            .cloned()
            .unwrap_or_else(|| panic!("{model} in {served}"))
    };
    let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-9;
    // Twice 4160 image tokens at $30 a million and 12 text tokens at $5.
    let g = row("gpt-image-2");
    assert_eq!(
        (
            &g["vendor"],
            &g["generations"],
            &g["credits"],
            &g["unpriced"]
        ),
        (&json!("openai"), &json!(2), &json!(2 * gpt), &json!(0)),
        "{g}"
    );
    assert!(close(&g["vendor_cost_usd"], 2.0 * 0.12486), "{g}");
    assert!(close(&g["revenue_usd"], 2.0 * gpt as f64 * 0.02), "{g}");
    assert!(
        close(&g["margin_usd"], 2.0 * (gpt as f64 * 0.02 - 0.12486)),
        "{g}"
    );
    // The offline renderer costs nothing.
    let l = row("local-procedural");
    assert_eq!(
        (&l["vendor"], &l["credits"]),
        (&json!("local"), &json!(local)),
        "{l}"
    );
    assert!(
        close(&l["vendor_cost_usd"], 0.0) && close(&l["margin_usd"], local as f64 * 0.02),
        "{l}"
    );
    assert!(
        close(
            &u.body["margin_usd"],
            (2 * gpt + local) as f64 * 0.02 - 2.0 * 0.12486
        ),
        "{}",
        u.text
    );
}
