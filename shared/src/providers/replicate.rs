//! Replicate's predictions API: `POST /v1/models/{owner}/{name}/predictions` with
//! `Prefer: wait` (the answer may still be `starting`/`processing`: then `urls.get` is polled),
//! one prediction per image, `urls.cancel` when the call is stopped or runs out of time, and
//! each output downloaded at once from Replicate's delivery hosts (it is deleted within the
//! hour).

use super::polling::{Poll, QueueApi, on_origin, seed_of};
use super::{Answer, Call, Op, ProviderError, ProviderImage, Vendor, polling, retry};
use crate::domain::catalog::{ProviderKind, Route, Size, aspect_of};
use crate::domain::generation::GenerationPlan;
use crate::domain::videos::VideoPlan;
use serde_json::{Value, json};
use std::time::Instant;

/// Where Replicate serves outputs.
pub const DELIVERY_HOSTS: &[&str] = &["replicate.delivery", "*.replicate.delivery"];

/// The longest `Prefer: wait` Replicate honours.
const MAX_WAIT_SECS: u64 = 60;

pub struct ReplicateProvider(QueueApi);

impl ReplicateProvider {
    /// `base_url` is the host without a version path (`https://api.replicate.com`).
    pub fn new(base_url: &str, token: impl Into<crate::secrets::Key>) -> Self {
        Self(QueueApi::new(
            base_url,
            "https://api.replicate.com",
            DELIVERY_HOSTS,
            token,
        ))
    }

    /// Outputs larger than `bytes` are refused (64 MB by default).
    pub fn max_output(self, bytes: usize) -> Self {
        Self(self.0.max_output(bytes))
    }

    /// The `input` of the `index`-th image's prediction (`image`: the edit's image and mask).
    pub fn input(
        plan: &GenerationPlan,
        route: &Route,
        index: u64,
        image: Option<(String, String)>,
    ) -> Value {
        let seed = seed_of(plan.seed_set.then_some(plan.seed), index);
        let mut input = json!({"prompt": plan.prompt});
        let fields = input.as_object_mut().expect("an object");
        match route.id {
            "recraft-ai/recraft-v3" => {
                fields.insert("size".into(), json!(plan.size.to_string()));
                fields.insert("style".into(), json!(plan.style.unwrap_or("any")));
            }
            "black-forest-labs/flux-1.1-pro" => {
                // Its ratios lack 21:9; a custom size (multiples of 32, at most 1440) has all.
                let (w, h) = fit(plan.size, 1440, 32);
                fields.insert("aspect_ratio".into(), json!("custom"));
                fields.insert("width".into(), json!(w));
                fields.insert("height".into(), json!(h));
                fields.insert("output_format".into(), json!("png"));
            }
            "black-forest-labs/flux-fill-pro" => {
                if let Some((img, mask)) = image {
                    fields.insert("image".into(), json!(img));
                    fields.insert("mask".into(), json!(mask));
                }
                fields.insert("output_format".into(), json!("png"));
            }
            _ => {
                fields.insert("aspect_ratio".into(), json!(aspect_of(plan.size)));
                fields.insert("output_format".into(), json!("png"));
                if route.id.starts_with("black-forest-labs/flux-") {
                    fields.insert("num_outputs".into(), json!(1));
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
        let input = json!({"prompt": plan.prompt, "start_image": picture,
                           "duration": plan.seconds, "mode": "standard"});
        let output = self.predict(route, input, call).await?;
        let url = first_url(&output)
            .ok_or_else(|| ProviderError::BadOutput("the prediction has no output URL".into()))?;
        self.0.video(&url, &call).await
    }

    async fn image(
        &self,
        route: &Route,
        input: Value,
        call: Call<'_>,
    ) -> Result<ProviderImage, ProviderError> {
        let output = self.predict(route, input, call).await?;
        let url = first_url(&output)
            .ok_or_else(|| ProviderError::BadOutput("the prediction has no output URL".into()))?;
        self.0.image(&url, &call).await
    }

    /// Runs one prediction to its end and gives its `output`.
    pub async fn predict(
        &self,
        route: &Route,
        input: Value,
        call: Call<'_>,
    ) -> Result<Value, ProviderError> {
        let url = self
            .0
            .api
            .join(&format!("/v1/models/{}/predictions", route.id))
            .map_err(|e| ProviderError::BadOutput(e.to_string()))?;
        let body = json!({"input": input});
        let token = self.0.key.text().await.map_err(super::key_unavailable)?;
        let left = call
            .deadline
            .saturating_duration_since(Instant::now())
            .as_secs();
        // Answered well before the request's own timeout: a create that times out has made a
        // prediction we cannot name to cancel.
        let wait = left.saturating_sub(5).clamp(1, MAX_WAIT_SECS);
        let prediction = retry::send(
            "replicate",
            call.deadline,
            call.max_retries,
            || {
                self.0
                    .http
                    .post(url.clone())
                    .bearer_auth(token)
                    .header("prefer", format!("wait={wait}"))
                    .json(&body)
            },
            |answer| parse(&answer.text),
            error_of,
        )
        .await?;
        // From here the prediction runs at Replicate: whatever ends this call early cancels it.
        let cancel = prediction["urls"]["cancel"]
            .as_str()
            .and_then(|u| on_origin(&self.0.api, u).ok())
            .map(|u| self.0.http.post(u).bearer_auth(token));
        let running = polling::Running::new("replicate", cancel);
        let state = |prediction: Value| match prediction["status"].as_str().unwrap_or_default() {
            "succeeded" => Poll::Done(prediction["output"].clone()),
            "failed" => Poll::Failed(failure(&prediction)),
            "canceled" | "aborted" => Poll::Failed(ProviderError::Failed(
                "the prediction was canceled at Replicate".into(),
            )),
            _ => Poll::Pending,
        };
        let get = prediction["urls"]["get"].as_str().map(str::to_string);
        let first = state(prediction);
        polling::follow(&call, running, first, || {
            let get = get.clone();
            async move {
                let get = get
                    .ok_or_else(|| {
                        ProviderError::BadOutput("the prediction has no urls.get".into())
                    })
                    .and_then(|u| on_origin(&self.0.api, &u))?;
                let prediction = retry::send(
                    "replicate",
                    call.deadline,
                    call.max_retries,
                    || self.0.http.get(get.clone()).bearer_auth(token),
                    |answer| parse(&answer.text),
                    error_of,
                )
                .await?;
                Ok(state(prediction))
            }
        })
        .await
    }
}

/// The size scaled to fit `max` on its long edge, both edges rounded to `multiple`.
fn fit(size: Size, max: u32, multiple: u32) -> (u32, u32) {
    let scale = (max as f64 / size.width.max(size.height) as f64).min(1.0);
    let round = |v: u32| (((v as f64 * scale) / multiple as f64).round() as u32).max(1) * multiple;
    (round(size.width), round(size.height))
}

fn parse(text: &str) -> Result<Value, ProviderError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ProviderError::BadOutput(format!("prediction is not JSON: {e}")))?;
    if !v["status"].is_string() {
        return Err(ProviderError::BadOutput(
            "prediction without a status".into(),
        ));
    }
    Ok(v)
}

/// Models answer one URL or a list of them.
fn first_url(output: &Value) -> Option<String> {
    match output {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items.iter().find_map(|i| i.as_str().map(str::to_string)),
        _ => None,
    }
}

/// A failed prediction: a safety refusal is a content-policy error, anything else the model's
/// failure.
fn failure(prediction: &Value) -> ProviderError {
    let error = prediction["error"]
        .as_str()
        .unwrap_or("the prediction failed");
    let lower = error.to_lowercase();
    if lower.contains("nsfw") || lower.contains("flagged as sensitive") || lower.contains("(e005)")
    {
        return ProviderError::ContentPolicy(
            "the image was flagged by the vendor's safety checker".into(),
        );
    }
    ProviderError::Failed(error.chars().take(300).collect())
}

/// Replicate's errors are problem details (`{"title", "detail", "status"}`).
fn error_of(text: &str) -> (String, bool) {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let detail = v["detail"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(300).collect());
    let policy = detail.to_lowercase().contains("flagged as sensitive");
    (detail, policy)
}

impl Vendor for ReplicateProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Replicate
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
    use crate::domain::generation::{CreateImageRequest, Operation};
    use crate::providers::EditInputs;
    use crate::providers::{InputImage, ProviderOutput};
    use std::time::Duration;
    use wiremock::matchers::{header, header_exists, method, path};
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
            .find(|r| r.vendor == ProviderKind::Replicate)
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

    pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
        let img = imaging::RgbaImage::from_pixel(w, h, imaging::Rgba([20, 120, 220, 255]));
        imaging::encode(&img, imaging::Format::Png, None).unwrap()
    }

    /// A prediction as Replicate answers it, its follow-up URLs on `server`.
    fn prediction(server: &MockServer, id: &str, status: &str, output: Value) -> Value {
        let uri = server.uri();
        json!({"id": id, "model": "black-forest-labs/flux-dev", "status": status,
               "input": {}, "output": output, "error": null, "logs": "",
               "urls": {"get": format!("{uri}/v1/predictions/{id}"),
                        "cancel": format!("{uri}/v1/predictions/{id}/cancel"),
                        "web": format!("https://replicate.com/p/{id}")}})
    }

    fn provider(server: &MockServer) -> ReplicateProvider {
        ReplicateProvider::new(&server.uri(), "r8_test")
    }

    async fn serve_png(server: &MockServer, at: &str, bytes: Vec<u8>) {
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes))
            .mount(server)
            .await;
    }

    const CREATE: &str = "/v1/models/black-forest-labs/flux-dev/predictions";

    fn encoded(img: &ProviderImage) -> &[u8] {
        match &img.image {
            ProviderOutput::Encoded(b) => b,
            _ => panic!("encoded bytes expected"),
        }
    }

    #[tokio::test]
    async fn a_prediction_answered_within_prefer_wait_is_downloaded_one_per_image() {
        let server = MockServer::start().await;
        let out = png(1344, 768);
        let done = prediction(
            &server,
            "p1",
            "succeeded",
            json!([format!("{}/files/out.png", server.uri())]),
        );
        Mock::given(method("POST"))
            .and(path(CREATE))
            .and(header("authorization", "Bearer r8_test"))
            .and(header_exists("prefer"))
            .respond_with(ResponseTemplate::new(201).set_body_json(done))
            .expect(2)
            .mount(&server)
            .await;
        serve_png(&server, "/files/out.png", out.clone()).await;
        let p = plan(
            json!({"prompt": "a heron", "model": "flux", "size": "1344x768", "n": 2, "seed": 7}),
        );
        assert_eq!(p.model.id, "flux-dev", "the seeds' name is an alias");
        let images = provider(&server)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .unwrap();
        assert_eq!(images.len(), 2);
        assert!(images.iter().all(|i| encoded(i) == out.as_slice()));
        let sent = server.received_requests().await.unwrap();
        let mut seeds = Vec::new();
        for req in sent.iter().filter(|r| r.method.as_str() == "POST") {
            let prefer = req.headers.get("prefer").unwrap().to_str().unwrap();
            let wait: u64 = prefer.strip_prefix("wait=").unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait), "{prefer}");
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            let input = &body["input"];
            assert_eq!(input["prompt"], "a heron");
            assert_eq!(input["aspect_ratio"], "16:9");
            assert_eq!(input["output_format"], "png");
            assert_eq!(input["num_outputs"], 1);
            seeds.push(input["seed"].as_u64().unwrap());
        }
        seeds.sort();
        assert_eq!(seeds, [7, 8], "the seed, then the next");
    }

    #[tokio::test]
    async fn a_prediction_still_processing_is_polled_until_it_succeeds() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/predictions/p2"))
            .and(header("authorization", "Bearer r8_test"))
            .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
                &server,
                "p2",
                "processing",
                Value::Null,
            )))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        let url = format!("{}/files/p2.png", server.uri());
        Mock::given(method("GET"))
            .and(path("/v1/predictions/p2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
                &server,
                "p2",
                "succeeded",
                json!(url),
            )))
            .mount(&server)
            .await;
        serve_png(&server, "/files/p2.png", png(64, 64)).await;
        let p = plan(json!({"prompt": "x", "model": "flux-1.1-pro"}));
        let r = route(&p);
        assert_eq!(r.id, "black-forest-labs/flux-1.1-pro");
        Mock::given(method("POST"))
            .and(path(
                "/v1/models/black-forest-labs/flux-1.1-pro/predictions",
            ))
            .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
                &server,
                "p2",
                "starting",
                Value::Null,
            )))
            .mount(&server)
            .await;
        let images = provider(&server)
            .images(&p, r, Op::Generate, call(20))
            .await
            .unwrap();
        assert_eq!(images.len(), 1);
        let polls = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/v1/predictions/p2")
            .count();
        assert_eq!(polls, 3, "two answers still processing, then the result");
    }

    #[tokio::test]
    async fn a_safety_failure_is_a_content_refusal_and_other_failures_are_the_vendors() {
        let server = MockServer::start().await;
        let mut flagged = prediction(&server, "p3", "failed", Value::Null);
        flagged["error"] = json!(
            "All generated images contained NSFW content. Try running it again with a different prompt."
        );
        Mock::given(method("POST"))
            .and(path(CREATE))
            .respond_with(ResponseTemplate::new(201).set_body_json(flagged))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let mut broken = prediction(&server, "p4", "failed", Value::Null);
        broken["error"] = json!("CUDA out of memory");
        Mock::given(method("POST"))
            .and(path(CREATE))
            .respond_with(ResponseTemplate::new(201).set_body_json(broken))
            .mount(&server)
            .await;
        let p = plan(json!({"prompt": "x"}));
        let e = provider(&server)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::ContentPolicy(_)), "{e}");
        let e = provider(&server)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(e, ProviderError::Failed(_)) && e.is_outage() && !e.opens_circuit(),
            "a model's failure fails over but opens no circuit: {e}"
        );
    }

    #[tokio::test]
    async fn a_429_is_retried_after_its_retry_after_and_a_5xx_is_reported() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({"detail": "Request was throttled. Expected available in 1 second.", "status": 429})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let url = format!("{}/files/ok.png", server.uri());
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
                &server,
                "p5",
                "succeeded",
                json!([url]),
            )))
            .mount(&server)
            .await;
        serve_png(&server, "/files/ok.png", png(8, 8)).await;
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
            .respond_with(
                ResponseTemplate::new(502)
                    .set_body_json(json!({"detail": "bad gateway", "status": 502})),
            )
            .expect(2)
            .mount(&down)
            .await;
        let e = provider(&down)
            .images(&p, route(&p), Op::Generate, call(10))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(e, ProviderError::Upstream { status: 502, .. }),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_call_out_of_time_or_stopped_by_its_job_cancels_the_prediction() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(CREATE))
            .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
                &server,
                "p6",
                "processing",
                Value::Null,
            )))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/predictions/p6"))
            .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
                &server,
                "p6",
                "processing",
                Value::Null,
            )))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/predictions/p6/cancel"))
            .and(header("authorization", "Bearer r8_test"))
            .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
                &server,
                "p6",
                "canceled",
                Value::Null,
            )))
            .expect(2)
            .mount(&server)
            .await;
        let p = plan(json!({"prompt": "x"}));
        let e = provider(&server)
            .images(&p, route(&p), Op::Generate, call(3))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::Timeout), "{e}");

        let asked = std::sync::atomic::AtomicU32::new(0);
        let watch = || -> futures::future::BoxFuture<'_, bool> {
            let n = asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move { n < 2 })
        };
        let stopping = Call {
            watch: Some(&watch),
            staging: None,
            ..call(30)
        };
        let e = provider(&server)
            .images(&p, route(&p), Op::Generate, stopping)
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::Canceled), "{e}");
        assert_eq!(
            asked.load(std::sync::atomic::Ordering::SeqCst),
            3,
            "asked before each poll"
        );
    }

    #[tokio::test]
    async fn when_one_image_fails_the_predictions_of_the_others_are_canceled() {
        let server = MockServer::start().await;
        let mut broken = prediction(&server, "bad", "failed", Value::Null);
        broken["error"] = json!("CUDA out of memory");
        Mock::given(method("POST"))
            .and(path(CREATE))
            .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
                &server,
                "slow",
                "processing",
                Value::Null,
            )))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path(CREATE))
            .respond_with(
                ResponseTemplate::new(201)
                    .set_delay(Duration::from_millis(300))
                    .set_body_json(broken),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/predictions/slow"))
            .respond_with(ResponseTemplate::new(200).set_body_json(prediction(
                &server,
                "slow",
                "processing",
                Value::Null,
            )))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/predictions/slow/cancel"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "canceled"})))
            .mount(&server)
            .await;
        let p = plan(json!({"prompt": "x", "n": 2}));
        let e = provider(&server)
            .images(&p, route(&p), Op::Generate, call(20))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::Failed(_)), "{e}");
        // The sibling's cancel goes out in the background as its call is dropped.
        let mut canceled = false;
        for _ in 0..40 {
            let sent = server.received_requests().await.unwrap();
            if sent
                .iter()
                .any(|r| r.url.path() == "/v1/predictions/slow/cancel")
            {
                canceled = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            canceled,
            "the other image's prediction was canceled at Replicate"
        );
    }

    #[tokio::test]
    async fn outputs_off_the_delivery_hosts_or_over_the_cap_and_follow_ups_off_the_api_are_refused()
    {
        let server = MockServer::start().await;
        let elsewhere = MockServer::start().await;
        serve_png(&elsewhere, "/out.png", png(8, 8)).await;
        let off_host = prediction(
            &server,
            "p7",
            "succeeded",
            json!([format!("{}/out.png", elsewhere.uri())]),
        );
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201).set_body_json(off_host))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        let big = prediction(
            &server,
            "p8",
            "succeeded",
            json!([format!("{}/big.png", server.uri())]),
        );
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201).set_body_json(big))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        serve_png(&server, "/big.png", png(256, 256)).await;
        let mut away = prediction(&server, "p9", "processing", Value::Null);
        away["urls"]["get"] = json!(format!("{}/v1/predictions/p9", elsewhere.uri()));
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201).set_body_json(away))
            .mount(&server)
            .await;
        let p = plan(json!({"prompt": "x"}));
        let small = |s: &MockServer| provider(s).max_output(100);
        for why in [
            "off the delivery hosts",
            "over the byte cap",
            "follow-up off the API",
        ] {
            let e = small(&server)
                .images(&p, route(&p), Op::Generate, call(10))
                .await
                .err()
                .unwrap();
            assert!(matches!(e, ProviderError::BadOutput(_)), "{why}: {e}");
        }
        assert!(
            elsewhere.received_requests().await.unwrap().is_empty(),
            "nothing, our token above all, went to the other host"
        );
    }

    #[tokio::test]
    async fn fill_sends_the_image_and_the_mask_as_white_is_edit() {
        let server = MockServer::start().await;
        let url = format!("{}/files/fill.png", server.uri());
        Mock::given(method("POST"))
            .and(path(
                "/v1/models/black-forest-labs/flux-fill-pro/predictions",
            ))
            .respond_with(ResponseTemplate::new(201).set_body_json(prediction(
                &server,
                "pf",
                "succeeded",
                json!(url),
            )))
            .expect(1)
            .mount(&server)
            .await;
        serve_png(&server, "/files/fill.png", png(256, 256)).await;
        let p = serde_json::from_value::<CreateImageRequest>(
            json!({"prompt": "a boat", "model": "flux_pro"}),
        )
        .unwrap()
        .plan_for(
            Operation::Edit {
                images: 1,
                input: crate::domain::catalog::Size::new(256, 256),
            },
            "flux-dev",
            |_| true,
        )
        .unwrap();
        assert_eq!(p.model.id, "flux-pro-fill");
        let picture = imaging::RgbaImage::from_pixel(256, 256, imaging::Rgba([200, 10, 10, 255]));
        let mut mask = imaging::RgbaImage::from_pixel(256, 256, imaging::Rgba([0, 0, 0, 255]));
        for y in 0..256 {
            for x in 0..128 {
                mask.put_pixel(x, y, imaging::Rgba([0, 0, 0, 0]));
            }
        }
        let input = |img: imaging::RgbaImage, alpha| InputImage {
            bytes: imaging::encode(&img, imaging::Format::Png, None).unwrap(),
            rgba: std::sync::Arc::new(img),
            asset_id: None,
            has_alpha: alpha,
        };
        let inputs = EditInputs {
            images: vec![input(picture, false)],
            mask: Some(input(mask, true)),
        };
        let out = provider(&server)
            .images(&p, route(&p), Op::Edit(&inputs), call(10))
            .await
            .unwrap();
        assert_eq!(out.len(), 1);
        let sent = server.received_requests().await.unwrap();
        let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
        let decode = |field: &str| {
            use base64::Engine;
            let uri = body["input"][field].as_str().unwrap();
            let b64 = uri.strip_prefix("data:image/png;base64,").unwrap();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            imaging::image::load_from_memory(&bytes).unwrap()
        };
        assert_eq!(
            decode("image").to_rgba8().get_pixel(0, 0).0,
            [200, 10, 10, 255]
        );
        let sent_mask = decode("mask").to_luma8();
        assert_eq!(
            sent_mask.get_pixel(0, 0).0,
            [255],
            "transparent in ours: white in theirs"
        );
        assert_eq!(sent_mask.get_pixel(255, 255).0, [0], "opaque: black, kept");
        assert_eq!(body["input"]["prompt"], "a boat");
    }
}
