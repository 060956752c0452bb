//! S3 adapter: private objects, reached by clients only through presigned GET URLs.

use crate::adapters::aws::Lazy;
use crate::adapters::cloudfront::CloudFrontUrls;
use crate::domain::delivery::{OBJECT_CACHE_CONTROL, PRIVATE_CACHE_CONTROL, Signing};
use crate::error::ApiError;
use crate::ports::Blobs;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct S3Blobs {
    client: Lazy<Client>,
    bucket: String,
    /// Local stack only: presigned URLs name this origin and path instead of the emulator's,
    /// which the gateway serves, so a browser anywhere reaches them through the API's origin.
    public_base: Option<String>,
    /// `DELIVERY=cloudfront`: reads go through the distribution's signed URLs instead.
    cdn: Option<CloudFrontUrls>,
}

impl S3Blobs {
    pub fn new(client: Lazy<Client>, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            public_base: None,
            cdn: None,
        }
    }

    pub fn with_cdn(mut self, cdn: Option<CloudFrontUrls>) -> Self {
        self.cdn = cdn;
        self
    }

    pub fn with_public_base(mut self, base: Option<String>) -> Self {
        self.public_base = base;
        self
    }

    /// A presigned URL as clients should see it.
    fn published(&self, uri: &str) -> String {
        let Some(base) = &self.public_base else {
            return uri.to_string();
        };
        // `scheme://host:port/bucket/key?query` → `<base>/bucket/key?query`.
        let path = uri
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("/");
        format!("{}{path}", base.trim_end_matches('/'))
    }
}

fn s3_error(op: &str, e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::internal(format!("s3 {op}: {}", DisplayErrorContext(e)))
}

impl Blobs for S3Blobs {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), ApiError> {
        self.client
            .get()
            .await
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            // Keys never get new content (a new version is a new key).
            .cache_control(OBJECT_CACHE_CONTROL)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s3_error("put", e))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, ApiError> {
        match self
            .client
            .get()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let data = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| s3_error("get body", e))?;
                Ok(Some(data.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(s3_error("get", e)),
        }
    }

    async fn delete(&self, keys: &[String]) -> Result<(), ApiError> {
        if keys.is_empty() {
            return Ok(());
        }
        let objects = keys
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| s3_error("delete", e))?;
        let out = self
            .client
            .get()
            .await
            .delete_objects()
            .bucket(&self.bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .map_err(|e| s3_error("delete", e))?,
            )
            .send()
            .await
            .map_err(|e| s3_error("delete", e))?;
        if let Some(err) = out.errors().first() {
            return Err(ApiError::internal(format!(
                "s3 delete of {:?} failed: {:?}",
                err.key(),
                err.message()
            )));
        }
        Ok(())
    }

    async fn presign_get(&self, key: &str, signing: Signing) -> Result<String, ApiError> {
        if let Some(cdn) = &self.cdn {
            return cdn.sign(key, signing.expires_at()).await;
        }
        let config = PresigningConfig::builder()
            .start_time(
                std::time::UNIX_EPOCH + Duration::from_secs(signing.signed_at.max(0) as u64),
            )
            .expires_in(signing.valid_for)
            .build()
            .map_err(|e| s3_error("presign", e))?;
        let req = self
            .client
            .get()
            .await
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            // A presigned URL is one user's: their browser may keep it, a shared cache may not.
            .response_cache_control(PRIVATE_CACHE_CONTROL)
            .presigned(config)
            .await
            .map_err(|e| s3_error("presign", e))?;
        Ok(self.published(req.uri()))
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        bytes: u64,
        ttl: Duration,
    ) -> Result<String, ApiError> {
        let config = PresigningConfig::expires_in(ttl).map_err(|e| s3_error("presign", e))?;
        let req = self
            .client
            .get()
            .await
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(bytes as i64)
            .presigned(config)
            .await
            .map_err(|e| s3_error("presign", e))?;
        Ok(self.published(req.uri()))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self
            .client
            .get()
            .await
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length.unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(s3_error("head", e)),
        }
    }
}

/// How long a vendor may take to fetch a staged input: a job's whole budget.
const STAGED_INPUT_TTL: Duration = Duration::from_secs(3600);

impl crate::ports::Staging for S3Blobs {
    fn stage(
        &self,
        bytes: Vec<u8>,
        content_type: &'static str,
    ) -> futures::future::BoxFuture<'_, Result<String, ApiError>> {
        Box::pin(async move {
            use crate::ports::Blobs;
            // Under tmp/, which the bucket expires after a day: no input outlives its use long.
            let key = format!("tmp/vendor-inputs/{}", uuid::Uuid::new_v4());
            self.put(&key, bytes, content_type).await?;
            let now = crate::domain::now_epoch();
            self.presign_get(&key, Signing::fresh(now, STAGED_INPUT_TTL))
                .await
        })
    }
}
