//! The library every Lambda of the image API links: domain rules, ports, AWS adapters,
//! HTTP glue, configuration and the one error type.

pub mod adapters;
pub mod api;
pub mod auth;
pub mod aws;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod openapi;
pub mod ports;
pub mod telemetry;

pub use adapters::dynamo::DynamoStore;
pub use config::Config;
pub use error::ApiError;

/// What a handler needs, built once per cold start and borrowed by every invocation.
pub struct Deps<S = DynamoStore> {
    pub config: Config,
    pub store: S,
}

impl Deps<DynamoStore> {
    /// Reads the configuration and builds the AWS clients; fails fast naming what is wrong.
    pub async fn from_env() -> Result<Self, config::ConfigError> {
        Ok(Self::from_config(Config::from_env()?).await)
    }

    pub async fn from_config(config: Config) -> Self {
        let sdk = aws::sdk_config(&config).await;
        let store = DynamoStore::new(aws::dynamodb(&sdk), config.table_name.clone());
        Self { config, store }
    }
}
