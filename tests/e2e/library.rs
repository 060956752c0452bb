//! The asset library: pagination, metadata, downloads, deletion, and other users' ids.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

async fn make_images(t: &TestStack, token: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let r = t
            .generate(
                token,
                json!({"prompt": format!("picture {i}"), "size": "256x256"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        ids.push(r.body["data"][0]["id"].as_str().unwrap().to_string());
    }
    ids
}

async fn walk(t: &TestStack, token: &str, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/v1/images?{query}&cursor={c}"),
            None => format!("/v1/images?{query}"),
        };
        let r = t.get(&url, Some(token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let page: Vec<String> = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_string())
            .collect();
        assert!(page.len() <= 3);
        seen.extend(page);
        match r.body["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(r.body["has_more"], true);
                cursor = Some(c.to_string());
            }
            None => {
                assert_eq!(r.body["has_more"], false);
                return seen;
            }
        }
    }
}

#[tokio::test]
async fn pagination_walks_every_item_once_in_order() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let created = make_images(&t, &s.access, 7).await;

    let newest = walk(&t, &s.access, "limit=3").await;
    let expected: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(
        newest, expected,
        "newest first, no duplicates, nothing missing"
    );
    assert_eq!(newest.iter().collect::<BTreeSet<_>>().len(), 7);

    let oldest = walk(&t, &s.access, "limit=3&sort=oldest").await;
    assert_eq!(oldest, created);
    let images = walk(&t, &s.access, "limit=3&type=image").await;
    assert_eq!(images, expected);
    assert!(walk(&t, &s.access, "limit=3&type=upload").await.is_empty());

    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("type=gif", "type"),
        ("sort=random", "sort"),
        ("cursor=not.a.cursor", "cursor"),
        ("page=2", "page"),
    ] {
        let r = t.get(&format!("/v1/images?{query}"), Some(&s.access)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(r.param(), Some(param), "{query}");
    }
}

#[tokio::test]
async fn metadata_and_downloads() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let r = t
        .generate(&s.access, json!({"prompt": "an owl", "size": "512x512", "output_format": "webp", "output_compression": 80}))
        .await;
    let id = r.body["data"][0]["id"].as_str().unwrap().to_string();
    let info = t.get(&format!("/v1/images/{id}"), Some(&s.access)).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    assert_eq!(info.body["prompt"], "an owl");
    assert_eq!(info.body["model"], "local-procedural");
    assert_eq!(info.body["size"], "512x512");
    assert_eq!(info.body["format"], "webp");
    assert_eq!(info.body["kind"], "image");
    let thumb = t
        .http
        .get(info.body["thumbnail_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (256, 256));

    let location = t.content_location(&id, &s.access).await;
    let bytes = t
        .http
        .get(&location)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.len() as u64, info.body["bytes"].as_u64().unwrap());
    assert_eq!(
        image::guess_format(&bytes).unwrap(),
        image::ImageFormat::WebP
    );
}

#[tokio::test]
async fn delete_removes_objects_and_metadata_once() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let ids = make_images(&t, &s.access, 2).await;
    let keys_before = t.object_keys().await;
    assert_eq!(
        keys_before.len(),
        4,
        "image and thumbnail each: {keys_before:?}"
    );
    for k in &keys_before {
        assert!(
            k.starts_with("images/user_") || k.starts_with("thumbnails/user_"),
            "{k}"
        );
    }

    let r = t
        .delete(&format!("/v1/images/{}", ids[0]), Some(&s.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["deleted"], true);
    let keys_after = t.object_keys().await;
    assert_eq!(keys_after.len(), 2);
    assert!(
        keys_after.iter().all(|k| !k.contains(&ids[0])),
        "both objects of the image are gone"
    );
    assert_eq!(
        t.get(&format!("/v1/images/{}", ids[0]), Some(&s.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.delete(&format!("/v1/images/{}", ids[0]), Some(&s.access))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let list = t.get("/v1/images", Some(&s.access)).await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn another_users_image_is_404_on_every_route() {
    let t = start().await;
    let (_, owner) = t.new_user().await;
    let (_, other) = t.new_user().await;
    let id = make_images(&t, &owner.access, 1).await.remove(0);
    for (method, path) in [
        ("GET", format!("/v1/images/{id}")),
        ("GET", format!("/v1/images/{id}/content")),
        ("DELETE", format!("/v1/images/{id}")),
    ] {
        let r = match method {
            "GET" => t.get(&path, Some(&other.access)).await,
            _ => t.delete(&path, Some(&other.access)).await,
        };
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_eq!(r.code(), Some("not_found"));
    }
    // Nor can it be named as an input of another user's work, in any field.
    let own = make_images(&t, &other.access, 1).await.remove(0);
    let before = t.credits(&other.access).await;
    let patch = |target: &str, body: Value| {
        t.send(
            t.http
                .patch(t.url(&format!("/v1/images/{target}")))
                .bearer_auth(&other.access)
                .json(&body),
        )
    };
    for (what, r, param) in [
        ("PATCH", patch(&id, json!({"title": "mine"})).await, "id"),
        (
            "versions",
            t.get(&format!("/v1/images/{id}/versions"), Some(&other.access))
                .await,
            "id",
        ),
        (
            "transform",
            t.post(
                &format!("/v1/images/{id}/transform"),
                json!({"operations": [{"op": "flip"}]}),
                Some(&other.access),
            )
            .await,
            "id",
        ),
        (
            "image_id",
            patch(&own, json!({"image_id": id})).await,
            "image_id",
        ),
        (
            "mask_id",
            patch(&own, json!({"prompt": "fill", "mask_id": id})).await,
            "mask_id",
        ),
        (
            "file_id",
            t.post(
                "/v1/images/edits",
                json!({"images": [{"file_id": id}], "prompt": "fill"}),
                Some(&other.access),
            )
            .await,
            "images[0].file_id",
        ),
        (
            "mask file_id",
            t.post(
                "/v1/images/edits",
                json!({"images": [{"file_id": own}], "mask": {"file_id": id}, "prompt": "fill"}),
                Some(&other.access),
            )
            .await,
            "mask.file_id",
        ),
    ] {
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{what}: {}",
            r.text
        );
        if param != "id" {
            assert_eq!(r.param(), Some(param), "{what}: {}", r.text);
        }
    }
    assert_eq!(t.credits(&other.access).await, before, "nothing charged");
    let listed = t.get("/v1/images", Some(&other.access)).await;
    let listed: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [own.as_str()], "nothing made of it");
    assert_eq!(
        t.get(&format!("/v1/images/{id}"), Some(&owner.access))
            .await
            .status,
        StatusCode::OK,
        "still there"
    );
}

/// S3 as it is, with a note of every object written (what a test needs to tell "deleted after
/// the failure" from "never written"), and deletes that can be made to fail.
pub(crate) struct Noting {
    s3: shared::S3Blobs,
    written: std::sync::Mutex<Vec<String>>,
    deletes_refused: std::sync::atomic::AtomicBool,
}

impl Noting {
    pub(crate) fn new(s3: shared::S3Blobs) -> Self {
        Self {
            s3,
            written: Default::default(),
            deletes_refused: Default::default(),
        }
    }

    pub(crate) fn refuse_deletes(&self, refused: bool) {
        self.deletes_refused
            .store(refused, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The same functions' dependencies with S3 behind [`Noting`].
pub(crate) fn noting<S: shared::ports::Store>(deps: shared::Deps<S>) -> shared::Deps<S, Noting> {
    shared::Deps {
        store: deps.store,
        blobs: Noting::new(deps.blobs),
        config: deps.config,
        providers: deps.providers,
        credentials: deps.credentials,
        failed_auth: Default::default(),
        api_keys: Default::default(),
        events: deps.events,
        queues: deps.queues,
    }
}

impl shared::ports::Blobs for Noting {
    async fn put(&self, key: &str, bytes: Vec<u8>, ct: &str) -> Result<(), shared::ApiError> {
        self.s3.put(key, bytes, ct).await?;
        self.written.lock().unwrap().push(key.to_string());
        Ok(())
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, shared::ApiError> {
        self.s3.get(key).await
    }
    async fn delete(&self, keys: &[String]) -> Result<(), shared::ApiError> {
        if self
            .deletes_refused
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(shared::ApiError::internal("S3 refused the delete"));
        }
        self.s3.delete(keys).await
    }
    async fn presign_get(
        &self,
        key: &str,
        signing: shared::domain::delivery::Signing,
    ) -> Result<String, shared::ApiError> {
        self.s3.presign_get(key, signing).await
    }
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        ttl: std::time::Duration,
    ) -> Result<String, shared::ApiError> {
        self.s3.presign_put(key, content_type, length, ttl).await
    }
    async fn size(&self, key: &str) -> Result<Option<u64>, shared::ApiError> {
        self.s3.size(key).await
    }
}

#[tokio::test]
async fn objects_are_removed_when_their_metadata_cannot_be_written() {
    use shared::domain::assets::{AssetKind, ImageRecord, Lineage, OutputFormat};
    use shared::usecases::library::{Processed, store_objects};
    let t = start().await;
    // The real S3 bucket, but a DynamoDB table that does not exist: DynamoDB refuses the write,
    // so it is known not to have happened.
    let deps = t.deps().await;
    let sdk = shared::adapters::aws::sdk_config(
        &t.stack.config.aws.region,
        t.stack.config.aws.endpoint_url.as_deref(),
    )
    .await;
    let deps = noting(shared::Deps {
        store: shared::DynamoStore::new(
            shared::adapters::aws::Lazy::ready(shared::adapters::aws::dynamodb(&sdk)),
            "no-such-table",
        ),
        ..deps
    });
    let record = ImageRecord::new(
        "user_x",
        AssetKind::Image,
        OutputFormat::Png,
        (1, 1),
        3,
        Lineage::original(None),
    );
    let processed = Processed {
        bytes: vec![1, 2, 3],
        thumbnail: vec![4, 5],
        width: 1,
        height: 1,
        revised_prompt: None,
        extras: Vec::new(),
    };
    let result = store_objects(&deps, std::slice::from_ref(&record), &[processed], None).await;
    assert!(result.is_err(), "the metadata write must fail");
    let mut written = deps.blobs.written.lock().unwrap().clone();
    written.sort();
    let mut expected = vec![record.key.clone(), record.thumbnail_key.clone().unwrap()];
    expected.sort();
    assert_eq!(
        written, expected,
        "both objects were written before the metadata"
    );
    assert!(
        t.object_keys().await.is_empty(),
        "no orphan objects: {:?}",
        t.object_keys().await
    );
}
