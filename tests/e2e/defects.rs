//! Defects found by review and probing (issue 8), each pinned by what a user would see.

use e2e_tests::fixtures::*;
use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::domain::assets::UploadRecord;
use shared::domain::now_epoch;
use shared::ports::{Blobs, Images, Uploads};

async fn complete(t: &TestStack, access: &str, id: &str) -> Reply {
    t.post(
        &format!("/v1/uploads/{id}/complete"),
        json!({}),
        Some(access),
    )
    .await
}

/// An upload written through the adapter, with its object already in the bucket.
async fn upload_with_object(t: &TestStack, access: &str, expires_at: i64) -> UploadRecord {
    let deps = t.deps().await;
    let user_id = t.user_id(access).await;
    let bytes = png(&object_on_background(40, 30));
    let id = unique("upl");
    let upload = UploadRecord {
        key: format!("tmp/{user_id}/{id}"),
        id,
        user_id,
        content_type: "image/png".into(),
        declared_bytes: bytes.len() as u64,
        asset_id: None,
        expires_at,
    };
    deps.store.create_upload(&upload).await.unwrap();
    deps.blobs
        .put(&upload.key, bytes, "image/png")
        .await
        .unwrap();
    upload
}

#[tokio::test]
async fn an_expired_upload_is_refused_and_its_object_removed() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let upload = upload_with_object(&t, &s.access, now_epoch() - 1).await;
    assert!(t.object(&upload.key).await.is_some(), "uploaded");
    let r = complete(&t, &s.access, &upload.id).await;
    assert_eq!(
        (r.status, r.param(), r.code()),
        (StatusCode::BAD_REQUEST, Some("id"), Some("upload_expired")),
        "{}",
        r.text
    );
    assert!(t.object(&upload.key).await.is_none(), "the object is gone");
    let library = t.get("/v1/images?type=upload", Some(&s.access)).await;
    assert_eq!(library.body["data"], json!([]), "no asset was made");
}

#[tokio::test]
async fn racing_completes_of_one_upload_make_one_asset() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let upload = upload_with_object(&t, &s.access, now_epoch() + 600).await;
    let (a, b) = tokio::join!(
        complete(&t, &s.access, &upload.id),
        complete(&t, &s.access, &upload.id)
    );
    for r in [&a, &b] {
        assert!(r.status.is_success(), "{}", r.text);
    }
    assert_eq!(
        a.body["id"], b.body["id"],
        "both answer with the same asset"
    );
    let library = t.get("/v1/images?type=upload", Some(&s.access)).await;
    assert_eq!(library.body["data"].as_array().unwrap().len(), 1);
    // The asset's image and thumbnail, and nothing else (the loser's objects are deleted).
    let keys = t.object_keys().await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    // A third complete (a client's retry) is the same asset again.
    let again = complete(&t, &s.access, &upload.id).await;
    assert_eq!(
        (again.status, &again.body["id"]),
        (StatusCode::OK, &a.body["id"])
    );
}

async fn generated(t: &TestStack, access: &str, prompt: &str) -> Value {
    let r = t
        .generate(
            access,
            json!({"prompt": prompt, "model": "local-procedural", "size": "256x256",
                   "background": "transparent"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.body["data"][0]["id"].as_str().unwrap();
    t.get(&format!("/v1/images/{id}"), Some(access)).await.body
}

#[tokio::test]
async fn a_version_made_of_another_asset_describes_that_content() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let current = generated(&t, &s.access, "a red barn").await;
    let other = t
        .generate(
            &s.access,
            json!({"prompt": "a blue lake", "model": "local-procedural", "size": "512x512"}),
        )
        .await;
    let other_id = other.body["data"][0]["id"].as_str().unwrap();
    let id = current["id"].as_str().unwrap();
    let r = t
        .send(
            t.http
                .patch(t.url(&format!("/v1/images/{id}")))
                .bearer_auth(&s.access)
                .json(&json!({"image_id": other_id, "title": "Swapped"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["prompt"], "a blue lake", "the prompt of the content");
    assert_eq!(r.body["background"], other.body["background"]);
    assert_ne!(r.body["background"], current["background"]);
    assert_eq!(r.body["size"], "512x512");
    // What the asset is stays: its lineage and the title it was given.
    assert_eq!(
        (&r.body["parent_id"], &r.body["version"]),
        (&json!(id), &json!(2))
    );
    assert_eq!(r.body["title"], "Swapped");
}

#[tokio::test]
async fn the_ledger_explains_the_balance_from_zero() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a cat", "model": "local-procedural", "size": "256x256"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let credit = t.credits(&s.access).await;
    let ledger = credit["ledger"].as_array().expect("a ledger");
    let sum: i64 = ledger.iter().map(|l| l["delta"].as_i64().unwrap()).sum();
    assert_eq!(sum, credit["available"].as_i64().unwrap(), "{credit}");
    let last = ledger.last().unwrap();
    assert_eq!(
        last["reason"], "signup",
        "the oldest line is the signup grant"
    );
}

#[tokio::test]
async fn an_api_key_cannot_manage_api_keys() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let (key_id, key) = t.api_key(&s.access).await;
    let create = t
        .post("/v1/api-keys", json!({"name": "copy"}), Some(&key))
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN, "{}", create.text);
    let list = t.get("/v1/api-keys", Some(&key)).await;
    assert_eq!(list.status, StatusCode::FORBIDDEN, "{}", list.text);
    let revoke = t
        .delete(&format!("/v1/api-keys/{key_id}"), Some(&key))
        .await;
    assert_eq!(revoke.status, StatusCode::FORBIDDEN, "{}", revoke.text);
    // The key still works where keys are meant to.
    assert_eq!(t.get("/v1/me", Some(&key)).await.status, StatusCode::OK);
    let list = t.get("/v1/api-keys", Some(&s.access)).await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        1,
        "no copy was made"
    );
}

pub(crate) async fn uploaded(t: &TestStack, access: &str, img: &image::RgbaImage) -> String {
    let bytes = png(img);
    let (_, done) = crate::assets::upload(t, access, bytes.clone(), bytes.len(), "image/png").await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    done.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_transform_beyond_what_can_be_read_back_is_refused() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let id = uploaded(
        &t,
        &s.access,
        &image::RgbaImage::from_pixel(20_000, 300, image::Rgba([9, 9, 9, 255])),
    )
    .await;
    let before = t.object_keys().await.len();
    let r = t
        .post(
            &format!("/v1/images/{id}/transform"),
            json!({"operations": [{"op": "flip"}, {"op": "rotate", "degrees": 0.86}],
                   "output_format": "png"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("operations[1]")),
        "{}",
        r.text
    );
    assert_eq!(t.object_keys().await.len(), before, "nothing stored");
}

#[tokio::test]
async fn transforms_say_what_they_did_and_refuse_a_transparent_jpeg() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let id = uploaded(&t, &s.access, &object_on_background(100, 80)).await;
    let path = format!("/v1/images/{id}/transform");
    let r = t
        .post(
            &path,
            json!({"operations": [{"op": "remove_background"}], "output_format": "jpeg"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("output_format")),
        "{}",
        r.text
    );
    let r = t
        .post(
            &path,
            json!({"operations": [{"op": "resize", "width": 400, "height": 400, "upscale": false}],
                   "output_format": "jpeg", "quality": 70}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["size"], "100x80", "not enlarged");
    assert_eq!(r.body["skipped"][0]["param"], "operations[0]");
    assert_eq!(r.body["output_compression"], 70, "a number");
    let stored = t
        .get(
            &format!("/v1/images/{}", r.body["id"].as_str().unwrap()),
            Some(&s.access),
        )
        .await;
    assert_eq!(stored.body["output_compression"], 70);
}

#[tokio::test]
async fn huge_names_and_ids_are_client_errors_never_500() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let huge = "x".repeat(3000);
    for login in [
        json!({"username": huge}),
        json!({"email": format!("{huge}@example.com")}),
    ] {
        let mut body = login;
        body["password"] = json!("correct horse battery");
        let r = t.post("/v1/auth/login", body, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    let r = t
        .post(
            "/v1/auth/register",
            json!({"username": unique("ref"), "email": format!("{}@example.com", unique("ref")),
                   "password": "correct horse battery", "referral_code": huge}),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("referral_code")),
        "{}",
        r.text
    );
    for path in [
        format!("/v1/images/{huge}"),
        format!("/v1/images/{huge}/content"),
    ] {
        let r = t.get(&path, Some(&s.access)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
        assert!(
            r.text.len() < 1000,
            "the error does not echo 3000 characters"
        );
    }
    let r = t
        .delete(&format!("/v1/images/{huge}"), Some(&s.access))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = t
        .delete(&format!("/v1/api-keys/{huge}"), Some(&s.access))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = t
        .post(
            &format!("/v1/uploads/{huge}/complete"),
            json!({}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = t
        .post(
            &format!("/v1/images/{huge}/transform"),
            json!({"operations": [{"op": "flip"}]}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = t
        .post(
            "/v1/images/edits",
            json!({"prompt": "x", "images": [{"file_id": huge}]}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = t
        .get(&format!("/v1/images?cursor={huge}"), Some(&s.access))
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("cursor")),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn a_maskless_patch_edit_of_an_opaque_image_names_mask_id() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let opaque = uploaded(
        &t,
        &s.access,
        &image::RgbaImage::from_pixel(64, 64, image::Rgba([200, 10, 10, 255])),
    )
    .await;
    let r = t
        .send(
            t.http
                .patch(t.url(&format!("/v1/images/{opaque}")))
                .bearer_auth(&s.access)
                .json(&json!({"prompt": "fill it"})),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("mask_id")),
        "{}",
        r.text
    );
    assert!(r.text.contains("needs a mask"), "{}", r.text);
}

async fn patch(t: &TestStack, access: &str, id: &str, body: Value) -> Reply {
    t.send(
        t.http
            .patch(t.url(&format!("/v1/images/{id}")))
            .bearer_auth(access)
            .json(&body),
    )
    .await
}

fn ids(r: &Reply) -> Vec<(String, i64, Option<String>)> {
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["version"].as_i64().unwrap(),
                v["parent_id"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test]
async fn versions_form_one_numbered_lineage_that_can_be_listed_and_deleted() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let v1 = generated(&t, &s.access, "a red barn").await;
    let v1 = v1["id"].as_str().unwrap().to_string();
    let other = generated(&t, &s.access, "a blue lake").await;
    let other = other["id"].as_str().unwrap();
    // Two versions made from v1, at the same moment: they get different numbers.
    let (a, b) = tokio::join!(
        patch(&t, &s.access, &v1, json!({"image_id": other})),
        patch(&t, &s.access, &v1, json!({"image_id": other}))
    );
    let made: Vec<&Reply> = [&a, &b]
        .into_iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    for r in [&a, &b] {
        assert!(
            r.status == StatusCode::CREATED || r.status == StatusCode::CONFLICT,
            "{}",
            r.text
        );
    }
    assert!(!made.is_empty(), "at least one version is made");
    // Then one more, from v1 again: it takes the next free number, whatever v1's own is.
    let c = patch(&t, &s.access, &v1, json!({"image_id": other})).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    let listed = t
        .get(&format!("/v1/images/{v1}/versions"), Some(&s.access))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["root_id"], v1.as_str());
    let versions = ids(&listed);
    let numbers: Vec<i64> = versions.iter().map(|v| v.1).collect();
    let mut unique = numbers.clone();
    unique.dedup();
    assert_eq!(
        numbers, unique,
        "no two versions share a number: {numbers:?}"
    );
    assert_eq!(
        numbers,
        (1..=numbers.len() as i64).collect::<Vec<_>>(),
        "{numbers:?}"
    );
    assert_eq!(versions.len(), 1 + made.len() + 1);
    // Any version lists the same lineage.
    let from_last = t
        .get(
            &format!("/v1/images/{}/versions", c.body["id"].as_str().unwrap()),
            Some(&s.access),
        )
        .await;
    assert_eq!(ids(&from_last), versions);

    // Deleting v1 alone: its children now name v1's parent (none), never a missing asset.
    let r = t.delete(&format!("/v1/images/{v1}"), Some(&s.access)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["deleted_ids"], json!([v1]));
    let left = t
        .get(
            &format!("/v1/images/{}/versions", c.body["id"].as_str().unwrap()),
            Some(&s.access),
        )
        .await;
    let left = ids(&left);
    assert_eq!(left.len(), versions.len() - 1);
    for (id, _, parent) in &left {
        if let Some(p) = parent {
            let r = t.get(&format!("/v1/images/{p}"), Some(&s.access)).await;
            assert_eq!(r.status, StatusCode::OK, "{id} points at {p}, which exists");
        }
    }
    // And the whole lineage at once.
    let last = c.body["id"].as_str().unwrap();
    let r = t
        .delete(
            &format!("/v1/images/{last}?all_versions=true"),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["deleted_ids"].as_array().unwrap().len(), left.len());
    for (id, ..) in &left {
        let r = t.get(&format!("/v1/images/{id}"), Some(&s.access)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    // The other asset (the content source) is untouched.
    assert_eq!(
        t.get(&format!("/v1/images/{other}"), Some(&s.access))
            .await
            .status,
        StatusCode::OK
    );
    let r = t
        .delete(
            &format!("/v1/images/{other}?all_versions=maybe"),
            Some(&s.access),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (StatusCode::BAD_REQUEST, Some("all_versions"))
    );
}

/// Free work (transforms, uploads, versions) costs no credits: the storage quota is what bounds
/// it. Every stored asset counts, work past the quota is a 403 that spends and leaves nothing,
/// and deletes give the room back.
#[tokio::test]
async fn storage_is_bounded_per_account_and_deletes_give_the_room_back() {
    let t = start_with(&[("StorageQuotaBytes", "300000")]).await;
    let (_, s) = t.new_user().await;
    assert_eq!(
        storage_of(&t, &s.access).await,
        json!({"used_bytes": 0, "quota_bytes": 300000})
    );
    // Generate until the quota refuses one; each stored image is counted.
    let mut refused = None;
    for i in 0..40 {
        let before = t.credits(&s.access).await["available"].clone();
        let objects = t.object_keys().await.len();
        let r = t
            .generate(
                &s.access,
                json!({"prompt": format!("a lighthouse in a storm, take {i}"), "size": "512x512"}),
            )
            .await;
        if r.status == StatusCode::FORBIDDEN {
            // Nothing spent, nothing left in the bucket.
            assert_eq!(t.credits(&s.access).await["available"], before);
            assert_eq!(t.object_keys().await.len(), objects);
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let used = storage_of(&t, &s.access).await["used_bytes"]
            .as_u64()
            .unwrap();
        assert_eq!(
            used,
            library_bytes(&t, &s.access).await,
            "every stored image counts"
        );
        assert!(used <= 300000, "{used}");
    }
    let refused = refused.expect("the quota refuses work past it");
    assert_eq!(
        refused.code(),
        Some("storage_quota_exceeded"),
        "{}",
        refused.text
    );
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DELETE /v1/images"),
        "{}",
        refused.text
    );
    // Free work is refused the same way: a transform, and an upload too large for the room.
    let page = t.get("/v1/images?limit=100", Some(&s.access)).await.body;
    let ids: Vec<String> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    let r = t
        .post(
            &format!("/v1/images/{}/transform", ids[0]),
            json!({"operations": [{"op": "resize", "width": 1024, "height": 1024}], "output_format": "png"}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.code(), Some("storage_quota_exceeded"), "{}", r.text);
    let r = t
        .post(
            "/v1/uploads",
            json!({"content_type": "image/png", "bytes": 300000}),
            Some(&s.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), Some("storage_quota_exceeded"));

    // Deleting gives the room back, to the byte, and work fits again.
    let used = storage_of(&t, &s.access).await["used_bytes"]
        .as_u64()
        .unwrap();
    let first = t
        .get(&format!("/v1/images/{}", ids[0]), Some(&s.access))
        .await
        .body["bytes"]
        .as_u64()
        .unwrap();
    let r = t
        .delete(&format!("/v1/images/{}", ids[0]), Some(&s.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        storage_of(&t, &s.access).await["used_bytes"]
            .as_u64()
            .unwrap(),
        used - first
    );
    for id in &ids[1..] {
        t.delete(&format!("/v1/images/{id}"), Some(&s.access)).await;
    }
    assert_eq!(storage_of(&t, &s.access).await["used_bytes"], 0);
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a lighthouse", "size": "512x512"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // An account that stores its whole quota is refused before any vendor works for it.
    let deps = t.deps().await;
    let user = t.user_id(&s.access).await;
    let mut big = crate::charges::record_of(&user, &unique("img"), now_epoch());
    big.bytes = 300_000;
    let outcome = deps.store.put_images(&[big], None, u64::MAX).await;
    assert!(matches!(
        outcome,
        shared::domain::billing::WriteOutcome::Written
    ));
    let before = t.credits(&s.access).await["available"].clone();
    let r = t
        .generate(
            &s.access,
            json!({"prompt": "a lighthouse", "size": "512x512"}),
        )
        .await;
    assert_eq!(r.code(), Some("storage_quota_exceeded"), "{}", r.text);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("this needs"),
        "refused before the work: {message}"
    );
    assert_eq!(t.credits(&s.access).await["available"], before);
}

async fn storage_of(t: &TestStack, access: &str) -> Value {
    t.get("/v1/me", Some(access)).await.body["storage"].clone()
}

/// The bytes of every asset in the library, as `GET /v1/images` lists them.
async fn library_bytes(t: &TestStack, access: &str) -> u64 {
    let page = t.get("/v1/images?limit=100", Some(access)).await.body;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["bytes"].as_u64().unwrap())
        .sum()
}
