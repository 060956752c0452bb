//! OpenAI's Images API over HTTP: the real request shapes per model, bounded retries with
//! backoff on 429/5xx/timeouts honouring `Retry-After`, and error mapping.

use super::fetch::{Fetch, MAX_OUTPUT_BYTES};
use super::{
    Answer, Call, EditInputs, InputImage, Op, Partials, ProviderError, ProviderImage,
    ProviderOutput, Vendor, retry,
};
use crate::domain::catalog::{ProviderKind, Route};
use crate::domain::generation::{Background, GenerationPlan};
use base64::Engine;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub struct OpenAiProvider {
    http: reqwest::Client,
    fetch: Fetch,
    base_url: String,
    api_key: std::sync::Arc<crate::secrets::Secret>,
    budget: Duration,
    max_retries: u32,
}

impl OpenAiProvider {
    /// `image_hosts`: where the API's answers may point for image bytes (besides the API's own
    /// origin), as `host` or `*.domain`.
    pub fn new(
        base_url: &str,
        api_key: impl Into<crate::secrets::Key>,
        budget: Duration,
        max_retries: u32,
        image_hosts: &[String],
    ) -> Self {
        let fetch = Fetch::new(image_hosts, base_url, MAX_OUTPUT_BYTES);
        Self {
            http: fetch.client(Duration::from_secs(5)),
            fetch,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.into().0,
            budget,
            max_retries,
        }
    }

    /// The JSON body of `POST /images/generations` for a plan. Every OpenAI model served is a
    /// GPT image model: it answers base64 and takes the output, background and moderation
    /// parameters.
    pub fn generation_body(plan: &GenerationPlan) -> Value {
        let mut body = json!({
            "model": plan.model.id,
            "prompt": plan.prompt,
            "n": plan.n,
            "size": plan.size.to_string(),
            "quality": plan.quality,
            "output_format": plan.output_format.as_str(),
        });
        let b = body.as_object_mut().expect("object literal");
        if let Some(c) = plan.output_compression {
            b.insert("output_compression".into(), json!(c));
        }
        // Always said: what the answer reports ("opaque" for auto) is then what was asked.
        let background = match plan.background {
            Background::Transparent => "transparent",
            Background::Opaque => "opaque",
        };
        b.insert("background".into(), json!(background));
        if let Some(m) = plan.moderation {
            b.insert("moderation".into(), json!(m));
        }
        if let Some(c) = plan.complexity {
            b.insert("complexity".into(), json!(c));
        }
        if let Some(user) = &plan.user {
            b.insert("safety_identifier".into(), json!(user));
        }
        // Relayed: OpenAI's partial images become ours (its events are read to the end, then
        // answered as this API's stream).
        if plan.stream {
            b.insert("stream".into(), json!(true));
            b.insert("partial_images".into(), json!(plan.partial_images));
        }
        body
    }

    /// POSTs with retries, building the body afresh for every attempt (multipart forms cannot
    /// be cloned); returns the parsed success body (a stream as the JSON it stands for).
    /// With `partials`, a stream's partial images go there as they come, not in the answer.
    pub async fn post(
        &self,
        plan: &GenerationPlan,
        path: &str,
        deadline: Instant,
        partials: Option<&Partials>,
        body: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Value, ProviderError> {
        let url = format!("{}{path}", self.base_url);
        let key = self.api_key.text().await.map_err(super::key_unavailable)?;
        // Which image the next partial image belongs to: one `*.completed` event ends each.
        let image = AtomicUsize::new(0);
        let hand_on = |event: &str| {
            let Some(partials) = partials else { return };
            let Ok(event) = serde_json::from_str::<Value>(&event_data(event)) else {
                return;
            };
            let kind = event["type"].as_str().unwrap_or_default();
            if kind.ends_with(".partial_image")
                && let Some(b64) = event["b64_json"].as_str()
            {
                partials.send(plan, image.load(Ordering::Relaxed), b64.to_string());
            } else if kind.ends_with(".completed") {
                image.fetch_add(1, Ordering::Relaxed);
            }
        };
        let on_event: Option<retry::OnEvent<'_>> = partials.map(|_| &hand_on as _);
        retry::send_seeing_events(
            "openai",
            deadline,
            self.max_retries,
            || body(self.http.post(&url).bearer_auth(key)),
            |answer| {
                if answer.event_stream {
                    return from_events(&answer.text, partials.is_none());
                }
                serde_json::from_str(&answer.text)
                    .map_err(|e| ProviderError::BadOutput(format!("response is not JSON: {e}")))
            },
            |text| {
                let (message, code, kind) = error_fields(text);
                let policy = refused_by_policy(code.as_deref(), kind.as_deref(), &message);
                (message, policy)
            },
            on_event,
        )
        .await
    }

    async fn image_from(
        &self,
        item: &Value,
        deadline: Instant,
    ) -> Result<ProviderImage, ProviderError> {
        let bytes = if let Some(b64) = item["b64_json"].as_str() {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| ProviderError::BadOutput(format!("b64_json is not base64: {e}")))?
        } else if let Some(url) = item["url"].as_str() {
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            self.fetch.get(&self.http, url, left).await?
        } else {
            return Err(ProviderError::BadOutput(
                "an item has neither b64_json nor url".into(),
            ));
        };
        // A stream may end before any partial image: the final one is what counts.
        let mut partials = Vec::new();
        for p in item["partials"].as_array().into_iter().flatten() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(p.as_str().unwrap_or_default())
                .map_err(|e| ProviderError::BadOutput(format!("a partial image: {e}")))?;
            let decoded = imaging::decode_rgba(&bytes)
                .map_err(|e| ProviderError::BadOutput(format!("a partial image: {e}")))?;
            partials.push(decoded);
        }
        Ok(ProviderImage {
            image: ProviderOutput::Encoded(bytes),
            revised_prompt: item["revised_prompt"].as_str().map(str::to_string),
            partials,
            usage: item.get("usage").filter(|u| u.is_object()).cloned(),
        })
    }
}

/// A streamed answer (`text/event-stream`) as the JSON answer it stands for: one `data` item
/// per `*.completed` event (with its `usage`), carrying the `*.partial_image` events before it
/// as `partials`.
/// `keep_partials`: whether partial images stay in the answer (else they went on as they came).
fn from_events(text: &str, keep_partials: bool) -> Result<Value, ProviderError> {
    let mut data = Vec::new();
    let mut partials = Vec::new();
    // SSE lines end in LF, CRLF or CR.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    for block in text.split("\n\n") {
        let payload = event_data(block);
        if payload.is_empty() || payload == "[DONE]" {
            continue;
        }
        let event: Value = serde_json::from_str(&payload)
            .map_err(|e| ProviderError::BadOutput(format!("a stream event is not JSON: {e}")))?;
        let kind = event["type"].as_str().unwrap_or_default();
        if kind.ends_with(".partial_image") {
            if keep_partials {
                partials.push(event["b64_json"].clone());
            }
        } else if kind.ends_with(".completed") {
            data.push(json!({
                "b64_json": event["b64_json"],
                "usage": event["usage"],
                "partials": std::mem::take(&mut partials),
            }));
        } else if kind == "error" || event["error"].is_object() {
            let e = if event["error"].is_object() {
                &event["error"]
            } else {
                &event
            };
            let message = e["message"]
                .as_str()
                .unwrap_or("the stream failed")
                .to_string();
            if refused_by_policy(e["code"].as_str(), e["type"].as_str(), &message) {
                return Err(ProviderError::ContentPolicy(message));
            }
            return Err(ProviderError::Upstream {
                status: 502,
                message,
            });
        }
    }
    if data.is_empty() {
        return Err(ProviderError::BadOutput(
            "the stream ended without a completed image".into(),
        ));
    }
    Ok(json!({ "data": data }))
}

/// An event's data: its `data` lines joined with LF (lines already split on LF).
fn event_data(block: &str) -> String {
    block
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| d.strip_prefix(' ').unwrap_or(d))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether OpenAI refused the request for its content (moderation, the safety system).
fn refused_by_policy(code: Option<&str>, kind: Option<&str>, message: &str) -> bool {
    matches!(
        code,
        Some("content_policy_violation" | "moderation_blocked")
    ) || kind == Some("image_generation_user_error")
        || message.contains("safety system")
}

fn error_fields(text: &str) -> (String, Option<String>, Option<String>) {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let e = &v["error"];
    let message = e["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(300).collect());
    (
        message,
        e["code"].as_str().map(str::to_string),
        e["type"].as_str().map(str::to_string),
    )
}

/// The text fields of an edit or variation form, with each model's rules (as for generations).
pub fn form_fields(plan: &GenerationPlan, with_prompt: bool) -> Vec<(&'static str, String)> {
    let body = OpenAiProvider::generation_body(plan);
    let mut fields = Vec::new();
    for (k, v) in body.as_object().expect("object") {
        let name: &'static str = match k.as_str() {
            "model" => "model",
            "prompt" if with_prompt => "prompt",
            "n" => "n",
            "size" => "size",
            "quality" if with_prompt => "quality",
            "output_format" => "output_format",
            "output_compression" => "output_compression",
            "background" => "background",
            "moderation" => "moderation",
            "complexity" => "complexity",
            "safety_identifier" => "safety_identifier",
            "stream" => "stream",
            "partial_images" => "partial_images",
            _ => continue,
        };
        let value = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        fields.push((name, value));
    }
    if let Some(f) = plan.input_fidelity {
        fields.push(("input_fidelity", f.to_string()));
    }
    fields
}

fn part(bytes: &[u8], name: &str) -> reqwest::multipart::Part {
    let (mime, ext) = match imaging::image::guess_format(bytes) {
        Ok(imaging::image::ImageFormat::Jpeg) => ("image/jpeg", "jpg"),
        Ok(imaging::image::ImageFormat::WebP) => ("image/webp", "webp"),
        _ => ("image/png", "png"),
    };
    reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name(format!("{name}.{ext}"))
        .mime_str(mime)
        .expect("static mime type")
}

impl OpenAiProvider {
    /// The images of a response; URLs (if a vendor sends them) are fetched within the same
    /// deadline as the call itself.
    /// One Images API call within the provider's time budget (retries included), and the
    /// images of its answer.
    async fn images(
        &self,
        plan: &GenerationPlan,
        path: &str,
        partials: Option<&Partials>,
        body: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let deadline = Instant::now() + self.budget;
        let partials = partials.filter(|_| plan.stream);
        let resp = self.post(plan, path, deadline, partials, body).await?;
        self.images_of(resp, deadline).await
    }

    async fn images_of(
        &self,
        resp: Value,
        deadline: Instant,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let items = resp["data"]
            .as_array()
            .ok_or_else(|| ProviderError::BadOutput("response has no data array".into()))?;
        let mut images = Vec::with_capacity(items.len());
        for item in items {
            images.push(self.image_from(item, deadline).await?);
        }
        // OpenAI counts tokens per call: the call's usage goes with its first image.
        if let Some(first) = images.first_mut()
            && first.usage.is_none()
        {
            first.usage = resp.get("usage").filter(|u| u.is_object()).cloned();
        }
        Ok(images)
    }

    /// The multipart form of `POST /images/edits`: the image(s) and the mask.
    pub fn edit_form(plan: &GenerationPlan, inputs: &EditInputs) -> reqwest::multipart::Form {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in form_fields(plan, true) {
            form = form.text(k, v);
        }
        for (i, img) in inputs.images.iter().enumerate() {
            // Repeated `image` parts: OpenAI's OpenAPI spec types `image` as a string or an array,
            // and validators (Prism) refuse the `image[]` spelling of its curl examples.
            form = form.part("image", part(&img.bytes, &format!("image{i}")));
        }
        if let Some(mask) = &inputs.mask {
            form = form.part("mask", part(&mask.bytes, "mask"));
        }
        form
    }

    pub fn variation_form(plan: &GenerationPlan, input: &InputImage) -> reqwest::multipart::Form {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in form_fields(plan, false) {
            form = form.text(k, v);
        }
        form.part("image", part(&input.bytes, "image"))
    }
}

impl OpenAiProvider {
    pub async fn generate(
        &self,
        plan: &GenerationPlan,
        partials: Option<&Partials>,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let body = Self::generation_body(plan);
        self.images(plan, "/images/generations", partials, |req| req.json(&body))
            .await
    }

    pub async fn edit(
        &self,
        plan: &GenerationPlan,
        inputs: &EditInputs,
        partials: Option<&Partials>,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        self.images(plan, "/images/edits", partials, |req| {
            req.multipart(Self::edit_form(plan, inputs))
        })
        .await
    }

    pub async fn variation(
        &self,
        plan: &GenerationPlan,
        input: &InputImage,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        self.images(plan, "/images/variations", None, |req| {
            req.multipart(Self::variation_form(plan, input))
        })
        .await
    }
}

/// OpenAI's Images API keeps its own time budget (`PROVIDER_TIMEOUT`) for every call.
impl Vendor for OpenAiProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAi
    }

    fn images<'a, 'c: 'a>(
        &'a self,
        plan: &'a GenerationPlan,
        _route: &'a Route,
        op: Op<'a>,
        call: Call<'c>,
    ) -> Answer<'a, Vec<ProviderImage>> {
        match op {
            Op::Generate => Box::pin(self.generate(plan, call.partials)),
            Op::Edit(inputs) => Box::pin(self.edit(plan, inputs, call.partials)),
            Op::Variation(input) => Box::pin(self.variation(plan, input)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::generation::CreateImageRequest;
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn plan(v: Value) -> GenerationPlan {
        serde_json::from_value::<CreateImageRequest>(v)
            .unwrap()
            .plan("gpt-image-1-mini", |_| true)
            .unwrap()
    }

    fn png(w: u32, h: u32) -> String {
        let img = imaging::RgbaImage::from_pixel(w, h, imaging::Rgba([10, 200, 30, 255]));
        let bytes = imaging::encode(&img, imaging::Format::Png, None).unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn provider(server: &MockServer, budget_ms: u64) -> OpenAiProvider {
        OpenAiProvider::new(
            &server.uri(),
            "sk-test",
            Duration::from_millis(budget_ms),
            2,
            &["files.openai.test".into()],
        )
    }

    #[test]
    fn request_bodies_carry_what_the_plan_asks_of_a_gpt_image_model() {
        let g = OpenAiProvider::generation_body(&plan(json!({
            "prompt": "p", "model": "gpt-image-2.5-flare", "n": 3, "size": "1536x864",
            "background": "transparent", "output_format": "webp", "output_compression": 60,
            "quality": "xhigh", "complexity": "high", "user": "u1", "safety_identifier": "h1"
        })));
        assert_eq!(
            g,
            json!({"model": "gpt-image-2.5-flare", "prompt": "p", "n": 3, "size": "1536x864",
                   "quality": "xhigh", "output_format": "webp", "output_compression": 60,
                   "background": "transparent", "complexity": "high", "safety_identifier": "h1"})
        );
        let fallback = OpenAiProvider::generation_body(&plan(json!({
            "prompt": "p", "model": "gpt-image-1-mini", "user": "u1"
        })));
        assert_eq!(
            fallback["safety_identifier"], "u1",
            "user when no safety_identifier"
        );
        assert_eq!(fallback["quality"], "medium");
        assert_eq!(fallback["background"], "opaque", "never silently dropped");
        assert!(fallback.get("response_format").is_none());
    }

    #[tokio::test]
    async fn returns_decoded_images_and_revised_prompts() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/images/generations"))
            .and(header("authorization", "Bearer sk-test"))
            .and(body_partial_json(json!({"model": "gpt-image-1.5"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "created": 1, "data": [{"b64_json": png(32, 32), "revised_prompt": "a better prompt"}]
            })))
            .expect(1)
            .mount(&server)
            .await;
        let out = provider(&server, 5_000)
            .generate(
                &plan(json!({"prompt": "p", "model": "gpt-image-1.5"})),
                None,
            )
            .await
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].revised_prompt.as_deref(), Some("a better prompt"));
        let ProviderOutput::Encoded(bytes) = &out[0].image else {
            panic!("encoded")
        };
        assert_eq!(imaging::decode(bytes).unwrap().width(), 32);
    }

    #[tokio::test]
    async fn a_calls_usage_is_kept_with_its_first_image() {
        let server = MockServer::start().await;
        let usage = json!({"input_tokens": 12, "output_tokens": 4160, "total_tokens": 4172,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 12}});
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "created": 1, "data": [{"b64_json": png(8, 8)}, {"b64_json": png(8, 8)}],
                "usage": usage
            })))
            .mount(&server)
            .await;
        let out = provider(&server, 5_000)
            .generate(&plan(json!({"prompt": "p", "n": 2})), None)
            .await
            .unwrap();
        assert_eq!(out[0].usage.as_ref(), Some(&usage));
        assert_eq!(out[1].usage, None, "counted once");
    }

    #[tokio::test]
    async fn a_stream_is_asked_for_and_its_partial_images_and_usage_relayed() {
        let server = MockServer::start().await;
        let usage = json!({"input_tokens": 9, "output_tokens": 272, "total_tokens": 281,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 9}});
        let common = json!({"created_at": 1, "size": "1024x1024", "quality": "low",
            "background": "opaque", "output_format": "png"});
        let event = |kind: &str, extra: Value| {
            let mut body = common.clone();
            body["type"] = format!("image_generation.{kind}").into();
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            format!("event: image_generation.{kind}\ndata: {body}\n\n")
        };
        let sse = [
            event(
                "partial_image",
                json!({"b64_json": png(4, 4), "partial_image_index": 0}),
            ),
            event(
                "partial_image",
                json!({"b64_json": png(6, 6), "partial_image_index": 1}),
            ),
            event(
                "completed",
                json!({"b64_json": png(16, 16), "usage": usage}),
            ),
        ]
        .concat();
        Mock::given(method("POST"))
            .and(path("/images/generations"))
            .and(body_partial_json(
                json!({"stream": true, "partial_images": 2}),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
            .expect(1)
            .mount(&server)
            .await;
        let out = provider(&server, 5_000)
            .generate(
                &plan(json!({"prompt": "p", "stream": true, "partial_images": 2})),
                None,
            )
            .await
            .unwrap();
        assert_eq!(out.len(), 1);
        let sizes: Vec<u32> = out[0].partials.iter().map(|p| p.width()).collect();
        assert_eq!(sizes, [4, 6], "OpenAI's own partial images, in order");
        assert_eq!(out[0].usage.as_ref(), Some(&usage));
        let ProviderOutput::Encoded(bytes) = &out[0].image else {
            panic!("encoded")
        };
        assert_eq!(imaging::decode(bytes).unwrap().width(), 16);
    }

    #[tokio::test]
    async fn with_a_sink_partial_images_go_there_in_order_and_not_in_the_answer() {
        let server = MockServer::start().await;
        let event = |kind: &str, extra: Value| {
            let mut body = json!({"type": format!("image_generation.{kind}")});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            format!("event: image_generation.{kind}\r\ndata: {body}\r\n\r\n")
        };
        let sse = [
            event("partial_image", json!({"b64_json": png(4, 4)})),
            event("completed", json!({"b64_json": png(16, 16)})),
            event("partial_image", json!({"b64_json": png(6, 6)})),
            event("completed", json!({"b64_json": png(16, 16)})),
        ]
        .concat();
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
            .mount(&server)
            .await;
        let (sink, mut rx) = Partials::channel();
        let p = plan(json!({"prompt": "p", "n": 2, "stream": true, "partial_images": 1}));
        let out = provider(&server, 5_000)
            .generate(&p, Some(&sink))
            .await
            .unwrap();
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|i| i.partials.is_empty()), "sent, not kept");
        let first = rx.try_recv().unwrap();
        let second = rx.try_recv().unwrap();
        assert_eq!((first.image, second.image), (0, 1));
        assert_eq!((first.b64, second.b64), (png(4, 4), png(6, 6)));
        assert_eq!(
            (first.size.as_str(), first.output_format),
            ("1024x1024", "png")
        );
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn streams_with_crlf_lines_and_split_data_parse_and_moderation_is_a_policy_refusal() {
        let crlf = "event: image_generation.completed\r\ndata: {\"type\": \"image_generation.completed\",\r\ndata: \"b64_json\": \"AA==\", \"usage\": null}\r\n\r\n";
        let v = from_events(crlf, true).unwrap();
        assert_eq!(v["data"][0]["b64_json"], "AA==");
        let blocked = "event: error\ndata: {\"type\": \"error\", \"error\": {\"code\": \"moderation_blocked\", \"message\": \"blocked\"}}\n\n";
        assert!(matches!(
            from_events(blocked, true),
            Err(ProviderError::ContentPolicy(_))
        ));
        let no_error = "data: {\"type\": \"image_generation.completed\", \"b64_json\": \"AA==\", \"error\": null}\n\n";
        assert!(
            from_events(no_error, true).is_ok(),
            "a null error is no error"
        );
    }

    #[tokio::test]
    async fn a_stream_that_fails_midway_is_an_upstream_error() {
        let server = MockServer::start().await;
        let sse = "event: error\ndata: {\"type\": \"error\", \"error\": {\"message\": \"overloaded\"}}\n\n";
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
            .mount(&server)
            .await;
        let err = provider(&server, 5_000)
            .generate(&plan(json!({"prompt": "p", "stream": true})), None)
            .await
            .err()
            .expect("failed");
        assert!(
            matches!(err, ProviderError::Upstream { status: 502, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn image_urls_off_the_vendors_hosts_are_not_fetched() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{"url": "http://169.254.169.254/latest/meta-data/iam"}]
            })))
            .mount(&server)
            .await;
        let err = provider(&server, 5_000)
            .generate(&plan(json!({"prompt": "p"})), None)
            .await
            .err()
            .expect("refused");
        assert!(
            matches!(&err, ProviderError::BadOutput(m) if m.contains("not on its hosts")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn retries_server_errors_and_honours_retry_after() {
        let server = MockServer::start().await;
        // A Retry-After far longer than the backoff's first waits (~0.5 s, ~1 s): the elapsed
        // time tells whether it was honoured.
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": [{"b64_json": png(8, 8)}]})),
            )
            .mount(&server)
            .await;
        let started = Instant::now();
        let out = provider(&server, 20_000)
            .generate(&plan(json!({"prompt": "p"})), None)
            .await
            .unwrap();
        assert_eq!(out.len(), 1);
        assert!(
            started.elapsed() >= Duration::from_secs(3),
            "waited for Retry-After: {:?}",
            started.elapsed()
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn gives_up_after_the_retry_budget() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(503)
                    .set_body_json(json!({"error": {"message": "overloaded"}})),
            )
            .mount(&server)
            .await;
        let err = provider(&server, 10_000)
            .generate(&plan(json!({"prompt": "p"})), None)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, ProviderError::Upstream { status: 503, .. }),
            "{err:?}"
        );
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            3,
            "1 try + 2 retries"
        );
        // Overloaded to the end: a 503 the client may retry (the README's contract).
        let api = crate::error::ApiError::from(err);
        assert_eq!(api.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.to_string().contains("overloaded"), "{api}");
    }

    #[tokio::test]
    async fn content_policy_refusals_are_not_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
                "message": "Your request was rejected as a result of our safety system.",
                "type": "image_generation_user_error", "code": "content_policy_violation"}})))
            .expect(1)
            .mount(&server)
            .await;
        let err = provider(&server, 5_000)
            .generate(&plan(json!({"prompt": "p"})), None)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, ProviderError::ContentPolicy(_)), "{err:?}");
        let api = crate::error::ApiError::from(err);
        assert_eq!(api.status(), http::StatusCode::BAD_REQUEST);
        assert_eq!(api.body()["error"]["code"], "content_policy_violation");
    }

    #[tokio::test]
    async fn a_slow_provider_is_a_timeout() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let err = provider(&server, 400)
            .generate(&plan(json!({"prompt": "p"})), None)
            .await
            .err()
            .unwrap();
        assert!(matches!(err, ProviderError::Timeout), "{err:?}");
        assert_eq!(
            crate::error::ApiError::from(err).status(),
            http::StatusCode::GATEWAY_TIMEOUT
        );
    }

    #[tokio::test]
    async fn a_refused_key_is_not_retried_and_lets_another_vendor_serve() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(401)
                    .set_body_json(json!({"error": {"message": "Incorrect API key"}})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let err = provider(&server, 5_000)
            .generate(&plan(json!({"prompt": "p"})), None)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, ProviderError::Upstream { status: 401, .. }) && err.is_outage(),
            "{err:?}"
        );
    }
}
