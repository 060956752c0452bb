//! The library every Lambda of the image API links: domain rules, ports, AWS adapters,
//! HTTP glue, configuration and the one error type.

pub mod adapters;
pub mod api;
pub mod auth;
pub mod aws;
pub mod charges;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod imaging;
pub mod inpaint;
pub mod inputs;
pub mod multipart;
pub mod openapi;
pub mod ports;
pub mod providers;
pub mod telemetry;

pub mod service;
pub mod transform;

pub use adapters::dynamo::DynamoStore;
pub use adapters::s3::S3Blobs;
pub use config::Config;
pub use error::ApiError;

/// What a handler needs, built once per cold start and borrowed by every invocation.
pub struct Deps<S = DynamoStore, B = S3Blobs> {
    pub config: Config,
    pub store: S,
    pub blobs: B,
    pub providers: providers::Providers,
}

impl Deps<DynamoStore> {
    /// Reads the configuration and builds the AWS clients; fails fast naming what is wrong.
    pub async fn from_env() -> Result<Self, config::ConfigError> {
        Ok(Self::from_config(Config::from_env()?).await)
    }

    pub async fn from_config(config: Config) -> Self {
        let sdk = aws::sdk_config(&config).await;
        let store = DynamoStore::new(aws::dynamodb(&sdk), config.table_name.clone());
        let blobs = S3Blobs::new(aws::s3(&sdk, &config), config.bucket_name.clone());
        let providers = providers::Providers::from_config(&config);
        Self {
            config,
            store,
            blobs,
            providers,
        }
    }
}
