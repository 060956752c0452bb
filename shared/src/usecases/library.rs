//! The caller's library: finding an asset (another user's id is simply not found), its bytes,
//! storing new assets without orphans, and describing them with fresh presigned URLs.

use crate::domain::assets::{AssetKind, ImageRecord, Lineage};
use crate::domain::billing::{Settlement, WriteOutcome};
use crate::domain::now_epoch;
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::usecases::billing::charges;
use crate::wire::{DeletedImage, Formats, ImageInfo, Variants, VersionList};

/// One image ready to store: encoded bytes in the requested format and a thumbnail.
pub struct Processed {
    pub bytes: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub revised_prompt: Option<String>,
    /// More objects of the asset (a video's poster and spritesheet): key, bytes, content type.
    pub extras: Vec<(String, Vec<u8>, &'static str)>,
}

/// Time a commit and its answer still need after the metadata write starts.
const COMMIT_MARGIN: std::time::Duration = std::time::Duration::from_millis(500);

/// Uploads every object (concurrently), then writes all metadata at once. Objects are deleted
/// when the metadata is known not to be written; after a write whose outcome is unknown they are
/// kept (it may have committed), and the hold that lists them lets the sweeper decide later.
pub async fn store_objects<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    records: &[ImageRecord],
    processed: &[Processed],
    settles: Option<&Settlement>,
) -> Result<(), Unstored> {
    let puts = records.iter().zip(processed).flat_map(|(r, p)| {
        let image = Some((r.key.as_str(), &p.bytes, r.format.content_type()));
        let thumbnail = r
            .thumbnail_key
            .as_deref()
            .map(|k| (k, &p.thumbnail, "image/webp"));
        let extras = p
            .extras
            .iter()
            .map(|(k, bytes, content_type)| (k.as_str(), bytes, *content_type));
        image.into_iter().chain(thumbnail).chain(extras)
    });
    let (keys, writes): (Vec<String>, Vec<_>) = puts
        .map(|(key, bytes, content_type)| {
            (
                key.to_string(),
                deps.blobs.put(key, bytes.clone(), content_type),
            )
        })
        .unzip();
    // A synchronous answer past its moment reaches nobody: nothing is stored or charged.
    let late = || {
        settles
            .and_then(|s| s.commit_by)
            .is_some_and(|by| std::time::Instant::now() + COMMIT_MARGIN > by)
    };
    let error = match futures::future::try_join_all(writes).await {
        Ok(_) if late() => ApiError::out_of_time(),
        Ok(_) => match deps
            .store
            .put_images(records, settles, deps.config.limits.storage_quota_bytes)
            .await
        {
            // Announced by the table's stream (`usecases::announcements`).
            WriteOutcome::Written => return Ok(()),
            WriteOutcome::NotWritten(e) => e,
            WriteOutcome::Unknown(error) => {
                tracing::error!(%error, keys = ?keys, "metadata write outcome unknown: objects kept");
                return Err(Unstored {
                    error,
                    objects_gone: false,
                });
            }
        },
        Err(e) => e,
    };
    // Every key, as a failed put may still have landed; deleting a missing key is no error.
    let deleted = deps.blobs.delete(&keys).await;
    if let Err(e) = &deleted {
        tracing::error!(error = %e, keys = ?keys, "could not remove objects of a failed write");
    }
    Err(Unstored {
        error,
        objects_gone: deleted.is_ok(),
    })
}

/// Why images were not stored, and whether their objects are gone (else a hold's sweeper
/// decides their fate).
#[derive(Debug)]
pub struct Unstored {
    pub error: ApiError,
    pub objects_gone: bool,
}

impl From<Unstored> for ApiError {
    fn from(u: Unstored) -> Self {
        u.error
    }
}

/// An asset of the caller's library; another user's id is simply not found (404).
pub async fn owned_image<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
) -> Result<ImageRecord, ApiError> {
    let not_found = || ApiError::NotFound(format!("no image with id '{}'", shown(id)));
    if !crate::domain::plausible_id(id) {
        return Err(not_found());
    }
    deps.store.image(user_id, id).await?.ok_or_else(not_found)
}

/// An id as an error message may quote it: what a client sent, cut to a readable length.
pub fn shown(id: &str) -> String {
    match id.char_indices().nth(crate::domain::MAX_ID_LEN) {
        Some((cut, _)) => format!("{}…", &id[..cut]),
        None => id.to_string(),
    }
}

/// An asset of the caller's library and its bytes; another user's id is simply not found.
pub async fn asset_bytes<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
    param: &str,
) -> Result<(ImageRecord, Vec<u8>), ApiError> {
    let record = owned_image(deps, user_id, id).await.map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::UnknownReference {
            message: format!("{param}: no image with id '{}'", shown(id)),
            param: param.to_string(),
        },
        other => other,
    })?;
    let bytes = deps
        .blobs
        .get(&record.key)
        .await?
        .ok_or_else(|| ApiError::internal(format!("object of {id} is missing")))?;
    Ok((record, bytes))
}

/// Stores one new asset that costs nothing (a transform, an upload, a version made of another
/// asset) and describes it. Like paid work it is covered by a hold listing its objects, so a
/// Lambda killed before the metadata is written leaves no orphan: the sweeper deletes them.
/// With `completes_upload`, the same transaction marks that upload completed, once only.
pub async fn store_asset<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    record: &ImageRecord,
    processed: &Processed,
    completes_upload: Option<&str>,
) -> Result<ImageInfo, ApiError> {
    let mut hold = charges::hold_for(&record.id, &record.user_id, 0, 0, now_epoch(), None);
    hold.objects = std::iter::once(record.key.clone())
        .chain(record.thumbnail_key.clone())
        .collect();
    deps.store.open_hold(&hold).await?;
    let settlement = Settlement {
        hold: hold.clone(),
        answer: None,
        completes_upload: completes_upload.map(str::to_string),
        completes_job: None,
        commit_by: None,
        served: None,
    };
    let stored = store_objects(
        deps,
        std::slice::from_ref(record),
        std::slice::from_ref(processed),
        Some(&settlement),
    )
    .await;
    // Stored, the hold went with the metadata. Known unwritten with its objects gone, it has
    // nothing left to guard; otherwise the sweeper decides once it is due.
    if stored.as_ref().is_err_and(|u| u.objects_gone)
        && let Err(e) = deps.store.close_hold(&hold.id).await
    {
        tracing::warn!(hold = %hold.id, error = %e, "could not close a hold; the sweeper will");
    }
    stored?;
    image_info(deps, record).await
}

/// A new version of an asset whose content is another asset's (`PATCH` with `image_id`). The
/// metadata describes the content it stores: prompt, model and quality come from `other`; what
/// the asset is (its lineage, title and tags) from `lineage`.
#[cfg(feature = "images")]
pub async fn new_version_from<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &crate::domain::accounts::Principal,
    current: &ImageRecord,
    lineage: crate::domain::assets::Lineage,
    other: &str,
) -> Result<ImageInfo, ApiError> {
    let (source, bytes) = asset_bytes(deps, &who.user_id, other, "image_id").await?;
    let thumbnail = tokio::task::spawn_blocking({
        let bytes = bytes.clone();
        move || imaging::decode_rgba(&bytes).and_then(|i| imaging::thumbnail(&i))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| unreadable("image_id", e))?;
    let image_id = crate::domain::new_id("img");
    let bytes = crate::usecases::provenance::sign_output(
        deps,
        bytes.clone(),
        source.format,
        image_id.clone(),
        crate::usecases::provenance::Making {
            made: ::provenance::Made::Opened,
            parent: Some((bytes, Some(source.id.clone()))),
            vendor_output: false,
            disclosed: Vec::new(),
        },
    )
    .await?;
    let fresh = ImageRecord::with_id(
        image_id,
        &who.user_id,
        current.kind,
        source.format,
        (source.width, source.height),
        bytes.len() as u64,
        lineage,
    );
    let record = ImageRecord {
        prompt: source.prompt.clone(),
        revised_prompt: source.revised_prompt.clone(),
        model: source.model.clone(),
        background: source.background.clone(),
        quality: source.quality.clone(),
        output_compression: source.output_compression,
        ..fresh
    };
    let processed = Processed {
        bytes,
        thumbnail,
        width: source.width,
        height: source.height,
        revised_prompt: None,
        extras: Vec::new(),
    };
    store_asset(deps, &record, &processed, None).await
}

/// The lineage a new version of `current` joins: the next number after the lineage's newest.
pub async fn next_version<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    current: &ImageRecord,
) -> Result<Lineage, ApiError> {
    let versions = deps
        .store
        .versions(&current.user_id, &current.root_id)
        .await?;
    let latest = versions.iter().map(|v| v.version).max().unwrap_or(0);
    Ok(Lineage::next_version_of(current, latest))
}

/// Every version of `id`'s lineage that still exists, oldest first, with fresh URLs.
pub async fn versions<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
) -> Result<VersionList, ApiError> {
    let record = owned_image(deps, user_id, id).await?;
    let members = lineage_members(deps, &record).await?;
    let mut data = Vec::with_capacity(members.len());
    for r in &members {
        data.push(image_info(deps, r).await?);
    }
    Ok(VersionList {
        object: "list".into(),
        root_id: record.root_id,
        data,
    })
}

/// The records of `record`'s lineage, oldest first (just `record` for an asset stored before
/// lineages were recorded).
async fn lineage_members<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    record: &ImageRecord,
) -> Result<Vec<ImageRecord>, ApiError> {
    let entries = deps
        .store
        .versions(&record.user_id, &record.root_id)
        .await?;
    let found = futures::future::try_join_all(
        entries
            .iter()
            .map(|e| deps.store.image(&record.user_id, &e.image_id)),
    )
    .await?;
    let mut members: Vec<ImageRecord> = found.into_iter().flatten().collect();
    if !members.iter().any(|m| m.id == record.id) {
        members.push(record.clone());
        members.sort_by_key(|m| m.version);
    }
    Ok(members)
}

/// Deletes an asset, or with `all_versions` every version of its lineage: objects first (if
/// that fails, the metadata still points at them and a retry finishes), then the metadata in
/// one write. A deleted version's children in the lineage then name its parent, so no
/// version points at a missing one.
pub async fn delete<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    id: &str,
    all_versions: bool,
) -> Result<DeletedImage, ApiError> {
    let record = owned_image(deps, user_id, id).await?;
    let (doomed, reparent) = if all_versions {
        (lineage_members(deps, &record).await?, Vec::new())
    } else {
        let entries = deps.store.versions(user_id, &record.root_id).await?;
        let children = entries
            .into_iter()
            .filter(|e| e.parent_id.as_deref() == Some(record.id.as_str()))
            .map(|e| (e.image_id, record.parent_id.clone()))
            .collect();
        (vec![record], children)
    };
    let keys: Vec<String> = doomed.iter().flat_map(ImageRecord::all_keys).collect();
    for chunk in keys.chunks(1000) {
        deps.blobs.delete(chunk).await?;
    }
    // A transaction holds 100 writes: two per image, two per re-pointed child.
    for (i, chunk) in doomed.chunks(40).enumerate() {
        let reparent: &[_] = if i == 0 { &reparent } else { &[] };
        if !deps.store.delete_images(user_id, chunk, reparent).await? {
            return Err(ApiError::NotFound(format!(
                "no image with id '{}'",
                shown(id)
            )));
        }
    }
    tracing::info!(user_id, image_id = id, count = doomed.len(), "deleted");
    Ok(DeletedImage {
        id: id.to_string(),
        object: "image".into(),
        deleted: true,
        deleted_ids: doomed.into_iter().map(|r| r.id).collect(),
    })
}

/// A library item with fresh presigned URLs.
pub async fn image_info<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    r: &ImageRecord,
) -> Result<ImageInfo, ApiError> {
    let signing = deps.config.delivery.urls.at(now_epoch());
    let url = deps.blobs.presign_get(&r.key, signing).await?;
    let thumbnail_url = match &r.thumbnail_key {
        Some(k) => Some(deps.blobs.presign_get(k, signing).await?),
        None => None,
    };
    let variants = match r.kind {
        AssetKind::Video => None,
        AssetKind::Image | AssetKind::Upload => {
            let url = |size: &str, format: &str| {
                let key = r.variant(size, format);
                async move {
                    match key {
                        Some(k) => deps.blobs.presign_get(&k, signing).await.map(Some),
                        None => Ok(None),
                    }
                }
            };
            Some(Variants {
                thumbnail: Formats {
                    avif: url("thumbnail", "avif").await?,
                    webp: thumbnail_url.clone(),
                },
                preview: Formats {
                    avif: url("preview", "avif").await?,
                    webp: url("preview", "webp").await?,
                },
            })
        }
    };
    Ok(ImageInfo {
        id: r.id.clone(),
        object: "image".into(),
        kind: r.kind,
        prompt: r.prompt.clone(),
        revised_prompt: r.revised_prompt.clone(),
        model: r.model.clone(),
        provider: r.provider.clone(),
        width: r.width,
        height: r.height,
        size: format!("{}x{}", r.width, r.height),
        format: r.format.as_str().to_string(),
        bytes: r.bytes,
        background: r.background.clone(),
        quality: r.quality.clone(),
        output_compression: r.output_compression,
        parent_id: r.parent_id.clone(),
        title: r.title.clone(),
        tags: r.tags.clone(),
        version: r.version,
        created_at: r.created_at,
        url,
        thumbnail_url,
        variants,
        urls_expire_at: signing.expires_at(),
    })
}

#[cfg(feature = "images")]
/// A stored asset that cannot be decoded is the asset's problem, named, never a 500.
pub fn unreadable(param: &str, e: imaging::ImagingError) -> ApiError {
    ApiError::invalid(
        param,
        format!("the stored image cannot be read ({e}); it cannot be transformed or edited"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{PutFault, user_with_credits};
    use crate::app::in_memory;
    use crate::domain::assets::{AssetKind, OutputFormat, UploadRecord};
    use crate::domain::billing::HoldState;
    use crate::ports::{Holds, Images, Uploads};
    use crate::usecases::billing::{charges::HOLD_SECONDS, sweep::sweep};
    use std::time::Duration;

    fn asset(user: &str) -> (ImageRecord, Processed) {
        let record = ImageRecord::new(
            user,
            AssetKind::Image,
            OutputFormat::Png,
            (1, 1),
            3,
            Lineage::original(None),
        );
        let processed = Processed {
            bytes: vec![1, 2, 3],
            thumbnail: vec![4],
            width: 1,
            height: 1,
            revised_prompt: None,
            extras: Vec::new(),
        };
        (record, processed)
    }

    fn keys_of(r: &ImageRecord) -> Vec<String> {
        let mut keys = vec![r.key.clone(), r.thumbnail_key.clone().unwrap()];
        keys.sort();
        keys
    }

    #[tokio::test]
    async fn a_synchronous_answer_past_its_moment_stores_and_charges_nothing() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 10).await;
        let (record, processed) = asset(&user);
        let hold = crate::usecases::billing::charges::hold_for("gen_late", &user, 0, 1, 0, None);
        let settlement = Settlement {
            hold,
            answer: None,
            completes_upload: None,
            completes_job: None,
            commit_by: Some(std::time::Instant::now()),
            served: None,
        };
        let r = store_objects(
            &d,
            std::slice::from_ref(&record),
            std::slice::from_ref(&processed),
            Some(&settlement),
        )
        .await;
        let e = r.unwrap_err();
        assert!(e.objects_gone, "the objects are removed again");
        assert!(
            e.error.to_string().contains("Prefer: respond-async"),
            "{}",
            e.error
        );
        assert!(d.blobs.keys().is_empty());
        assert!(d.store.image(&user, &record.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn objects_go_only_when_their_metadata_is_known_unwritten() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 0).await;
        let (record, processed) = asset(&user);
        d.store.fail_next_put_images(PutFault::Refuse);
        let r = store_objects(
            &d,
            std::slice::from_ref(&record),
            std::slice::from_ref(&processed),
            None,
        )
        .await;
        assert!(r.is_err_and(|u| u.objects_gone));
        assert!(d.blobs.keys().is_empty());
        // An unknown outcome may have committed: the objects stay.
        d.store.fail_next_put_images(PutFault::LoseAnswer);
        let r = store_objects(
            &d,
            std::slice::from_ref(&record),
            std::slice::from_ref(&processed),
            None,
        )
        .await;
        assert!(r.is_err_and(|u| !u.objects_gone));
        assert_eq!(d.blobs.keys(), keys_of(&record));
        assert!(
            d.store.image(&user, &record.id).await.unwrap().is_some(),
            "it had committed"
        );
    }

    #[tokio::test]
    async fn a_free_asset_whose_write_is_unknown_is_decided_by_the_sweeper() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 0).await;
        let due = crate::domain::now_epoch() + HOLD_SECONDS;
        let sweep_due = || sweep(&d.store, &d.blobs, due + 1, Duration::from_secs(5));

        // Not written, answer lost: the objects wait for the sweeper, which removes them.
        let (lost, processed) = asset(&user);
        d.store.fail_next_put_images(PutFault::Unknown);
        assert!(store_asset(&d, &lost, &processed, None).await.is_err());
        assert_eq!(
            d.blobs.keys(),
            keys_of(&lost),
            "kept while the outcome is unknown"
        );
        assert_eq!(
            d.store.hold_state(&lost.id).await.unwrap(),
            Some(HoldState::Pending)
        );
        let report = sweep_due().await.unwrap();
        assert_eq!(report.abandoned, 1);
        assert!(d.blobs.keys().is_empty(), "no orphans");

        // Written, answer lost: the hold went with the metadata; the sweeper keeps everything.
        let (kept, processed) = asset(&user);
        d.store.fail_next_put_images(PutFault::LoseAnswer);
        assert!(store_asset(&d, &kept, &processed, None).await.is_err());
        let report = sweep_due().await.unwrap();
        assert_eq!(report.abandoned, 0);
        assert_eq!(d.blobs.keys(), keys_of(&kept));
        assert!(d.store.image(&user, &kept.id).await.unwrap().is_some());
        assert!(d.store.holds().is_empty());

        // And a plain success leaves no hold behind.
        let (fine, processed) = asset(&user);
        store_asset(&d, &fine, &processed, None).await.unwrap();
        assert!(d.store.holds().is_empty());
    }

    #[tokio::test]
    async fn an_upload_is_completed_by_one_asset_only() {
        let d = in_memory();
        let user = user_with_credits(&d.store, 0).await;
        let upload = UploadRecord {
            id: "upl_1".into(),
            user_id: user.clone(),
            content_type: "image/png".into(),
            declared_bytes: 3,
            key: "tmp/upl_1".into(),
            asset_id: None,
            expires_at: i64::MAX,
        };
        d.store.create_upload(&upload).await.unwrap();
        let (first, processed) = asset(&user);
        store_asset(&d, &first, &processed, Some("upl_1"))
            .await
            .unwrap();
        let done = d.store.upload(&user, "upl_1").await.unwrap().unwrap();
        assert_eq!(done.asset_id.as_deref(), Some(first.id.as_str()));
        // A second completion (a retry, a racing request) stores nothing and leaves nothing.
        let (second, processed) = asset(&user);
        assert!(
            store_asset(&d, &second, &processed, Some("upl_1"))
                .await
                .is_err()
        );
        assert!(d.store.image(&user, &second.id).await.unwrap().is_none());
        assert_eq!(d.blobs.keys(), keys_of(&first));
        assert!(d.store.holds().is_empty());
    }
}
