//! The web pages in a real browser: headless Chromium (Debian's, installed by `make debs`)
//! driven by Selenium from `.venv`, against the local stack. Screenshots go to
//! `target/screenshots/`.

use e2e_tests::*;

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_generate_and_see_the_library_in_chromium() {
    let t = start().await;
    let shots = workspace_root().join("target/screenshots");
    let out = tokio::process::Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/browser/web_flow.py"))
        .env("BASE_URL", t.url(""))
        .env("SCREENSHOTS", &shots)
        .env("WEB_USER", unique("web"))
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
    assert!(shots.join("library.png").exists());
}
