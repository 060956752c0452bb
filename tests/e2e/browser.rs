//! The web pages in a real browser: headless Chromium (Debian's, installed by `make debs`)
//! driven by Selenium from `.venv`, against the local stack. Screenshots go to
//! `target/screenshots/`.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_generate_edit_animate_and_administer_in_chromium() {
    let admin = unique("web");
    let t = start_with(&[("AdminUsernames", admin.as_str())]).await;
    // The account the admin page finds, grants credits to and disables.
    let (target, target_tokens) = t.new_user().await;
    let shots = workspace_root().join("target/screenshots");
    let out = tokio::process::Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/browser/web_flow.py"))
        .env("BASE_URL", t.url(""))
        .env("SCREENSHOTS", &shots)
        .env("WEB_USER", &admin)
        .env("TARGET_USER", &target)
        .env("WEB_PASSWORD", PASSWORD)
        .kill_on_drop(true)
        .output()
        .await
        .expect("python runs the browser test");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for shot in ["library.png", "asset.png", "video.png", "admin.png"] {
        assert!(shots.join(shot).exists(), "{shot}");
    }

    // What the admin did in the page holds in the API: the grant, and the account disabled.
    let login = t
        .post(
            "/v1/auth/login",
            json!({"username": target, "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::FORBIDDEN, "{}", login.text);
    assert_eq!(login.body["error"]["code"], "account_disabled");
    let me = t.get("/v1/me", Some(&target_tokens.access)).await;
    assert_eq!(me.status, StatusCode::FORBIDDEN, "{}", me.text);
    let admin_tokens = t.login(&admin).await;
    let list = t
        .get(
            &format!("/v1/admin/users?q={target}"),
            Some(&admin_tokens.access),
        )
        .await;
    assert_eq!(list.body["data"][0]["username"], target.as_str());
    assert_eq!(list.body["data"][0]["credits"]["available"], 125);
    assert_eq!(list.body["data"][0]["disabled"], true);
}

/// The library page with 50 assets, loaded twice in Chromium: the second load takes every
/// thumbnail from the browser's cache (no byte over the network), and the first fetches AVIF
/// thumbnails, about half of what their WebP versions weigh.
#[tokio::test(flavor = "multi_thread")]
async fn the_library_loads_its_thumbnails_once_and_in_avif() {
    const ASSETS: usize = 50;
    let t = start_with(&[
        ("DailyImageLimit", "100"),
        ("SignupCredits", "1000"),
        ("RateLimitPerHour", "10000"),
    ])
    .await;
    // Both loads within one URL window.
    away_from_window_edge(HOUR, 120).await;
    let (user, s) = t.new_user().await;
    for _ in 0..ASSETS / 10 {
        let r = t
            .generate(
                &s.access,
                json!({"prompt": "a harbour of small boats", "n": 10, "size": "512x512"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // The AVIF thumbnails are made from the table's stream, a moment after each image.
    let mut listed = Vec::new();
    for _ in 0..300 {
        let list = t.get("/v1/images?limit=100", Some(&s.access)).await;
        listed = list.body["data"].as_array().unwrap().clone();
        if listed.len() == ASSETS
            && listed
                .iter()
                .all(|i| !i["variants"]["thumbnail"]["avif"].is_null())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let avif: Vec<String> = listed
        .iter()
        .map(|i| {
            i["variants"]["thumbnail"]["avif"]
                .as_str()
                .expect("AVIF made")
                .to_string()
        })
        .collect();
    assert_eq!(avif.len(), ASSETS);
    let mut webp_bytes = 0;
    for i in &listed {
        let url = i["variants"]["thumbnail"]["webp"].as_str().unwrap();
        webp_bytes += t
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len();
    }

    let out = tokio::process::Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/browser/cache_flow.py"))
        .env("BASE_URL", t.url(""))
        .env("WEB_USER", &user)
        .env("WEB_PASSWORD", PASSWORD)
        .env("EXPECT_IMAGES", ASSETS.to_string())
        .kill_on_drop(true)
        .output()
        .await
        .expect("python runs the browser test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let loads: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let entries = |load: &str| -> Vec<(String, u64, u64)> {
        loads[load]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["url"].as_str().unwrap().to_string(),
                    e["transfer"].as_u64().unwrap(),
                    e["body"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let (first, second) = (entries("first"), entries("second"));
    // The browser chose AVIF for every tile.
    let chosen: std::collections::BTreeSet<&str> = first.iter().map(|e| e.0.as_str()).collect();
    for url in &avif {
        assert!(chosen.contains(url.as_str()), "not fetched: {url}");
    }
    assert_eq!(first.len(), ASSETS, "{first:?}");
    assert!(
        first.iter().all(|e| e.1 > 0),
        "the first load fetches: {first:?}"
    );
    assert_eq!(second.len(), ASSETS, "{second:?}");
    for (url, transferred, _) in &second {
        assert_eq!(*transferred, 0, "fetched again: {url}");
    }
    let avif_bytes: u64 = first.iter().map(|e| e.2).sum();
    println!(
        "first load: {ASSETS} AVIF thumbnails {avif_bytes} bytes, as WebP {webp_bytes} bytes \
         (AVIF/WebP {:.2}); second load: 0 bytes",
        avif_bytes as f64 / webp_bytes as f64
    );
    assert!(avif_bytes < webp_bytes as u64);
}
