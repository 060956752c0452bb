//! Replicate's predictions API: `POST /v1/models/{owner}/{name}/predictions` with
//! `Prefer: wait` (the answer may still be `starting`/`processing`: then `urls.get` is polled),
//! one prediction per image, `urls.cancel` when the call is stopped or runs out of time, and
//! each output downloaded at once from Replicate's delivery hosts (it is deleted within the
//! hour).

use super::fetch::{Fetch, MAX_OUTPUT_BYTES};
use super::polling::{self, download, fill_inputs, on_origin, seed_of};
use super::{Call, EditInputs, ProviderError, ProviderImage, retry};
use crate::domain::catalog::{Route, Size, aspect_of};
use crate::domain::generation::GenerationPlan;
use reqwest::Url;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Where Replicate serves outputs.
pub const DELIVERY_HOSTS: &[&str] = &["replicate.delivery", "*.replicate.delivery"];

/// The longest `Prefer: wait` Replicate honours.
const MAX_WAIT_SECS: u64 = 60;

pub struct ReplicateProvider {
    http: reqwest::Client,
    api: Url,
    token: String,
    fetch: Fetch,
    download: reqwest::Client,
}

impl ReplicateProvider {
    /// `base_url` is the host without a version path (`https://api.replicate.com`).
    pub fn new(base_url: &str, token: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        let hosts: Vec<String> = DELIVERY_HOSTS.iter().map(|h| h.to_string()).collect();
        let fetch = Fetch::new(&hosts, base, MAX_OUTPUT_BYTES);
        Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a TLS client"),
            api: Url::parse(base)
                .unwrap_or_else(|_| Url::parse("https://api.replicate.com").unwrap()),
            token: token.to_string(),
            download: fetch.client(Duration::from_secs(5)),
            fetch,
        }
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

    pub async fn generate(
        &self,
        plan: &GenerationPlan,
        route: &Route,
        call: Call<'_>,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        futures::future::try_join_all(
            (0..plan.n as u64).map(|i| self.image(route, Self::input(plan, route, i, None), call)),
        )
        .await
    }

    /// An inpainting edit (FLUX Fill): the image and the mask converted to white = edit.
    pub async fn edit(
        &self,
        plan: &GenerationPlan,
        route: &Route,
        inputs: &EditInputs,
        call: Call<'_>,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let first = inputs
            .images
            .first()
            .ok_or_else(|| ProviderError::BadOutput("an edit without an image".into()))?;
        let pair = fill_inputs(first, inputs.mask.as_ref())?;
        futures::future::try_join_all(
            (0..plan.n as u64)
                .map(|i| self.image(route, Self::input(plan, route, i, Some(pair.clone())), call)),
        )
        .await
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
        download(&self.fetch, &self.download, &url, &call).await
    }

    /// Runs one prediction to its end and gives its `output`.
    pub async fn predict(
        &self,
        route: &Route,
        input: Value,
        call: Call<'_>,
    ) -> Result<Value, ProviderError> {
        let url = self
            .api
            .join(&format!("/v1/models/{}/predictions", route.id))
            .map_err(|e| ProviderError::BadOutput(e.to_string()))?;
        let body = json!({"input": input});
        let left = call
            .deadline
            .saturating_duration_since(Instant::now())
            .as_secs();
        let wait = left.saturating_sub(2).clamp(1, MAX_WAIT_SECS);
        let mut prediction = retry::send(
            "replicate",
            call.deadline,
            call.max_retries,
            || {
                self.http
                    .post(url.clone())
                    .bearer_auth(&self.token)
                    .header("prefer", format!("wait={wait}"))
                    .json(&body)
            },
            |answer| parse(&answer.text),
            error_of,
        )
        .await?;
        let mut polls = 0;
        loop {
            match prediction["status"].as_str().unwrap_or_default() {
                "succeeded" => return Ok(prediction["output"].clone()),
                "failed" => return Err(failure(&prediction)),
                "canceled" | "aborted" => {
                    return Err(ProviderError::Upstream {
                        status: 500,
                        message: "the prediction was canceled at Replicate".into(),
                    });
                }
                _ => {}
            }
            if !call.go_on().await {
                self.cancel(&prediction).await;
                return Err(ProviderError::Canceled);
            }
            if let Err(e) = polling::pause(&call, polls).await {
                self.cancel(&prediction).await;
                return Err(e);
            }
            polls += 1;
            let get = prediction["urls"]["get"]
                .as_str()
                .ok_or_else(|| ProviderError::BadOutput("the prediction has no urls.get".into()))
                .and_then(|u| on_origin(&self.api, u))?;
            prediction = retry::send(
                "replicate",
                call.deadline,
                call.max_retries,
                || self.http.get(get.clone()).bearer_auth(&self.token),
                |answer| parse(&answer.text),
                error_of,
            )
            .await?;
        }
    }

    /// Cancels a prediction that is no longer wanted (best effort: it is logged if it fails).
    async fn cancel(&self, prediction: &Value) {
        let Some(url) = prediction["urls"]["cancel"]
            .as_str()
            .and_then(|u| on_origin(&self.api, u).ok())
        else {
            return;
        };
        let sent = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                tracing::info!(
                    vendor = "replicate",
                    id = prediction["id"].as_str(),
                    "prediction canceled"
                )
            }
            Ok(r) => tracing::warn!(
                vendor = "replicate",
                status = r.status().as_u16(),
                "prediction not canceled"
            ),
            Err(e) => tracing::warn!(vendor = "replicate", error = %e, "prediction not canceled"),
        }
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
    ProviderError::Upstream {
        status: 500,
        message: error.chars().take(300).collect(),
    }
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
