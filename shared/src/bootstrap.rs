//! What a Lambda's `bootstrap` runs. Functions share a binary by what they link (a bundle
//! under `infra/bundles/`: core without image codecs, media with them); each is still its own
//! Lambda, and Lambda hands the function's `Handler` to the process as `_HANDLER`, which picks
//! the function it serves.

use crate::Deps;
use crate::http::streaming::{self, Chunks, Reply};
use aws_lambda_events::event::dynamodb::EventRecord as DynamoDbRecord;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
pub use lambda_http::Error;
use lambda_http::{Body, LambdaEvent, Request, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::future::Future;

/// Serves API Gateway requests with `handler` until the process ends. Configuration and AWS
/// clients are built once per cold start and live as long as the process.
pub async fn serve_http<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(&'static Deps, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    serve_http_with(Deps::from_env()?, handler).await
}

/// `serve_http` for a handler that needs less than `Deps` (the catalog needs the configuration
/// alone, the OpenAPI document nothing).
pub async fn serve_http_with<T, F, Fut>(state: T, handler: F) -> Result<(), Error>
where
    T: Sync + 'static,
    F: Fn(&'static T, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let state: &'static T = Box::leak(Box::new(state));
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let answer = handler(state, req);
        async move { Ok::<_, Infallible>(answer.await) }
    }))
    .await
}

/// `serve_http` for a function some of whose routes stream: requests from the REST API's
/// streaming integration (payload 1.0) are answered in Lambda's streaming mode, those from the
/// HTTP API (2.0) in its buffered mode, so one function serves both.
pub async fn serve_streaming<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(&'static Deps, Request) -> Fut,
    Fut: Future<Output = Reply> + Send + 'static,
{
    use lambda_http::RequestExt;
    use lambda_http::lambda_runtime::FunctionResponse;
    use lambda_http::request::{LambdaRequest, RequestOrigin};
    let deps: &'static Deps = Box::leak(Box::new(Deps::from_env()?));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: LambdaEvent<LambdaRequest>| {
            let LambdaEvent { payload, context } = event;
            let rest = matches!(payload.request_origin(), RequestOrigin::ApiGatewayV1);
            let request = Request::from(payload).with_lambda_context(context);
            // Boxed: a handler's future is deep, too deep to lay out inline here.
            let answer = Box::pin(handler(deps, request));
            async move {
                let reply = answer.await;
                Ok::<_, Error>(if rest {
                    FunctionResponse::StreamingResponse(streamed(reply))
                } else {
                    FunctionResponse::BufferedResponse(buffered(streaming::whole(reply).await))
                })
            }
        },
    ))
    .await
}

/// An answer in Lambda's streaming mode: the status, headers and cookies first, then the body.
fn streamed(reply: Reply) -> lambda_http::lambda_runtime::StreamResponse<Chunks> {
    use futures::StreamExt;
    let (parts, body) = match reply {
        Reply::Streaming(r) => r.into_parts(),
        Reply::Whole(r) => {
            let (parts, body) = r.into_parts();
            let bytes = streaming::body_bytes(body);
            let once = futures::stream::once(async move { Ok::<_, Infallible>(bytes) });
            (parts, once.boxed())
        }
    };
    let mut headers = parts.headers;
    let cookies = take_cookies(&mut headers);
    lambda_http::lambda_runtime::StreamResponse {
        metadata_prelude: lambda_http::lambda_runtime::MetadataPrelude {
            status_code: parts.status,
            headers,
            cookies,
        },
        stream: body,
    }
}

/// An answer as the HTTP API's payload 2.0 response.
fn buffered(
    response: Response<Body>,
) -> lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut out = lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse::default();
    out.status_code = parts.status.as_u16().into();
    out.is_base64_encoded = matches!(body, Body::Binary(_));
    out.body = match body {
        Body::Empty => None,
        b => Some(b),
    };
    let mut headers = parts.headers;
    out.cookies = take_cookies(&mut headers);
    out.headers = headers;
    out
}

/// The `Set-Cookie` headers, which both answer formats carry as a list of their own.
fn take_cookies(headers: &mut http::HeaderMap) -> Vec<String> {
    let cookies = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .map(|c| String::from_utf8_lossy(c.as_bytes()).into_owned())
        .collect();
    headers.remove(http::header::SET_COOKIE);
    cookies
}

/// `serve_http` for functions fed by events (SQS batches, schedules) instead of requests.
pub async fn serve_events<E, R, F, Fut>(handler: F) -> Result<(), Error>
where
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(&'static Deps, LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<R, Error>> + Send + 'static,
{
    let deps: &'static Deps = Box::leak(Box::new(Deps::from_env()?));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(move |event| handler(deps, event)))
        .await
}

/// An SQS batch, its messages handled all at once: those `handle` does not finish (`false`)
/// are reported as batch item failures, so that SQS delivers only them again. A message
/// without an id cannot be reported: it is acknowledged, and logged, rather than failing the
/// whole batch.
pub async fn partial_batch<'a, F, Fut>(records: &'a [SqsMessage], handle: F) -> SqsBatchResponse
where
    F: Fn(&'a SqsMessage) -> Fut,
    Fut: Future<Output = bool>,
{
    let done = futures::future::join_all(records.iter().map(handle)).await;
    let mut response = SqsBatchResponse::default();
    for (record, done) in records.iter().zip(done) {
        match record.message_id.clone().filter(|id| !id.is_empty()) {
            Some(id) if !done => response.add_failure(id),
            None if !done => {
                tracing::error!("message without id: acknowledged to avoid a poison batch")
            }
            _ => {}
        }
    }
    response
}

/// A DynamoDB stream batch, its records handled one after another in order: the first that
/// `handle` fails is reported (with its sequence number) and the rest are not tried, so that
/// Lambda brings the batch back from that record. Records before it are done for good.
pub async fn stream_batch<'a, F, Fut>(
    records: &'a [DynamoDbRecord],
    handle: F,
) -> DynamoDbEventResponse
where
    F: Fn(&'a DynamoDbRecord) -> Fut,
    Fut: Future<Output = Result<(), crate::ApiError>>,
{
    let mut response = DynamoDbEventResponse::default();
    for record in records {
        if let Err(e) = handle(record).await {
            let sequence = record.change.sequence_number.clone();
            tracing::error!(event_id = %record.event_id, sequence = ?sequence, error = %e, "record not handled: it comes again");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}

/// The function named by `_HANDLER`, among those a bundle serves.
pub fn chosen<'a>(handler: Option<&str>, served: &[&'a str]) -> Result<&'a str, Error> {
    let Some(handler) = handler.filter(|h| !h.is_empty()) else {
        return Err(format!(
            "_HANDLER is not set: the function's Handler must name one of {}",
            served.join(", ")
        )
        .into());
    };
    served
        .iter()
        .copied()
        .find(|s| *s == handler)
        .ok_or_else(|| {
            format!(
                "Handler {handler:?} is not served by this bootstrap, which serves {}",
                served.join(", ")
            )
            .into()
        })
}

/// A multi-thread runtime, as `#[tokio::main]` makes.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// The `main` of a bundle. `http` functions are served by `serve_http` with their crate's
/// `handler`, `streaming` ones by `serve_streaming` with their `streaming_handler`; the others
/// (`own`) start through their crate's own `serve()`.
#[macro_export]
macro_rules! bootstrap {
    (
        http: { $($http:literal => $http_crate:ident),* $(,)? },
        $(streaming: { $($streaming:literal => $streaming_crate:ident),* $(,)? },)?
        own: { $($own:literal => $own_crate:ident),* $(,)? } $(,)?
    ) => {
        fn main() -> Result<(), $crate::bootstrap::Error> {
            $crate::telemetry::init();
            let handler = std::env::var("_HANDLER").ok();
            let served = [$($http,)* $($($streaming,)*)? $($own,)*];
            let name = $crate::bootstrap::chosen(handler.as_deref(), &served)?;
            let runtime = $crate::bootstrap::runtime()?;
            $(if name == $http {
                return runtime.block_on($crate::bootstrap::serve_http($http_crate::handler));
            })*
            $($(if name == $streaming {
                return runtime.block_on($crate::bootstrap::serve_streaming(
                    $streaming_crate::streaming_handler,
                ));
            })*)?
            $(if name == $own {
                return runtime.block_on($own_crate::serve());
            })*
            unreachable!("chosen() returns a served name")
        }
    };
}

#[cfg(test)]
mod tests {
    use super::chosen;

    #[test]
    fn the_handler_picks_one_of_the_served_functions() {
        let served = ["me", "login"];
        assert_eq!(chosen(Some("login"), &served).unwrap(), "login");
        let unknown = chosen(Some("worker"), &served).unwrap_err().to_string();
        assert!(
            unknown.contains("\"worker\"") && unknown.contains("me, login"),
            "{unknown}"
        );
        let unset = chosen(None, &served).unwrap_err().to_string();
        assert!(unset.contains("_HANDLER is not set"), "{unset}");
        assert!(chosen(Some(""), &served).is_err());
    }
}
