//! The library every Lambda of the image API links, one module per layer: pure domain rules,
//! ports (traits), use cases (the flows handlers call), HTTP glue, vendors' providers and the
//! AWS adapters. Pixels live in the `imaging` crate, linked only with the `images` feature.

pub mod app;
pub mod bootstrap;
pub mod config;
pub mod error;
pub mod secrets;
pub mod telemetry;

pub mod domain;
pub mod messages;
pub mod ports;
pub mod usecases;
pub mod wire;

pub mod http;
#[cfg(feature = "images")]
pub mod providers;

pub mod adapters;

pub use adapters::dynamo::DynamoStore;
pub use adapters::s3::S3Blobs;
pub use app::Deps;
pub use config::Config;
pub use error::ApiError;
