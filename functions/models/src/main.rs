use lambda_http::{Error, Request, run, service_fn};
use std::convert::Infallible;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Only the configuration is needed: which vendors have keys decides which models exist.
    let config = shared::Config::from_env()?;
    let config = &config;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(models::handler(config, req).await)
    }))
    .await
}
