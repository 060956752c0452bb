//! Uploads, versions (PATCH) and transforms.

use e2e_tests::fixtures::*;
use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::json;

/// An upload made as a client makes it: create, PUT to the presigned URL, complete.
pub(crate) async fn upload(
    t: &TestStack,
    token: &str,
    bytes: Vec<u8>,
    declared: usize,
    content_type: &str,
) -> (String, Reply) {
    let r = t
        .post(
            "/v1/uploads",
            json!({"content_type": content_type, "bytes": declared}),
            Some(token),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["method"], "PUT");
    assert_eq!(r.body["headers"]["Content-Type"], content_type);
    let upload_url = r.body["upload_url"].as_str().unwrap();
    let url = upload_url;
    // The URL names the gateway's S3 path, which passes the request on to the emulator as
    // signed: the signature is the emulator URL's.
    let public = format!("{}/_s3/", t.url(""));
    assert!(url.starts_with(&public), "{url}");
    let signed = url.replacen(&public, &format!("{}/", t.stack.endpoint), 1);
    let url = signed.as_str();
    // The emulator does not check signatures, so the test does, as S3 would: the URL is valid
    // for this type and length only.
    assert!(signature_holds(url, content_type, declared), "{url}");
    assert!(
        !signature_holds(url, "image/svg+xml", declared),
        "the type is signed"
    );
    assert!(
        !signature_holds(url, content_type, declared + 1),
        "the length is signed"
    );
    // The browser's way: through the API's own origin.
    let put = t
        .http
        .put(upload_url)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let id = r.body["id"].as_str().unwrap().to_string();
    let done = t
        .post(
            &format!("/v1/uploads/{id}/complete"),
            json!({}),
            Some(token),
        )
        .await;
    (id, done)
}

/// Whether a presigned PUT's SigV4 signature holds for a request with these headers (the
/// emulator's credentials are `test`/`test`). S3 refuses the request when it does not.
fn signature_holds(url: &str, content_type: &str, length: usize) -> bool {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let hmac = |key: &[u8], data: &str| {
        let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let parsed = reqwest::Url::parse(url).unwrap();
    let query: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| query.iter().find(|(k, _)| k == name).unwrap().1.clone();
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let mut canonical_query: Vec<String> = query
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    canonical_query.sort();
    let host = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap());
    let headers = [
        ("content-length", length.to_string()),
        ("content-type", content_type.to_string()),
        ("host", host),
    ];
    let signed = get("X-Amz-SignedHeaders");
    let canonical_headers: String = signed
        .split(';')
        .map(|name| {
            let value = &headers.iter().find(|(h, _)| *h == name).unwrap().1;
            format!("{name}:{value}\n")
        })
        .collect();
    let canonical = format!(
        "PUT\n{}\n{}\n{canonical_headers}\n{signed}\nUNSIGNED-PAYLOAD",
        parsed.path(),
        canonical_query.join("&")
    );
    let date = get("X-Amz-Date");
    let scope = get("X-Amz-Credential")
        .split_once('/')
        .unwrap()
        .1
        .to_string();
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = b"AWS4test".to_vec();
    for part in scope.split('/') {
        key = hmac(&key, part);
    }
    hex::encode(hmac(&key, &to_sign)) == get("X-Amz-Signature")
}

#[tokio::test]
async fn presigned_put_then_complete_then_use_in_an_edit() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let mut img = object_on_background(300, 200);
    img.put_pixel(150, 100, image::Rgba([0, 0, 0, 0]));
    let bytes = png(&img);
    let (upload_id, done) = upload(&t, &s.access, bytes.clone(), bytes.len(), "image/png").await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    assert_eq!(done.body["kind"], "upload");
    assert_eq!(done.body["size"], "300x200");
    let asset = done.body["id"].as_str().unwrap().to_string();
    let stored = t
        .http
        .get(done.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(stored.to_vec(), bytes, "stored exactly as uploaded");
    assert!(
        !t.object_keys().await.iter().any(|k| k.starts_with("tmp/")),
        "the temporary object is gone"
    );

    let again = t
        .post(
            &format!("/v1/uploads/{upload_id}/complete"),
            json!({}),
            Some(&s.access),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(
        again.body["id"],
        asset.as_str(),
        "completing twice gives the same asset"
    );
    let list = t.get("/v1/images?type=upload", Some(&s.access)).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);

    let r = t
        .post("/v1/images/edits", json!({"images": [{"file_id": asset}], "prompt": "fill the hole", "response_format": "b64_json"}), Some(&s.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let out =
        image::load_from_memory(&b64(r.body["data"][0]["b64_json"].as_str().unwrap())).unwrap();
    assert_eq!((out.width(), out.height()), (300, 200));
}

#[tokio::test]
async fn bad_uploads_are_refused_and_cleaned_up() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    for (body, param) in [
        (
            json!({"content_type": "image/gif", "bytes": 10}),
            "content_type",
        ),
        (
            json!({"content_type": "image/png", "bytes": 11 * 1024 * 1024}),
            "bytes",
        ),
        (json!({"content_type": "image/png", "bytes": 0}), "bytes"),
        (json!({"content_type": "image/png"}), "bytes"),
    ] {
        let r = t.post("/v1/uploads", body.clone(), Some(&s.access)).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{body}"
        );
    }
    // Never uploaded.
    let r = t
        .post(
            "/v1/uploads",
            json!({"content_type": "image/png", "bytes": 100}),
            Some(&s.access),
        )
        .await;
    let id = r.body["id"].as_str().unwrap();
    let done = t
        .post(
            &format!("/v1/uploads/{id}/complete"),
            json!({}),
            Some(&s.access),
        )
        .await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{}", done.text);
    assert_eq!(done.code(), Some("upload_missing"));
    // Larger than announced.
    let bytes = png(&object_on_background(64, 64));
    let (_, done) = upload(&t, &s.access, bytes.clone(), 100, "image/png").await;
    assert_eq!(done.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", done.text);
    // Not an image.
    let (_, done) = upload(
        &t,
        &s.access,
        b"%PDF-1.7 not an image".to_vec(),
        21,
        "image/png",
    )
    .await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{}", done.text);
    // Another user's upload, or an unknown id.
    let (_, other) = t.new_user().await;
    let done = t
        .post(
            &format!("/v1/uploads/{id}/complete"),
            json!({}),
            Some(&other.access),
        )
        .await;
    assert_eq!(done.status, StatusCode::NOT_FOUND);
    assert!(
        t.object_keys().await.is_empty(),
        "refused objects are deleted: {:?}",
        t.object_keys().await
    );
    assert!(
        t.get("/v1/images", Some(&s.access)).await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

async fn generated(t: &TestStack, token: &str) -> (String, Vec<u8>) {
    let r = t.generate(token, json!({"prompt": "a quiet lake", "size": "512x512", "background": "transparent", "response_format": "b64_json"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    (
        r.body["data"][0]["id"].as_str().unwrap().to_string(),
        b64(r.body["data"][0]["b64_json"].as_str().unwrap()),
    )
}

#[tokio::test]
async fn patch_keeps_the_previous_version() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (id, original) = generated(&t, &s.access).await;
    let path = format!("/v1/images/{id}");

    let r = t
        .send(
            t.http
                .patch(t.url(&path))
                .bearer_auth(&s.access)
                .json(&json!({"title": "Lake", "tags": ["Calm", "water", "calm"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["title"], "Lake");
    assert_eq!(r.body["tags"], json!(["calm", "water"]));
    assert_eq!(r.body["version"], 1);

    // A new version from a prompt: the transparent backdrop is the area to edit.
    let r = t
        .send(
            t.http
                .patch(t.url(&path))
                .bearer_auth(&s.access)
                .json(&json!({"prompt": "fill the sky"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["parent_id"], id.as_str());
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["title"], "Lake", "metadata carries over");
    let v2 = r.body["id"].as_str().unwrap().to_string();
    assert_ne!(v2, id);

    // The previous version is still there, byte for byte.
    let old = t.get(&path, Some(&s.access)).await;
    assert_eq!(old.status, StatusCode::OK);
    let bytes = t
        .http
        .get(old.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.to_vec(), original);

    // A version from another asset.
    let (other, other_bytes) = generated(&t, &s.access).await;
    let r = t
        .send(
            t.http
                .patch(t.url(&format!("/v1/images/{v2}")))
                .bearer_auth(&s.access)
                .json(&json!({"image_id": other})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["version"], 3);
    let v3 = t
        .http
        .get(r.body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        pixels(&v3),
        pixels(&other_bytes),
        "the other asset's picture"
    );

    for (body, param) in [
        (json!({"mask_id": "img_x"}), Some("mask_id")),
        (json!({"prompt": "x", "image_id": other}), Some("image_id")),
        (json!({"title": "t".repeat(201)}), Some("title")),
        (json!({"tags": [""]}), Some("tags[0]")),
        (json!({"colour": "red"}), Some("colour")),
        (json!({}), None),
    ] {
        let r = t
            .send(
                t.http
                    .patch(t.url(&path))
                    .bearer_auth(&s.access)
                    .json(&body),
            )
            .await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, param),
            "{body}: {}",
            r.text
        );
    }
    let (_, stranger) = t.new_user().await;
    let r = t
        .send(
            t.http
                .patch(t.url(&path))
                .bearer_auth(&stranger.access)
                .json(&json!({"title": "mine"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn transform_chains_give_exact_dimensions_and_formats() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (id, _) = generated(&t, &s.access).await;
    let path = format!("/v1/images/{id}/transform");
    let cases = [
        (
            json!({"operations": [{"op": "resize", "width": 200, "height": 100, "fit": "cover"}], "output_format": "jpeg", "quality": 70}),
            (200, 100),
            "jpeg",
        ),
        (
            json!({"operations": [{"op": "resize", "width": 200, "height": 100, "fit": "contain"}]}),
            (100, 100),
            "png",
        ),
        (
            json!({"operations": [{"op": "resize", "width": 2000, "fit": "contain"}]}),
            (512, 512),
            "png",
        ),
        (
            json!({"operations": [{"op": "resize", "width": 1000, "upscale": true}]}),
            (1000, 1000),
            "png",
        ),
        (
            json!({"operations": [{"op": "crop", "x": 10, "y": 20, "width": 300, "height": 100}, {"op": "rotate", "degrees": 90}, {"op": "grayscale"}], "output_format": "webp"}),
            (100, 300),
            "webp",
        ),
        (
            json!({"operations": [{"op": "rotate", "degrees": 45, "background": "#ffffff"}, {"op": "blur", "sigma": 1}, {"op": "sharpen"}, {"op": "brightness", "factor": 1.2}, {"op": "contrast", "factor": 0.9}, {"op": "saturation", "factor": 1.5}, {"op": "hue", "degrees": 90}, {"op": "gamma", "value": 2.2}, {"op": "flip"}, {"op": "flop"}, {"op": "remove_background"}]}),
            (725, 725),
            "png",
        ),
    ];
    for (body, (w, h), format) in cases {
        let r = t.post(&path, body.clone(), Some(&s.access)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{body}: {}", r.text);
        assert_eq!(r.body["parent_id"], id.as_str());
        let bytes = t
            .http
            .get(r.body["url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let img = image::load_from_memory(&bytes).unwrap();
        assert_eq!((img.width(), img.height()), (w, h), "{body}");
        let actual = image::guess_format(&bytes).unwrap();
        assert_eq!(
            actual.extensions_str()[0].replace("jpg", "jpeg"),
            format,
            "{body}"
        );
    }
    for (body, param) in [
        (json!({"operations": [{"op": "melt"}]}), "operations[0].op"),
        (
            json!({"operations": [{"op": "blur", "sigma": -1}]}),
            "operations[0].sigma",
        ),
        (
            json!({"operations": [{"op": "crop", "x": 500, "y": 0, "width": 100, "height": 10}]}),
            "operations[0]",
        ),
        (
            json!({"operations": [{"op": "resize", "width": 10}, {"op": "hue"}]}),
            "operations[1].degrees",
        ),
    ] {
        let r = t.post(&path, body.clone(), Some(&s.access)).await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{body}: {}",
            r.text
        );
    }
    let (_, stranger) = t.new_user().await;
    let r = t
        .post(
            &path,
            json!({"operations": [{"op": "flip"}]}),
            Some(&stranger.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_format_that_cannot_hold_the_result_is_a_400_naming_it() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    // Wider than WebP can be (16383 px a side), well within the decoding limits.
    let wide = png(&image::RgbaImage::from_pixel(
        16_400,
        2,
        image::Rgba([20, 40, 60, 255]),
    ));
    let (_, done) = upload(&t, &s.access, wide.clone(), wide.len(), "image/png").await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    let id = done.body["id"].as_str().unwrap();
    let before = t.object_keys().await.len();
    let r = t
        .post(
            &format!("/v1/images/{id}/transform"),
            json!({"operations": [{"op": "flip"}], "output_format": "webp"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("output_format")),
        "{}",
        r.text
    );
    assert_eq!(t.object_keys().await.len(), before, "nothing stored");
    // The same operations into PNG work.
    let r = t
        .post(
            &format!("/v1/images/{id}/transform"),
            json!({"operations": [{"op": "flip"}], "output_format": "png"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["size"], "16400x2");
}

#[tokio::test]
async fn a_truncated_jpeg_upload_is_refused_and_removed() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let jpeg = encode(&object_on_background(120, 90), image::ImageFormat::Jpeg);
    let cut = jpeg[..jpeg.len() * 3 / 4].to_vec();
    let (_, done) = upload(&t, &s.access, cut.clone(), cut.len(), "image/jpeg").await;
    assert_eq!(
        (done.status, done.param()),
        (StatusCode::BAD_REQUEST, Some("id")),
        "{}",
        done.text
    );
    assert!(
        t.object_keys().await.is_empty(),
        "the refused object is deleted"
    );
}
