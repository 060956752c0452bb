//! Implementations of the ports over aws-sdk-rust.

pub mod dynamo;
pub mod s3;
