use lambda_http::{Error, Request, run, service_fn};
use std::convert::Infallible;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    run(service_fn(|req: Request| async {
        Ok::<_, Infallible>(not_found::handler(req).await)
    }))
    .await
}
