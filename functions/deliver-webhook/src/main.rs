use aws_lambda_events::event::sqs::SqsEvent;
use deliver_webhook::SqsRedelivery;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let deps = shared::Deps::from_env()?;
    let sdk = shared::app::sdk_config(
        &deps.config.aws_region,
        deps.config.aws_endpoint_url.as_deref(),
    )
    .await;
    let redelivery = SqsRedelivery {
        sqs: aws_sdk_sqs::Client::new(&sdk),
        queue_url: deps
            .config
            .webhook_queue_url
            .clone()
            .ok_or("WEBHOOK_QUEUE_URL is not set")?,
    };
    let (deps, redelivery) = (&deps, &redelivery);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        deliver_webhook::handler(deps, redelivery, event, shared::domain::now_epoch()).await
    }))
    .await
}
