use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::Deps;
use shared::domain::now_epoch;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let deps = Deps::from_env()?;
    let deps = &deps;
    run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            sweep_holds::handler(deps, event, now_epoch()).await
        },
    ))
    .await
}
