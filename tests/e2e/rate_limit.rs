//! The hourly per-user limit is kept in DynamoDB, so it holds across Lambda instances.

use e2e_tests::*;
use reqwest::StatusCode;

#[tokio::test]
async fn the_101st_request_in_an_hour_is_429_with_retry_after() {
    away_from_window_edge(HOUR, 120).await;
    let t = start().await;
    let (_, session) = t.new_user().await;
    let limit = 100;
    assert_eq!(
        t.stack.config.limits.rate_limit_per_hour, limit,
        "template default"
    );

    // Half through the gateway, half through a second, independently built instance.
    for i in 0..limit / 2 {
        let r = t.get("/v1/me", Some(&session.access)).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}: {}", r.text);
        assert_eq!(r.headers["x-ratelimit-limit"], "100");
        assert_eq!(
            r.headers["x-ratelimit-remaining"],
            (limit - 1 - i).to_string().as_str()
        );
    }
    let second_instance = t.deps().await;
    for i in limit / 2..limit {
        let req = lambda_http::http::Request::builder()
            .uri("/v1/me")
            .header("authorization", format!("Bearer {}", session.access))
            .body(lambda_http::Body::Empty)
            .unwrap();
        let resp = me::handler(&second_instance, req).await;
        assert_eq!(resp.status(), 200, "request {i}");
    }

    let r = t.get("/v1/me", Some(&session.access)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.code(), Some("rate_limit_exceeded"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "retry-after {retry}");
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");

    // The limit is per user: someone else is unaffected.
    let (_, other) = t.new_user().await;
    assert_eq!(
        t.get("/v1/me", Some(&other.access)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_limit_is_configurable() {
    away_from_window_edge(HOUR, 120).await;
    let t = start_with(&[("RateLimitPerHour", "3")]).await;
    let (_, session) = t.new_user().await;
    let statuses: Vec<_> =
        futures::future::join_all((0..6).map(|_| t.get("/v1/me", Some(&session.access))))
            .await
            .into_iter()
            .map(|r| r.status.as_u16())
            .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
}
