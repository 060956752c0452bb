//! Streaming that streams: through the streaming API (`/stream`, the REST API stage whose
//! integration streams), a client receives each partial image as the vendor sends it, before
//! the vendor has sent its final image; errors before the first one are ordinary answers.

use e2e_tests::fake_openai;
use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn the_first_partial_image_arrives_before_the_vendor_sends_its_final_image() {
    let vendor = fake_openai::Gated::streaming(1024, 1024).await;
    let t = start_with(&[
        ("OpenAiApiKey", "sk-fake"),
        ("OpenAiBaseUrl", &vendor.uri),
        ("ProviderMaxRetries", "0"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let (_, key) = t.api_key(&s.access).await;
    let before = t.credits(&s.access).await;

    let mut client = tokio::process::Command::new(workspace_root().join(".venv/bin/python"))
        .arg(workspace_root().join("tests/sdk/images_stream.py"))
        .env("OPENAI_BASE_URL", t.url("/stream/v1"))
        .env("OPENAI_API_KEY", &key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the SDK script runs");
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let mut next = async || -> Option<Value> {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("an event within a minute")
            .unwrap()?;
        Some(serde_json::from_str(&line).unwrap())
    };

    // The vendor has sent its first partial image and is holding the rest back: the client
    // already has it.
    let first = next().await.expect("the first partial image");
    assert_eq!(first["type"], "image_generation.partial_image", "{first}");
    assert_eq!(first["partial_image_index"], 0);
    // A measurable gap, so that the client's clock shows the difference.
    tokio::time::sleep(Duration::from_secs(1)).await;
    vendor.release();
    let second = next().await.expect("the second partial image");
    assert_eq!(second["partial_image_index"], 1, "{second}");
    let done = next().await.expect("the final image");
    assert_eq!(done["type"], "image_generation.completed", "{done}");
    assert_eq!(
        done["usage"]["total_tokens"], 15,
        "the vendor's usage, relayed"
    );
    assert!(
        next().await.is_none(),
        "the stream ends after the final image"
    );
    let (first_at, done_at) = (first["at"].as_f64().unwrap(), done["at"].as_f64().unwrap());
    assert!(done_at >= first_at + 1.0, "{first_at} s, then {done_at} s");
    println!("client clock: first partial image at {first_at:.3} s, final image at {done_at:.3} s");
    let out = client.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Stored and charged once, as any generation.
    let id = done["id"].as_str().unwrap();
    let r = t.get(&format!("/v1/images/{id}"), Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = t.credits(&s.access).await;
    assert!(
        after["spent"].as_i64() > before["spent"].as_i64(),
        "{after}"
    );
}

#[tokio::test]
async fn the_streaming_api_answers_errors_and_unstreamed_requests_as_the_http_api_does() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let post = |body: Value| {
        t.http
            .post(t.url("/stream/v1/images/generations"))
            .bearer_auth(&s.access)
            .json(&body)
            .send()
    };
    // Refused before any partial image: the ordinary error answer, status and all.
    let r = post(json!({"prompt": "x", "n": 11, "stream": true}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["param"], "n", "{body}");
    // Without `stream`, the JSON answer.
    let r = post(json!({"prompt": "a kite", "size": "256x256"}))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 1, "{body}");
    // Unknown routes under the stage are not the HTTP API's.
    let r = t
        .http
        .get(t.url("/stream/v1/images"))
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
