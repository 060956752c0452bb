//! The AWS SDK's clients: where they come from (the region, and the emulator's endpoint off
//! AWS), built on first use and then kept for the life of the Lambda instance.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Where AWS clients come from: the region and, for the local emulator, its endpoint.
#[derive(Debug)]
pub struct AwsSource {
    region: String,
    endpoint: Option<String>,
    sdk: OnceCell<SdkConfig>,
}

impl AwsSource {
    /// `endpoint`: the local emulator's, or none on AWS.
    pub fn new(region: String, endpoint: Option<String>) -> Self {
        Self {
            region,
            endpoint,
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
