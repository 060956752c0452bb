//! Answers that stream: with `stream: true`, partial images reach the client as the vendor
//! makes them, on a transport that carries a stream (API Gateway's REST API with response
//! streaming, and the local gateway's `/stream` stage). On the HTTP API, which buffers every
//! answer, the same events come at once, with the final images.

#[cfg(feature = "images")]
use crate::providers::{PartialImage, Partials};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt};
#[cfg(feature = "images")]
use http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
#[cfg(feature = "images")]
use serde_json::{Value, json};
use std::convert::Infallible;

/// A body sent as it is made.
pub type Chunks = BoxStream<'static, Result<Bytes, Infallible>>;

pub enum Reply {
    /// The whole answer at once.
    Whole(Response<Body>),
    /// Status and headers now, the body as it comes.
    Streaming(Response<Chunks>),
}

impl From<Response<Body>> for Reply {
    fn from(r: Response<Body>) -> Self {
        Reply::Whole(r)
    }
}

/// Whether the request came through a transport that streams answers: the REST API's
/// streaming integration sends payload 1.0 events; the HTTP API sends 2.0 and buffers.
pub fn streams(req: &Request) -> bool {
    matches!(
        req.request_context_ref(),
        Some(RequestContext::ApiGatewayV1(_))
    )
}

/// Answers `req` with `body` (a handler's whole answer, given its context and where partial
/// images go): where the transport streams, through [`partial_images`], else whole.
#[cfg(feature = "images")]
pub async fn serve<D, F, Fut>(
    deps: D,
    req: Request,
    function: &'static str,
    prefix: &'static str,
    body: F,
) -> Reply
where
    F: FnOnce(D, Request, super::Ctx, Option<Partials>) -> Fut,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    let ctx = super::Ctx::new(&req, function);
    if !streams(&req) {
        return Reply::Whole(body(deps, req, ctx, None).await);
    }
    let request_id = ctx.request_id.clone();
    partial_images(prefix, request_id, move |sink| {
        body(deps, req, ctx, Some(sink))
    })
    .await
}

/// Runs `work` (a handler's whole answer, given where partial images go) and answers with its
/// partial images as they come, `prefix` naming their events (`image_generation`). The head
/// waits for the first partial image: an answer that is ready, or has failed, before any is
/// the ordinary answer, its status and all. After the first one, the final events follow
/// the partial images, and a failure becomes the stream's `error` event.
#[cfg(feature = "images")]
pub async fn partial_images<F, Fut>(prefix: &'static str, request_id: String, work: F) -> Reply
where
    F: FnOnce(Partials) -> Fut,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    use futures::stream;
    let (sink, mut partials) = Partials::channel();
    let mut task = tokio::spawn(work(sink));
    let first = tokio::select! {
        biased;
        done = &mut task => return Reply::Whole(finished(done)),
        p = partials.recv() => p,
    };
    let Some(first) = first else {
        return Reply::Whole(finished(task.await));
    };
    let mut events = Events::new(prefix);
    let head = events.partial(first);
    let rest = stream::unfold(
        (partials, Some(task), events),
        move |(mut partials, task, mut events)| async move {
            if let Some(p) = partials.recv().await {
                let chunk = events.partial(p);
                return Some((chunk, (partials, task, events)));
            }
            // Every partial image is out (the sink went with the work): the final events.
            let done = finished(task?.await);
            Some((final_events(done, prefix), (partials, None, events)))
        },
    );
    let body = stream::once(async move { head })
        .chain(rest)
        .map(Ok::<_, Infallible>)
        .boxed();
    let response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-store")
        .header("x-request-id", request_id)
        .body(body)
        .expect("static head");
    Reply::Streaming(response)
}

#[cfg(feature = "images")]
fn finished(done: Result<Response<Body>, tokio::task::JoinError>) -> Response<Body> {
    done.unwrap_or_else(|e| {
        tracing::error!(error = %e, "the answer's work panicked");
        super::error_response(&crate::error::ApiError::internal(e))
    })
}

/// The events after the partial images: the answer's own (its `completed` events) if it
/// succeeded, else its error as an `error` event, as OpenAI's streams end on failure.
#[cfg(feature = "images")]
fn final_events(done: Response<Body>, prefix: &str) -> Bytes {
    let (parts, body) = done.into_parts();
    let bytes = body_bytes(body);
    let is_stream = parts
        .headers
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if parts.status.is_success() && is_stream {
        return bytes;
    }
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let error = match answer.get("error") {
        Some(e) if e.is_object() => e.clone(),
        _ => json!({
            "message": format!("the {prefix} ended without an image (status {})", parts.status.as_u16()),
            "type": "server_error",
            "param": null,
            "code": null,
        }),
    };
    let body = json!({"type": "error", "error": error});
    Bytes::from(format!("event: error\ndata: {body}\n\n"))
}

/// Partial-image events as OpenAI's streams write them, numbered per image.
#[cfg(feature = "images")]
struct Events {
    prefix: &'static str,
    created_at: i64,
    /// How many partial images each image has had.
    counts: Vec<u32>,
}

#[cfg(feature = "images")]
impl Events {
    fn new(prefix: &'static str) -> Self {
        Self {
            prefix,
            created_at: crate::domain::now_epoch(),
            counts: Vec::new(),
        }
    }

    fn partial(&mut self, p: PartialImage) -> Bytes {
        if self.counts.len() <= p.image {
            self.counts.resize(p.image + 1, 0);
        }
        let index = self.counts[p.image];
        self.counts[p.image] += 1;
        let kind = format!("{}.partial_image", self.prefix);
        let body = json!({
            "type": kind,
            "b64_json": p.b64,
            "partial_image_index": index,
            "created_at": self.created_at,
            "size": p.size,
            "quality": p.quality,
            "background": p.background,
            "output_format": p.output_format,
        });
        Bytes::from(format!("event: {kind}\ndata: {body}\n\n"))
    }
}

/// A whole answer's body as bytes, to send as one chunk.
pub fn body_bytes(body: Body) -> Bytes {
    match body {
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    }
}

/// A streaming answer read whole, for a transport that buffers.
pub async fn whole(reply: Reply) -> Response<Body> {
    match reply {
        Reply::Whole(r) => r,
        Reply::Streaming(r) => {
            let (parts, body) = r.into_parts();
            let chunks: Vec<Result<Bytes, Infallible>> = body.collect().await;
            let text: Vec<u8> = chunks.into_iter().flatten().flatten().collect();
            Response::from_parts(
                parts,
                Body::Text(String::from_utf8_lossy(&text).into_owned()),
            )
        }
    }
}

#[cfg(all(test, feature = "images"))]
mod tests {
    use super::*;
    use crate::domain::generation::CreateImageRequest;
    use crate::error::ApiError;

    fn plan() -> crate::domain::generation::GenerationPlan {
        serde_json::from_value::<CreateImageRequest>(json!({"prompt": "p", "stream": true}))
            .unwrap()
            .plan("gpt-image-1-mini", |_| true)
            .unwrap()
    }

    async fn text(reply: Reply) -> (StatusCode, String) {
        let r = whole(reply).await;
        let status = r.status();
        (status, String::from_utf8(r.into_body().to_vec()).unwrap())
    }

    #[tokio::test]
    async fn partial_images_go_out_before_the_work_ends_and_a_late_failure_is_an_error_event() {
        let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<()>();
        let reply = partial_images("image_generation", "r-1".into(), |sink| async move {
            let p = plan();
            sink.send(&p, 0, "AAAA".into());
            sink.send(&p, 0, "BBBB".into());
            gate_rx.await.unwrap();
            super::super::error_response(&ApiError::invalid("prompt", "refused late"))
        })
        .await;
        let Reply::Streaming(r) = reply else {
            panic!("the first partial image starts the stream")
        };
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        let mut body = r.into_body();
        // Both partial images are out while the work still waits.
        let first = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
        let second = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
        assert!(
            first.contains("\"partial_image_index\":0") && first.contains("AAAA"),
            "{first}"
        );
        assert!(second.contains("\"partial_image_index\":1"), "{second}");
        gate_tx.send(()).unwrap();
        let last = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
        assert!(last.starts_with("event: error\n"), "{last}");
        assert!(
            last.contains("refused late") && last.contains("\"param\":\"prompt\""),
            "{last}"
        );
        assert!(body.next().await.is_none());
    }

    #[tokio::test]
    async fn an_answer_before_any_partial_image_is_the_ordinary_answer() {
        let reply = partial_images("image_generation", "r-1".into(), |_sink| async move {
            super::super::error_response(&ApiError::invalid("n", "too many"))
        })
        .await;
        assert!(matches!(reply, Reply::Whole(_)));
        let (status, body) = text(reply).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("too many"), "{body}");
    }
}
