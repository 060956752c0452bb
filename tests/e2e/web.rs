//! The web pages over HTTP: what the browser is sent and how it may cache it, with a strict
//! Content-Security-Policy. (The pages' behaviour in a browser is tested in Chromium.)

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn pages_are_served_with_a_strict_policy_and_hashed_assets_cached_for_good() {
    let t = start().await;
    let http = no_redirects();
    for path in ["/", "/app/library", "/app/generate", "/app/signin"] {
        let r = http.get(t.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], "text/html; charset=utf-8");
        assert_eq!(h["cache-control"], "no-cache");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        let html = r.text().await.unwrap();
        assert!(html.contains("<main"), "{html}");
    }

    let page = http.get(t.url("/")).send().await.unwrap();
    let etag = page.headers()["etag"].to_str().unwrap().to_string();
    let html = page.text().await.unwrap();
    let again = http
        .get(t.url("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Scripts and styles are named by their content: cached for a year, revalidated by ETag.
    let assets: Vec<&str> = html
        .split("/assets/")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    assert_eq!(assets.len(), 3, "{html}");
    for name in assets {
        let r = http
            .get(t.url(&format!("/assets/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let kind = r.headers()["content-type"].to_str().unwrap().to_string();
        assert!(
            kind.starts_with(match name.rsplit('.').next() {
                Some("js") => "text/javascript",
                Some("svg") => "image/svg+xml",
                _ => "text/css",
            }),
            "{kind}"
        );
        let tag = r.headers()["etag"].to_str().unwrap().to_string();
        let body = r.text().await.unwrap();
        assert!(!body.is_empty());
        let again = http
            .get(t.url(&format!("/assets/{name}")))
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
    let r = http
        .get(t.url("/assets/app.0000000000000000.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The site has an icon, where the page names it and where browsers look by themselves.
    assert!(html.contains("rel=\"icon\""), "{html}");
    let icon = http.get(t.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    assert!(icon.text().await.unwrap().starts_with("<svg"));
}

/// A first visit without a session: the page's refresh finds nothing to refresh, which is
/// no error (a browser would log a 401 as one).
#[tokio::test]
async fn refreshing_without_a_session_cookie_is_a_204_not_an_error() {
    let t = start().await;
    let r = no_redirects()
        .post(t.url("/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.text().await.unwrap().is_empty());
    // A cookie that is no session is still refused.
    let r = no_redirects()
        .post(t.url("/v1/auth/refresh"))
        .header("cookie", "__Secure-refresh_token=rt_forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_pages_sign_in_keeps_the_refresh_token_in_its_cookie() {
    let t = start().await;
    let (name, _) = t.new_user().await;
    let r = t
        .post(
            "/v1/auth/login",
            json!({"username": name, "password": PASSWORD, "refresh_token_in": "cookie"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body.get("refresh_token").is_none(), "{}", r.text);
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("__Secure-refresh_token=rt_")
            && cookie.contains("HttpOnly")
            && cookie.contains("Secure;")
            && cookie.contains("Path=/v1/auth/refresh;"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let refreshed = no_redirects()
        .post(t.url("/v1/auth/refresh"))
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let r = t
        .post(
            "/v1/auth/login",
            json!({"username": name, "password": PASSWORD, "refresh_token_in": "jar"}),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.param(), Some("refresh_token_in"));
}

/// The page's script parses as a module (a syntax error would leave every page at "Loading").
#[test]
fn the_script_is_a_valid_module() {
    let dir = std::env::temp_dir().join(format!("web-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("app.mjs");
    std::fs::copy(workspace_root().join("functions/web/site/app.js"), &copy).unwrap();
    let out = std::process::Command::new("node")
        .arg("--check")
        .arg(&copy)
        .output()
        .expect("node runs");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Under the local stack, presigned URLs name the API's own origin (`/_s3`), which passes them
/// on to the emulator: a browser on another machine reaches images wherever it reaches the API.
#[tokio::test]
async fn local_presigned_urls_are_served_from_the_apis_origin() {
    let t = start_with(&[("PublicBaseUrl", "http://images.lan:3000")]).await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a lighthouse", "response_format": "url"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let url = r.body["data"][0]["url"].as_str().unwrap();
    assert!(url.starts_with("http://images.lan:3000/_s3/"), "{url}");
    // Fetched the way that machine would, through the gateway (here under its local address).
    let local = url.replacen("http://images.lan:3000", &t.url(""), 1);
    let image = t.http.get(&local).send().await.unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");
    let bytes = image.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    // Only what was asked is passed on: another object is not found.
    let missing = local.replacen("/_s3/", "/_s3/nosuchbucket/", 1);
    assert!(
        !t.http
            .get(&missing)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
}
