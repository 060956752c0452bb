//! The composition root: configuration, AWS clients (made on first use, then kept) and providers.

use crate::adapters::dynamo::DynamoStore;
use crate::adapters::s3::S3Blobs;
use crate::config::{Config, ConfigError};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::sync::Arc;
use tokio::sync::OnceCell;

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
        let aws = Arc::new(AwsSource::new(&config));
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

/// Where AWS clients come from: the region and, for the local emulator, its endpoint.
#[derive(Debug)]
pub struct AwsSource {
    region: String,
    endpoint: Option<String>,
    sdk: OnceCell<SdkConfig>,
}

impl AwsSource {
    pub fn new(config: &Config) -> Self {
        Self {
            region: config.aws_region.clone(),
            endpoint: config.aws_endpoint_url.clone(),
            sdk: OnceCell::new(),
        }
    }

    /// The local emulator, reached by an endpoint of its own.
    pub fn is_emulated(&self) -> bool {
        self.endpoint.is_some()
    }

    pub async fn sdk(&self) -> &SdkConfig {
        self.sdk
            .get_or_init(|| sdk_config(&self.region, self.endpoint.as_deref()))
            .await
    }
}

/// The SDK configuration. With an endpoint (the local emulator) it uses static dummy
/// credentials; otherwise the credentials Lambda puts in the environment, so that a cold start
/// never walks the default chain (profile files, IMDS) to find them.
pub async fn sdk_config(region: &str, endpoint: Option<&str>) -> SdkConfig {
    let loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string()));
    let loader = match endpoint {
        Some(url) => loader.endpoint_url(url).credentials_provider(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "emulator"),
        ),
        None => loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        ),
    };
    loader.load().await
}

pub fn dynamodb(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}

/// `path_style` for the emulator: virtual-host style would try `bucket.localhost`.
pub fn s3(sdk: &SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(path_style)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A client built on first use and then kept for the life of the Lambda instance.
pub struct Lazy<T>(Arc<LazyInner<T>>);

struct LazyInner<T> {
    cell: OnceCell<T>,
    source: Option<Arc<AwsSource>>,
    build: fn(&AwsSource, &SdkConfig) -> T,
}

impl<T> Lazy<T> {
    pub fn new(source: Arc<AwsSource>, build: fn(&AwsSource, &SdkConfig) -> T) -> Self {
        Self(Arc::new(LazyInner {
            cell: OnceCell::new(),
            source: Some(source),
            build,
        }))
    }

    /// A client that already exists (tests, tools).
    pub fn ready(client: T) -> Self {
        Self(Arc::new(LazyInner {
            cell: OnceCell::new_with(Some(client)),
            source: None,
            build: |_, _| unreachable!("a ready client is never built"),
        }))
    }

    pub async fn get(&self) -> &T {
        let inner = &*self.0;
        inner
            .cell
            // Boxed: the SDK's loading future is large, and every adapter call awaits this one.
            .get_or_init(|| {
                Box::pin(async {
                    let source = inner.source.as_ref().expect("set unless ready");
                    (inner.build)(source, source.sdk().await)
                })
            })
            .await
    }
}

impl<T> Clone for Lazy<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = if self.0.cell.initialized() {
            "built"
        } else {
            "not built yet"
        };
        write!(f, "Lazy({state})")
    }
}
