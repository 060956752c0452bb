//! The composition root: configuration, AWS clients (made on first use, then kept) and providers.

use crate::adapters::aws::{AwsSource, Lazy, dynamodb, s3};
use crate::adapters::dynamo::DynamoStore;
use crate::adapters::s3::S3Blobs;
use crate::config::{Config, ConfigError};
use std::sync::Arc;

/// What a handler needs, built once per cold start and borrowed by every invocation.
pub struct Deps<S = DynamoStore, B = S3Blobs> {
    pub config: Config,
    pub store: S,
    pub blobs: B,
    #[cfg(feature = "images")]
    pub providers: crate::providers::Providers,
    /// Addresses over the failed-authentication limit, as this instance has seen them.
    pub failed_auth: crate::http::FailedAuth,
    /// API keys this instance has looked up (liveness is checked on every request).
    pub api_keys: crate::http::KnownKeys,
    /// Where changes are announced to other systems (nowhere unless a bus is configured).
    pub events: crate::adapters::events::EventBus,
    /// The generation queue (jobs) and the webhook queue (deliveries).
    pub queues: crate::adapters::queue::Queues,
}

impl Deps<DynamoStore> {
    /// Reads the configuration; fails fast naming what is wrong. No AWS client is built here:
    /// a request that needs none (a 401, the catalog) pays for none.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self::from_config(Config::from_env()?))
    }

    pub fn from_config(config: Config) -> Self {
        let aws = Arc::new(AwsSource::new(
            config.aws_region.clone(),
            config.aws_endpoint_url.clone(),
        ));
        let dynamo = Lazy::new(aws.clone(), |_, sdk| dynamodb(sdk));
        let s3 = Lazy::new(aws.clone(), |aws, sdk| s3(sdk, aws.is_emulated()));
        let queues = crate::adapters::queue::Queues::deployed(
            aws.clone(),
            config.queue_url.clone(),
            config.webhook_queue_url.clone(),
        );
        let events = config.event_bus_name.clone().map(|bus| {
            let client = Lazy::new(aws, |_, sdk| aws_sdk_eventbridge::Client::new(sdk));
            crate::adapters::events::EventBus::new(client, bus)
        });
        let store = DynamoStore::new(dynamo, config.table_name.clone());
        let blobs = S3Blobs::new(s3, config.bucket_name.clone())
            .with_public_base(config.presigned_url_base.clone());
        #[cfg(feature = "images")]
        let circuits = Arc::new(store.clone());
        #[cfg(feature = "images")]
        let staging = Arc::new(blobs.clone());
        #[allow(unused_mut)]
        let mut deps = Deps {
            events: events.unwrap_or_default(),
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

impl<S, B> Deps<S, B> {
    /// Deps over any store and object storage (the in-memory adapters in use-case tests).
    pub fn with(config: Config, store: S, blobs: B) -> Self {
        Self {
            #[cfg(feature = "images")]
            providers: crate::providers::Providers::from_config(&config),
            config,
            store,
            blobs,
            failed_auth: Default::default(),
            api_keys: Default::default(),
            events: Default::default(),
            queues: Default::default(),
        }
    }
}
