//! The official `openai` Python SDK works unchanged against the gateway, with an API key.

use e2e_tests::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[tokio::test]
async fn openai_python_sdk_generates_b64_and_url_images() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, key) = t.api_key(&s.access).await;
    let python = workspace_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "run `make venv` first: {} is missing",
        python.display()
    );

    let dir = std::env::temp_dir().join(format!("sdk-out-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = t.sdk_script("images_generate.py", &key, "OUT", &dir).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert!(report["sdk"].is_string());

    // Every image the SDK handed over decodes in full at the requested size, and is exactly the
    // object stored in the bucket (through `b64_json` and through `url` alike).
    let mut seen = Vec::new();
    let keys = t.object_keys().await;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let (kind, id) = name.split_once('-').unwrap();
        let bytes = std::fs::read(&path).unwrap();
        if kind == "gif" {
            // An animation of the frames asked for, each shown as long as asked.
            use image::AnimationDecoder;
            let frames = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&bytes))
                .unwrap()
                .into_frames()
                .collect_frames()
                .unwrap();
            assert_eq!(frames.len(), 5, "{name}");
            assert_eq!(frames[0].delay().numer_denom_ms(), (100, 1));
            assert_eq!(frames[0].buffer().dimensions(), (128, 128));
        } else {
            let img = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let edge = if kind == "b64" { 512 } else { 256 };
            assert_eq!((img.width(), img.height()), (edge, edge), "{name}");
        }
        let key = keys
            .iter()
            .find(|k| k.starts_with("images/") && k.contains(id))
            .unwrap();
        let stored = t.object(key).await.unwrap();
        assert_eq!(Sha256::digest(&stored), Sha256::digest(&bytes), "{name}");
        seen.push(kind.to_string());
    }
    std::fs::remove_dir_all(&dir).ok();
    seen.sort();
    assert_eq!(
        seen,
        ["b64", "b64", "gif", "stream", "streamed", "url", "url"]
    );
    // Four images, one per quality of the local model (low, medium, high, auto), an SVG, a
    // GIF and two streamed ones were generated and paid for through the API key.
    let list = t.get("/v1/images", Some(&key)).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 12);
}

#[tokio::test]
async fn openai_python_sdk_edits_and_variations() {
    use e2e_tests::fixtures::*;
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (_, key) = t.api_key(&s.access).await;
    let dir = std::env::temp_dir().join(format!("sdk-fixtures-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("base.png"), png(&object_on_background(120, 90))).unwrap();
    std::fs::write(dir.join("mask.png"), png(&mask_over_object(120, 90))).unwrap();
    std::fs::write(dir.join("second.png"), png(&object_on_background(64, 64))).unwrap();

    let out = t.sdk_script("images_edit.py", &key, "FIXTURES", &dir).await;
    let decoded: Vec<(String, (u32, u32))> = [
        "edit-0",
        "edit_two_images-0",
        "edit_two_images-1",
        "variation-0",
        "variation-1",
    ]
    .iter()
    .filter_map(|name| {
        let bytes = std::fs::read(dir.join(format!("{name}.png"))).ok()?;
        let img = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        Some((name.to_string(), (img.width(), img.height())))
    })
    .collect();
    std::fs::remove_dir_all(&dir).ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "SDK script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        seen["edit"],
        serde_json::json!([120, 90]),
        "the edit keeps the input size"
    );
    assert_eq!(
        seen["edit_two_images"],
        serde_json::json!([[512, 512], [512, 512]])
    );
    assert_eq!(seen["variation"], serde_json::json!([[64, 64], [64, 64]]));
    // Decoded in full, not just their headers read.
    let sizes: Vec<(u32, u32)> = decoded.iter().map(|(_, d)| *d).collect();
    assert_eq!(
        sizes,
        [(120, 90), (512, 512), (512, 512), (64, 64), (64, 64)],
        "{decoded:?}"
    );
}
