//! Implementations of the ports: over aws-sdk-rust, and in memory for the use-case tests.

pub mod aws;
pub mod dynamo;
pub mod events;
pub mod memory;
pub mod queue;
pub mod s3;
