//! Generation through the gateway with the offline provider: images, credits, quotas,
//! moderation and idempotency, as a client sees them.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::json;

fn decode(bytes: &[u8]) -> image::DynamicImage {
    image::load_from_memory(bytes).expect("a decodable image")
}

#[tokio::test]
async fn b64_images_have_the_requested_count_size_and_format() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    for (n, size, format) in [
        (2, "256x256", "png"),
        (1, "1024x1536", "webp"),
        (3, "512x512", "jpeg"),
    ] {
        let r = t
            .generate(
                &s.access,
                json!({"prompt": "a lighthouse at dusk", "n": n, "size": size, "response_format": "b64_json", "output_format": format}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let data = r.body["data"].as_array().unwrap();
        assert_eq!(data.len(), n, "n={n} returns exactly n images");
        assert_eq!(r.body["size"], size);
        assert_eq!(r.body["output_format"], format);
        assert!(r.body["created"].as_i64().unwrap() > 1_700_000_000);
        let (w, h) = size.split_once('x').unwrap();
        for d in data {
            let bytes = b64(d["b64_json"].as_str().unwrap());
            assert_eq!(
                image::guess_format(&bytes).unwrap().extensions_str()[0].replace("jpg", "jpeg"),
                format
            );
            let img = decode(&bytes);
            assert_eq!(
                (img.width().to_string(), img.height().to_string()),
                (w.to_string(), h.to_string())
            );
            assert!(d.get("url").is_none());
        }
    }
}

#[tokio::test]
async fn urls_download_the_stored_bytes_and_expire_as_configured() {
    let t = start_with(&[("PresignTtlSeconds", "600")]).await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "two moons", "n": 2, "size": "256x256"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for d in r.body["data"].as_array().unwrap() {
        let url = d["url"].as_str().unwrap();
        // Signed at the start of the hour-long window, valid 600 s past its end.
        assert!(url.contains("X-Amz-Expires=4200"), "{url}");
        let downloaded = t
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec();
        let info = t
            .get(
                &format!("/v1/images/{}", d["id"].as_str().unwrap()),
                Some(&s.access),
            )
            .await;
        let key = t
            .object_keys()
            .await
            .into_iter()
            .find(|k| k.starts_with("images/") && k.contains(d["id"].as_str().unwrap()))
            .unwrap();
        assert_eq!(
            downloaded,
            t.object(&key).await.unwrap(),
            "the URL serves the stored object"
        );
        assert_eq!(info.body["bytes"], downloaded.len());
        assert_eq!(decode(&downloaded).width(), 256);
    }
}

#[tokio::test]
async fn the_same_prompt_and_seed_give_the_same_image() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let body = json!({"prompt": "a red fox", "size": "256x256", "seed": 42, "response_format": "b64_json"});
    let a = t.generate(&s.access, body.clone()).await;
    let b = t.generate(&s.access, body).await;
    let c = t
        .generate(&s.access, json!({"prompt": "a blue whale", "size": "256x256", "seed": 42, "response_format": "b64_json"}))
        .await;
    let img =
        |r: &Reply| decode(&b64(r.body["data"][0]["b64_json"].as_str().unwrap())).into_rgba8();
    assert_eq!(img(&a), img(&b));
    // Another prompt is another picture, not a few changed pixels.
    let (x, y) = (img(&a), img(&c));
    let diff = x
        .as_raw()
        .iter()
        .zip(y.as_raw())
        .map(|(p, q)| p.abs_diff(*q) as f64)
        .sum::<f64>()
        / x.as_raw().len() as f64;
    assert!(diff > 5.0, "mean absolute difference {diff}");
}

#[tokio::test]
async fn transparent_background_clears_the_backdrop() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a single green apple", "size": "512x512", "background": "transparent", "response_format": "b64_json"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["background"], "transparent");
    let img = decode(&b64(r.body["data"][0]["b64_json"].as_str().unwrap())).into_rgba8();
    assert_eq!(img.get_pixel(0, 0).0[3], 0, "corner is transparent");
    assert!(
        img.pixels().any(|p| p.0[3] == 255),
        "the subject stays opaque"
    );
}

#[tokio::test]
async fn credits_decrease_by_exactly_the_catalog_cost() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let model = t.get("/v1/models/local-procedural", None).await;
    let per_image = model.body["cost"]["per_image"]["512x512"].as_i64().unwrap();
    let before = t.credits(&s.access).await["available"].as_i64().unwrap();
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a kite", "n": 3, "size": "512x512"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = t.credits(&s.access).await;
    assert_eq!(after["available"].as_i64().unwrap(), before - 3 * per_image);
    assert_eq!(after["spent"].as_i64().unwrap(), 3 * per_image);
    assert_eq!(
        after["ledger"][0]["delta"].as_i64().unwrap(),
        -3 * per_image
    );
    assert_eq!(after["ledger"][0]["reason"], "generation");
}

#[tokio::test]
async fn one_hundred_concurrent_generations_with_credits_for_ten() {
    let t = start_with(&[
        ("SignupCredits", "10"),
        ("RateLimitPerHour", "1000"),
        ("DailyImageLimit", "1000"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let body = json!({"prompt": "a tiny robot", "size": "256x256"});
    let replies =
        futures::future::join_all((0..100).map(|_| t.generate(&s.access, body.clone()))).await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let broke = replies
        .iter()
        .filter(|r| {
            r.status == StatusCode::TOO_MANY_REQUESTS && r.code() == Some("insufficient_quota")
        })
        .count();
    assert_eq!(
        (ok, broke),
        (10, 90),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.code().map(str::to_string)))
            .collect::<Vec<_>>()
    );
    let credits = t.credits(&s.access).await;
    assert_eq!(credits["available"], 0, "never below zero");
    assert_eq!(credits["spent"], 10);
    let list = t.get("/v1/images?limit=100", Some(&s.access)).await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        10,
        "exactly the paid images are stored"
    );
}

#[tokio::test]
async fn idempotent_replay_returns_identical_data_and_charges_once() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let body =
        json!({"prompt": "a paper boat", "n": 2, "size": "256x256", "response_format": "b64_json"});
    let send = |key: &'static str, body: serde_json::Value| {
        let req = t
            .http
            .post(t.url("/v1/images/generations"))
            .bearer_auth(&s.access)
            .header("Idempotency-Key", key)
            .json(&body);
        t.send(req)
    };
    let first = send("key-1", body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let spent = t.credits(&s.access).await["spent"].as_i64().unwrap();
    let replay = send("key-1", body.clone()).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body["data"], first.body["data"], "identical data");
    assert_eq!(
        t.credits(&s.access).await["spent"].as_i64().unwrap(),
        spent,
        "charged once"
    );
    let list = t.get("/v1/images", Some(&s.access)).await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        2,
        "generated once"
    );

    // A replay of a URL answer signs URLs for the same images: within the window, the same.
    away_from_window_edge(HOUR, 10).await;
    let url_body = json!({"prompt": "a lantern", "size": "256x256"});
    let first_url = send("key-3", url_body.clone()).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = send("key-3", url_body).await;
    assert_eq!(again.body["data"][0]["id"], first_url.body["data"][0]["id"]);
    assert_eq!(
        again.body["data"][0]["url"], first_url.body["data"][0]["url"],
        "the replay signs the same URL within a window"
    );
    let bytes = t
        .http
        .get(again.body["data"][0]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(image::load_from_memory(&bytes).is_ok());

    let other = send(
        "key-1",
        json!({"prompt": "another boat", "size": "256x256"}),
    )
    .await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(other.param(), Some("Idempotency-Key"));

    // A failed request frees its key: a valid retry with the same key works.
    let bad = send(
        "key-2",
        json!({"prompt": "x", "size": "256x256", "n": 1000}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let good = send("key-2", json!({"prompt": "x", "size": "256x256"})).await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text);
}

#[tokio::test]
async fn refused_terms_are_400_and_nothing_is_charged_or_stored() {
    let t = start_with(&[("RefusedTerms", "forbidden thing,gore")]).await;
    let (_, s) = t.new_user().await;
    let before = t.credits(&s.access).await;
    for prompt in ["a FORBIDDEN   thing at night", "some gore"] {
        let r = t
            .generate(&s.access, json!({"prompt": prompt, "size": "256x256"}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert_eq!(r.code(), Some("content_policy_violation"));
        assert_eq!(r.param(), Some("prompt"));
    }
    let ok = t
        .generate(
            &s.access,
            json!({"prompt": "a gorgeous forbidden-city view... no: a garden", "size": "256x256"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "whole words only: {}", ok.text);
    let after = t.credits(&s.access).await;
    assert_eq!(
        after["spent"].as_i64().unwrap(),
        before["spent"].as_i64().unwrap() + 1
    );
}

#[tokio::test]
async fn the_daily_image_limit_is_429_with_retry_after() {
    away_from_window_edge(DAY, 120).await;
    let t = start_with(&[("DailyImageLimit", "3")]).await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(&s.access, json!({"prompt": "a", "n": 2, "size": "256x256"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = t
        .generate(&s.access, json!({"prompt": "b", "n": 2, "size": "256x256"}))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.code(), Some("rate_limit_exceeded"));
    let retry: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry));
    assert_eq!(
        t.credits(&s.access).await["spent"],
        2,
        "the refused request cost nothing"
    );
    let r = t
        .generate(&s.access, json!({"prompt": "c", "n": 1, "size": "256x256"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "one image still fits today");
    // More than a whole day's images is no matter of waiting: a 400 on n.
    let r = t
        .generate(&s.access, json!({"prompt": "d", "n": 4, "size": "256x256"}))
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("n")),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn every_validation_error_is_400_with_param() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let cases = [
        (json!({"prompt": "x", "n": 0}), "n"),
        (json!({"prompt": "x", "n": 11}), "n"),
        (json!({"prompt": "x", "n": "two"}), "n"),
        (json!({"prompt": "x", "size": "5000x1000"}), "size"),
        (json!({"prompt": "x", "style": "vivid"}), "style"),
        (json!({"prompt": ""}), "prompt"),
        (json!({"prompt": "x".repeat(4001)}), "prompt"),
        (json!({"size": "256x256"}), "prompt"),
        (json!({"prompt": "x", "model": "dall-e-3"}), "model"),
        (json!({"prompt": "x", "model": "no-such-model"}), "model"),
        (json!({"prompt": "x", "quality": "hd"}), "quality"),
        (json!({"prompt": "x", "quality": "xhigh"}), "quality"),
        (json!({"prompt": "x", "complexity": "total"}), "complexity"),
        (json!({"prompt": "x", "output_format": "svg", "n": 2}), "n"),
        (json!({"prompt": "x", "frame_count": 3}), "frame_count"),
        (
            json!({"prompt": "x", "response_format": "gif"}),
            "response_format",
        ),
        (
            json!({"prompt": "x", "output_format": "bmp"}),
            "output_format",
        ),
        (
            json!({"prompt": "x", "output_compression": 50}),
            "output_compression",
        ),
        (
            json!({"prompt": "x", "background": "transparent", "output_format": "jpeg"}),
            "background",
        ),
        (
            json!({"prompt": "x", "stream": true, "output_format": "gif"}),
            "stream",
        ),
        (json!({"prompt": "x", "colour": "red"}), "colour"),
    ];
    for (body, param) in cases {
        let r = t.generate(&s.access, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.param(), Some(param), "{body}: {}", r.text);
    }
    assert_eq!(t.credits(&s.access).await["spent"], 0, "nothing charged");
    assert!(t.object_keys().await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn the_catalog_shows_only_usable_models() {
    let t = start().await;
    let r = t.get("/v1/models", None).await;
    let ids: Vec<_> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["local-procedural", "local-motion"]);
    let video = t.get("/v1/models/local-motion", None).await;
    assert_eq!(video.body["kind"], "video", "{}", video.text);
    assert_eq!(
        video.body["cost"]["per_second"]["1280x720"], 1,
        "{}",
        video.text
    );
    assert_eq!(video.body["is_ai_model"], false);
    // What a client needs to offer the model: what it does, and for videos their lengths.
    assert_eq!(video.body["operations"], json!(["video"]));
    assert_eq!(video.body["seconds"], json!([4, 8, 12]));
    let m = t.get("/v1/models/local-procedural", None).await;
    assert_eq!(m.body["is_ai_model"], false);
    assert!(
        m.body["info"]["what_is"]
            .as_str()
            .unwrap()
            .contains("Not an AI model")
    );
    assert!(
        m.body["info"]["tips"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(m.body["qualities"], json!(["medium", "low", "high"]));
    assert_eq!(
        m.body["operations"],
        json!(["generate", "edit", "variation"])
    );
    assert!(m.body.get("seconds").is_none(), "{}", m.text);
    assert_eq!(
        t.get("/v1/models/gpt-image-2", None).await.status,
        StatusCode::NOT_FOUND
    );

    let with_key = start_with(&[("OpenAiApiKey", "sk-configured")]).await;
    let r = with_key.get("/v1/models", None).await;
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    for current in [
        "gpt-image-1-mini",
        "gpt-image-1.5",
        "gpt-image-2",
        "gpt-image-2.5-sunburst",
        "gpt-image-2.5-flare-2026-09-08",
        "gpt-image-2.6-flare",
        "chatgpt-image-latest",
    ] {
        assert!(ids.contains(&current), "{current} in {ids:?}");
    }
    for retired in ["dall-e-2", "dall-e-3", "gpt-image-1"] {
        assert!(!ids.contains(&retired), "{retired} is retired");
    }
    let sunburst = with_key
        .get("/v1/models/gpt-image-2.5-sunburst", None)
        .await;
    assert_eq!(
        sunburst.body["qualities"],
        json!(["medium", "low", "high", "xhigh", "max"])
    );
    assert_eq!(sunburst.body["cost"]["quality_multipliers"]["max"], 4);
}
