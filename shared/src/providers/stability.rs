//! Stability AI's Stable Image API (v2beta) over HTTP: one multipart request per image to
//! `/v2beta/stable-image/generate/{sd3|core|ultra}` with `Accept: application/json` (the image
//! as base64, its `finish_reason` and `seed`), bounded retries on 429/5xx/timeouts honouring
//! `Retry-After`, and Stability's errors (`{id, name, errors[]}`) mapped to ours.

use super::{
    Answer, Call, Op, ProviderError, ProviderImage, ProviderOutput, Vendor, not_offered, retry,
};
use crate::domain::catalog::{ProviderKind, Route, aspect_of};
use crate::domain::generation::GenerationPlan;
use base64::Engine;
use serde_json::Value;
use std::time::Duration;

pub struct StabilityProvider {
    http: reqwest::Client,
    base_url: String,
    api_key: std::sync::Arc<crate::secrets::Secret>,
}

/// Stability's seeds are 0–4294967294.
const SEED_RANGE: u64 = 4_294_967_295;

impl StabilityProvider {
    /// `base_url` is the host without a version path (`https://api.stability.ai`).
    pub fn new(base_url: &str, api_key: impl Into<crate::secrets::Key>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a TLS client"),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.into().0,
        }
    }

    /// The endpoint and form fields of the `index`-th image of a plan (`route.id` is the
    /// endpoint, or an SD3 model served by the `sd3` endpoint).
    pub fn request(
        plan: &GenerationPlan,
        route: &Route,
        index: u64,
    ) -> (String, Vec<(&'static str, String)>) {
        let (endpoint, model) = match route.id {
            "core" | "ultra" => (route.id, None),
            sd3 => ("sd3", Some(sd3)),
        };
        let mut fields = vec![
            ("prompt", plan.prompt.clone()),
            ("aspect_ratio", aspect_of(plan.size).to_string()),
            // Encoded to the format asked for afterwards, like every provider's output.
            ("output_format", "png".to_string()),
            // 0 would mean "random": seeds run 1..=4294967294, one per image.
            (
                "seed",
                (plan.seed.wrapping_add(index) % (SEED_RANGE - 1) + 1).to_string(),
            ),
        ];
        if let Some(m) = model {
            fields.push(("model", m.to_string()));
        }
        (format!("/v2beta/stable-image/generate/{endpoint}"), fields)
    }

    async fn one(
        &self,
        plan: &GenerationPlan,
        route: &Route,
        index: u64,
        call: Call<'_>,
    ) -> Result<ProviderImage, ProviderError> {
        let (path, fields) = Self::request(plan, route, index);
        let url = format!("{}{path}", self.base_url);
        let key = self.api_key.text().await.map_err(super::key_unavailable)?;
        let request = || {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in &fields {
                form = form.text(*k, v.clone());
            }
            self.http
                .post(&url)
                .bearer_auth(key)
                .header("accept", "application/json")
                .multipart(form)
        };
        retry::send(
            "stability",
            call.deadline,
            call.max_retries,
            request,
            |answer| image_of(&answer.text),
            |text| {
                let (name, message) = error_fields(text);
                (message, name == "content_moderation")
            },
        )
        .await
    }

    /// An inpainting edit (`/v2beta/stable-image/edit/inpaint`): the image, a grayscale mask
    /// (white = repaint; our transparent pixels), the prompt; one request per image.
    pub async fn edit(
        &self,
        plan: &GenerationPlan,
        route: &Route,
        inputs: &super::EditInputs,
        call: Call<'_>,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let image = inputs
            .images
            .first()
            .ok_or_else(|| ProviderError::BadOutput("an edit without an image".into()))?;
        let source = inputs.mask.as_ref().map_or(&image.rgba, |m| &m.rgba);
        let mask = super::masks::to_vendor_png(source)?;
        let url = format!("{}/v2beta/stable-image/edit/{}", self.base_url, route.id);
        let key = self.api_key.text().await.map_err(super::key_unavailable)?;
        let one = |index: u64| {
            let (image, mask, url) = (image.bytes.clone(), mask.clone(), url.clone());
            async move {
                let seed = plan.seed.wrapping_add(index) % (SEED_RANGE - 1) + 1;
                let request = || {
                    let file = |bytes: &[u8], name: &str| {
                        reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string())
                    };
                    let form = reqwest::multipart::Form::new()
                        .part("image", file(&image, "image"))
                        .part("mask", file(&mask, "mask.png"))
                        .text("prompt", plan.prompt.clone())
                        .text("output_format", "png")
                        .text("seed", seed.to_string());
                    self.http
                        .post(&url)
                        .bearer_auth(key)
                        .header("accept", "application/json")
                        .multipart(form)
                };
                retry::send(
                    "stability",
                    call.deadline,
                    call.max_retries,
                    request,
                    |answer| image_of(&answer.text),
                    |text| {
                        let (name, message) = error_fields(text);
                        (message, name == "content_moderation")
                    },
                )
                .await
            }
        };
        futures::future::try_join_all((0..plan.n as u64).map(one)).await
    }

    /// `n` images, asked for at once (Stability makes one per request).
    pub async fn generate(
        &self,
        plan: &GenerationPlan,
        route: &Route,
        call: Call<'_>,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        futures::future::try_join_all((0..plan.n as u64).map(|i| self.one(plan, route, i, call)))
            .await
    }
}

fn image_of(text: &str) -> Result<ProviderImage, ProviderError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| ProviderError::BadOutput(format!("response is not JSON: {e}")))?;
    match v["finish_reason"].as_str() {
        Some("CONTENT_FILTERED") => {
            return Err(ProviderError::ContentPolicy(
                "the image was filtered by Stability's content moderation".into(),
            ));
        }
        Some("SUCCESS") | None => {}
        Some(other) => {
            return Err(ProviderError::BadOutput(format!("finish_reason {other}")));
        }
    }
    let b64 = v["image"]
        .as_str()
        .ok_or_else(|| ProviderError::BadOutput("response has no image".into()))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| ProviderError::BadOutput(format!("image is not base64: {e}")))?;
    Ok(ProviderImage {
        image: ProviderOutput::Encoded(bytes),
        revised_prompt: None,
        partials: Vec::new(),
        usage: None,
    })
}

/// `name` and the joined `errors` of Stability's error body.
fn error_fields(text: &str) -> (String, String) {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let name = v["name"].as_str().unwrap_or_default().to_string();
    let message = match v["errors"].as_array() {
        Some(errors) if !errors.is_empty() => errors
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
        _ => text.chars().take(300).collect(),
    };
    (name, message)
}

impl Vendor for StabilityProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Stability
    }

    fn images<'a, 'c: 'a>(
        &'a self,
        plan: &'a GenerationPlan,
        route: &'a Route,
        op: Op<'a>,
        call: Call<'c>,
    ) -> Answer<'a, Vec<ProviderImage>> {
        match op {
            Op::Generate => Box::pin(self.generate(plan, route, call)),
            Op::Edit(inputs) => Box::pin(self.edit(plan, route, inputs, call)),
            Op::Variation(_) => Box::pin(std::future::ready(Err(not_offered(route)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::generation::CreateImageRequest;
    use serde_json::json;
    use std::time::Instant;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn plan(v: Value) -> GenerationPlan {
        serde_json::from_value::<CreateImageRequest>(v)
            .unwrap()
            .plan("stable-image-core", |_| true)
            .unwrap()
    }

    fn png(w: u32, h: u32) -> String {
        let img = imaging::RgbaImage::from_pixel(w, h, imaging::Rgba([200, 30, 30, 255]));
        let bytes = imaging::encode(&img, imaging::Format::Png, None).unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    async fn generate(
        server: &MockServer,
        plan: &GenerationPlan,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let call = Call {
            deadline: Instant::now() + Duration::from_secs(5),
            max_retries: 2,
            watch: None,
            staging: None,
            partials: None,
        };
        StabilityProvider::new(&server.uri(), "sk-stab")
            .generate(plan, plan.routes[0], call)
            .await
    }

    /// The form fields of a received multipart request, by name.
    fn fields(req: &wiremock::Request) -> std::collections::HashMap<String, String> {
        let body = String::from_utf8_lossy(&req.body);
        let mut out = std::collections::HashMap::new();
        for part in body
            .split("Content-Disposition: form-data; name=\"")
            .skip(1)
        {
            let (name, rest) = part.split_once('"').unwrap();
            let value = rest.split("\r\n\r\n").nth(1).unwrap_or_default();
            let value = value.split("\r\n--").next().unwrap_or_default();
            out.insert(name.to_string(), value.to_string());
        }
        out
    }

    #[tokio::test]
    async fn each_image_is_one_request_with_the_models_endpoint_ratio_and_its_own_seed() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2beta/stable-image/generate/sd3"))
            .and(header("authorization", "Bearer sk-stab"))
            .and(header("accept", "application/json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"image": png(1344, 768), "finish_reason": "SUCCESS", "seed": 7}),
            ))
            .expect(2)
            .mount(&server)
            .await;
        let p = plan(
            json!({"prompt": "a fox", "model": "sd3.5-large", "size": "1344x768",
            "n": 2, "seed": 41}),
        );
        let out = generate(&server, &p).await.unwrap();
        assert_eq!(out.len(), 2);
        let sent = server.received_requests().await.unwrap();
        let mut seeds: Vec<String> = Vec::new();
        for req in &sent {
            let f = fields(req);
            assert_eq!(f["prompt"], "a fox");
            assert_eq!(f["aspect_ratio"], "16:9");
            assert_eq!(f["model"], "sd3.5-large");
            assert_eq!(f["output_format"], "png");
            seeds.push(f["seed"].clone());
        }
        seeds.sort();
        assert_eq!(
            seeds,
            ["42", "43"],
            "the seed, then the next: two different images"
        );
    }

    #[tokio::test]
    async fn filtered_content_and_moderation_errors_are_policy_refusals() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2beta/stable-image/generate/core"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"image": png(8, 8), "finish_reason": "CONTENT_FILTERED", "seed": 1}),
            ))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v2beta/stable-image/generate/ultra"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "id": "e1", "name": "content_moderation",
                "errors": ["Your request was flagged by our content moderation system"]})))
            .mount(&server)
            .await;
        let filtered = generate(&server, &plan(json!({"prompt": "x"})))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(filtered, ProviderError::ContentPolicy(_)),
            "{filtered}"
        );
        let flagged = generate(
            &server,
            &plan(json!({"prompt": "x", "model": "stable-image-ultra"})),
        )
        .await
        .err()
        .unwrap();
        assert!(
            matches!(flagged, ProviderError::ContentPolicy(_)),
            "{flagged}"
        );
    }

    #[tokio::test]
    async fn a_429_is_retried_after_its_retry_after_and_bad_requests_are_not() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({"id": "r", "name": "rate_limit_exceeded",
                        "errors": ["You have exceeded the rate limit"]})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"image": png(8, 8), "finish_reason": "SUCCESS", "seed": 1}),
                ),
            )
            .mount(&server)
            .await;
        let started = Instant::now();
        let out = generate(&server, &plan(json!({"prompt": "x"})))
            .await
            .unwrap();
        assert_eq!(out.len(), 1);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "waited as told"
        );

        let bad = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "id": "b", "name": "bad_request", "errors": ["prompt: too long"]})))
            .expect(1)
            .mount(&bad)
            .await;
        let err = generate(&bad, &plan(json!({"prompt": "x"})))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(&err, ProviderError::Rejected { status: 400, message } if message == "prompt: too long"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn server_errors_are_retried_then_reported() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_json(json!({
                "id": "s", "name": "internal_error", "errors": ["boom"]})))
            .expect(3)
            .mount(&server)
            .await;
        let err = generate(&server, &plan(json!({"prompt": "x"})))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, ProviderError::Upstream { status: 500, .. }),
            "{err}"
        );
    }
}

#[cfg(test)]
mod inpaint_tests {
    use super::*;
    use crate::domain::catalog::Size;
    use crate::domain::generation::{CreateImageRequest, Operation};
    use crate::providers::{EditInputs, InputImage};
    use serde_json::json;
    use std::collections::HashMap;
    use std::time::Instant;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// The parts of a multipart body, by name, as bytes.
    fn parts(req: &wiremock::Request) -> HashMap<String, Vec<u8>> {
        let ct = req.headers.get("content-type").unwrap().to_str().unwrap();
        let boundary = format!("--{}", ct.split("boundary=").nth(1).unwrap());
        let body = &req.body;
        let find = |from: usize, needle: &[u8]| {
            body[from..]
                .windows(needle.len())
                .position(|w| w == needle)
                .map(|p| p + from)
        };
        let mut out = HashMap::new();
        let mut at = find(0, boundary.as_bytes()).unwrap() + boundary.len();
        while let Some(next) = find(at, boundary.as_bytes()) {
            let part = &body[at..next - 2];
            let split = part.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let head = String::from_utf8_lossy(&part[..split]);
            let name = head
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            out.insert(name.to_string(), part[split + 4..].to_vec());
            at = next + boundary.len();
        }
        out
    }

    fn input(img: imaging::RgbaImage, alpha: bool) -> InputImage {
        InputImage {
            bytes: imaging::encode(&img, imaging::Format::Png, None).unwrap(),
            rgba: std::sync::Arc::new(img),
            asset_id: None,
            has_alpha: alpha,
        }
    }

    fn call(secs: u64) -> Call<'static> {
        Call {
            deadline: Instant::now() + Duration::from_secs(secs),
            max_retries: 0,
            watch: None,
            staging: None,
            partials: None,
        }
    }

    fn png_b64(w: u32, h: u32) -> String {
        let img = imaging::RgbaImage::from_pixel(w, h, imaging::Rgba([5, 5, 5, 255]));
        base64::engine::general_purpose::STANDARD
            .encode(imaging::encode(&img, imaging::Format::Png, None).unwrap())
    }

    #[tokio::test]
    async fn inpainting_sends_the_image_and_a_white_is_edit_mask_one_request_an_image() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2beta/stable-image/edit/inpaint"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"image": png_b64(96, 64), "finish_reason": "SUCCESS", "seed": 9}),
            ))
            .expect(2)
            .mount(&server)
            .await;
        let plan = serde_json::from_value::<CreateImageRequest>(
            json!({"prompt": "a red door", "model": "stable-image-inpaint", "n": 2, "seed": 10}),
        )
        .unwrap()
        .plan_for(
            Operation::Edit {
                images: 1,
                input: Size::new(96, 64),
            },
            "local-procedural",
            |_| true,
        )
        .unwrap();
        assert_eq!(
            plan.size,
            Size::new(96, 64),
            "an inpainting keeps the input's size"
        );
        let picture = imaging::RgbaImage::from_pixel(96, 64, imaging::Rgba([0, 90, 200, 255]));
        // Ours: the right half is transparent, to be repainted.
        let mask = imaging::RgbaImage::from_fn(96, 64, |x, _| {
            imaging::Rgba([0, 0, 0, if x >= 48 { 0 } else { 255 }])
        });
        let inputs = EditInputs {
            images: vec![input(picture.clone(), false)],
            mask: Some(input(mask, true)),
        };
        let out = StabilityProvider::new(&server.uri(), "sk-stab")
            .edit(&plan, plan.routes[0], &inputs, call(10))
            .await
            .unwrap();
        assert_eq!(out.len(), 2);
        let sent = server.received_requests().await.unwrap();
        let mut seeds = Vec::new();
        for req in &sent {
            let p = parts(req);
            assert_eq!(p["prompt"], b"a red door");
            assert_eq!(p["output_format"], b"png");
            seeds.push(String::from_utf8(p["seed"].clone()).unwrap());
            let image = imaging::image::load_from_memory(&p["image"])
                .unwrap()
                .to_rgba8();
            assert_eq!(image.get_pixel(10, 10), picture.get_pixel(10, 10));
            let theirs = imaging::image::load_from_memory(&p["mask"])
                .unwrap()
                .to_luma8();
            assert_eq!(
                theirs.get_pixel(90, 30).0,
                [255],
                "transparent: white, repainted"
            );
            assert_eq!(theirs.get_pixel(5, 30).0, [0], "opaque: black, kept");
        }
        seeds.sort();
        assert_eq!(seeds, ["11", "12"]);
    }

    #[tokio::test]
    async fn a_vendor_slower_than_the_budget_is_a_timeout() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_delay(Duration::from_secs(5))
                    .set_body_json(json!({"image": png_b64(8, 8), "finish_reason": "SUCCESS"})),
            )
            .mount(&server)
            .await;
        let plan = serde_json::from_value::<CreateImageRequest>(json!({"prompt": "x"}))
            .unwrap()
            .plan("stable-image-core", |_| true)
            .unwrap();
        let started = Instant::now();
        let e = StabilityProvider::new(&server.uri(), "sk")
            .generate(&plan, plan.routes[0], call(1))
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ProviderError::Timeout), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "gave up at the deadline"
        );
    }
}
