//! Videos: OpenAI's Videos API shape over this API's jobs, with the local-motion model. The
//! official SDK drives the stack; `ffprobe` (Debian's ffmpeg) checks what it downloads.

use crate::webhooks::{receiver, verified};
use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// `ffprobe`'s view of the first video stream and the container.
pub(crate) fn probe(path: &Path) -> Value {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_streams",
            "-show_format",
        ])
        .arg(path)
        .output()
        .expect("ffprobe is installed (Debian's ffmpeg, see .ci/run)");
    assert!(
        out.status.success(),
        "ffprobe refused the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn mean_rgb(img: &image::RgbImage) -> [f64; 3] {
    let mut sum = [0f64; 3];
    for p in img.pixels() {
        for (s, v) in sum.iter_mut().zip(p.0) {
            *s += v as f64;
        }
    }
    let n = (img.width() * img.height()) as f64;
    sum.map(|s| s / n)
}

/// Polls the video until it is completed or failed.
pub(crate) async fn until_over(t: &TestStack, token: &str, id: &str) -> Reply {
    for _ in 0..600 {
        let r = t.get(&format!("/v1/videos/{id}"), Some(token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        if ["completed", "failed"].contains(&r.body["status"].as_str().unwrap()) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("video {id} did not end");
}

/// The job's item as stored in the table.
async fn job_item(
    t: &TestStack,
    token: &str,
    id: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    let key = shared::adapters::dynamo::keys::job(&t.user_id(token).await, id);
    t.stack
        .clients
        .dynamodb
        .get_item()
        .table_name(t.stack.created.tables["Table"].clone())
        .set_key(Some(key))
        .send()
        .await
        .unwrap()
        .item
        .expect("the job's item")
}

async fn available(t: &TestStack, token: &str) -> i64 {
    t.credits(token).await["available"].as_i64().unwrap()
}

#[tokio::test]
async fn the_openai_sdk_makes_downloads_lists_and_deletes_videos() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, key) = t.api_key(&s.access).await;
    let before = available(&t, &s.access).await;
    let dir = std::env::temp_dir().join(format!("sdk-video-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // A picture a user would recognise: warm orange with a dark band.
    let picture = image::RgbaImage::from_fn(640, 400, |_, y| {
        if (180..220).contains(&y) {
            image::Rgba([20, 20, 40, 255])
        } else {
            image::Rgba([240, 140, 30, 255])
        }
    });
    picture.save(dir.join("picture.png")).unwrap();
    let out = t.sdk_script("videos.py", &key, "FIXTURES", &dir).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();

    // A real H.264 MP4 of the size, length and frame rate asked for.
    let info = probe(&dir.join("video.mp4"));
    let stream = &info["streams"][0];
    assert_eq!(stream["codec_name"], "h264", "{info}");
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert_eq!(stream["r_frame_rate"], "24/1", "{info}");
    assert_eq!(stream["nb_frames"], "96", "{info}");
    let seconds: f64 = info["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((seconds - 4.0).abs() < 0.05, "{seconds}");

    // The poster is the clip's first frame: the user's picture, seen whole.
    let poster = image::open(dir.join("thumbnail.jpg")).unwrap().into_rgb8();
    assert_eq!(poster.dimensions(), (1280, 720));
    let [r, g, b] = mean_rgb(&poster);
    assert!(
        r > 180.0 && g > 90.0 && g < 160.0 && b < 80.0,
        "{r} {g} {b}"
    );
    let sheet = image::open(dir.join("spritesheet.jpg")).unwrap();
    assert_eq!(sheet.width(), 5 * 256, "five frames a row");

    // Two 4-second videos at a credit a second, the deleted one included (it was made).
    assert_eq!(available(&t, &s.access).await, before - 8);

    // The first is in the library as a video; the deleted one left no object behind.
    let listed = t.get("/v1/images?type=video", Some(&s.access)).await;
    let assets = listed.body["data"].as_array().unwrap();
    assert_eq!(assets.len(), 1, "{}", listed.text);
    assert_eq!(assets[0]["format"], "mp4");
    assert_eq!(assets[0]["kind"], "video");
    let asset = assets[0]["id"].as_str().unwrap();
    let keys = t.object_keys().await;
    let mine: Vec<&String> = keys.iter().filter(|k| k.contains(asset)).collect();
    assert_eq!(
        mine.len(),
        4,
        "mp4, library thumbnail, poster, spritesheet: {mine:?}"
    );
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(".mp4")).count(),
        1,
        "the deleted video's files are gone: {keys:?}"
    );
    let first = t
        .get(
            &format!("/v1/videos/{}", report["video"].as_str().unwrap()),
            Some(&s.access),
        )
        .await;
    assert_eq!(first.body["asset_id"], asset);
    // A made video is kept until deleted: its job has no expiry.
    let item = job_item(&t, &s.access, report["video"].as_str().unwrap()).await;
    assert!(!item.contains_key("expires_at"), "{item:?}");
}

#[tokio::test]
async fn a_video_is_a_job_canceled_and_refunded_like_any() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let before = available(&t, &s.access).await;
    let r = t
        .post(
            "/v1/videos",
            json!({"prompt": "a long pan over the city", "seconds": "12", "size": "1792x1024"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.headers["location"], format!("/v1/videos/{id}").as_str());
    assert_eq!(
        available(&t, &s.access).await,
        before - 12,
        "charged at once"
    );
    // Running: no content yet, and no deleting.
    let early = t
        .get(&format!("/v1/videos/{id}/content"), Some(&s.access))
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    let gone = t.delete(&format!("/v1/videos/{id}"), Some(&s.access)).await;
    assert_eq!(gone.status, StatusCode::CONFLICT, "{}", gone.text);
    assert!(gone.text.contains("/cancel"), "{}", gone.text);

    let c = t
        .post(&format!("/v1/jobs/{id}/cancel"), json!({}), Some(&s.access))
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let over = until_over(&t, &s.access, &id).await;
    assert_eq!(over.body["status"], "failed", "{}", over.text);
    assert_eq!(over.body["error"]["code"], "canceled", "{}", over.text);
    // Canceled while queued, it is refunded at once; while encoding, the refund follows the
    // job's end (a moment after it reads as failed).
    let mut now_available = 0;
    for _ in 0..50 {
        now_available = available(&t, &s.access).await;
        if now_available == before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now_available, before, "refunded");
    let listed = t.get("/v1/images?type=video", Some(&s.access)).await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 0);
    // A video that ended without a video expires like any job (a made one stays until deleted).
    let item = job_item(&t, &s.access, &id).await;
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert!(
        expires > shared::domain::now_epoch() + 29 * 86_400,
        "{expires}"
    );
    assert!(
        !t.object_keys().await.iter().any(|k| k.ends_with(".mp4")),
        "nothing stored"
    );
    // Ended: it can be deleted now, and is gone.
    let d = t.delete(&format!("/v1/videos/{id}"), Some(&s.access)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(
        d.body,
        json!({"id": id, "object": "video.deleted", "deleted": true})
    );
    let again = t.get(&format!("/v1/videos/{id}"), Some(&s.access)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_video_requests_name_their_param_and_charge_nothing() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, other) = t.new_user().await;
    let before = available(&t, &s.access).await;
    let cases = [
        (
            json!({"prompt": "x", "seconds": "5"}),
            StatusCode::BAD_REQUEST,
            "seconds",
        ),
        (
            json!({"prompt": "x", "size": "1024x1024"}),
            StatusCode::BAD_REQUEST,
            "size",
        ),
        (
            json!({"prompt": "x", "model": "sora-2-pro"}),
            StatusCode::BAD_REQUEST,
            "model",
        ),
        (
            json!({"prompt": "x", "model": "gpt-image-2"}),
            StatusCode::BAD_REQUEST,
            "model",
        ),
        (json!({"seconds": "4"}), StatusCode::BAD_REQUEST, "prompt"),
        (
            json!({"prompt": "x", "fps": 30}),
            StatusCode::BAD_REQUEST,
            "fps",
        ),
        (
            json!({"prompt": "x", "input_reference": {"file_id": "img_0123456789abcdef0123456789abcdef"}}),
            StatusCode::NOT_FOUND,
            "input_reference.file_id",
        ),
        (
            json!({"prompt": "x", "input_reference": {"image_url": "http://169.254.169.254/latest"}}),
            StatusCode::BAD_REQUEST,
            "input_reference.image_url",
        ),
        (
            json!({"prompt": "x", "input_reference": {"image_url": "data:image/png;base64,bm90IGFuIGltYWdl"}}),
            StatusCode::BAD_REQUEST,
            "input_reference.image_url",
        ),
    ];
    for (body, status, param) in cases {
        let r = t.post("/v1/videos", body.clone(), Some(&s.access)).await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert_eq!(r.param(), Some(param), "{body}: {}", r.text);
    }
    assert_eq!(available(&t, &s.access).await, before, "nothing charged");

    // A stored image as the picture, by id; the same Idempotency-Key makes one video.
    let img = t
        .generate(
            &s.access,
            json!({"prompt": "a red boat", "size": "256x256", "response_format": "url"}),
        )
        .await;
    let asset = img.body["data"][0]["id"].as_str().unwrap().to_string();
    let spent = available(&t, &s.access).await;
    let body = json!({"prompt": "drift", "input_reference": {"file_id": asset}});
    let send = || {
        t.send(
            t.http
                .post(t.url("/v1/videos"))
                .bearer_auth(&s.access)
                .header("idempotency-key", "video-once")
                .json(&body),
        )
    };
    let (a, b) = (send().await, send().await);
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["id"], b.body["id"], "replayed");
    assert_eq!(available(&t, &s.access).await, spent - 4, "charged once");
    let id = a.body["id"].as_str().unwrap();
    let done = until_over(&t, &s.access, id).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    let video_asset = done.body["asset_id"].as_str().unwrap();
    let info = t
        .get(&format!("/v1/images/{video_asset}"), Some(&s.access))
        .await;
    assert_eq!(
        info.body["parent_id"],
        asset.as_str(),
        "made from the stored image"
    );

    // Another user's video, an image job's id, an unknown variant.
    let theirs = t
        .get(&format!("/v1/videos/{id}"), Some(&other.access))
        .await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    let job = t
        .send(
            t.http
                .post(t.url("/v1/images/generations"))
                .bearer_auth(&s.access)
                .header("prefer", "respond-async")
                .json(&json!({"prompt": "x", "size": "256x256"})),
        )
        .await;
    let job_id = job.body["id"].as_str().unwrap();
    let not_video = t
        .get(&format!("/v1/videos/{job_id}"), Some(&s.access))
        .await;
    assert_eq!(
        not_video.status,
        StatusCode::NOT_FOUND,
        "{}",
        not_video.text
    );
    let bad = t
        .get(
            &format!("/v1/videos/{id}/content?variant=gif"),
            Some(&s.access),
        )
        .await;
    assert_eq!(bad.param(), Some("variant"), "{}", bad.text);
    // Deleting the asset from the library leaves the video saying so.
    let d = t
        .delete(&format!("/v1/images/{video_asset}"), Some(&s.access))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let orphan = t
        .get(&format!("/v1/videos/{id}/content"), Some(&s.access))
        .await;
    assert_eq!(orphan.status, StatusCode::NOT_FOUND, "{}", orphan.text);
    assert!(orphan.text.contains("deleted"), "{}", orphan.text);
    // Deleted: its Idempotency-Key cannot answer with it any more, and says so.
    let d = t.delete(&format!("/v1/videos/{id}"), Some(&s.access)).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let replay = send().await;
    assert_eq!(replay.status, StatusCode::CONFLICT, "{}", replay.text);
    assert_eq!(replay.param(), Some("Idempotency-Key"), "{}", replay.text);
}

#[tokio::test]
async fn a_video_sends_its_signed_webhooks_with_a_link_to_the_mp4() {
    let hook = receiver(&[]).await;
    let t = start_with(&[("AllowPrivateWebhookTargets", "true")]).await;
    let (_, s) = t.new_user().await;
    let secret = t.get("/v1/webhooks/secret", Some(&s.access)).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .post(
            "/v1/videos",
            json!({"prompt": "waves", "webhook": format!("{}/hook", hook.uri()),
                   "webhook_events_filter": ["started", "completed"]}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let done = until_over(&t, &s.access, &id).await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    let mut hooks = Vec::new();
    for _ in 0..100 {
        hooks = hook.received_requests().await.unwrap();
        if hooks.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hooks.len(), 2, "started and completed");
    let bodies: Vec<Value> = hooks
        .iter()
        .map(|h| serde_json::from_slice(&h.body).unwrap())
        .collect();
    for (h, b) in hooks.iter().zip(&bodies) {
        assert!(verified(h, &secret), "signed with the user's secret");
        assert_eq!(b["id"], id.as_str());
        assert_eq!(b["operation"], "video");
    }
    let finished = bodies.iter().find(|b| b["status"] == "succeeded").unwrap();
    assert_eq!(finished["result"]["data"][0]["id"], done.body["asset_id"]);
    // The link in the webhook downloads the MP4 itself.
    let url = finished["result"]["data"][0]["url"].as_str().unwrap();
    let mp4 = t.http.get(url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&mp4[4..8], b"ftyp", "an MP4");
}
