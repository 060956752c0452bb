//! Generation through the OpenAI provider against a local stand-in (wiremock): real PNGs,
//! refunds on failure, content-policy refusals, and nothing stored when the provider fails.

use e2e_tests::fake_openai;
use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::json;

async fn stack_against(server: &wiremock::MockServer) -> TestStack {
    start_with(&[
        ("OpenAiApiKey", "sk-fake"),
        ("OpenAiBaseUrl", &server.uri()),
        ("ProviderMaxRetries", "1"),
    ])
    .await
}

#[tokio::test]
async fn vendor_images_are_stored_and_returned_with_revised_prompts() {
    let server = fake_openai::serving_pngs(2, 1024, 1024).await;
    let t = stack_against(&server).await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(&s.access, json!({"prompt": "a cat", "model": "gpt-image-1.5", "n": 2, "size": "1024x1024", "quality": "high", "safety_identifier": "h-1"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["data"][0]["revised_prompt"], "revised by the model");
    // The PNG from the vendor is kept as it came (not re-encoded): its pixel data is the
    // vendor's, byte for byte, beside the Content Credentials added to it.
    let stored = b64(r.body["data"][0]["b64_json"].as_str().unwrap());
    let idat = |png: &[u8]| {
        let at = png.windows(4).position(|w| w == b"IDAT").unwrap();
        let len = u32::from_be_bytes(png[at - 4..at].try_into().unwrap()) as usize;
        png[at + 4..at + 4 + len].to_vec()
    };
    assert_eq!(idat(&stored), idat(&fake_openai::png(1024, 1024)));
    assert_eq!(r.body["quality"], "high");
    let sent = &server.received_requests().await.unwrap()[0];
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert!(
        body.get("response_format").is_none(),
        "GPT image models take none"
    );
    assert_eq!(body["quality"], "high");
    assert_eq!(body["safety_identifier"], "h-1");
    assert_eq!(sent.headers["authorization"], "Bearer sk-fake");
    // Without a model, a current OpenAI model applies once a key is configured.
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a dog", "n": 2, "size": "1024x1024"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["model"], "gpt-image-1-mini");
    // A retired model is refused before anything is sent, naming what replaces it.
    let calls = server.received_requests().await.unwrap().len();
    let r = t
        .generate(&s.access, json!({"prompt": "a dog", "model": "dall-e-3"}))
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("model"))
    );
    assert!(
        r.text.contains("retired") && r.text.contains("gpt-image-2.5-flare"),
        "{}",
        r.text
    );
    assert_eq!(server.received_requests().await.unwrap().len(), calls);
}

#[tokio::test]
async fn a_provider_500_refunds_and_stores_nothing() {
    let server = fake_openai::failing(500, json!({"error": {"message": "boom"}})).await;
    let t = stack_against(&server).await;
    let (_, s) = t.new_user().await;
    let before = t.credits(&s.access).await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a cat", "model": "gpt-image-1-mini", "size": "1024x1024"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text);
    assert_eq!(r.code(), Some("provider_error"));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "one retry"
    );
    let after = t.credits(&s.access).await;
    assert_eq!(after["available"], before["available"], "refunded");
    assert_eq!(after["spent"], before["spent"]);
    let reasons: Vec<_> = after["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reasons,
        ["refund", "generation", "signup"],
        "debit and refund both recorded, after the signup grant"
    );
    assert!(t.object_keys().await.is_empty());
    assert!(
        t.get("/v1/images", Some(&s.access)).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn failed_edits_give_back_their_credits_and_the_days_quota() {
    use e2e_tests::fixtures::*;
    use reqwest::multipart::Form;
    let server = fake_openai::failing(500, json!({"error": {"message": "boom"}})).await;
    let t = start_with(&[
        ("OpenAiApiKey", "sk-fake"),
        ("OpenAiBaseUrl", &server.uri()),
        ("ProviderMaxRetries", "0"),
        ("DailyImageLimit", "2"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let before = t.credits(&s.access).await;
    let square = png(&object_on_background(256, 256));
    let form = |n: &str| {
        Form::new()
            .part("image", part(square.clone()))
            .part("mask", part(png(&mask_over_object(256, 256))))
            .text("prompt", "remove it")
            .text("model", "gpt-image-1-mini")
            .text("n", n.to_string())
    };
    for (path, form) in [
        ("/v1/images/edits", form("2")),
        ("/v1/images/edits", form("1")),
    ] {
        let r = t
            .send(
                t.http
                    .post(t.url(path))
                    .bearer_auth(&s.access)
                    .multipart(form),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_GATEWAY, Some("provider_error")),
            "{path}: {}",
            r.text
        );
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "both reached the vendor"
    );
    let after = t.credits(&s.access).await;
    assert_eq!(after["available"], before["available"], "refunded");
    let reasons: Vec<&str> = after["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        ["refund", "generation", "refund", "generation", "signup"],
        "{reasons:?}"
    );
    // The day's quota of two images is whole again: both can still be made.
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a cat", "n": 2, "size": "256x256", "model": "local-procedural"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(t.object_keys().await.iter().all(|k| !k.contains("tmp/")));
}

#[tokio::test]
async fn provider_content_policy_refusal_is_400_and_free() {
    let server = fake_openai::failing(
        400,
        json!({"error": {"message": "Your request was rejected as a result of our safety system.", "type": "image_generation_user_error", "code": "content_policy_violation"}}),
    )
    .await;
    let t = stack_against(&server).await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "something", "model": "gpt-image-1-mini"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), Some("content_policy_violation"));
    assert_eq!(t.credits(&s.access).await["spent"], 0);
}

#[tokio::test]
async fn provider_overload_is_503_with_retry_after() {
    let server = fake_openai::failing(429, json!({"error": {"message": "slow down"}})).await;
    let t = stack_against(&server).await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "x", "model": "gpt-image-1-mini"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(t.credits(&s.access).await["spent"], 0);
}

#[tokio::test]
async fn vendor_edits_send_multipart_with_the_models_rules() {
    use e2e_tests::fixtures::*;
    use reqwest::multipart::Form;
    let server = fake_openai::serving_pngs(1, 1024, 1024).await;
    let t = stack_against(&server).await;
    let (_, s) = t.new_user().await;
    let square = png(&object_on_background(256, 256));
    let form = Form::new()
        .part("image", part(square.clone()))
        .part("mask", part(png(&mask_over_object(256, 256))))
        .text("prompt", "remove it")
        .text("model", "gpt-image-1.5")
        .text("input_fidelity", "high")
        .text("size", "1024x1024");
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/edits"))
                .bearer_auth(&s.access)
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(sent.url.path(), "/images/edits");
    let content_type = sent.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("multipart/form-data"),
        "{content_type}"
    );
    let body = String::from_utf8_lossy(&sent.body);
    for field in [
        "name=\"image\"",
        "name=\"mask\"",
        "name=\"prompt\"",
        "name=\"input_fidelity\"",
        "gpt-image-1.5",
    ] {
        assert!(
            body.contains(field),
            "{field} missing from the vendor request"
        );
    }
    assert!(!body.contains("name=\"response_format\""));
    assert!(
        sent.body.windows(8).any(|w| w == b"\x89PNG\r\n\x1a\n"),
        "the image part is a PNG"
    );

    // What a model cannot do is refused before anything is sent or charged: no GPT image
    // model makes variations, and gpt-image-1-mini keeps `input_fidelity` low.
    let calls = server.received_requests().await.unwrap().len();
    let spent = t.credits(&s.access).await["spent"].clone();
    let variation = Form::new()
        .part("image", part(square.clone()))
        .text("model", "gpt-image-1.5");
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/variations"))
                .bearer_auth(&s.access)
                .multipart(variation),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("model")),
        "{}",
        r.text
    );
    let fidelity = Form::new()
        .part("image", part(square))
        .text("model", "gpt-image-1-mini")
        .text("input_fidelity", "high")
        .text("prompt", "x");
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/edits"))
                .bearer_auth(&s.access)
                .multipart(fidelity),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("input_fidelity")),
        "{}",
        r.text
    );
    assert_eq!(server.received_requests().await.unwrap().len(), calls);
    assert_eq!(t.credits(&s.access).await["spent"], spent);
}

#[tokio::test]
async fn base64_answers_too_large_for_a_response_are_refused_and_refunded() {
    use base64::Engine;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // Noise does not compress: two 1024² PNGs are ~8 MB as base64, over Lambda's 6 MB.
    let mut seed = 1u32;
    let noise = image::RgbaImage::from_fn(1024, 1024, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let b = seed.to_le_bytes();
        image::Rgba([b[0], b[1], b[2], 255])
    });
    let png = e2e_tests::fixtures::png(&noise);
    let item = json!({"b64_json": base64::engine::general_purpose::STANDARD.encode(&png)});
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [item.clone(), item]})),
        )
        .mount(&server)
        .await;
    let t = stack_against(&server).await;
    let (_, s) = t.new_user().await;
    let body =
        json!({"prompt": "static", "model": "gpt-image-1-mini", "n": 2, "size": "1024x1024"});
    let r = t.generate(&s.access, body).await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("n")),
        "{}",
        r.text
    );
    // The advice works: the same two images as JPEG fit.
    assert!(
        r.text.contains("fewer images") && r.text.contains("jpeg"),
        "{}",
        r.text
    );
    assert_eq!(t.credits(&s.access).await["spent"], 0, "refunded");
    assert!(t.object_keys().await.is_empty(), "nothing stored");
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "static", "model": "gpt-image-1-mini", "n": 2, "size": "1024x1024",
                   "output_format": "jpeg", "output_compression": 80}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "as advised it works: {}", r.text);
}

/// OpenAI's streamed answer, as its SDK types it: partial images, then the completed image with
/// its token usage.
fn openai_stream(partials: &[(u32, u32)], usage: &serde_json::Value) -> String {
    use base64::Engine;
    let b64 = |w, h| base64::engine::general_purpose::STANDARD.encode(fake_openai::png(w, h));
    let common = json!({"created_at": 1, "size": "1024x1024", "quality": "low",
        "background": "opaque", "output_format": "png"});
    let mut out = String::new();
    for (i, (w, h)) in partials.iter().enumerate() {
        let mut e = common.clone();
        e["type"] = "image_generation.partial_image".into();
        e["b64_json"] = b64(*w, *h).into();
        e["partial_image_index"] = i.into();
        out += &format!("event: image_generation.partial_image\ndata: {e}\n\n");
    }
    let mut e = common;
    e["type"] = "image_generation.completed".into();
    e["b64_json"] = b64(1024, 1024).into();
    e["usage"] = usage.clone();
    out += &format!("event: image_generation.completed\ndata: {e}\n\n");
    out
}

#[tokio::test]
async fn openais_partial_images_and_token_usage_are_relayed() {
    use wiremock::matchers::{body_partial_json, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let usage = json!({"input_tokens": 9, "output_tokens": 272, "total_tokens": 281,
        "input_tokens_details": {"image_tokens": 0, "text_tokens": 9}});
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"stream": true, "partial_images": 2}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            openai_stream(&[(64, 64), (128, 128)], &usage),
            "text/event-stream",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "created": 1,
            "data": [{"b64_json": b64_png(1024, 1024)}],
            "usage": usage,
        })))
        .mount(&server)
        .await;
    let t = stack_against(&server).await;
    let (_, s) = t.new_user().await;

    // Streamed: OpenAI's own partial images, then the image with OpenAI's count.
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/generations"))
                .bearer_auth(&s.access)
                .json(
                    &json!({"prompt": "a cat", "model": "gpt-image-1.5", "stream": true,
                    "partial_images": 2, "quality": "low"}),
                ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let events: Vec<serde_json::Value> = r
        .text
        .split("\n\n")
        .filter_map(|b| b.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "image_generation.partial_image",
            "image_generation.partial_image",
            "image_generation.completed"
        ]
    );
    let width = |e: &serde_json::Value| {
        image::load_from_memory(&b64(e["b64_json"].as_str().unwrap()))
            .unwrap()
            .width()
    };
    assert_eq!((width(&events[0]), width(&events[1])), (64, 128));
    assert_eq!(events[2]["usage"], usage);

    // As JSON: the call's usage.
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a cat", "model": "gpt-image-1.5"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["usage"], usage);
}

fn b64_png(w: u32, h: u32) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(fake_openai::png(w, h))
}

/// A PNG of noise: about 3 bytes a pixel whatever the encoder does.
fn noise_png(w: u32, h: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn full_size_partial_images_are_dropped_until_the_stream_fits_a_response() {
    use base64::Engine;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let image = base64::engine::general_purpose::STANDARD.encode(noise_png(768, 768));
    let usage = json!({"input_tokens": 1, "output_tokens": 1, "total_tokens": 2,
        "input_tokens_details": {"image_tokens": 0, "text_tokens": 1}});
    let mut sse = String::new();
    for i in 0..3 {
        let e = json!({"type": "image_generation.partial_image", "b64_json": image,
            "partial_image_index": i, "created_at": 1, "size": "1024x1024", "quality": "low",
            "background": "opaque", "output_format": "png"});
        sse += &format!("event: image_generation.partial_image\ndata: {e}\n\n");
    }
    let e = json!({"type": "image_generation.completed", "b64_json": image, "usage": usage,
        "created_at": 1, "size": "1024x1024", "quality": "low", "background": "opaque",
        "output_format": "png"});
    sse += &format!("event: image_generation.completed\ndata: {e}\n\n");
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
        .mount(&server)
        .await;
    let t = stack_against(&server).await;
    let (_, s) = t.new_user().await;
    let before = t.credits(&s.access).await["available"].as_i64().unwrap();
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/generations"))
                .bearer_auth(&s.access)
                .json(
                    &json!({"prompt": "static", "model": "gpt-image-1.5", "stream": true,
                    "partial_images": 3, "quality": "low"}),
                ),
        )
        .await;
    // Four images of 3 MB would not fit a Lambda response (6 MB): the final one is sent.
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        &r.text[..r.text.len().min(300)]
    );
    assert!(r.text.len() < 5_600_000, "{} bytes", r.text.len());
    let kinds: Vec<&str> = r
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        kinds.last(),
        Some(&"image_generation.completed"),
        "{kinds:?}"
    );
    assert!(kinds.len() < 4, "partial images dropped: {kinds:?}");
    assert!(
        t.credits(&s.access).await["available"].as_i64().unwrap() < before,
        "charged: it was delivered"
    );
}

#[tokio::test]
async fn stability_models_generate_through_its_api_and_refusals_are_free() {
    use base64::Engine;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let png = base64::engine::general_purpose::STANDARD.encode(fake_openai::png(1344, 768));
    Mock::given(method("POST"))
        .and(path("/v2beta/stable-image/generate/sd3"))
        .and(header("authorization", "Bearer sk-stability"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"image": png, "finish_reason": "SUCCESS", "seed": 42})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2beta/stable-image/generate/core"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"image": png, "finish_reason": "CONTENT_FILTERED", "seed": 1}),
            ),
        )
        .mount(&server)
        .await;
    let without = start().await;
    let listed = without.get("/v1/models", None).await;
    assert!(!listed.text.contains("sd3.5-large"), "no key, no model");

    let t = start_with(&[
        ("StabilityApiKey", "sk-stability"),
        ("StabilityBaseUrl", &server.uri()),
        ("ProviderMaxRetries", "0"),
    ])
    .await;
    let m = t.get("/v1/models/sd3.5-large", None).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["provider"], "stability");
    let (_, s) = t.new_user().await;
    let before = t.credits(&s.access).await["available"].as_i64().unwrap();
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a fox in snow", "model": "sd3.5-large", "size": "1344x768", "n": 2,
                   "response_format": "b64_json"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["model"], "sd3.5-large");
    for d in r.body["data"].as_array().unwrap() {
        let img = image::load_from_memory(&b64(d["b64_json"].as_str().unwrap())).unwrap();
        assert_eq!((img.width(), img.height()), (1344, 768));
    }
    let spent = before - t.credits(&s.access).await["available"].as_i64().unwrap();
    assert!(spent > 0, "charged");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "one request an image"
    );

    // Filtered by Stability's moderation: OpenAI's refusal, and nothing charged.
    let left = t.credits(&s.access).await["available"].as_i64().unwrap();
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "x", "model": "stable-image-core"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), Some("content_policy_violation"), "{}", r.text);
    assert_eq!(
        t.credits(&s.access).await["available"].as_i64().unwrap(),
        left
    );
    // What Stability's models do not do is a 400 before anything is sent.
    let calls = server.received_requests().await.unwrap().len();
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "x", "model": "sd3.5-large", "size": "1000x1000"}),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("size")),
        "{}",
        r.text
    );
    assert_eq!(server.received_requests().await.unwrap().len(), calls);
}

/// A vendor slower than the synchronous limit allows: the wait stops early enough to answer
/// before API Gateway gives up (here a limit of 8 s stands for its 29), nothing is charged or
/// stored, and the answer says how to run the request as a job instead.
#[tokio::test]
async fn a_vendor_too_slow_for_the_gateway_is_not_waited_for_and_costs_nothing() {
    let server = fake_openai::slow_first(std::time::Duration::from_secs(12), 1024, 1024).await;
    let t = start_with(&[
        ("OpenAiApiKey", "sk-fake"),
        ("OpenAiBaseUrl", &server.uri()),
        ("ProviderMaxRetries", "0"),
        ("SyncAnswerSeconds", "8"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let before = t.credits(&s.access).await["available"].clone();
    let objects = t.object_keys().await.len();
    let body = json!({"prompt": "a cat", "model": "gpt-image-1.5", "size": "1024x1024"});
    let r = t.generate(&s.access, body.clone()).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{}", r.text);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Nothing was charged") && message.contains("Prefer: respond-async"),
        "{message}"
    );
    assert_eq!(t.credits(&s.access).await["available"], before);
    assert_eq!(t.object_keys().await.len(), objects, "nothing stored");
    let library = t.get("/v1/images", Some(&s.access)).await;
    assert_eq!(library.body["data"], json!([]));
    // A vendor that answers in time is unaffected.
    let r = t.generate(&s.access, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
