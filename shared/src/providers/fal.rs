//! fal's queue API: `POST {queue}/{app id}` answers a `request_id` and the URLs to follow
//! (`status_url`, `response_url`, `cancel_url`: they drop the app's sub-path, so they are taken
//! from the answer, never built). The status is polled until `COMPLETED`, then the response is
//! read; a stopped or timed-out call `PUT`s its cancel URL. One request per image; outputs are
//! downloaded at once from fal's media hosts.

use super::polling::{Poll, QueueApi, on_origin, seed_of};
use super::{Answer, Call, Op, ProviderError, ProviderImage, Vendor, polling, retry};
use crate::domain::catalog::{ProviderKind, Route};
use crate::domain::generation::GenerationPlan;
use crate::domain::videos::VideoPlan;
use serde_json::{Value, json};

/// Where fal serves outputs.
pub const MEDIA_HOSTS: &[&str] = &["fal.media", "*.fal.media"];

pub struct FalProvider(QueueApi);

impl FalProvider {
    /// `queue_url` is the queue's host (`https://queue.fal.run`).
    pub fn new(queue_url: &str, key: impl Into<crate::secrets::Key>) -> Self {
        Self(QueueApi::new(
            queue_url,
            "https://queue.fal.run",
            MEDIA_HOSTS,
            key,
        ))
    }

    /// Outputs larger than `bytes` are refused (64 MB by default).
    pub fn max_output(self, bytes: usize) -> Self {
        Self(self.0.max_output(bytes))
    }

    /// The input of the `index`-th image's request (`image`: the edit's image and mask).
    pub fn input(
        plan: &GenerationPlan,
        route: &Route,
        index: u64,
        image: Option<(String, String)>,
    ) -> Value {
        let seed = seed_of(plan.seed_set.then_some(plan.seed), index);
        let mut input = json!({"prompt": plan.prompt});
        let fields = input.as_object_mut().expect("an object");
        let size = json!({"width": plan.size.width, "height": plan.size.height});
        match route.id {
            "fal-ai/recraft/v3/text-to-image" => {
                fields.insert("image_size".into(), size);
                fields.insert("style".into(), json!(plan.style.unwrap_or("any")));
            }
            "fal-ai/flux-pro/v1/fill" => {
                if let Some((img, mask)) = image {
                    fields.insert("image_url".into(), json!(img));
                    fields.insert("mask_url".into(), json!(mask));
                }
                fields.insert("num_images".into(), json!(1));
                fields.insert("output_format".into(), json!("png"));
            }
            _ => {
                fields.insert("image_size".into(), size);
                fields.insert("num_images".into(), json!(1));
                fields.insert("output_format".into(), json!("png"));
                if !route.id.contains("flux-pro") {
                    fields.insert("enable_safety_checker".into(), json!(true));
                }
            }
        }
        if let Some(seed) = seed {
            fields.insert("seed".into(), json!(seed));
        }
        input
    }

    /// An image-to-video clip (`picture` as a data URI, already the plan's frame).
    async fn clip(
        &self,
        plan: &VideoPlan,
        route: &Route,
        picture: String,
        call: Call<'_>,
    ) -> Result<Vec<u8>, ProviderError> {
        let input = if route.id == "fal-ai/stable-video" {
            // Stable Video Diffusion makes 25 frames; at its native 6 fps they last ~4 s.
            json!({"image_url": picture, "motion_bucket_id": 127, "cond_aug": 0.02, "fps": 6,
                   "seed": plan.seed % 2_147_483_647})
        } else {
            json!({"prompt": plan.prompt, "image_url": picture,
                   "duration": plan.seconds.to_string()})
        };
        let result = self.run(route, input, call).await?;
        let url = result["video"]["url"]
            .as_str()
            .ok_or_else(|| ProviderError::BadOutput("the result has no video URL".into()))?;
        self.0.video(url, &call).await
    }

    async fn image(
        &self,
        route: &Route,
        input: Value,
        call: Call<'_>,
    ) -> Result<ProviderImage, ProviderError> {
        let result = self.run(route, input, call).await?;
        if result["has_nsfw_concepts"]
            .as_array()
            .is_some_and(|flags| flags.iter().any(|f| f.as_bool() == Some(true)))
        {
            return Err(ProviderError::ContentPolicy(
                "the image was flagged by the vendor's safety checker".into(),
            ));
        }
        let url = result["images"][0]["url"]
            .as_str()
            .ok_or_else(|| ProviderError::BadOutput("the result has no image URL".into()))?;
        self.0.image(url, &call).await
    }

    /// Queues one request and follows it to its result.
    pub async fn run(
        &self,
        route: &Route,
        input: Value,
        call: Call<'_>,
    ) -> Result<Value, ProviderError> {
        let url = self
            .0
            .api
            .join(&format!("/{}", route.id))
            .map_err(|e| ProviderError::BadOutput(e.to_string()))?;
        let auth = format!(
            "Key {}",
            self.0.key.text().await.map_err(super::key_unavailable)?
        );
        let queued: Value = retry::send(
            "fal",
            call.deadline,
            call.max_retries,
            || {
                self.0
                    .http
                    .post(url.clone())
                    .header("authorization", &auth)
                    .json(&input)
            },
            |answer| json_of(&answer.text),
            error_of,
        )
        .await?;
        let follow = |field: &str| {
            queued[field]
                .as_str()
                .ok_or_else(|| {
                    ProviderError::BadOutput(format!("the queue's answer has no {field}"))
                })
                .and_then(|u| on_origin(&self.0.api, u))
        };
        // From here the request runs at fal: whatever ends this call early cancels it.
        let cancel = follow("cancel_url")
            .ok()
            .map(|u| self.0.http.put(u).header("authorization", &auth));
        let running = polling::Running::new("fal", cancel);
        let (status_url, response_url) = (follow("status_url")?, follow("response_url")?);
        let look = || async {
            let status: Value = retry::send(
                "fal",
                call.deadline,
                call.max_retries,
                || {
                    self.0
                        .http
                        .get(status_url.clone())
                        .header("authorization", &auth)
                },
                |answer| json_of(&answer.text),
                error_of,
            )
            .await?;
            match status["status"].as_str().unwrap_or_default() {
                "COMPLETED" => Ok(Poll::Done(())),
                "IN_QUEUE" | "IN_PROGRESS" => Ok(Poll::Pending),
                other => Err(ProviderError::BadOutput(format!(
                    "unknown queue status {other:?}"
                ))),
            }
        };
        // Looked at once at once: fal's queue may have finished already.
        let first = look().await?;
        polling::follow(&call, running, first, look).await?;
        retry::send(
            "fal",
            call.deadline,
            call.max_retries,
            || {
                self.0
                    .http
                    .get(response_url.clone())
                    .header("authorization", &auth)
            },
            |answer| json_of(&answer.text),
            error_of,
        )
        .await
    }
}

fn json_of(text: &str) -> Result<Value, ProviderError> {
    serde_json::from_str(text)
        .map_err(|e| ProviderError::BadOutput(format!("answer is not JSON: {e}")))
}

/// fal's errors: `{"detail": "..."}` or validation's `{"detail": [{"msg", "type"}]}`, where
/// `content_policy_violation` is a safety refusal.
fn error_of(text: &str) -> (String, bool) {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match &v["detail"] {
        Value::String(s) => (s.clone(), false),
        Value::Array(items) => {
            let policy = items
                .iter()
                .any(|i| i["type"].as_str() == Some("content_policy_violation"));
            let message = items
                .iter()
                .filter_map(|i| i["msg"].as_str())
                .collect::<Vec<_>>()
                .join("; ");
            (message, policy)
        }
        _ => (text.chars().take(300).collect(), false),
    }
}

impl Vendor for FalProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Fal
    }

    /// One request per image, each with its own seed; an edit is an inpainting (FLUX Fill).
    fn images<'a, 'c: 'a>(
        &'a self,
        plan: &'a GenerationPlan,
        route: &'a Route,
        op: Op<'a>,
        call: Call<'c>,
    ) -> Answer<'a, Vec<ProviderImage>> {
        polling::images(plan, route, op, call, move |i, pair| {
            self.image(route, Self::input(plan, route, i, pair), call)
        })
    }

    fn video<'a, 'c: 'a>(
        &'a self,
        plan: &'a VideoPlan,
        route: &'a Route,
        picture: String,
        call: Call<'c>,
    ) -> Answer<'a, Vec<u8>> {
        Box::pin(self.clip(plan, route, picture, call))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::ProviderKind;
    use crate::domain::generation::CreateImageRequest;
    use crate::providers::ProviderOutput;
    use std::time::{Duration, Instant};
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn plan(v: Value) -> GenerationPlan {
        serde_json::from_value::<CreateImageRequest>(v)
            .unwrap()
            .plan("flux-dev", |_| true)
            .unwrap()
    }

    fn route(p: &GenerationPlan) -> &'static Route {
        p.routes
            .iter()
            .copied()
            .find(|r| r.vendor == ProviderKind::Fal)
            .unwrap()
    }

    fn call(secs: u64) -> Call<'static> {
        Call {
            deadline: Instant::now() + Duration::from_secs(secs),
            max_retries: 1,
            watch: None,
            staging: None,
            partials: None,
        }
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = imaging::RgbaImage::from_pixel(w, h, imaging::Rgba([240, 200, 20, 255]));
        imaging::encode(&img, imaging::Format::Png, None).unwrap()
    }

    fn provider(server: &MockServer) -> FalProvider {
        FalProvider::new(&server.uri(), "fal-key-id:secret")
    }

    /// A queue for `app` on `server` as fal runs one: the follow-up URLs drop the app's
    /// sub-path, the status is `IN_QUEUE` `queued` times, then `IN_PROGRESS` once, then
    /// `COMPLETED`, and the response is `result`.
    async fn queue(
        server: &MockServer,
        app: &str,
        id: &str,
        queued: u64,
        result: ResponseTemplate,
    ) {
        let owner_app: String = app.split('/').take(2).collect::<Vec<_>>().join("/");
        let base = format!("{}/{owner_app}/requests/{id}", server.uri());
        Mock::given(method("POST"))
            .and(path(format!("/{app}")))
            .and(header("authorization", "Key fal-key-id:secret"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "request_id": id, "status": "IN_QUEUE", "queue_position": queued,
                "response_url": base, "status_url": format!("{base}/status"),
                "cancel_url": format!("{base}/cancel")})))
            .mount(server)
            .await;
        let status = |s: &str| {
            ResponseTemplate::new(if s == "COMPLETED" { 200 } else { 202 }).set_body_json(json!({
                "status": s, "queue_position": 0, "response_url": base}))
        };
        let status_path = format!("/{owner_app}/requests/{id}/status");
        if queued > 0 {
            Mock::given(method("GET"))
                .and(path(status_path.clone()))
                .respond_with(status("IN_QUEUE"))
                .up_to_n_times(queued)
                .mount(server)
                .await;
            Mock::given(method("GET"))
                .and(path(status_path.clone()))
                .respond_with(status("IN_PROGRESS"))
                .up_to_n_times(1)
                .mount(server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path(status_path))
            .respond_with(status("COMPLETED"))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/{owner_app}/requests/{id}")))
            .respond_with(result)
            .mount(server)
            .await;
    }

    fn images(url: String, nsfw: bool) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "images": [{"url": url, "width": 1024, "height": 1024, "content_type": "image/png"}],
            "has_nsfw_concepts": [nsfw], "seed": 1, "prompt": "x", "timings": {}}))
    }

    async fn serve(server: &MockServer, at: &str, bytes: Vec<u8>) {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes))
            .mount(server)
            .await;
    }

    #[tokio::test]
    async fn a_queued_request_is_followed_by_the_urls_fal_gives_to_its_result() {
        let server = MockServer::start().await;
        let out = png(32, 32);
        queue(
            &server,
            "fal-ai/flux-pro/v1.1",
            "r1",
            2,
            images(format!("{}/media/r1.png", server.uri()), false),
        )
        .await;
        serve(&server, "/media/r1.png", out.clone()).await;
        let p = plan(
            json!({"prompt": "a lighthouse", "model": "flux-1.1-pro", "size": "832x1216", "seed": 5}),
        );
        let got = provider(&server)
            .images(&p, route(&p), Op::Generate, call(20))
            .await
            .unwrap();
        match &got[0].image {
            ProviderOutput::Encoded(b) => assert_eq!(b, &out),
            _ => panic!("bytes expected"),
        }
        let sent = server.received_requests().await.unwrap();
        let submit: Value = serde_json::from_slice(&sent[0].body).unwrap();
        assert_eq!(sent[0].url.path(), "/fal-ai/flux-pro/v1.1");
        assert_eq!(submit["prompt"], "a lighthouse");
        assert_eq!(submit["image_size"], json!({"width": 832, "height": 1216}));
        assert_eq!(submit["seed"], 5);
        assert_eq!(submit["output_format"], "png");
        let polls = sent
            .iter()
            .filter(|r| r.url.path() == "/fal-ai/flux-pro/requests/r1/status")
            .count();
        assert_eq!(polls, 4, "two IN_QUEUE, one IN_PROGRESS, then COMPLETED");
    }

    #[tokio::test]
    async fn refusals_of_the_prompt_or_of_the_image_are_content_policy_errors() {
        let server = MockServer::start().await;
        queue(
            &server,
            "fal-ai/flux/dev",
            "r2",
            0,
            images(format!("{}/media/r2.png", server.uri()), true),
        )
        .await;
        serve(&server, "/media/r2.png", png(8, 8)).await;
        let p = plan(json!({"prompt": "x"}));
        let e = provider(&server)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::ContentPolicy(_)), "{e}");

        let refused = MockServer::start().await;
        queue(&refused, "fal-ai/flux/dev", "r3", 0, ResponseTemplate::new(422).set_body_json(json!({
            "detail": [{"loc": ["body", "prompt"], "msg": "The content could not be processed because it contained material flagged by a content checker.",
                        "type": "content_policy_violation"}]}))).await;
        let e = provider(&refused)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::ContentPolicy(_)), "{e}");
    }

    #[tokio::test]
    async fn a_429_is_retried_after_its_retry_after_and_a_5xx_is_an_outage() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({"detail": "Too many requests"})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        queue(
            &server,
            "fal-ai/flux/dev",
            "r4",
            0,
            images(format!("{}/media/r4.png", server.uri()), false),
        )
        .await;
        serve(&server, "/media/r4.png", png(8, 8)).await;
        let p = plan(json!({"prompt": "x"}));
        let started = Instant::now();
        provider(&server)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "waited as told"
        );

        let down = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503).set_body_json(
                json!({"detail": "Service unavailable", "error_type": "runner_unavailable"}),
            ))
            .expect(2)
            .mount(&down)
            .await;
        let e = provider(&down)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(e, ProviderError::Upstream { status: 503, .. }) && e.is_outage(),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_request_out_of_time_or_stopped_by_its_job_is_canceled_with_a_put() {
        let server = MockServer::start().await;
        queue(
            &server,
            "fal-ai/flux/schnell",
            "r5",
            10_000,
            images(String::new(), false),
        )
        .await;
        Mock::given(method("PUT"))
            .and(path("/fal-ai/flux/requests/r5/cancel"))
            .and(header("authorization", "Key fal-key-id:secret"))
            .respond_with(
                ResponseTemplate::new(202)
                    .set_body_json(json!({"status": "CANCELLATION_REQUESTED"})),
            )
            .expect(2)
            .mount(&server)
            .await;
        let p = plan(json!({"prompt": "x", "model": "flux-schnell"}));
        let e = provider(&server)
            .images(&p, route(&p), Op::Generate, call(2))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::Timeout), "{e}");
        let stop = || -> futures::future::BoxFuture<'_, bool> { Box::pin(async { false }) };
        let stopped = Call {
            watch: Some(&stop),
            staging: None,
            ..call(30)
        };
        let e = provider(&server)
            .images(&p, route(&p), Op::Generate, stopped)
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::Canceled), "{e}");
    }

    #[tokio::test]
    async fn outputs_off_fals_media_hosts_or_over_the_cap_are_refused() {
        let server = MockServer::start().await;
        let elsewhere = MockServer::start().await;
        serve(&elsewhere, "/x.png", png(8, 8)).await;
        queue(
            &server,
            "fal-ai/flux/dev",
            "r6",
            0,
            images(format!("{}/x.png", elsewhere.uri()), false),
        )
        .await;
        let p = plan(json!({"prompt": "x"}));
        let e = provider(&server)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::BadOutput(_)), "{e}");
        assert!(elsewhere.received_requests().await.unwrap().is_empty());

        let big = MockServer::start().await;
        queue(
            &big,
            "fal-ai/flux/dev",
            "r7",
            0,
            images(format!("{}/media/big.png", big.uri()), false),
        )
        .await;
        serve(&big, "/media/big.png", png(256, 256)).await;
        let e = provider(&big)
            .max_output(100)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::BadOutput(_)), "{e}");
    }

    #[test]
    fn recraft_gets_its_size_and_style_and_no_seed_parameter_exists_for_it() {
        let p = serde_json::from_value::<CreateImageRequest>(
            json!({"prompt": "a poster", "model": "recraft", "size": "1365x1024", "style": "digital_illustration"}),
        )
        .unwrap()
        .plan("flux-dev", |_| true)
        .unwrap();
        let input = FalProvider::input(&p, route(&p), 0, None);
        assert_eq!(input["image_size"], json!({"width": 1365, "height": 1024}));
        assert_eq!(input["style"], "digital_illustration");
        let seeded = serde_json::from_value::<CreateImageRequest>(
            json!({"prompt": "a poster", "model": "recraft-v3", "seed": 3}),
        )
        .unwrap()
        .plan("flux-dev", |_| true);
        assert!(
            matches!(seeded, Err(crate::error::ApiError::InvalidRequest { param: Some(ref p), .. }) if p == "seed"),
            "refused, never dropped"
        );
    }
}
