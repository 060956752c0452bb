//! fal's queue API: `POST {queue}/{app id}` answers a `request_id` and the URLs to follow
//! (`status_url`, `response_url`, `cancel_url`: they drop the app's sub-path, so they are taken
//! from the answer, never built). The status is polled until `COMPLETED`, then the response is
//! read; a stopped or timed-out call `PUT`s its cancel URL. One request per image; outputs are
//! downloaded at once from fal's media hosts.

use super::fetch::{Fetch, MAX_OUTPUT_BYTES};
use super::polling::{self, download, fill_inputs, on_origin, seed_of};
use super::{Call, EditInputs, ProviderError, ProviderImage, retry};
use crate::domain::catalog::Route;
use crate::domain::generation::GenerationPlan;
use reqwest::Url;
use serde_json::{Value, json};
use std::time::Duration;

/// Where fal serves outputs.
pub const MEDIA_HOSTS: &[&str] = &["fal.media", "*.fal.media"];

pub struct FalProvider {
    http: reqwest::Client,
    queue: Url,
    key: String,
    fetch: Fetch,
    download: reqwest::Client,
}

impl FalProvider {
    /// `queue_url` is the queue's host (`https://queue.fal.run`).
    pub fn new(queue_url: &str, key: &str) -> Self {
        let base = queue_url.trim_end_matches('/');
        let hosts: Vec<String> = MEDIA_HOSTS.iter().map(|h| h.to_string()).collect();
        let fetch = Fetch::new(&hosts, base, MAX_OUTPUT_BYTES);
        Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a TLS client"),
            queue: Url::parse(base)
                .unwrap_or_else(|_| Url::parse("https://queue.fal.run").unwrap()),
            key: format!("Key {key}"),
            download: fetch.client(Duration::from_secs(5)),
            fetch,
        }
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
        download(&self.fetch, &self.download, url, &call).await
    }

    /// Queues one request and follows it to its result.
    pub async fn run(
        &self,
        route: &Route,
        input: Value,
        call: Call<'_>,
    ) -> Result<Value, ProviderError> {
        let url = self
            .queue
            .join(&format!("/{}", route.id))
            .map_err(|e| ProviderError::BadOutput(e.to_string()))?;
        let queued: Value = retry::send(
            "fal",
            call.deadline,
            call.max_retries,
            || {
                self.http
                    .post(url.clone())
                    .header("authorization", &self.key)
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
                .and_then(|u| on_origin(&self.queue, u))
        };
        let (status_url, response_url) = (follow("status_url")?, follow("response_url")?);
        let cancel_url = follow("cancel_url").ok();
        let mut polls = 0;
        loop {
            let status: Value = retry::send(
                "fal",
                call.deadline,
                call.max_retries,
                || {
                    self.http
                        .get(status_url.clone())
                        .header("authorization", &self.key)
                },
                |answer| json_of(&answer.text),
                error_of,
            )
            .await?;
            match status["status"].as_str().unwrap_or_default() {
                "COMPLETED" => break,
                "IN_QUEUE" | "IN_PROGRESS" => {}
                other => {
                    return Err(ProviderError::BadOutput(format!(
                        "unknown queue status {other:?}"
                    )));
                }
            }
            let stop = if call.go_on().await {
                polling::pause(&call, polls).await.err()
            } else {
                Some(ProviderError::Canceled)
            };
            if let Some(e) = stop {
                self.cancel(cancel_url.as_ref()).await;
                return Err(e);
            }
            polls += 1;
        }
        retry::send(
            "fal",
            call.deadline,
            call.max_retries,
            || {
                self.http
                    .get(response_url.clone())
                    .header("authorization", &self.key)
            },
            |answer| json_of(&answer.text),
            error_of,
        )
        .await
    }

    async fn cancel(&self, url: Option<&Url>) {
        let Some(url) = url else { return };
        let sent = self
            .http
            .put(url.clone())
            .header("authorization", &self.key)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => tracing::info!(vendor = "fal", "request canceled"),
            Ok(r) => tracing::warn!(
                vendor = "fal",
                status = r.status().as_u16(),
                "request not canceled"
            ),
            Err(e) => tracing::warn!(vendor = "fal", error = %e, "request not canceled"),
        }
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
