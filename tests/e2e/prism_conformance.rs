//! The requests the OpenAI provider sends are valid according to OpenAI's official OpenAPI
//! spec: Prism, serving `openapi.validating.yaml`, answers 422 to any request that breaks it.

use e2e_tests::*;
use serde_json::json;
use shared::domain::generation::CreateImageRequest;
use shared::providers::ProviderError;
use shared::providers::openai::OpenAiProvider;
use std::time::Duration;

/// Prism stops when this is dropped (`kill_on_drop`).
async fn start_prism() -> (tokio::process::Child, String) {
    let root = workspace_root();
    let bin = root.join("node_modules/.bin/prism");
    assert!(
        bin.exists(),
        "{} is missing: run `npm install` (make test does)",
        bin.display()
    );
    // A copy of OpenAI's spec lives in the repository, so a clone anywhere can run this;
    // OPENAI_SPEC points at another (e.g. a newer one).
    let spec = std::env::var_os("OPENAI_SPEC")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("tests/openai/openapi.validating.yaml"));
    assert!(spec.exists(), "{} is missing", spec.display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = tokio::process::Command::new(bin)
        .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string()])
        .arg(spec)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    // Prism parses the 2 MB spec before listening: about 25 s on two cores.
    for _ in 0..240 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (child, url);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("Prism did not start within 120 s");
}

#[tokio::test]
async fn every_model_request_is_accepted_by_the_official_spec() {
    let (_prism, url) = start_prism().await;
    let provider = OpenAiProvider::new(&url, "sk-conformance", Duration::from_secs(30), 0, &[]);
    let requests = [
        json!({"prompt": "a fox", "model": "gpt-image-1-mini"}),
        json!({"prompt": "a fox", "model": "gpt-image-1-mini", "n": 4, "user": "u-1"}),
        json!({"prompt": "a fox", "model": "gpt-image-1.5", "n": 2, "size": "1536x1024", "quality": "high"}),
        json!({"prompt": "a fox", "model": "gpt-image-1.5", "background": "transparent", "output_format": "webp", "output_compression": 70, "moderation": "low"}),
        json!({"prompt": "a fox", "model": "gpt-image-2", "size": "1536x864", "complexity": "high"}),
        // `xhigh` and `max` are newer than this copy of the spec: the unit tests of the request
        // body cover them.
        json!({"prompt": "a fox", "model": "gpt-image-2.5-sunburst", "quality": "high", "safety_identifier": "h-1"}),
        json!({"prompt": "a fox", "model": "gpt-image-2.6-flare", "output_format": "jpeg", "quality": "low"}),
    ];
    for request in requests {
        let plan = serde_json::from_value::<CreateImageRequest>(request.clone())
            .unwrap()
            .plan("gpt-image-1-mini", |_| true)
            .unwrap();
        match provider.generate(&plan, None).await {
            // Prism's example body is not a real image: reaching the decoding step means the
            // request passed validation.
            Ok(_) | Err(ProviderError::BadOutput(_)) => {}
            Err(ProviderError::Rejected { status, message }) => {
                panic!("Prism rejected {request} with {status}: {message}")
            }
            Err(other) => panic!("{request}: {other:?}"),
        }
    }

    // Edits and variations, as multipart forms.
    use e2e_tests::fixtures::{mask_over_object, object_on_background, png};
    use shared::domain::catalog::Size;
    use shared::domain::generation::Operation;
    use shared::providers::{EditInputs, InputImage};
    let input = |w: u32, h: u32| {
        let rgba = object_on_background(w, h);
        InputImage {
            bytes: png(&rgba),
            rgba: rgba.into(),
            asset_id: None,
            has_alpha: true,
        }
    };
    let mask = || {
        let rgba = mask_over_object(256, 256);
        InputImage {
            bytes: png(&rgba),
            rgba: rgba.into(),
            asset_id: None,
            has_alpha: true,
        }
    };
    let edits = [
        (
            json!({"prompt": "remove it", "model": "gpt-image-1-mini", "input_fidelity": "low", "n": 2}),
            vec![input(256, 256)],
            Some(mask()),
        ),
        (
            json!({"prompt": "combine", "model": "gpt-image-1.5", "quality": "high", "output_format": "webp", "background": "transparent"}),
            vec![input(256, 256), input(128, 128)],
            None,
        ),
    ];
    for (request, images, mask) in edits {
        let plan = serde_json::from_value::<CreateImageRequest>(request.clone())
            .unwrap()
            .plan_for(
                Operation::Edit {
                    images: images.len(),
                    input: Size::new(256, 256),
                },
                "gpt-image-1-mini",
                |_| true,
            )
            .unwrap();
        match provider
            .edit(&plan, &EditInputs { images, mask }, None)
            .await
        {
            Ok(_) | Err(ProviderError::BadOutput(_)) => {}
            Err(e) => panic!("edit {request}: {e:?}"),
        }
    }
    // The check has teeth: a request that breaks the spec is refused with 422.
    let bad = reqwest::Client::new()
        .post(format!("{url}/images/generations"))
        .bearer_auth("sk-conformance")
        .json(&json!({"prompt": "a fox", "n": 50, "size": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}
