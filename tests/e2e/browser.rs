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
