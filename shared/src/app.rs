//! The composition root: configuration, the adapters behind each port (AWS clients made on first
//! use, then kept) and the providers. The only module of `shared` that names adapters.

use crate::adapters::aws::{AwsSource, Lazy, dynamodb, s3};
use crate::adapters::dynamo::DynamoStore;
use crate::adapters::eventbridge::{EventBus, NoEvents};
use crate::adapters::memory::{MemoryBlobs, MemoryQueue, MemoryStore};
use crate::adapters::s3::S3Blobs;
use crate::config::{Config, ConfigError};
use crate::ports::{Events, Queue};
use std::sync::Arc;

/// What a handler needs, over DynamoDB and S3 unless a test names other adapters.
pub type Deps<S = DynamoStore, B = S3Blobs> = crate::usecases::Deps<S, B>;

impl Deps<DynamoStore, S3Blobs> {
    /// Reads the configuration; fails fast naming what is wrong. No AWS client is built here:
    /// a request that needs none (a 401, the catalog) pays for none.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::from_config(Config::from_env()?))
    }

    pub fn from_config(config: Config) -> Self {
        let aws = Arc::new(AwsSource::new(
            config.aws.region.clone(),
            config.aws.endpoint_url.clone(),
        ));
        let dynamo = Lazy::new(aws.clone(), |_, sdk| dynamodb(sdk));
        let s3 = Lazy::new(aws.clone(), |aws, sdk| s3(sdk, aws.is_emulated()));
        let queues = queues(&aws, &config);
        let events: Arc<dyn Events> = match config.aws.event_bus_name.clone() {
            Some(bus) => {
                let client = Lazy::new(aws, |_, sdk| aws_sdk_eventbridge::Client::new(sdk));
                Arc::new(EventBus::new(client, bus))
            }
            None => Arc::new(NoEvents),
        };
        let store = DynamoStore::new(dynamo, config.aws.table_name.clone());
        let blobs = S3Blobs::new(s3, config.aws.bucket_name.clone())
            .with_public_base(config.aws.presigned_url_base.clone())
            .with_cdn(config.delivery.cdn.as_ref().map(|c| {
                crate::adapters::cloudfront::CloudFrontUrls::new(
                    &c.domain,
                    &c.key_id,
                    c.private_key.clone(),
                )
            }));
        #[cfg(feature = "images")]
        let circuits = Arc::new(store.clone());
        #[cfg(feature = "images")]
        let staging = Arc::new(blobs.clone());
        #[allow(unused_mut)]
        let mut deps = Deps {
            events,
            queues,
            ..Deps::with(config, store, blobs)
        };
        #[cfg(feature = "images")]
        deps.providers.set_circuits(circuits);
        #[cfg(feature = "images")]
        deps.providers.set_staging(staging);
        deps
    }
}

/// SQS with the `queue` feature; a function built without it has nothing to send.
fn queues(aws: &Arc<AwsSource>, config: &Config) -> Arc<dyn Queue> {
    #[cfg(feature = "queue")]
    {
        let client = Lazy::new(aws.clone(), |_, sdk| aws_sdk_sqs::Client::new(sdk));
        Arc::new(crate::adapters::sqs::SqsQueues::new(
            client,
            config.aws.queue_url.clone(),
            config.aws.webhook_queue_url.clone(),
        ))
    }
    #[cfg(not(feature = "queue"))]
    {
        let _ = (aws, config);
        Arc::new(crate::adapters::sqs::NoQueue)
    }
}

impl<S, B> Deps<S, B> {
    /// Deps over any store and object storage (the in-memory adapters in use-case tests): queues
    /// that keep what they are sent, and no event bus.
    pub fn with(config: Config, store: S, blobs: B) -> Self {
        Self {
            #[cfg(feature = "images")]
            providers: crate::providers::Providers::from_config(&config.vendors),
            #[cfg(feature = "provenance")]
            credentials: Default::default(),
            config,
            store,
            blobs,
            failed_auth: Default::default(),
            api_keys: Default::default(),
            events: Arc::new(NoEvents),
            queues: Arc::new(MemoryQueue::default()),
        }
    }
}

/// Deps over fresh in-memory adapters, with a configuration fit for tests.
pub fn in_memory() -> Deps<MemoryStore, MemoryBlobs> {
    let config = Config::from_lookup(|k| match k {
        "TABLE_NAME" | "BUCKET_NAME" | "QUEUE_URL" => Some("memory".into()),
        "JWT_SECRET" => Some("x".repeat(crate::config::MIN_JWT_SECRET_BYTES)),
        _ => None,
    })
    .expect("a test configuration");
    Deps::with(config, MemoryStore::default(), MemoryBlobs::default())
}
