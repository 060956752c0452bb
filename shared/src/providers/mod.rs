//! Image providers behind one port. Which provider serves a model is in the catalog.

pub mod fetch;
pub mod local;
pub mod openai;
mod retry;
pub mod stability;

use crate::config::Config;
use crate::domain::catalog::ProviderKind;
use crate::domain::generation::GenerationPlan;
use crate::error::ApiError;
use http::StatusCode;
use imaging::RgbaImage;
use std::future::Future;

/// One image as a provider delivers it.
pub struct ProviderImage {
    pub image: ProviderOutput,
    pub revised_prompt: Option<String>,
    /// The image as drawn so far, at a few stages (streaming's partial images).
    pub partials: Vec<RgbaImage>,
    /// The vendor's token usage for this image (the whole call's on the first image when the
    /// vendor reports it per call).
    pub usage: Option<serde_json::Value>,
}

pub enum ProviderOutput {
    /// Pixels rendered in-process (no encode/decode round trip).
    Raw(RgbaImage),
    /// Encoded bytes (PNG/JPEG/WebP) from a vendor.
    Encoded(Vec<u8>),
    /// A vector image, and its pixels (for the thumbnail).
    Svg { svg: String, raster: RgbaImage },
    /// The frames of an animation, each shown `delay_ms`.
    Frames {
        frames: Vec<RgbaImage>,
        delay_ms: u32,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    ContentPolicy(String),
    #[error("the image provider did not answer in time")]
    Timeout,
    #[error("the image provider is rate limiting requests")]
    RateLimited { retry_after_secs: Option<u64> },
    /// A 4xx other than a policy refusal: our request was wrong for the vendor.
    #[error("the image provider rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the image provider failed ({status}): {message}")]
    Upstream { status: u16, message: String },
    #[error("the image provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the image provider returned an unusable image: {0}")]
    BadOutput(String),
}

impl From<ProviderError> for ApiError {
    /// Clients see what happened, never the vendor's own words (they may name our account or
    /// key); the detail is logged with the request id.
    fn from(e: ProviderError) -> Self {
        let message = match &e {
            ProviderError::Timeout => {
                "The image provider did not answer in time. Nothing was charged."
            }
            ProviderError::RateLimited { .. } | ProviderError::Upstream { status: 503, .. } => {
                "The image provider is overloaded. Nothing was charged; retry later."
            }
            ProviderError::BadOutput(_) => {
                "The image provider returned an unusable result. Nothing was charged."
            }
            _ => "The image provider failed. Nothing was charged.",
        };
        if !matches!(e, ProviderError::ContentPolicy(_)) {
            tracing::warn!(error = %e, "provider failure");
        }
        let provider = |status, retry_after_secs| ApiError::Provider {
            status,
            message: message.to_string(),
            retry_after_secs,
        };
        match &e {
            ProviderError::ContentPolicy(m) => ApiError::ContentPolicy(format!(
                "Your request was rejected by the image provider's safety system: {m}"
            )),
            ProviderError::Timeout => provider(StatusCode::GATEWAY_TIMEOUT, None),
            // Overload (a 429, or a 503 "service unavailable", still there after the retries)
            // is a 503 the client may retry; any other vendor fault is a 502.
            ProviderError::RateLimited { retry_after_secs } => provider(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(retry_after_secs.unwrap_or(30)),
            ),
            ProviderError::Upstream { status: 503, .. } => {
                provider(StatusCode::SERVICE_UNAVAILABLE, Some(30))
            }
            _ => provider(StatusCode::BAD_GATEWAY, None),
        }
    }
}

/// An input image: the bytes as received (sent on to vendors) and its decoded pixels.
pub struct InputImage {
    pub bytes: Vec<u8>,
    /// Shared, not copied, with the provider's blocking task (inputs reach 160 MB decoded).
    pub rgba: std::sync::Arc<RgbaImage>,
    /// The library asset it came from, if any (recorded as the result's parent).
    pub asset_id: Option<String>,
    /// Whether the encoded image has an alpha channel (a mask must).
    pub has_alpha: bool,
}

pub struct EditInputs {
    pub images: Vec<InputImage>,
    /// Transparent pixels mark where to edit; same size as the first image.
    pub mask: Option<InputImage>,
}

/// Every method returns exactly `plan.n` images, or an error; never a partial result.
pub trait ImageProvider: Send + Sync {
    fn generate(
        &self,
        plan: &GenerationPlan,
    ) -> impl Future<Output = Result<Vec<ProviderImage>, ProviderError>> + Send;
    fn edit(
        &self,
        plan: &GenerationPlan,
        inputs: &EditInputs,
    ) -> impl Future<Output = Result<Vec<ProviderImage>, ProviderError>> + Send;
    fn variation(
        &self,
        plan: &GenerationPlan,
        input: &InputImage,
    ) -> impl Future<Output = Result<Vec<ProviderImage>, ProviderError>> + Send;
}

/// Every configured provider; dispatches by the model's provider.
pub struct Providers {
    pub local: local::LocalProvider,
    pub openai: Option<openai::OpenAiProvider>,
    pub stability: Option<stability::StabilityProvider>,
}

impl Providers {
    pub fn from_config(config: &Config) -> Self {
        Self {
            local: local::LocalProvider,
            openai: config.openai_api_key.as_ref().map(|key| {
                openai::OpenAiProvider::new(
                    &config.openai_base_url,
                    key,
                    config.provider_timeout,
                    config.provider_max_retries,
                    &config.openai_image_hosts,
                )
            }),
            stability: config.stability_api_key.as_ref().map(|key| {
                stability::StabilityProvider::new(
                    &config.stability_base_url,
                    key,
                    config.provider_timeout,
                    config.provider_max_retries,
                )
            }),
        }
    }

    pub fn serves(&self, kind: ProviderKind) -> bool {
        match kind {
            ProviderKind::Local => true,
            ProviderKind::OpenAi => self.openai.is_some(),
            ProviderKind::Stability => self.stability.is_some(),
        }
    }

    /// The default model: OpenAI's own default when configured, else Stability's, else the
    /// local renderer.
    pub fn default_model(&self) -> &'static str {
        if self.openai.is_some() {
            "gpt-image-1-mini"
        } else if self.stability.is_some() {
            "stable-image-core"
        } else {
            "local-procedural"
        }
    }

    pub async fn generate(
        &self,
        plan: &GenerationPlan,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let images = match plan.model.provider {
            ProviderKind::Local => self.local.generate(plan).await?,
            ProviderKind::OpenAi => self.openai()?.generate(plan).await?,
            ProviderKind::Stability => self.stability()?.generate(plan).await?,
        };
        exactly(plan, images)
    }

    pub async fn edit(
        &self,
        plan: &GenerationPlan,
        inputs: &EditInputs,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let images = match plan.model.provider {
            ProviderKind::Local => self.local.edit(plan, inputs).await?,
            ProviderKind::OpenAi => self.openai()?.edit(plan, inputs).await?,
            // The catalog gives Stability's models no edits: plans refuse them first.
            ProviderKind::Stability => return Err(not_offered("edits")),
        };
        exactly(plan, images)
    }

    pub async fn variation(
        &self,
        plan: &GenerationPlan,
        input: &InputImage,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let images = match plan.model.provider {
            ProviderKind::Local => self.local.variation(plan, input).await?,
            ProviderKind::OpenAi => self.openai()?.variation(plan, input).await?,
            ProviderKind::Stability => return Err(not_offered("variations")),
        };
        exactly(plan, images)
    }

    fn stability(&self) -> Result<&stability::StabilityProvider, ProviderError> {
        self.stability
            .as_ref()
            .ok_or_else(|| ProviderError::Unreachable("Stability is not configured".into()))
    }

    fn openai(&self) -> Result<&openai::OpenAiProvider, ProviderError> {
        self.openai
            .as_ref()
            .ok_or_else(|| ProviderError::Unreachable("OpenAI is not configured".into()))
    }
}

fn not_offered(what: &str) -> ProviderError {
    ProviderError::Rejected {
        status: 400,
        message: format!("this deployment offers no {what} for Stability's models"),
    }
}

fn exactly(
    plan: &GenerationPlan,
    images: Vec<ProviderImage>,
) -> Result<Vec<ProviderImage>, ProviderError> {
    if images.len() != plan.n as usize {
        return Err(ProviderError::BadOutput(format!(
            "asked for {} images, got {}",
            plan.n,
            images.len()
        )));
    }
    Ok(images)
}
