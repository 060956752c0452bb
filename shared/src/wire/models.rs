//! The model catalog as `/v1/models` shows it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ModelCost {
    /// Credits per image, by size, at the default quality.
    pub per_image: std::collections::BTreeMap<String, i64>,
    /// Qualities that multiply the price, with their factor.
    pub quality_multipliers: std::collections::BTreeMap<String, i64>,
    /// Video models: credits per second of video, by size.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub per_second: std::collections::BTreeMap<String, i64>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ModelInfoText {
    pub what_is: String,
    pub use_cases: Vec<String>,
    pub tips: Vec<String>,
}

/// One vendor of a model.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VendorRoute {
    pub provider: String,
    /// The vendor's own id for the model.
    pub model: String,
}

/// OpenAI's Model object, extended with what this API knows about it.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ModelInfo {
    pub id: String,
    pub object: String,
    pub created: i64,
    pub owned_by: String,
    pub kind: String,
    /// The vendor tried first.
    pub provider: String,
    /// Every vendor of this deployment that serves the model, with its name for it.
    #[serde(default)]
    pub vendors: Vec<VendorRoute>,
    /// Other names this API accepts for the model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub is_ai_model: bool,
    pub sizes: Vec<String>,
    pub default_size: String,
    pub qualities: Vec<String>,
    pub styles: Vec<String>,
    pub max_n: u8,
    pub max_prompt_chars: usize,
    pub transparent_background: String,
    pub cost: ModelCost,
    pub info: ModelInfoText,
    /// What the model does here: `generate`, `edit` and `variation` (images), or `video`.
    #[serde(default)]
    pub operations: Vec<String>,
    /// Video models: the clip lengths, in seconds, it makes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seconds: Vec<u32>,
}

impl ModelInfo {
    /// The model as this deployment serves it: only the vendors `serves` has.
    pub fn of(
        m: &crate::domain::catalog::Model,
        serves: impl Fn(crate::domain::catalog::ProviderKind) -> bool,
    ) -> Self {
        Self::from(m).served_by(serves)
    }
}

impl ModelInfo {
    /// A video model as this deployment serves it.
    pub fn of_video(
        m: &crate::domain::videos::VideoModel,
        serves: impl Fn(crate::domain::catalog::ProviderKind) -> bool,
    ) -> Self {
        Self::from(m).served_by(serves)
    }

    fn served_by(mut self, serves: impl Fn(crate::domain::catalog::ProviderKind) -> bool) -> Self {
        self.vendors.retain(|v| {
            crate::domain::catalog::ProviderKind::parse(&v.provider).is_some_and(&serves)
        });
        if let Some(first) = self.vendors.first() {
            self.provider = first.provider.clone();
        }
        self
    }
}

impl From<&crate::domain::catalog::Model> for ModelInfo {
    fn from(m: &crate::domain::catalog::Model) -> Self {
        use crate::domain::catalog::ProviderKind;
        let per_image = m
            .sizes
            .iter()
            .map(|s| (s.to_string(), m.cost(*s, m.default_quality())))
            .collect();
        let quality_multipliers = m
            .qualities
            .iter()
            .map(|q| {
                let base = m.cost(m.default_size, m.default_quality()).max(1);
                (q.to_string(), m.cost(m.default_size, q) / base)
            })
            .collect();
        Self {
            id: m.id.to_string(),
            object: "model".into(),
            created: 0,
            owned_by: m.owned_by.to_string(),
            kind: "image".into(),
            provider: m.provider().as_str().into(),
            vendors: m
                .vendors
                .iter()
                .map(|r| VendorRoute {
                    provider: r.vendor.as_str().into(),
                    model: if r.id.is_empty() { m.id } else { r.id }.into(),
                })
                .collect(),
            aliases: m.aliases.iter().map(|a| a.to_string()).collect(),
            is_ai_model: m.provider() != ProviderKind::Local,
            sizes: m.sizes.iter().map(|s| s.to_string()).collect(),
            default_size: m.default_size.to_string(),
            qualities: m.qualities.iter().map(|q| q.to_string()).collect(),
            styles: m.styles.iter().map(|s| s.to_string()).collect(),
            max_n: m.max_n,
            max_prompt_chars: m.max_prompt_chars,
            transparent_background: if m.native_transparency {
                "native"
            } else {
                "post-processed"
            }
            .into(),
            cost: ModelCost {
                per_image,
                quality_multipliers,
                per_second: Default::default(),
            },
            info: ModelInfoText {
                what_is: m.info.what_is.to_string(),
                use_cases: m.info.use_cases.iter().map(|s| s.to_string()).collect(),
                tips: m.info.tips.iter().map(|s| s.to_string()).collect(),
            },
            operations: [
                (m.generates, "generate"),
                (m.max_edit_images > 0, "edit"),
                (m.variations, "variation"),
            ]
            .into_iter()
            .filter(|(can, _)| *can)
            .map(|(_, op)| op.to_string())
            .collect(),
            seconds: Vec::new(),
        }
    }
}

impl From<&crate::domain::videos::VideoModel> for ModelInfo {
    fn from(m: &crate::domain::videos::VideoModel) -> Self {
        use crate::domain::catalog::ProviderKind;
        let info = &m.info;
        Self {
            id: m.id.to_string(),
            object: "model".into(),
            created: 0,
            owned_by: m.owned_by.to_string(),
            kind: "video".into(),
            provider: m.provider().as_str().into(),
            vendors: m
                .vendors
                .iter()
                .map(|r| VendorRoute {
                    provider: r.vendor.as_str().into(),
                    model: r.id.into(),
                })
                .collect(),
            aliases: m.aliases.iter().map(|a| a.to_string()).collect(),
            is_ai_model: m.provider() != ProviderKind::Local,
            sizes: m.sizes.iter().map(|s| s.to_string()).collect(),
            default_size: m.default_size.to_string(),
            qualities: Vec::new(),
            styles: Vec::new(),
            max_n: 1,
            max_prompt_chars: m.max_prompt_chars,
            transparent_background: "none".into(),
            cost: ModelCost {
                per_image: Default::default(),
                quality_multipliers: Default::default(),
                per_second: m
                    .sizes
                    .iter()
                    .map(|s| (s.to_string(), m.cost_per_second))
                    .collect(),
            },
            info: ModelInfoText {
                what_is: info.what_is.to_string(),
                use_cases: info.use_cases.iter().map(|s| s.to_string()).collect(),
                tips: info.tips.iter().map(|s| s.to_string()).collect(),
            },
            operations: vec!["video".into()],
            seconds: m.seconds.to_vec(),
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ModelList {
    pub object: String,
    pub data: Vec<ModelInfo>,
}
