//! Edits and variations through the gateway with the offline provider, and every bad input.

use e2e_tests::fixtures::*;
use e2e_tests::*;
use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::json;

/// `POST /v1/images/edits` with a multipart form.
pub(crate) async fn edit(t: &TestStack, token: &str, form: Form) -> Reply {
    t.send(
        t.http
            .post(t.url("/v1/images/edits"))
            .bearer_auth(token)
            .multipart(form),
    )
    .await
}

fn decode_b64(r: &Reply, i: usize) -> image::RgbaImage {
    image::load_from_memory(&b64(r.body["data"][i]["b64_json"].as_str().unwrap()))
        .unwrap()
        .into_rgba8()
}

#[tokio::test]
async fn the_mask_decides_what_changes_and_the_object_disappears() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let base = object_on_background(96, 72);
    let mask = mask_over_object(96, 72);
    let form = Form::new()
        .part("image", part(png(&base)))
        .part("mask", part(png(&mask)))
        .text("prompt", "remove the red square")
        .text("response_format", "b64_json");
    let r = edit(&t, &s.access, form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let out = decode_b64(&r, 0);
    assert_eq!(
        out.dimensions(),
        (96, 72),
        "the offline model keeps the input size"
    );
    for (x, y, p) in out.enumerate_pixels() {
        if mask.get_pixel(x, y).0[3] != 0 {
            assert_eq!(
                p,
                base.get_pixel(x, y),
                "pixel ({x},{y}) outside the mask changed"
            );
        } else {
            // Filled from the surrounding background: blue, not red.
            assert!(p.0[2] > 180 && p.0[0] < 80, "pixel ({x},{y}) = {p:?}");
        }
    }
    let credits = t.credits(&s.access).await;
    assert_eq!(credits["spent"], 1, "an edit costs the catalog price");
}

#[tokio::test]
async fn json_edits_name_stored_assets_and_record_the_parent() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let up = |bytes: Vec<u8>| {
        let form = Form::new()
            .part("image", part(bytes))
            .text("prompt", "keep")
            .text("response_format", "b64_json");
        edit(&t, &s.access, form)
    };
    // Store a base image and a mask as assets, through transparent-pixel edits (no mask needed).
    let mut holey = object_on_background(64, 64);
    holey.put_pixel(0, 0, image::Rgba([0, 0, 0, 0]));
    let stored = up(png(&holey)).await;
    assert_eq!(stored.status, StatusCode::OK, "{}", stored.text);
    let base_id = stored.body["data"][0]["id"].as_str().unwrap().to_string();
    let mask_upload = t
        .post(
            "/v1/uploads",
            json!({"content_type": "image/png", "bytes": png(&mask_over_object(64, 64)).len()}),
            Some(&s.access),
        )
        .await;
    assert_eq!(
        mask_upload.status,
        StatusCode::CREATED,
        "{}",
        mask_upload.text
    );
    let put = t
        .http
        .put(mask_upload.body["upload_url"].as_str().unwrap())
        .header("content-type", "image/png")
        .body(png(&mask_over_object(64, 64)))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let mask = t
        .post(
            &format!(
                "/v1/uploads/{}/complete",
                mask_upload.body["id"].as_str().unwrap()
            ),
            json!({}),
            Some(&s.access),
        )
        .await;
    assert_eq!(mask.status, StatusCode::CREATED, "{}", mask.text);
    let mask_id = mask.body["id"].as_str().unwrap();

    // The local model fills a mask one way only: two of the same picture would be charged twice.
    let before = t.credits(&s.access).await["available"].clone();
    let r = t
        .post(
            "/v1/images/edits",
            json!({"images": [{"file_id": base_id}], "mask": {"file_id": mask_id}, "prompt": "remove it", "n": 2}),
            Some(&s.access),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("n")),
        "{}",
        r.text
    );
    assert_eq!(
        t.credits(&s.access).await["available"],
        before,
        "nothing charged"
    );
    let r = t
        .post(
            "/v1/images/edits",
            json!({"images": [{"file_id": base_id}], "mask": {"file_id": mask_id}, "prompt": "remove it"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let info = t
        .get(
            &format!("/v1/images/{}", r.body["data"][0]["id"].as_str().unwrap()),
            Some(&s.access),
        )
        .await;
    assert_eq!(info.body["parent_id"], base_id.as_str());

    let r = t
        .post(
            "/v1/images/edits",
            json!({"images": [{"file_id": "img_nope"}], "prompt": "x"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .post(
            "/v1/images/edits",
            json!({"images": [{"image_url": "http://169.254.169.254/"}], "prompt": "x"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.param(), Some("images[0].image_url"));
}

#[tokio::test]
async fn several_images_and_variations() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let a = png(&object_on_background(80, 80));
    let green = png(&image::RgbaImage::from_pixel(
        80,
        80,
        image::Rgba([20, 200, 40, 255]),
    ));
    let magenta = encode(
        &image::RgbaImage::from_pixel(60, 40, image::Rgba([210, 30, 200, 255])),
        image::ImageFormat::Jpeg,
    );
    let form = Form::new()
        .part("image[]", part(green))
        .part("image[]", part(magenta))
        .text("prompt", "a collage")
        .text("size", "512x512")
        .text("response_format", "b64_json");
    let r = edit(&t, &s.access, form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let collage = decode_b64(&r, 0);
    assert_eq!(collage.dimensions(), (512, 512));
    // Both inputs appear, side by side: the first on the left, the second on the right.
    let [r1, g1, b1, _] = collage.get_pixel(128, 256).0;
    assert!(
        g1 > 150 && r1 < 80 && b1 < 100,
        "left is the green input: {r1} {g1} {b1}"
    );
    let [r2, g2, b2, _] = collage.get_pixel(384, 256).0;
    assert!(
        r2 > 150 && b2 > 150 && g2 < 90,
        "right is the magenta input: {r2} {g2} {b2}"
    );

    let form = Form::new()
        .part("image", part(a))
        .text("n", "3")
        .text("response_format", "b64_json");
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/variations"))
                .bearer_auth(&s.access)
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v: Vec<_> = (0..3).map(|i| decode_b64(&r, i)).collect();
    assert!(v.iter().all(|i| i.dimensions() == (80, 80)));
    assert!(
        v[0] != v[1] && v[1] != v[2] && v[0] != v[2],
        "variations differ from each other"
    );
}

#[tokio::test]
async fn every_bad_input_is_a_clear_4xx_and_costs_nothing() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let good = png(&object_on_background(64, 64));
    let mask = png(&mask_over_object(64, 64));
    let truncated = good[..good.len() / 2].to_vec();
    let jpeg = encode(&object_on_background(64, 64), image::ImageFormat::Jpeg);
    let truncated_jpeg = jpeg[..jpeg.len() * 3 / 4].to_vec();
    let bomb = {
        // A real PNG header claiming 60000x60000 pixels, followed by a tiny image's data.
        let mut b = good.clone();
        b[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        b[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        let crc = crc32(&b[12..29]);
        b[29..33].copy_from_slice(&crc.to_be_bytes());
        b
    };
    let cases: Vec<(&str, Form, StatusCode, Option<&str>)> = vec![
        (
            "non-image bytes",
            Form::new()
                .part("image", part(b"just some text".to_vec()))
                .text("prompt", "x"),
            StatusCode::BAD_REQUEST,
            Some("image"),
        ),
        (
            "truncated PNG",
            Form::new()
                .part("image", part(truncated))
                .text("prompt", "x"),
            StatusCode::BAD_REQUEST,
            Some("image"),
        ),
        (
            "truncated JPEG",
            Form::new()
                .part("image", part(truncated_jpeg))
                .text("prompt", "x"),
            StatusCode::BAD_REQUEST,
            Some("image"),
        ),
        (
            "decompression bomb",
            Form::new().part("image", part(bomb)).text("prompt", "x"),
            StatusCode::BAD_REQUEST,
            Some("image"),
        ),
        (
            "mask of another size",
            Form::new()
                .part("image", part(good.clone()))
                .part("mask", part(png(&mask_over_object(32, 32))))
                .text("prompt", "x"),
            StatusCode::BAD_REQUEST,
            Some("mask"),
        ),
        (
            "mask without alpha",
            Form::new()
                .part("image", part(good.clone()))
                .part(
                    "mask",
                    part(encode(&mask_over_object(64, 64), image::ImageFormat::Jpeg)),
                )
                .text("prompt", "x"),
            StatusCode::BAD_REQUEST,
            Some("mask"),
        ),
        (
            "missing prompt",
            Form::new()
                .part("image", part(good.clone()))
                .part("mask", part(mask.clone())),
            StatusCode::BAD_REQUEST,
            Some("prompt"),
        ),
        (
            "no image",
            Form::new().text("prompt", "x"),
            StatusCode::BAD_REQUEST,
            Some("image"),
        ),
        (
            "nothing to edit",
            Form::new()
                .part("image", part(good.clone()))
                .text("prompt", "x"),
            StatusCode::BAD_REQUEST,
            Some("mask"),
        ),
        (
            "n not a number",
            Form::new()
                .part("image", part(good.clone()))
                .part("mask", part(mask.clone()))
                .text("prompt", "x")
                .text("n", "two"),
            StatusCode::BAD_REQUEST,
            Some("n"),
        ),
        (
            "unknown field",
            Form::new()
                .part("image", part(good.clone()))
                .part("mask", part(mask.clone()))
                .text("prompt", "x")
                .text("strength", "0.5"),
            StatusCode::BAD_REQUEST,
            Some("strength"),
        ),
    ];
    for (what, form, status, param) in cases {
        let r = edit(&t, &s.access, form).await;
        assert_eq!(r.status, status, "{what}: {}", r.text);
        assert_eq!(r.param(), param, "{what}: {}", r.text);
    }
    // Each input is under the per-image limit, but together they are too many pixels: refused
    // from the headers, before anything is decoded.
    let claims = |w: u32, h: u32| {
        let mut b = good.clone();
        b[16..20].copy_from_slice(&w.to_be_bytes());
        b[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&b[12..29]);
        b[29..33].copy_from_slice(&crc.to_be_bytes());
        b
    };
    let form = Form::new()
        .part("image[]", part(claims(6000, 5000)))
        .part("image[]", part(claims(6000, 5000)))
        .text("prompt", "x");
    let r = edit(&t, &s.access, form).await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("image[1]")),
        "{}",
        r.text
    );
    let r = t
        .post(
            "/v1/images/edits",
            json!({"images": [], "prompt": "x"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("images")),
        "{}",
        r.text
    );

    let mut seventeen = Form::new().text("prompt", "x");
    for _ in 0..17 {
        seventeen = seventeen.part("image[]", part(good.clone()));
    }
    let r = edit(&t, &s.access, seventeen).await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("image")),
        "{}",
        r.text
    );

    // Multipart without a boundary, and a broken one.
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/edits"))
                .bearer_auth(&s.access)
                .header("content-type", "multipart/form-data")
                .body("--x\r\n"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), Some("invalid_multipart"));
    let r = t
        .send(
            t.http
                .post(t.url("/v1/images/edits"))
                .bearer_auth(&s.access)
                .header("content-type", "multipart/form-data; boundary=abc")
                .body(
                    "--abc\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nunterminated",
                ),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), Some("invalid_multipart"), "{}", r.text);

    // An inline image over what a Lambda request can carry points to /v1/uploads.
    let big = vec![7u8; 5_000_000];
    let r = edit(
        &t,
        &s.access,
        Form::new().part("image", part(big)).text("prompt", "x"),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/uploads")
    );

    assert_eq!(t.credits(&s.access).await["spent"], 0, "nothing charged");
    assert!(t.object_keys().await.is_empty(), "nothing stored");
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= *b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
