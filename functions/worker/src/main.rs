use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let deps = shared::Deps::from_env()?;
    let deps = &deps;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        worker::handler(deps, event, shared::domain::now_epoch()).await
    }))
    .await
}
