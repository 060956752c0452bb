//! Models served by several vendors, through the whole stack: fal and Replicate are local fakes
//! built from their documented answers. Failover charges once and names who served; a refusal
//! is final; vendors that are all down refund; circuits live in the table, so one Lambda's
//! failures spare another's requests; a job's Replicate prediction is polled to its end, and a
//! canceled job cancels it upstream; FLUX Fill gets the mask as white = edit.

use crate::jobs::{submit, until_over};
use e2e_tests::fixtures;
use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn stack(fal: &MockServer, replicate: &MockServer) -> TestStack {
    start_with(&[
        ("FalKey", "fal-test-key"),
        ("FalQueueUrl", &fal.uri()),
        ("ReplicateApiToken", "r8_test"),
        ("ReplicateBaseUrl", &replicate.uri()),
        ("ProviderMaxRetries", "0"),
    ])
    .await
}

/// A vendor answering every request with `status` and `body`.
async fn down(status: u16, body: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

fn prediction(server: &MockServer, id: &str, status: &str, output: Value) -> Value {
    let uri = server.uri();
    json!({"id": id, "status": status, "output": output, "error": null,
           "urls": {"get": format!("{uri}/v1/predictions/{id}"),
                    "cancel": format!("{uri}/v1/predictions/{id}/cancel")}})
}

/// Replicate answering each prediction at once with a 1024×1024 PNG of its own.
async fn replicate_serving() -> MockServer {
    let server = MockServer::start().await;
    let url = format!("{}/files/out.png", server.uri());
    Mock::given(method("POST"))
        .and(path_regex("^/v1/models/.+/predictions$"))
        .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
            &server,
            "p",
            "succeeded",
            json!([url]),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/out.png"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fake_openai::png(1024, 1024)))
        .mount(&server)
        .await;
    server
}

/// The body of the first POST a fake vendor received.
async fn first_post(server: &MockServer) -> Value {
    let sent = server.received_requests().await.unwrap();
    let post = sent.iter().find(|r| r.method.as_str() == "POST").unwrap();
    serde_json::from_slice(&post.body).unwrap()
}

/// A FLUX Fill edit of `picture` under `mask`, as a multipart form.
async fn fill_edit(t: &TestStack, access: &str, picture: Vec<u8>, mask: Vec<u8>) -> Reply {
    let form = reqwest::multipart::Form::new()
        .text("prompt", "a yellow ball")
        .text("model", "flux_pro")
        .part("image", fixtures::part(picture))
        .part("mask", fixtures::part(mask));
    crate::edits::edit(t, access, form).await
}

async fn posts(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count()
}

async fn available(t: &TestStack, token: &str) -> i64 {
    t.credits(token).await["available"].as_i64().unwrap()
}

const UNAVAILABLE: fn() -> Value = || json!({"detail": "Service unavailable"});

#[tokio::test]
async fn a_vendor_that_is_down_fails_over_to_the_next_charged_once_and_named() {
    let fal = down(503, UNAVAILABLE()).await;
    let replicate = replicate_serving().await;
    let t = stack(&fal, &replicate).await;
    let m = t.get("/v1/models/flux", None).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["id"], "flux-dev", "an alias names its model");
    let vendors: Vec<&str> = m.body["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["provider"].as_str().unwrap())
        .collect();
    assert_eq!(vendors, ["fal", "replicate"]);

    let (_, s) = t.new_user().await;
    let before = available(&t, &s.access).await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a heron at dawn", "model": "flux", "response_format": "url"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["model"], "flux-dev");
    assert_eq!(r.body["provider"], "replicate");
    assert_eq!(
        before - available(&t, &s.access).await,
        3,
        "flux-dev's price, once"
    );
    assert_eq!(posts(&fal).await, 1, "fal was asked first, once");
    let id = r.body["data"][0]["id"].as_str().unwrap();
    let info = t.get(&format!("/v1/images/{id}"), Some(&s.access)).await;
    assert_eq!(info.body["provider"], "replicate", "{}", info.text);
    assert_eq!(info.body["model"], "flux-dev");
    let bytes = t
        .http
        .get(r.body["data"][0]["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 1024);
}

#[tokio::test]
async fn when_every_vendor_is_down_the_request_is_refunded_and_nothing_is_stored() {
    let fal = down(503, UNAVAILABLE()).await;
    let replicate = down(502, json!({"detail": "bad gateway", "status": 502})).await;
    let t = stack(&fal, &replicate).await;
    let (_, s) = t.new_user().await;
    let before = available(&t, &s.access).await;
    let r = t
        .generate(&s.access, json!({"prompt": "x", "model": "flux-dev"}))
        .await;
    assert!(
        [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE].contains(&r.status),
        "{}",
        r.text
    );
    assert!(r.text.contains("Nothing was charged"), "{}", r.text);
    assert_eq!(available(&t, &s.access).await, before);
    let listed = t.get("/v1/images", Some(&s.access)).await;
    assert_eq!(
        listed.body["data"].as_array().unwrap().len(),
        0,
        "{}",
        listed.text
    );
    assert_eq!((posts(&fal).await, posts(&replicate).await), (1, 1));
}

#[tokio::test]
async fn a_content_refusal_is_final_free_and_the_next_vendor_is_never_called() {
    let fal = down(
        422,
        json!({"detail": [{"loc": ["body", "prompt"], "msg": "flagged by a content checker",
                           "type": "content_policy_violation"}]}),
    )
    .await;
    let replicate = replicate_serving().await;
    let t = stack(&fal, &replicate).await;
    let (_, s) = t.new_user().await;
    let before = available(&t, &s.access).await;
    let r = t
        .generate(&s.access, json!({"prompt": "x", "model": "flux-dev"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), Some("content_policy_violation"));
    assert_eq!(available(&t, &s.access).await, before);
    assert_eq!(posts(&replicate).await, 0);
}

#[tokio::test]
async fn parameters_no_vendor_of_a_model_takes_are_refused_before_anything_is_sent() {
    let fal = down(500, json!({})).await;
    let replicate = down(500, json!({})).await;
    let t = stack(&fal, &replicate).await;
    let (_, s) = t.new_user().await;
    for (body, param) in [
        (
            json!({"prompt": "x", "model": "recraft", "seed": 4}),
            "seed",
        ),
        (
            json!({"prompt": "x", "model": "flux-dev", "style": "vivid"}),
            "style",
        ),
        (
            json!({"prompt": "x", "model": "recraft-v3", "style": "oil"}),
            "style",
        ),
        (json!({"prompt": "x", "model": "flux-pro-fill"}), "model"),
    ] {
        let r = t.generate(&s.access, body.clone()).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{body}: {}",
            r.text
        );
    }
    assert_eq!(posts(&fal).await + posts(&replicate).await, 0);
}

#[tokio::test]
async fn an_open_circuit_is_seen_by_every_function_and_the_vendor_is_skipped() {
    let fal = down(503, UNAVAILABLE()).await;
    let replicate = replicate_serving().await;
    let t = stack(&fal, &replicate).await;
    let (_, s) = t.new_user().await;
    for _ in 0..shared::domain::circuits::THRESHOLD {
        let r = t
            .generate(&s.access, json!({"prompt": "x", "model": "flux-schnell"}))
            .await;
        assert_eq!(r.body["provider"], "replicate", "{}", r.text);
    }
    let failed = posts(&fal).await;
    assert_eq!(failed, shared::domain::circuits::THRESHOLD as usize);
    // A job reads the circuit from the table too, and skips fal.
    let queued = submit(
        &t,
        &s.access,
        json!({"prompt": "x", "model": "flux-schnell"}),
        "respond-async",
        None,
    )
    .await;
    assert_eq!(queued.status, StatusCode::ACCEPTED, "{}", queued.text);
    let done = until_over(&t, &s.access, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.text);
    assert_eq!(done.body["provider"], "replicate");
    assert_eq!(
        posts(&fal).await,
        failed,
        "fal was skipped while its circuit is open"
    );
}

#[tokio::test]
async fn a_replicate_job_is_polled_to_its_end_and_a_canceled_one_is_canceled_upstream() {
    let fal = down(500, json!({})).await;
    let replicate = MockServer::start().await;
    // One prediction takes three polls; the other never ends.
    for (model, id) in [("flux-dev", "slow"), ("flux-1.1-pro", "endless")] {
        Mock::given(method("POST"))
            .and(path(format!(
                "/v1/models/black-forest-labs/{model}/predictions"
            )))
            .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
                &replicate,
                id,
                "starting",
                Value::Null,
            )))
            .mount(&replicate)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/v1/predictions/slow"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
            &replicate,
            "slow",
            "processing",
            Value::Null,
        )))
        .up_to_n_times(2)
        .mount(&replicate)
        .await;
    let url = format!("{}/files/slow.png", replicate.uri());
    Mock::given(method("GET"))
        .and(path("/v1/predictions/slow"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
            &replicate,
            "slow",
            "succeeded",
            json!([url]),
        )))
        .mount(&replicate)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/slow.png"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fake_openai::png(1024, 1024)))
        .mount(&replicate)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/predictions/endless"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
            &replicate,
            "endless",
            "processing",
            Value::Null,
        )))
        .mount(&replicate)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/predictions/endless/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
            &replicate,
            "endless",
            "canceled",
            Value::Null,
        )))
        .mount(&replicate)
        .await;
    // Replicate only: fal's key is there but preference puts Replicate first for these.
    let t = start_with(&[
        ("ReplicateApiToken", "r8_test"),
        ("ReplicateBaseUrl", &replicate.uri()),
        ("FalKey", "k"),
        ("FalQueueUrl", &fal.uri()),
        ("VendorPreference", "replicate"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let queued = submit(
        &t,
        &s.access,
        json!({"prompt": "a slow heron", "model": "flux-dev"}),
        "respond-async",
        None,
    )
    .await;
    let done = until_over(&t, &s.access, queued.body["id"].as_str().unwrap()).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.text);
    assert_eq!(done.body["provider"], "replicate");
    let polls = replicate
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/predictions/slow")
        .count();
    assert_eq!(polls, 3);

    let before = available(&t, &s.access).await;
    let queued = submit(
        &t,
        &s.access,
        json!({"prompt": "an endless heron", "model": "flux-1.1-pro"}),
        "respond-async",
        None,
    )
    .await;
    let id = queued.body["id"].as_str().unwrap().to_string();
    assert!(
        available(&t, &s.access).await < before,
        "charged at submission"
    );
    // Once the worker polls the prediction, the job is canceled.
    for _ in 0..100 {
        let seen = replicate
            .received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| r.url.path() == "/v1/predictions/endless");
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let c = t
        .post(&format!("/v1/jobs/{id}/cancel"), json!({}), Some(&s.access))
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let over = until_over(&t, &s.access, &id).await;
    assert_eq!(over.body["status"], "canceled", "{}", over.text);
    let canceled = replicate
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/predictions/endless/cancel")
        .count();
    assert_eq!(canceled, 1, "the prediction was canceled at Replicate");
    for _ in 0..50 {
        if available(&t, &s.access).await == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(available(&t, &s.access).await, before, "refunded");
}

#[tokio::test]
async fn flux_fill_edits_send_the_picture_and_the_mask_as_white_is_edit() {
    let fal = down(500, json!({})).await;
    let replicate = replicate_serving().await;
    let t = stack(&fal, &replicate).await;
    let (_, s) = t.new_user().await;
    let picture = fixtures::object_on_background(300, 300);
    let mask = fixtures::mask_over_object(300, 300);
    let r = fill_edit(&t, &s.access, fixtures::png(&picture), fixtures::png(&mask)).await;
    // fal is down (500): Replicate serves.
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.body["model"].as_str(), r.body["provider"].as_str()),
        (Some("flux-pro-fill"), Some("replicate"))
    );
    assert_eq!(
        r.body["size"], "300x300",
        "an inpainting keeps the input's size"
    );
    let body = first_post(&replicate).await;
    let decode = |field: &str| {
        let uri = body["input"][field].as_str().unwrap();
        image::load_from_memory(&b64(uri.split_once(";base64,").unwrap().1)).unwrap()
    };
    let sent_mask = decode("mask").to_luma8();
    for (x, y) in [(0, 0), (150, 150), (299, 299), (99, 150), (201, 150)] {
        let ours = mask.get_pixel(x, y).0[3];
        let theirs = sent_mask.get_pixel(x, y).0[0];
        assert_eq!(
            theirs,
            255 - ours,
            "({x},{y}): transparent in ours is white in theirs"
        );
    }
    assert_eq!(
        decode("image").to_rgba8().get_pixel(150, 150).0,
        picture.get_pixel(150, 150).0
    );
    // Small inputs go inline.
    assert!(
        body["input"]["image"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
}

/// Inputs over 256 KB (Replicate's limit for `data:` URIs) go as short-lived presigned URLs
/// the vendor fetches; on the local stack they are the gateway's, reachable from the fakes.
#[tokio::test]
async fn large_inputs_reach_vendors_as_presigned_urls_they_can_fetch() {
    let fal = down(500, json!({})).await;
    let replicate = replicate_serving().await;
    let t = stack(&fal, &replicate).await;
    let (_, s) = t.new_user().await;
    // Noise does not compress: a PNG of about 1.5 MB.
    let mut seed = 0x2545_f491_u32;
    let picture = image::RgbaImage::from_fn(700, 700, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let [r, g, b, _] = seed.to_le_bytes();
        image::Rgba([r, g, b, 255])
    });
    let picture_png = fixtures::png(&picture);
    assert!(picture_png.len() > 256 * 1024, "{}", picture_png.len());
    let mask = fixtures::mask_over_object(700, 700);
    let r = fill_edit(&t, &s.access, picture_png.clone(), fixtures::png(&mask)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = first_post(&replicate).await;
    // The picture as a URL; the mask (a small two-tone PNG) still inline.
    let url = body["input"]["image"].as_str().unwrap();
    assert!(url.starts_with(&t.url("/_s3/")), "{url}");
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    assert!(
        body["input"]["mask"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    // What the vendor fetches is the picture, byte for byte.
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), picture_png);
    // Staged under tmp/, which the bucket's lifecycle rule expires.
    assert!(
        t.object_keys()
            .await
            .iter()
            .any(|k| k.starts_with("tmp/vendor-inputs/")),
    );
}

/// A real MP4 (one second, H.264) as a vendor would send.
fn clip(w: u32, h: u32) -> Vec<u8> {
    let picture = image::RgbaImage::from_pixel(w, h, image::Rgba([30, 140, 90, 255]));
    let mut encoder = imaging::video::ClipEncoder::new(&picture, (w, h), 1, 3).unwrap();
    while encoder.done() < encoder.total() {
        encoder.encode_next(imaging::video::FPS).unwrap();
    }
    encoder.finish().unwrap().mp4
}

#[tokio::test]
async fn kling_videos_come_from_fal_when_replicate_is_down_and_keep_the_vendors_mp4() {
    let replicate = down(503, json!({"detail": "Service unavailable", "status": 503})).await;
    let fal = MockServer::start().await;
    let app = "fal-ai/kling-video/v2.1/standard/image-to-video";
    let base = format!("{}/fal-ai/kling-video/requests/v1", fal.uri());
    Mock::given(method("POST"))
        .and(path(format!("/{app}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "v1", "response_url": base, "status_url": format!("{base}/status"),
            "cancel_url": format!("{base}/cancel")})))
        .mount(&fal)
        .await;
    Mock::given(method("GET"))
        .and(path("/fal-ai/kling-video/requests/v1/status"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"status": "IN_PROGRESS"})))
        .up_to_n_times(1)
        .mount(&fal)
        .await;
    Mock::given(method("GET"))
        .and(path("/fal-ai/kling-video/requests/v1/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "COMPLETED"})))
        .mount(&fal)
        .await;
    Mock::given(method("GET"))
        .and(path("/fal-ai/kling-video/requests/v1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"video": {"url": format!("{}/media/clip.mp4", fal.uri()), "content_type": "video/mp4"}}),
        ))
        .mount(&fal)
        .await;
    let mp4 = clip(1280, 720);
    Mock::given(method("GET"))
        .and(path("/media/clip.mp4"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(mp4.clone()))
        .mount(&fal)
        .await;
    let t = stack(&fal, &replicate).await;
    let (_, s) = t.new_user().await;
    let listed = t.get("/v1/models", None).await;
    let ids: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"kling-i2v") && ids.contains(&"stable-video"),
        "{ids:?}"
    );

    // Image-to-video models need their picture, and Kling takes no seed.
    for (body, param) in [
        (json!({"prompt": "x", "model": "kling"}), "input_reference"),
        (
            json!({"prompt": "x", "model": "kling-i2v", "seed": 3}),
            "seed",
        ),
        (
            json!({"prompt": "x", "model": "kling-i2v", "seconds": "4"}),
            "seconds",
        ),
    ] {
        let r = t.post("/v1/videos", body.clone(), Some(&s.access)).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{body}: {}",
            r.text
        );
    }
    let before = available(&t, &s.access).await;
    let picture = fixtures::png(&fixtures::object_on_background(640, 480));
    let data_url = format!("data:image/png;base64,{}", {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(&picture)
    });
    let r = t
        .post(
            "/v1/videos",
            json!({"prompt": "the ball bounces away", "model": "kling", "seconds": "5",
                   "size": "1280x720", "input_reference": {"image_url": data_url}}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["model"], "kling-i2v");
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        before - available(&t, &s.access).await,
        20,
        "5 s at 4 credits a second"
    );
    let done = crate::videos::until_over(&t, &s.access, &id).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    let job = t.get(&format!("/v1/jobs/{id}"), Some(&s.access)).await;
    assert_eq!(job.body["provider"], "fal", "{}", job.text);

    // The vendor's MP4 as it came, a real H.264 clip.
    let got = t.video_content(&id, &s.access).await;
    assert_eq!(
        mdat(&got),
        mdat(&mp4),
        "the vendor's clip, not encoded again"
    );
    let file = std::env::temp_dir().join(format!("vendor-{}.mp4", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, &got).unwrap();
    let probed = crate::videos::probe(&file);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(probed["streams"][0]["codec_name"], "h264");
    assert_eq!(
        (
            probed["streams"][0]["width"].as_u64(),
            probed["streams"][0]["height"].as_u64()
        ),
        (Some(1280), Some(720))
    );
    // The poster is the picture in the frame's shape; there is no spritesheet of a vendor's clip.
    let poster = t
        .http
        .get(t.url(&format!("/v1/videos/{id}/content?variant=thumbnail")))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    let poster = image::load_from_memory(&poster.bytes().await.unwrap()).unwrap();
    assert_eq!((poster.width(), poster.height()), (1280, 720));
    let sprites = t
        .get(
            &format!("/v1/videos/{id}/content?variant=spritesheet"),
            Some(&s.access),
        )
        .await;
    assert_eq!(sprites.status, StatusCode::NOT_FOUND, "{}", sprites.text);
    // What fal was sent: the prompt, Kling's duration as a string, the picture inline.
    let submit = first_post(&fal).await;
    assert_eq!(submit["prompt"], "the ball bounces away");
    assert_eq!(submit["duration"], "5");
    assert!(
        submit["image_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/jpeg;base64,")
    );
    assert_eq!(posts(&replicate).await, 1, "Replicate was tried first");
}

#[tokio::test]
async fn keys_come_from_secrets_manager_on_first_use_and_are_kept() {
    let fal = MockServer::start().await;
    let url = format!("{}/media/k.png", fal.uri());
    let base = format!("{}/fal-ai/flux/requests/k", fal.uri());
    Mock::given(method("POST"))
        .and(path("/fal-ai/flux/schnell"))
        .and(wiremock::matchers::header(
            "authorization",
            "Key fal-from-the-secret",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "request_id": "k", "response_url": base, "status_url": format!("{base}/status"),
            "cancel_url": format!("{base}/cancel")})))
        .expect(2)
        .mount(&fal)
        .await;
    Mock::given(method("GET"))
        .and(path("/fal-ai/flux/requests/k/status"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "COMPLETED"})))
        .mount(&fal)
        .await;
    Mock::given(method("GET"))
        .and(path("/fal-ai/flux/requests/k"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"images": [{"url": url}], "has_nsfw_concepts": [false]})),
        )
        .mount(&fal)
        .await;
    Mock::given(method("GET"))
        .and(path("/media/k.png"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fake_openai::png(64, 64)))
        .mount(&fal)
        .await;
    // Given as a plain value, as to `make run`: the stack stores it in the emulator's Secrets
    // Manager and hands the functions its ARN, as a deployment would.
    let t = start_with(&[
        ("FalKey", "fal-from-the-secret"),
        ("FalQueueUrl", &fal.uri()),
    ])
    .await;
    let config = &t.stack.config;
    let key = config.vendors.fal_key.clone().unwrap();
    assert!(key.is_managed() && config.tokens.jwt_secret.is_managed());
    assert!(
        !key.is_loaded() && !config.tokens.jwt_secret.is_loaded(),
        "nothing read at start"
    );
    let (_, s) = t.new_user().await;
    assert!(
        config.tokens.jwt_secret.is_loaded(),
        "signing a token read the JWT secret"
    );
    assert!(
        !key.is_loaded(),
        "no vendor was called: its key was not read"
    );
    let r = t
        .generate(&s.access, json!({"prompt": "x", "model": "flux-schnell"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(key.is_loaded());

    // Changed in Secrets Manager: this instance keeps what it read (a new one reads the new).
    let sdk =
        shared::adapters::aws::sdk_config(&config.aws.region, config.aws.endpoint_url.as_deref())
            .await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let arn = t.stack.created.parameters["FalKeySecretArn"].clone();
    assert!(
        t.stack.created.parameters["FalKey"].is_empty(),
        "the value is not passed on"
    );
    secrets
        .put_secret_value()
        .secret_id(&arn)
        .secret_string("rotated")
        .send()
        .await
        .unwrap();
    let again = t
        .generate(&s.access, json!({"prompt": "y", "model": "flux-schnell"}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let fresh = shared::secrets::Secret::arn(
        "FAL_KEY",
        arn,
        config.aws.region.clone(),
        config.aws.endpoint_url.clone(),
        1,
    );
    assert_eq!(fresh.text().await.unwrap(), "rotated");
}
