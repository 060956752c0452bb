//! The handler of every function crate, by function name (its `Handler`). A test checks this
//! against the template: no route without a handler, no handler without a route.

use futures::future::BoxFuture;
use lambda_http::Request;
use shared::Deps;
use shared::http::streaming::Reply;
use std::collections::BTreeMap;
use std::sync::Arc;

pub type HttpHandler = Arc<dyn Fn(Arc<Deps>, Request) -> BoxFuture<'static, Reply> + Send + Sync>;

macro_rules! with_deps {
    ($krate:ident) => {
        Arc::new(|deps: Arc<Deps>, req: Request| {
            Box::pin(async move { Reply::Whole($krate::handler(&deps, req).await) })
                as BoxFuture<'static, _>
        }) as HttpHandler
    };
}

/// A function some of whose routes stream (the bundle's `streaming` section).
macro_rules! streaming {
    ($krate:ident) => {
        Arc::new(|deps: Arc<Deps>, req: Request| {
            Box::pin($krate::streaming_handler(deps, req)) as BoxFuture<'static, _>
        }) as HttpHandler
    };
}

macro_rules! with_config {
    ($krate:ident) => {
        Arc::new(|deps: Arc<Deps>, req: Request| {
            Box::pin(async move { Reply::Whole($krate::handler(&deps.config, req).await) })
                as BoxFuture<'static, _>
        }) as HttpHandler
    };
}

macro_rules! without_deps {
    ($krate:ident) => {
        Arc::new(|_: Arc<Deps>, req: Request| {
            Box::pin(async move { Reply::Whole($krate::handler(req).await) })
                as BoxFuture<'static, _>
        }) as HttpHandler
    };
}

pub fn http_handlers() -> BTreeMap<&'static str, HttpHandler> {
    BTreeMap::from([
        ("register", with_deps!(register)),
        ("login", with_deps!(login)),
        ("refresh-token", with_deps!(refresh_token)),
        ("signout", with_deps!(signout)),
        ("me", with_deps!(me)),
        ("create-api-key", with_deps!(create_api_key)),
        ("list-api-keys", with_deps!(list_api_keys)),
        ("revoke-api-key", with_deps!(revoke_api_key)),
        ("update-api-key", with_deps!(update_api_key)),
        ("usage", with_deps!(usage)),
        ("webhook-secret", with_deps!(webhook_secret)),
        ("rotate-webhook-secret", with_deps!(rotate_webhook_secret)),
        ("generate-image", streaming!(generate_image)),
        ("list-images", with_deps!(list_images)),
        ("get-image", with_deps!(get_image)),
        ("list-versions", with_deps!(list_versions)),
        ("get-provenance", with_deps!(get_provenance)),
        ("download-image", with_deps!(download_image)),
        ("delete-image", with_deps!(delete_image)),
        ("edit-image", streaming!(edit_image)),
        ("image-variation", with_deps!(image_variation)),
        ("update-image", with_deps!(update_image)),
        ("transform-image", with_deps!(transform_image)),
        ("create-upload", with_deps!(create_upload)),
        ("complete-upload", with_deps!(complete_upload)),
        ("models", with_config!(models)),
        ("model-info", with_config!(model_info)),
        ("credit", with_deps!(credit)),
        ("random-prompts", with_deps!(random_prompts)),
        ("referral-link", with_deps!(referral_link)),
        ("web", with_deps!(web)),
        ("signin", with_deps!(signin)),
        ("signin-start", with_deps!(signin_start)),
        ("signin-callback", with_deps!(signin_callback)),
        ("admin-list-users", with_deps!(admin_list_users)),
        ("admin-get-user", with_deps!(admin_get_user)),
        ("admin-grant-credits", with_deps!(admin_grant_credits)),
        ("admin-disable-user", with_deps!(admin_disable_user)),
        ("admin-enable-user", with_deps!(admin_enable_user)),
        ("admin-set-role", with_deps!(admin_set_role)),
        ("admin-usage", with_deps!(admin_usage)),
        ("get-job", with_deps!(get_job)),
        ("list-jobs", with_deps!(list_jobs)),
        ("cancel-job", with_deps!(cancel_job)),
        ("create-video", with_deps!(create_video)),
        ("get-video", with_deps!(get_video)),
        ("list-videos", with_deps!(list_videos)),
        ("delete-video", with_deps!(delete_video)),
        ("video-content", with_deps!(video_content)),
        ("oauth-metadata", with_config!(oauth_metadata)),
        ("oauth-register", with_deps!(oauth_register)),
        ("oauth-authorize", with_deps!(oauth_authorize)),
        ("oauth-token", with_deps!(oauth_token)),
        (
            "mcp",
            Arc::new(|deps: Arc<Deps>, req: Request| {
                Box::pin(async move { Reply::Whole(mcp::handler(deps, req).await) })
                    as BoxFuture<'static, _>
            }) as HttpHandler,
        ),
        ("doc", without_deps!(doc)),
        ("not-found", without_deps!(not_found)),
    ])
}

pub type SqsHandler = Arc<
    dyn Fn(
            Arc<Deps>,
            Arc<QueueRef>,
            aws_lambda_events::event::sqs::SqsEvent,
        ) -> BoxFuture<'static, Result<SqsBatchResponse, lambda_runtime::Error>>
        + Send
        + Sync,
>;
use aws_lambda_events::event::sqs::SqsBatchResponse;

/// The queue a consumer reads, for those that change a message's visibility themselves.
pub struct QueueRef {
    pub sqs: aws_sdk_sqs::Client,
    pub url: String,
}

/// Functions fed by SQS rather than HTTP, by function name (its `Handler`).
pub fn sqs_handlers() -> BTreeMap<&'static str, SqsHandler> {
    let worker: SqsHandler = Arc::new(|deps, _, event| {
        Box::pin(async move {
            let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
            worker::handler(&deps, event, shared::domain::now_epoch()).await
        })
    });
    let dead_jobs: SqsHandler = Arc::new(|deps, _, event| {
        Box::pin(async move {
            let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
            dead_jobs::handler(&deps, event).await
        })
    });
    let deliver: SqsHandler = Arc::new(|deps, queue, event| {
        Box::pin(async move {
            let redelivery = deliver_webhook::SqsRedelivery {
                sqs: queue.sqs.clone(),
                queue_url: queue.url.clone(),
            };
            let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
            deliver_webhook::handler(&deps, &redelivery, event, shared::domain::now_epoch()).await
        })
    });
    BTreeMap::from([
        ("worker", worker),
        ("dead-jobs", dead_jobs),
        ("deliver-webhook", deliver),
    ])
}

pub type ScheduledHandler = Arc<dyn Fn(Arc<Deps>) -> BoxFuture<'static, ()> + Send + Sync>;

/// Functions run on a schedule, by function name (its `Handler`); each run gets a scheduled
/// event, as from EventBridge.
pub fn scheduled_handlers() -> BTreeMap<&'static str, ScheduledHandler> {
    BTreeMap::from([(
        "sweep-holds",
        Arc::new(|deps: Arc<Deps>| {
            Box::pin(async move {
                let event = lambda_runtime::LambdaEvent::new(
                    aws_lambda_events::event::eventbridge::EventBridgeEvent::default(),
                    lambda_runtime::Context::default(),
                );
                let now = shared::domain::now_epoch();
                if let Err(e) = sweep_holds::handler(&deps, event, now).await {
                    tracing::warn!(error = %e, "scheduled sweep-holds failed");
                }
            }) as BoxFuture<'static, ()>
        }) as ScheduledHandler,
    )])
}

pub type StreamHandler = Arc<
    dyn Fn(
            Arc<Deps>,
            aws_lambda_events::event::dynamodb::Event,
        ) -> BoxFuture<
            'static,
            Result<aws_lambda_events::event::streams::DynamoDbEventResponse, lambda_runtime::Error>,
        > + Send
        + Sync,
>;

/// The functions fed by a table's stream.
pub fn stream_handlers() -> BTreeMap<&'static str, StreamHandler> {
    let announce: StreamHandler = Arc::new(|deps, event| {
        Box::pin(async move {
            let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
            announce::handler(&deps, event).await
        })
    });
    let variants: StreamHandler = Arc::new(|deps, event| {
        Box::pin(async move {
            let event = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
            make_variants::handler(&deps, event).await
        })
    });
    BTreeMap::from([("announce", announce), ("make-variants", variants)])
}
