//! What the README promises about accounts, money and storage, each checked as a user would.

use e2e_tests::fixtures::*;
use e2e_tests::*;
use local_stack::template::Template;
use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};
use shared::domain::billing::{IdempotencyClaim, KeyClaim};
use shared::domain::now_epoch;
use shared::ports::{Idempotency, Images};
use shared::usecases::auth::token_hash;

async fn refresh(t: &TestStack, token: &str) -> Reply {
    t.post("/v1/auth/refresh", json!({"refresh_token": token}), None)
        .await
}

#[tokio::test]
async fn two_racing_uses_of_one_refresh_token_revoke_the_session() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (a, b) = tokio::join!(refresh(&t, &s.refresh), refresh(&t, &s.refresh));
    let winners: Vec<&Reply> = [&a, &b]
        .into_iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert!(winners.len() <= 1, "{} / {}", a.text, b.text);
    assert!(
        [&a, &b]
            .iter()
            .any(|r| r.code() == Some("refresh_token_reused")),
        "{} / {}",
        a.text,
        b.text
    );
    // Whoever won holds nothing: the session is gone, with every token of it.
    for w in winners {
        let next = tokens(w);
        assert_eq!(
            refresh(&t, &next.refresh).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            t.get("/v1/me", Some(&next.access)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let me = t.get("/v1/me", Some(&s.access)).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );
}

/// Every attribute value of every item in the table, as text.
async fn table_text(t: &TestStack) -> String {
    let deps = t.deps().await;
    let mut text = String::new();
    let mut start = None;
    loop {
        let page = t
            .stack
            .clients
            .dynamodb
            .scan()
            .table_name(&deps.config.aws.table_name)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            text.push_str(&format!("{item:?}\n"));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return text;
        }
    }
}

#[tokio::test]
async fn passwords_refresh_tokens_and_api_keys_are_stored_only_as_hashes() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, key) = t.api_key(&s.access).await;
    let stored = table_text(&t).await;
    for secret in [PASSWORD, s.refresh.as_str(), key.as_str()] {
        assert!(!stored.contains(secret), "{secret} is stored as it is");
    }
    // What is stored is the hash a presented secret is looked up by, and argon2id for passwords.
    assert!(stored.contains(&token_hash(&s.refresh)));
    assert!(stored.contains(&token_hash(&key)));
    assert!(stored.contains("$argon2id$v=19$m=19456,t=2,p=1$"));
}

/// `{id}` of each route filled with something of the user's, or absent.
fn concrete(path: &str, image: &str, key_id: &str) -> String {
    if path.starts_with("/v1/api-keys/") {
        path.replace("{id}", key_id)
    } else if path.starts_with("/v1/uploads/") {
        path.replace("{id}", "upl_absent")
    } else {
        path.replace("{id}", image)
    }
}

async fn call(t: &TestStack, method: &str, path: &str, token: &str) -> Reply {
    let url = t.url(path);
    // Our answer itself, not the bucket's after a redirect.
    let http = no_redirects();
    let req = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        "PATCH" => http.patch(url).json(&json!({})),
        _ => http.post(url).json(&json!({})),
    };
    t.send(req.bearer_auth(token)).await
}

#[tokio::test]
async fn every_authenticated_route_counts_the_request_and_refuses_a_signed_out_session() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (key_id, _) = t.api_key(&s.access).await;
    let image = t
        .generate(&s.access, json!({"prompt": "a kite", "size": "256x256"}))
        .await;
    let image = image.body["data"][0]["id"].as_str().unwrap().to_string();
    // Routes that take no credentials, and the sign-out itself.
    let open = [
        "/v1/auth/register",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/models",
        "/v1/models/{id}",
        "/v1/doc",
        "/{proxy+}",
        // Sign-in with a provider: a Bearer only to link an identity to its account.
        "/v1/signin",
        "/v1/signin/{provider}",
        "/v1/signin/{provider}/callback",
        // The web pages: files anyone may load.
        "/",
        "/app/{proxy+}",
        "/assets/{file}",
        "/favicon.ico",
        // OAuth for MCP clients: what a client reads and sends before it has a token.
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/oauth/register",
        "/oauth/token",
    ];
    let signing_out = ["/v1/signout", "/v1/auth/logout"];
    let routes: Vec<_> = Template::load(&workspace_root().join("template.yaml"))
        .unwrap()
        .routes()
        .into_iter()
        .filter(|r| !open.contains(&r.path.as_str()) && !signing_out.contains(&r.path.as_str()))
        // Deleting the image first would turn the later calls into 404s of another kind.
        .map(|r| (r.method, r.path))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(routes.len() >= 15, "{routes:?}");

    away_from_window_edge(HOUR, 60).await;
    let now = now_epoch();
    let window_end = now - now.rem_euclid(HOUR) + HOUR;
    let mut remaining = u64::MAX;
    for (method, path) in &routes {
        let path = concrete(path, &image, &key_id);
        let r = call(&t, method, &path, &s.access).await;
        assert_ne!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            r.text
        );
        let header = |name: &str| -> u64 {
            r.headers
                .get(name)
                .unwrap_or_else(|| panic!("{method} {path} ({}) has no {name}", r.status))
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        };
        assert_eq!(header("x-ratelimit-limit"), 100, "{method} {path}");
        assert_eq!(
            header("x-ratelimit-reset"),
            window_end as u64,
            "{method} {path}"
        );
        let left = header("x-ratelimit-remaining");
        assert!(
            left < remaining,
            "{method} {path}: every request counts once"
        );
        remaining = left;
    }

    let out = t.post("/v1/signout", json!({}), Some(&s.access)).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    for (method, path) in &routes {
        let path = concrete(path, &image, &key_id);
        let r = call(&t, method, &path, &s.access).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some("token_revoked")),
            "{method} {path}: {}",
            r.text
        );
    }
    let mine = t.new_user().await.1;
    let r = t
        .get(&format!("/v1/images/{image}"), Some(&mine.access))
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "the image was never anyone else's"
    );
}

async fn spent(t: &TestStack, token: &str) -> (i64, usize) {
    let c = t.credits(token).await;
    (
        c["available"].as_i64().unwrap(),
        c["ledger"].as_array().unwrap().len(),
    )
}

#[tokio::test]
async fn uploads_transforms_and_versions_cost_nothing() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let before = spent(&t, &s.access).await;
    let bytes = png(&object_on_background(60, 40));
    let (_, done) =
        crate::assets::upload(&t, &s.access, bytes.clone(), bytes.len(), "image/png").await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    let upload = done.body["id"].as_str().unwrap().to_string();
    let r = t
        .post(
            &format!("/v1/images/{upload}/transform"),
            json!({"operations": [{"op": "rotate", "degrees": 90}, {"op": "grayscale"}]}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let transformed = r.body["id"].as_str().unwrap().to_string();
    let r = t
        .send(
            t.http
                .patch(t.url(&format!("/v1/images/{upload}")))
                .bearer_auth(&s.access)
                .json(&json!({"image_id": transformed, "tags": ["free"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        spent(&t, &s.access).await,
        before,
        "no credit and no ledger line"
    );
}

async fn edit_form(t: &TestStack, token: &str, path: &str, key: &str, form: Form) -> Reply {
    t.send(
        t.http
            .post(t.url(path))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .multipart(form),
    )
    .await
}

#[tokio::test]
async fn edits_and_variations_replay_under_their_idempotency_key() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let base = png(&object_on_background(64, 48));
    let mask = png(&mask_over_object(64, 48));
    let edit = |prompt: &str| {
        Form::new()
            .part("image", part(base.clone()))
            .part("mask", part(mask.clone()))
            .text("prompt", prompt.to_string())
            .text("response_format", "b64_json")
    };
    let variation = |n: &str| {
        Form::new()
            .part("image", part(base.clone()))
            .text("n", n.to_string())
            .text("response_format", "b64_json")
    };
    for (path, first, same, other) in [
        (
            "/v1/images/edits",
            edit("a pond"),
            edit("a pond"),
            edit("a lake"),
        ),
        (
            "/v1/images/variations",
            variation("2"),
            variation("2"),
            variation("3"),
        ),
    ] {
        let key = unique("key");
        let before = spent(&t, &s.access).await.0;
        let a = edit_form(&t, &s.access, path, &key, first).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text);
        let cost = before - spent(&t, &s.access).await.0;
        assert!(cost > 0, "{path} is paid");
        let b = edit_form(&t, &s.access, path, &key, same).await;
        assert_eq!(b.status, StatusCode::OK, "{path}: {}", b.text);
        assert_eq!(
            a.body["data"], b.body["data"],
            "{path}: the same images, byte for byte"
        );
        assert_eq!(
            before - spent(&t, &s.access).await.0,
            cost,
            "{path}: charged once"
        );
        let c = edit_form(&t, &s.access, path, &key, other).await;
        assert_eq!(
            (c.status, c.param()),
            (StatusCode::CONFLICT, Some("Idempotency-Key")),
            "{path}"
        );
        let listed = t.get("/v1/images?limit=100", Some(&s.access)).await;
        let ids: Vec<&Value> = a.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| &d["id"])
            .collect();
        let stored = listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| ids.contains(&&d["id"]))
            .count();
        assert_eq!(stored, ids.len(), "{path}: stored once");
    }
}

/// The window is the adapter's: driven here with explicit clocks through the DynamoDB adapter.
#[tokio::test]
async fn an_idempotency_key_is_held_for_24_hours_then_free() {
    let t = start().await;
    let deps = t.deps().await;
    let (_, s) = t.new_user().await;
    let user = t.user_id(&s.access).await;
    let claim = |token: &str| KeyClaim {
        key: "nightly".into(),
        token: token.into(),
    };
    let t0 = now_epoch();
    let at = |claim, hash, when| {
        let deps = &deps;
        let user = &user;
        async move { deps.store.claim(user, &claim, hash, when).await.unwrap() }
    };
    assert!(matches!(
        at(claim("c1"), "h", t0).await,
        IdempotencyClaim::New
    ));
    let day = 24 * 3600;
    assert!(matches!(
        at(claim("c2"), "h", t0 + day - 1).await,
        IdempotencyClaim::InProgress
    ));
    assert!(matches!(
        at(claim("c2"), "other", t0 + day - 1).await,
        IdempotencyClaim::Mismatch
    ));
    assert!(matches!(
        at(claim("c3"), "other", t0 + day + 1).await,
        IdempotencyClaim::New
    ));
}

#[tokio::test]
async fn thumbnails_are_webp_and_content_redirects_to_one_url_per_window() {
    let t = start().await;
    away_from_window_edge(HOUR, 10).await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a map", "size": "1536x1024", "output_format": "png"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["data"][0]["id"].as_str().unwrap();
    let info = t.get(&format!("/v1/images/{id}"), Some(&s.access)).await;
    let thumb = t
        .http
        .get(info.body["thumbnail_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let thumb = thumb.bytes().await.unwrap();
    assert_eq!(
        image::guess_format(&thumb).unwrap(),
        image::ImageFormat::WebP
    );
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!(
        (thumb.width(), thumb.height()),
        (256, 171),
        "256 px on the long edge"
    );

    let signed_at = |location: &str| {
        let url = reqwest::Url::parse(location).unwrap();
        let date = url
            .query_pairs()
            .find(|(k, _)| k == "X-Amz-Date")
            .unwrap()
            .1;
        amz_date_epoch(&date)
    };
    let mut seen = Vec::new();
    for _ in 0..2 {
        // A second apart, the same URL: signed at the start of the hour-long window.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let asked = now_epoch();
        let location = t.content_location(id, &s.access).await;
        assert_eq!(signed_at(&location), asked - asked.rem_euclid(HOUR));
        let got = t.http.get(&location).send().await.unwrap();
        assert_eq!(got.status(), StatusCode::OK);
        seen.push(location);
    }
    assert_eq!(seen[0], seen[1]);
}

#[tokio::test]
async fn uploads_beyond_the_pixel_limits_are_refused_at_complete_and_removed() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    // 8000x6000 is 48 MP, yet a plain PNG of it is small enough to upload.
    let plain = image::RgbaImage::from_pixel(8000, 6000, image::Rgba([10, 20, 30, 255]));
    let bytes = png(&plain);
    let before = t.object_keys().await;
    let (_, done) =
        crate::assets::upload(&t, &s.access, bytes.clone(), bytes.len(), "image/png").await;
    assert_eq!(
        (done.status, done.param()),
        (StatusCode::BAD_REQUEST, Some("id")),
        "{}",
        done.text
    );
    assert!(done.text.contains("8000x6000"), "{}", done.text);
    assert_eq!(
        t.object_keys().await,
        before,
        "the uploaded object is removed"
    );
    let listed = t.get("/v1/images?type=upload", Some(&s.access)).await;
    assert!(listed.body["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_prompt_and_mask_patch_edits_the_masked_area_into_a_version_that_keeps_the_tags() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let base = object_on_background(96, 72);
    let mask = mask_over_object(96, 72);
    let image = &crate::defects::uploaded(&t, &s.access, &base).await;
    let mask_id = &crate::defects::uploaded(&t, &s.access, &mask).await;
    let patch = |body: Value| {
        t.send(
            t.http
                .patch(t.url(&format!("/v1/images/{image}")))
                .bearer_auth(&s.access)
                .json(&body),
        )
    };
    let r = patch(json!({"title": "Pond", "tags": ["water"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = patch(json!({"prompt": "remove the red square", "mask_id": mask_id})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["parent_id"], image.as_str());
    assert_eq!(r.body["title"], "Pond");
    assert_eq!(r.body["tags"], json!(["water"]));
    assert_eq!(r.body["prompt"], "remove the red square");
    let bytes = t
        .http
        .get(r.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let out = image::load_from_memory(&bytes.bytes().await.unwrap())
        .unwrap()
        .into_rgba8();
    assert_eq!(out.dimensions(), base.dimensions());
    for (x, y, p) in out.enumerate_pixels() {
        if mask.get_pixel(x, y).0[3] != 0 {
            assert_eq!(
                p,
                base.get_pixel(x, y),
                "({x},{y}) outside the mask changed"
            );
        } else {
            assert!(p.0[2] > 180 && p.0[0] < 80, "({x},{y}) still red: {p:?}");
        }
    }
}

/// Metadata written through the adapter: enough long prompts to pass DynamoDB's 1 MB page.
async fn many_records(t: &TestStack, user: &str, count: usize, prompt_len: usize) -> Vec<String> {
    let deps = t.deps().await;
    let now = now_epoch();
    let mut ids = Vec::new();
    for i in 0..count {
        let id = format!("img_{i:04}_{}", unique("p"));
        let mut record = crate::charges::record_of(user, &id, now - count as i64 + i as i64);
        record.prompt = Some(format!("{i} {}", "long prompt ".repeat(prompt_len / 12)));
        let outcome = deps.store.put_images(&[record], None, u64::MAX).await;
        assert!(
            matches!(outcome, shared::domain::billing::WriteOutcome::Written),
            "{outcome:?}"
        );
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn pages_end_exactly_at_a_multiple_of_the_limit_and_go_past_dynamodbs_1_mb() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let user = t.user_id(&s.access).await;
    let ids = many_records(&t, &user, 4, 10).await;
    let first = t
        .get("/v1/images?limit=2&sort=oldest", Some(&s.access))
        .await;
    assert_eq!(first.body["has_more"], true);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = t
        .get(
            &format!("/v1/images?limit=2&sort=oldest&cursor={cursor}"),
            Some(&s.access),
        )
        .await;
    let got: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|r| r.body["data"].as_array().unwrap())
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        second.body["has_more"], false,
        "no empty page after the last full one"
    );
    assert!(second.body["next_cursor"].is_null());

    // 40 items of ~30 KB: one DynamoDB query page holds about 33 of them.
    let (_, big) = t.new_user().await;
    let big_user = t.user_id(&big.access).await;
    let ids = many_records(&t, &big_user, 40, 30_000).await;
    let all = t
        .get("/v1/images?limit=100&sort=oldest", Some(&big.access))
        .await;
    assert_eq!(
        all.status,
        StatusCode::OK,
        "{}",
        &all.text[..200.min(all.text.len())]
    );
    let got: Vec<&str> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(all.body["has_more"], false);
    let page = t
        .get("/v1/images?limit=35&sort=oldest", Some(&big.access))
        .await;
    assert_eq!(page.body["data"].as_array().unwrap().len(), 35);
    assert_eq!(page.body["has_more"], true);
}

/// Unix seconds of a SigV4 `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`), by the civil-from-days algorithm.
fn amz_date_epoch(d: &str) -> i64 {
    let num = |r: std::ops::Range<usize>| d[r].parse::<i64>().unwrap();
    let (y, m, day) = (num(0..4), num(4..6), num(6..8));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + num(9..11) * 3600 + num(11..13) * 60 + num(13..15)
}
