use lambda_http::{Error, Request, run, service_fn};
use std::convert::Infallible;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    // Configuration and AWS clients are built once per cold start and borrowed by every request.
    let deps = shared::Deps::from_env()?;
    let deps = &deps;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(web::handler(deps, req).await)
    }))
    .await
}
