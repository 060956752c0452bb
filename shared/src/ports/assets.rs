//! Ports of the library: image records, uploads, object storage and staging for vendors.

use super::*;

pub trait Images: Send + Sync {
    /// Stores all records or none, all of one user's, and only if their bytes fit in what
    /// remains of `storage_quota` (else `NotWritten` with a 403 `storage_quota_exceeded`); the
    /// user's stored bytes grow in the same write. With a [`Settlement`], the same transaction
    /// settles its pending [`Hold`] and records the answer under the request's Idempotency-Key
    /// claim: the images, the charge for them and the replayable answer become final together.
    /// If the hold is no longer pending (its charge was given back) or the claim is no longer
    /// the request's, nothing is stored.
    fn put_images(
        &self,
        records: &[ImageRecord],
        settles: Option<&Settlement>,
        storage_quota: u64,
    ) -> impl Future<Output = WriteOutcome> + Send;
    fn image(
        &self,
        user_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<ImageRecord>, ApiError>> + Send;
    /// One page; the second value is the id to continue after, when there is more.
    fn list_images(
        &self,
        user_id: &str,
        kind: Option<AssetKind>,
        order: SortOrder,
        limit: usize,
        after: Option<&str>,
    ) -> impl Future<Output = Result<(Vec<ImageRecord>, Option<String>), ApiError>> + Send;
    /// Deletes the metadata of `images` (and their places in their lineages), re-points
    /// `reparent` children (id, new parent) and gives their bytes back to the user's storage
    /// in one write; `false` when one was already gone.
    fn delete_images(
        &self,
        user_id: &str,
        images: &[ImageRecord],
        reparent: &[(String, Option<String>)],
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
    /// The versions of the lineage whose first version is `root_id`, oldest first.
    fn versions(
        &self,
        user_id: &str,
        root_id: &str,
    ) -> impl Future<Output = Result<Vec<VersionEntry>, ApiError>> + Send;
    /// Changes title and/or tags; `None` when the image does not exist.
    fn update_image_meta(
        &self,
        user_id: &str,
        id: &str,
        title: Option<Option<String>>,
        tags: Option<Vec<String>>,
    ) -> impl Future<Output = Result<Option<ImageRecord>, ApiError>> + Send;
    /// Records the delivery variants an image now has; `false` when the image is gone.
    fn record_variants(
        &self,
        user_id: &str,
        id: &str,
        names: &[String],
    ) -> impl Future<Output = Result<bool, ApiError>> + Send;
}

pub trait Uploads: Send + Sync {
    fn create_upload(
        &self,
        upload: &UploadRecord,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn upload(
        &self,
        user_id: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<UploadRecord>, ApiError>> + Send;
}

/// Private object storage; objects leave it only through presigned URLs.
pub trait Blobs: Send + Sync {
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, ApiError>> + Send;
    /// Deletes every key; missing keys are not an error.
    fn delete(&self, keys: &[String]) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// A URL that reads the object, signed as `signing` says: the same key and signing give
    /// the same URL, so a client's cache recognises an object it already has.
    fn presign_get(
        &self,
        key: &str,
        signing: crate::domain::delivery::Signing,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;
    /// A presigned PUT with the content type and length bound into the signature.
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        bytes: u64,
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;
    /// The size of an object, or `None` when it does not exist.
    fn size(&self, key: &str) -> impl Future<Output = Result<Option<u64>, ApiError>> + Send;
}

/// Puts a vendor's input where the vendor can fetch it: inputs too large to send inline
/// (Replicate takes `data:` URIs up to about 256 KB) go as short-lived URLs instead.
pub trait Staging: Send + Sync {
    /// A URL the vendor may GET the bytes from, for a while.
    fn stage(
        &self,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> BoxFuture<'_, Result<String, ApiError>>;
}
