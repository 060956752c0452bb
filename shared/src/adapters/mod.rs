//! Implementations of the ports: over aws-sdk-rust, and in memory for the use-case tests.

pub mod aws;
pub mod cloudfront;
pub mod dynamo;
pub mod eventbridge;
pub mod memory;
pub mod s3;
pub mod sqs;
