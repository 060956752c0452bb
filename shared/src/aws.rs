//! One SDK configuration for every AWS client, with the endpoint override the emulator needs.

use crate::config::Config;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Built once per cold start. With `AWS_ENDPOINT_URL` set (the local emulator) it uses static
/// dummy credentials so the SDK never probes instance metadata.
pub async fn sdk_config(config: &Config) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.aws_region.clone()));
    if let Some(url) = &config.aws_endpoint_url {
        loader = loader.endpoint_url(url).credentials_provider(
            aws_sdk_dynamodb::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "local-emulator",
            ),
        );
    }
    loader.load().await
}

pub fn dynamodb(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(sdk)
}

/// Path-style addressing: virtual-host style would try `bucket.localhost` against the emulator.
pub fn s3(sdk: &SdkConfig, config: &Config) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(config.aws_endpoint_url.is_some())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

pub fn sqs(sdk: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(sdk)
}
