//! Delivery variants, made after an image is stored (from the table's stream): the AVIF
//! thumbnail and the 1024-px preview in WebP and AVIF. Storing an image never waits for them;
//! until they are recorded, answers give the WebP thumbnail made with the image.

use crate::domain::assets::{AssetKind, ImageRecord, VARIANTS, variant_key};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use imaging::variants::{Kind, Size};

/// Makes, stores and records the variants of a newly stored image. Nothing to do for a video,
/// an image that already has them, or one deleted meanwhile; a picture that cannot be decoded
/// (an SVG) keeps its thumbnail only. Storage errors are returned, to be tried again.
pub async fn make_variants<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    record: &ImageRecord,
) -> Result<(), ApiError> {
    if record.kind == AssetKind::Video || !record.variants.is_empty() {
        return Ok(());
    }
    let Some(bytes) = deps.blobs.get(&record.key).await? else {
        return Ok(());
    };
    let made = tokio::task::spawn_blocking(move || {
        imaging::decode_rgba(&bytes).and_then(|img| imaging::variants::variants(&img))
    })
    .await
    .map_err(ApiError::internal)?;
    let made = match made {
        Ok(made) => made,
        Err(error) => {
            tracing::warn!(image = %record.id, %error, "no variants: the image cannot be decoded");
            return Ok(());
        }
    };
    let named: Vec<(String, Vec<u8>, &'static str)> = made
        .into_iter()
        .map(|v| (variant_name(v.size, v.kind), v.bytes, v.kind.content_type()))
        .collect();
    debug_assert!(
        named
            .iter()
            .all(|(n, ..)| VARIANTS.iter().any(|v| v.name() == *n))
    );
    let keys: Vec<String> = named
        .iter()
        .map(|(name, ..)| variant_key(&record.user_id, &record.id, name))
        .collect();
    // The encoders are deterministic: a retry writes the same bytes under the same keys.
    let puts = named
        .iter()
        .zip(&keys)
        .map(|((_, bytes, content_type), key)| deps.blobs.put(key, bytes.clone(), content_type));
    futures::future::try_join_all(puts).await?;
    let names: Vec<String> = named.into_iter().map(|(name, ..)| name).collect();
    if !deps
        .store
        .record_variants(&record.user_id, &record.id, &names)
        .await?
    {
        // Deleted while they were made: no object may outlive its asset.
        deps.blobs.delete(&keys).await?;
    }
    Ok(())
}

fn variant_name(size: Size, kind: Kind) -> String {
    format!("{}.{}", size.as_str(), kind.extension())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{MemoryBlobs, MemoryStore};
    use crate::app::in_memory;
    use crate::domain::assets::Lineage;
    use crate::domain::generation::OutputFormat;
    use crate::ports::Images;

    async fn stored(deps: &Deps<MemoryStore, MemoryBlobs>) -> ImageRecord {
        let img = imaging::procedural::render("a quay", 1, 0, 512, 384);
        let png = imaging::encode(&img, imaging::Format::Png, None).unwrap();
        let r = ImageRecord::new(
            "user_1",
            AssetKind::Image,
            OutputFormat::Png,
            (512, 384),
            png.len() as u64,
            Lineage::default(),
        );
        deps.blobs.put(&r.key, png, "image/png").await.unwrap();
        assert!(matches!(
            deps.store
                .put_images(std::slice::from_ref(&r), None, u64::MAX)
                .await,
            crate::domain::billing::WriteOutcome::Written
        ));
        r
    }

    #[tokio::test]
    async fn variants_are_stored_and_recorded() {
        let deps = in_memory();
        let r = stored(&deps).await;
        make_variants(&deps, &r).await.unwrap();
        let after = deps.store.image("user_1", &r.id).await.unwrap().unwrap();
        assert_eq!(
            after.variants,
            ["thumbnail.avif", "preview.webp", "preview.avif"]
        );
        for name in &after.variants {
            let key = variant_key("user_1", &r.id, name);
            assert!(deps.blobs.get(&key).await.unwrap().is_some(), "{key}");
        }
        assert!(after.variant("preview", "avif").is_some());
    }

    #[tokio::test]
    async fn an_image_deleted_meanwhile_leaves_no_variant_behind() {
        let deps = in_memory();
        let r = stored(&deps).await;
        assert!(
            deps.store
                .delete_images("user_1", std::slice::from_ref(&r), &[])
                .await
                .unwrap()
        );
        // Its object is still there (the deletion's second step had not run yet).
        make_variants(&deps, &r).await.unwrap();
        for v in VARIANTS {
            let key = variant_key("user_1", &r.id, &v.name());
            assert!(deps.blobs.get(&key).await.unwrap().is_none(), "{key}");
        }
    }
}
