//! The OpenAPI document is exact: Schemathesis (PyPI, in `.venv`) generates requests from
//! `GET /v1/doc` against a running stack, and every answer must be documented (status and
//! schema), every request the document allows must be taken, and every request it forbids
//! refused. The few rules a schema cannot state are listed, with why, in tests/fuzz/.

use e2e_tests::*;

/// Runs Schemathesis with `args` against the stack, as the user behind `token`.
fn schemathesis(t: &TestStack, token: &str, args: &[&str]) -> (bool, String) {
    let root = workspace_root();
    let out = std::process::Command::new(root.join(".venv/bin/schemathesis"))
        .arg("--config-file")
        .arg(root.join("tests/fuzz/schemathesis.toml"))
        .arg("run")
        .arg(t.url("/v1/doc"))
        .args(["--url", &t.url("")])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        // A fixed seed and deterministic generation: the same cases on every run, so a failure
        // here is a regression. One worker: Hypothesis's caches are not thread-safe, and two
        // workers made a clean-clone run fail with "Inconsistent results" while drawing a case.
        .args([
            "--seed",
            "20261127",
            "--generation-deterministic",
            "--max-examples",
            "25",
            "--workers",
            "1",
        ])
        .args(args)
        .output()
        .expect("schemathesis runs from .venv");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_answers_as_the_document_says() {
    // Every sign-in provider configured (real OpenID Providers on loopback), so sign-ins reach
    // the provider; the fuzzing user is an admin, so the admin routes are reached too.
    let google = oidc::Provider::start("google", &[]).await;
    let microsoft = oidc::Provider::start("microsoft", &[]).await;
    let apple = oidc::Provider::start("apple", &[]).await;
    let providers: Vec<(String, String)> = [
        google.parameters("google"),
        microsoft.parameters("microsoft"),
        apple.parameters("apple"),
    ]
    .concat();
    // Limits high enough that the fuzzer tests the routes, not the hourly limit.
    let mut params = vec![
        ("RateLimitPerHour", "1000000"),
        ("AnonymousRateLimitPerHour", "1000000"),
        ("LoginAttemptsPer15Minutes", "1000000"),
        ("SignupCredits", "1000000"),
        ("DailyImageLimit", "100000"),
        ("AdminUsernames", "fuzzadmin"),
    ];
    params.extend(providers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let t = start_with(&params).await;
    assert_eq!(t.register("fuzzadmin").await.status, 201);
    let s = t.login("fuzzadmin").await;
    // Signing out would revoke the token the rest runs with: those two run last, on their own.
    let (ok, report) = schemathesis(&t, &s.access, &["--exclude-path-regex", "signout|logout"]);
    assert!(ok, "{report}");
    assert!(report.contains(" passed"), "{report}");
    let (_, other) = t.new_user().await;
    let (ok, report) = schemathesis(
        &t,
        &other.access,
        &["--include-path-regex", "signout|logout"],
    );
    assert!(ok, "{report}");
}
