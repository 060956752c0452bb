//! Delivery that caches: the same URL for the same object within a window, objects that say
//! they never change, and URLs that stop working when their asset is deleted.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::json;

const IMMUTABLE_PRIVATE: &str = "private, max-age=31536000, immutable";

async fn fetch(t: &TestStack, url: &str) -> (StatusCode, Option<String>, Vec<u8>) {
    let resp = t.http.get(url).send().await.unwrap();
    let status = resp.status();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string());
    (status, cache, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn reads_within_a_window_get_the_same_urls_and_objects_say_they_never_change() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    // Both reads must fall in one hour-long window.
    away_from_window_edge(HOUR, 10).await;
    let r = t
        .generate(&s.access, json!({"prompt": "a lighthouse"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["data"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/v1/images/{id}");
    let first = t.get(&path, Some(&s.access)).await;
    let listed = t.get("/v1/images", Some(&s.access)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let second = t.get(&path, Some(&s.access)).await;
    for field in ["url", "thumbnail_url", "urls_expire_at"] {
        assert!(!first.body[field].is_null(), "{field}: {}", first.text);
        assert_eq!(first.body[field], second.body[field], "{field}");
        assert_eq!(first.body[field], listed.body["data"][0][field], "{field}");
    }
    // The generation's own answer names the same URL.
    assert_eq!(r.body["data"][0]["url"], first.body["url"]);
    // Valid at least the TTL (1 h) from now, at most window + TTL (2 h).
    let left = first.body["urls_expire_at"].as_i64().unwrap() - shared::domain::now_epoch();
    assert!((3590..=7200).contains(&left), "{left}");

    // Through the URL, the browser is told to keep the object for itself.
    for field in ["url", "thumbnail_url"] {
        let (status, cache, bytes) = fetch(&t, first.body[field].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{field}");
        assert_eq!(cache.as_deref(), Some(IMMUTABLE_PRIVATE), "{field}");
        assert!(image::load_from_memory(&bytes).is_ok(), "{field}");
    }
    // Every object says, for any cache in front of the bucket, that it never changes.
    for key in t.all_object_keys().await {
        let head = t
            .stack
            .clients
            .s3
            .head_object()
            .bucket(t.bucket())
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.cache_control(),
            Some(shared::domain::delivery::OBJECT_CACHE_CONTROL),
            "{key}"
        );
    }

    // Deleted, its URLs stop working at once (its objects are gone).
    let url = first.body["url"].as_str().unwrap().to_string();
    assert_eq!(
        t.delete(&path, Some(&s.access)).await.status,
        StatusCode::OK
    );
    let (status, _, _) = fetch(&t, &url).await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
        "{status}"
    );
}

#[tokio::test]
async fn the_next_window_signs_anew_and_a_new_version_never_changes_an_old_url() {
    let t = start_with(&[("UrlWindowSeconds", "2")]).await;
    let (_, s) = t.new_user().await;
    let make = |prompt: &'static str| {
        let t = &t;
        let token = s.access.clone();
        async move {
            let r = t.generate(&token, json!({"prompt": prompt})).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.body["data"][0]["id"].as_str().unwrap().to_string()
        }
    };
    let id = make("a red kite").await;
    let other = make("a blue kite").await;
    let path = format!("/v1/images/{id}");
    let before = t.get(&path, Some(&s.access)).await;
    let (_, _, old_bytes) = fetch(&t, before.body["url"].as_str().unwrap()).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let after = t.get(&path, Some(&s.access)).await;
    assert_ne!(
        before.body["url"], after.body["url"],
        "a new window signs anew"
    );

    // A new version is a new asset with new keys: the old URL still gives the old bytes.
    let v2 = t
        .send(
            t.http
                .patch(t.url(&path))
                .bearer_auth(&s.access)
                .json(&json!({"image_id": other})),
        )
        .await;
    assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.text);
    assert_ne!(v2.body["id"], json!(id));
    let (status, _, again) = fetch(&t, before.body["url"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, old_bytes);
    assert_ne!(v2.body["url"], before.body["url"]);
}

/// Reads the asset until its AVIF variants are recorded (made from the table's stream).
async fn with_variants(t: &TestStack, token: &str, id: &str) -> serde_json::Value {
    for _ in 0..150 {
        let info = t.get(&format!("/v1/images/{id}"), Some(token)).await;
        if !info.body["variants"]["preview"]["avif"].is_null() {
            return info.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("the variants of {id} were not made within 30 s");
}

async fn content_type(t: &TestStack, url: &str) -> (String, Vec<u8>) {
    let resp = t.http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{url}");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    (ct, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn thumbnails_and_previews_come_in_avif_and_webp_and_the_accept_header_picks() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a tall ship", "size": "1536x1024"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["data"][0]["id"].as_str().unwrap().to_string();
    let info = with_variants(&t, &s.access, &id).await;
    let v = &info["variants"];
    assert_eq!(v["thumbnail"]["webp"], info["thumbnail_url"]);
    let mut sizes = std::collections::BTreeMap::new();
    for (size, edge) in [("thumbnail", 256u32), ("preview", 1024)] {
        for format in ["avif", "webp"] {
            let (ct, bytes) = content_type(&t, v[size][format].as_str().unwrap()).await;
            assert_eq!(ct, format!("image/{format}"), "{size} {format}");
            sizes.insert(format!("{size}.{format}"), bytes.len());
            if format == "webp" {
                let img = image::load_from_memory(&bytes).unwrap();
                // 1536×1024 fitted within the edge.
                let height = (f64::from(edge) * 2.0 / 3.0).round() as u32;
                assert_eq!((img.width(), img.height()), (edge, height), "{size}");
            } else {
                assert_eq!(&bytes[4..12], b"ftypavif", "{size}");
            }
        }
    }
    assert!(sizes["preview.avif"] < sizes["preview.webp"], "{sizes:?}");
    // The original is untouched: still the PNG it was made as.
    let (ct, _) = content_type(&t, info["url"].as_str().unwrap()).await;
    assert_eq!(ct, "image/png");

    // The content route negotiates, and says that it does.
    let chromium = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    for (variant, accept, expected) in [
        ("thumbnail", chromium, v["thumbnail"]["avif"].clone()),
        (
            "thumbnail",
            "image/webp,*/*;q=0.5",
            v["thumbnail"]["webp"].clone(),
        ),
        ("preview", chromium, v["preview"]["avif"].clone()),
        ("preview", "*/*", v["preview"]["webp"].clone()),
    ] {
        let resp = no_redirects()
            .get(t.url(&format!("/v1/images/{id}/content?variant={variant}")))
            .bearer_auth(&s.access)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND, "{variant} {accept}");
        assert_eq!(resp.headers()["vary"], "Accept");
        assert_eq!(
            resp.headers()["location"].to_str().unwrap(),
            expected.as_str().unwrap(),
            "{variant} {accept}"
        );
    }
    let bad = t
        .get(
            &format!("/v1/images/{id}/content?variant=huge"),
            Some(&s.access),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.param(), Some("variant"));

    // Deleting the asset deletes every variant with it.
    assert_eq!(
        t.delete(&format!("/v1/images/{id}"), Some(&s.access))
            .await
            .status,
        StatusCode::OK
    );
    let left = t.all_object_keys().await;
    assert!(left.iter().all(|k| !k.contains(&id)), "{left:?}");
}

#[tokio::test]
async fn an_asset_stored_before_variants_existed_gets_them_when_next_changed() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let t = start().await;
    let (_, s) = t.new_user().await;
    let r = t.generate(&s.access, json!({"prompt": "an old map"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["data"][0]["id"].as_str().unwrap().to_string();
    with_variants(&t, &s.access, &id).await;
    // Made as an item of before: no variants recorded, none stored.
    let made: Vec<String> = t
        .all_object_keys()
        .await
        .into_iter()
        .filter(|k| k.starts_with("variants/") && k.contains(&id))
        .collect();
    assert_eq!(made.len(), 3, "{made:?}");
    t.stack
        .clients
        .s3
        .delete_objects()
        .bucket(t.bucket())
        .delete(
            aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(
                    made.iter()
                        .map(|k| {
                            aws_sdk_s3::types::ObjectIdentifier::builder()
                                .key(k)
                                .build()
                                .unwrap()
                        })
                        .collect(),
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let user_id = t.user_id(&s.access).await;
    t.stack
        .clients
        .dynamodb
        .update_item()
        .table_name(t.stack.created.tables["Table"].clone())
        .key("pk", AttributeValue::S(format!("USER#{user_id}")))
        .key("sk", AttributeValue::S(format!("IMAGE#{id}")))
        .update_expression("REMOVE variants")
        .send()
        .await
        .unwrap();
    // That change (as any later one: a new title, tags) makes them again.
    let info = with_variants(&t, &s.access, &id).await;
    for (size, format) in [
        ("thumbnail", "avif"),
        ("preview", "webp"),
        ("preview", "avif"),
    ] {
        let (ct, _) = content_type(&t, info["variants"][size][format].as_str().unwrap()).await;
        assert_eq!(ct, format!("image/{format}"));
    }
}
