//! Wire types of the accounts API: what handlers parse and answer, and what `/v1/doc` describes.
//! Request types holding secrets deliberately do not derive `Debug`.

use crate::domain::accounts::Role;
use crate::domain::accounts::{ApiKeyRecord, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3 to 32 letters, digits, `_`, `-` or `.`, starting with a letter or digit.
    #[schema(example = "ada", pattern = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")]
    pub username: String,
    #[schema(
        example = "ada@example.com",
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s.\x00-\x1f\x7f-\x9f]+(\.[^@\s.\x00-\x1f\x7f-\x9f]+)+$"
    )]
    pub email: String,
    /// 8 to 128 characters, not all blank; stored only as an argon2id hash and never echoed.
    #[schema(format = Password, min_length = 8, max_length = 128, pattern = r"\S")]
    pub password: String,
    #[serde(default)]
    pub referral_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Either `username` or `email`.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 32, pattern = r"\S")]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(min_length = 1, max_length = 254, pattern = r"\S")]
    pub email: Option<String>,
    #[schema(format = Password, min_length = 1)]
    pub password: String,
    /// `cookie` (the web pages): the refresh token is set as an HttpOnly cookie for
    /// `/v1/auth/refresh` instead of answered. Default `body`.
    #[serde(default)]
    #[schema(pattern = "^(body|cookie)$")]
    pub refresh_token_in: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(min_length = 1, pattern = r"\S")]
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SignoutRequest {
    /// Also revoke the session this refresh token belongs to (if it is the caller's).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct TokenResponse {
    pub access_token: String,
    /// Absent when it travels in the `refresh_token` cookie instead (the web pages): scripts
    /// never see it there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
    /// Lifetime of the refresh token in seconds.
    pub refresh_expires_in: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credits {
    pub available: i64,
    pub earned: i64,
    pub spent: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct UserResponse {
    pub id: String,
    pub username: String,
    /// Empty for an account a provider created whose email was another account's.
    pub email: String,
    /// The name a sign-in provider gave, if any.
    pub name: Option<String>,
    pub role: Role,
    /// Unix seconds.
    pub created_at: i64,
    pub referral_code: String,
    pub credits: Credits,
    pub storage: Storage,
}

/// What the account stores, against its quota.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct Storage {
    /// Bytes of the images, videos and uploads it stores (every version counts).
    pub used_bytes: u64,
    /// Past this, work that stores more is refused (403 `storage_quota_exceeded`).
    pub quota_bytes: u64,
}

impl UserResponse {
    /// The account as its owner sees it, with the deployment's storage quota.
    pub fn of(u: &UserRecord, storage_quota: u64) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            created_at: u.created_at,
            referral_code: u.referral_code.clone(),
            credits: Credits {
                available: u.credits.available,
                earned: u.credits.earned,
                spent: u.credits.spent,
            },
            storage: Storage {
                used_bytes: u.storage_bytes,
                quota_bytes: storage_quota,
            },
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct SignoutResponse {
    pub signed_out: bool,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    /// A label to recognise the key by; defaults to "default".
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
}

/// The only response that ever contains the key itself.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ApiKeyCreated {
    pub id: String,
    pub object: String,
    pub name: String,
    /// Shown once: store it now.
    pub key: String,
    pub prefix: String,
    pub created_at: i64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ApiKeyInfo {
    pub id: String,
    pub object: String,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl From<&ApiKeyRecord> for ApiKeyInfo {
    fn from(k: &ApiKeyRecord) -> Self {
        Self {
            id: k.id.clone(),
            object: "api_key".into(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        }
    }
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ApiKeyList {
    pub object: String,
    pub data: Vec<ApiKeyInfo>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct Deleted {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

/// The body of every error response.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
    pub code: Option<String>,
}

/// One image of an ImagesResponse: `url` or `b64_json`, plus our asset `id`.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct ImageData {
    /// The asset id in the library (`GET /v1/images/{id}`).
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
}

/// OpenAI's ImagesResponse.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct ImagesResponse {
    pub created: i64,
    pub data: Vec<ImageData>,
    pub size: String,
    pub output_format: String,
    pub background: String,
    pub quality: String,
    pub model: String,
    /// The vendor that served the request (a model may have several, tried in turn).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The vendor's token usage for the call (GPT image models), as it reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub usage: Option<serde_json::Value>,
    /// Streaming only: each image's partial images (base64, in order), sent before it.
    #[serde(skip)]
    pub partials: Vec<Vec<String>>,
    /// Streaming only: each image's own usage, for its `completed` event.
    #[serde(skip)]
    pub image_usage: Vec<Option<serde_json::Value>>,
}

/// A library item: its metadata and fresh presigned URLs.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct ImageInfo {
    pub id: String,
    pub object: String,
    pub kind: crate::domain::assets::AssetKind,
    pub prompt: Option<String>,
    pub revised_prompt: Option<String>,
    pub model: Option<String>,
    /// The vendor that made it (`local`, `openai`, `stability`, `replicate`, `fal`).
    pub provider: Option<String>,
    pub width: u32,
    pub height: u32,
    pub size: String,
    pub format: String,
    pub bytes: u64,
    pub background: Option<String>,
    pub quality: Option<String>,
    /// JPEG/WebP quality (0–100) the image was encoded with, when one was asked for.
    pub output_compression: Option<u8>,
    /// The asset this one was derived from (edit, variation, transform or earlier version).
    pub parent_id: Option<String>,
    pub title: Option<String>,
    pub tags: Vec<String>,
    pub version: u32,
    pub created_at: i64,
    /// Presigned GET URL of the image.
    pub url: String,
    /// Presigned GET URL of the 256-px WebP thumbnail.
    pub thumbnail_url: Option<String>,
    /// When the URLs stop working (Unix seconds).
    pub urls_expire_at: i64,
}

/// The answer of a transform: the new asset, and the operations that had nothing to do.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct TransformedImage {
    #[serde(flatten)]
    pub image: ImageInfo,
    pub skipped: Vec<SkippedOperation>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct SkippedOperation {
    /// `operations[i]`.
    pub param: String,
    pub reason: String,
}

/// What deleting an asset removed: the asset, or with `all_versions` its whole lineage.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct DeletedImage {
    pub id: String,
    pub object: String,
    pub deleted: bool,
    /// Every asset removed (the versions of the lineage with `all_versions=true`).
    pub deleted_ids: Vec<String>,
}

/// The versions of an asset's lineage, oldest first.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VersionList {
    pub object: String,
    /// The id of the lineage's first version (which may have been deleted since).
    pub root_id: String,
    pub data: Vec<ImageInfo>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ImageList {
    pub object: String,
    pub data: Vec<ImageInfo>,
    pub has_more: bool,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

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

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct LedgerItem {
    pub id: String,
    pub delta: i64,
    /// `signup`, `referral_signup`, `referral`, `generation`, `refund` or `admin_grant`.
    pub reason: String,
    /// The generation, the referred user, or the admin's user id.
    pub reference: Option<String>,
    /// The reason an admin gave for a grant or deduction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub created_at: i64,
}

/// `GET /v1/referral-link`.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ReferralLink {
    /// Given as `referral_code` when registering.
    pub code: String,
    /// The link to share: the web pages with the code filled in.
    pub url: String,
    /// What a new user registering with the code gets on top of the signup credits.
    pub signup_credits: i64,
    /// What the referrer earns when the new user completes a first paid generation.
    pub referrer_credits: i64,
    /// The most rewards a referrer earns in a UTC month.
    pub monthly_cap: u32,
}

/// `GET /v1/prompts/random`.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct RandomPrompts {
    pub prompts: Vec<String>,
    pub theme: Option<String>,
    /// The grammar's seed: the same seed (and `n`, `theme`) gives the same prompts.
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub seed: Option<u64>,
    /// `grammar` (offline, not a model) or `openai` (a text model wrote them).
    pub source: String,
    /// The text model, when one wrote them.
    pub model: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct CreditResponse {
    pub available: i64,
    pub earned: i64,
    pub spent: i64,
    /// The most recent entries, newest first.
    pub ledger: Vec<LedgerItem>,
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct CreateUploadRequest {
    #[schema(pattern = "^image/(png|jpeg|webp)$")]
    pub content_type: String,
    /// Exact size of the file in bytes (bound into the presigned URL), at most 10 MB.
    #[schema(minimum = 1, maximum = 10485760)]
    #[serde(deserialize_with = "whole_number")]
    pub bytes: u64,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct UploadTicket {
    pub id: String,
    pub object: String,
    /// PUT the file here, with exactly `headers`.
    pub upload_url: String,
    pub method: String,
    pub headers: std::collections::BTreeMap<String, String>,
    pub max_bytes: u64,
    pub expires_at: i64,
    /// POST here once the PUT succeeded.
    pub complete_url: String,
}

/// PATCH body: change metadata, and/or make a new version from a prompt (with an optional mask)
/// or from another asset.
#[derive(Deserialize, ToSchema, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateImageRequest {
    /// A new title; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    /// At most 20 tags of 1 to 40 printable characters.
    #[serde(default)]
    #[schema(schema_with = tags_schema)]
    pub tags: Option<Vec<String>>,
    /// Edit this image with this prompt; the result becomes its next version.
    #[serde(default)]
    pub prompt: Option<String>,
    /// An asset whose transparent pixels mark where to edit (with `prompt`).
    #[serde(default)]
    pub mask_id: Option<String>,
    /// An asset whose content becomes the next version.
    #[serde(default)]
    pub image_id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema, Debug)]
pub struct TransformRequest {
    /// Applied in order: resize {width, height, fit: contain|cover|fill, upscale}, crop {x, y,
    /// width, height}, rotate {degrees, background}, flip, flop, grayscale, blur {sigma},
    /// sharpen {sigma, threshold}, brightness {factor}, contrast {factor}, saturation {factor},
    /// hue {degrees}, gamma {value}, remove_background {tolerance}.
    #[schema(min_items = 1, max_items = 20, value_type = Vec<TransformOperation>)]
    pub operations: Vec<serde_json::Value>,
    /// png, jpeg or webp (default: the source's format).
    #[schema(pattern = "^(png|jpeg|jpg|webp)$")]
    pub output_format: Option<String>,
    /// 1–100 for jpeg and webp.
    #[schema(minimum = 1, maximum = 100)]
    pub quality: Option<u8>,
}

/// `multipart/form-data` body of an edit (documentation of the form the SDKs send).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EditImageForm {
    /// The image to edit; or repeat `image[]` up to 16 times (PNG, JPEG or WebP, by content).
    #[schema(value_type = String, format = Binary, min_length = 1)]
    image: String,
    /// PNG with alpha: fully transparent pixels mark where to edit; same size as the first image.
    #[schema(value_type = Option<String>, format = Binary, min_length = 1)]
    mask: Option<String>,
    #[schema(min_length = 1, max_length = 32000, pattern = r"\S")]
    prompt: String,
    #[schema(minimum = 1, maximum = 10)]
    n: Option<u8>,
    #[schema(pattern = "^(auto|[0-9]{1,5}x[0-9]{1,5})$")]
    size: Option<String>,
    model: Option<String>,
    quality: Option<String>,
    response_format: Option<String>,
    output_format: Option<String>,
    #[schema(minimum = 0, maximum = 100)]
    output_compression: Option<u8>,
    background: Option<String>,
    user: Option<String>,
}

/// One transform step: `op` and its fields (see `TransformRequest.operations`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TransformOperation {
    #[schema(
        pattern = "^(resize|crop|rotate|flip|flop|grayscale|blur|sharpen|brightness|contrast|saturation|hue|gamma|remove_background)$"
    )]
    op: String,
}

/// A stored asset, named by id.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FileRef {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    file_id: String,
}

/// JSON body of an edit that names stored assets.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EditImageJson {
    /// `[{"file_id": "<asset id>"}]`, up to 16.
    #[schema(min_items = 1, max_items = 16, value_type = Vec<FileRef>)]
    images: Vec<serde_json::Value>,
    /// `{"file_id": "<asset id>"}`.
    #[schema(value_type = Option<FileRef>)]
    mask: Option<serde_json::Value>,
    prompt: String,
    n: Option<u8>,
    #[schema(pattern = "^(auto|[0-9]{1,5}x[0-9]{1,5})$")]
    size: Option<String>,
    model: Option<String>,
    response_format: Option<String>,
    output_format: Option<String>,
    background: Option<String>,
}

/// `multipart/form-data` body of a variation.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VariationForm {
    #[schema(value_type = String, format = Binary, min_length = 1)]
    image: String,
    #[schema(minimum = 1, maximum = 10)]
    n: Option<u8>,
    #[schema(pattern = "^(auto|[0-9]{1,5}x[0-9]{1,5})$")]
    size: Option<String>,
    model: Option<String>,
    response_format: Option<String>,
    user: Option<String>,
}

/// A user's Standard Webhooks signing secret.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct WebhookSecretResponse {
    /// `webhook_secret`.
    pub object: String,
    /// `whsec_` and the base64 key: give it to your Standard Webhooks verifier.
    pub secret: String,
    /// After a rotation, the replaced secret still signs until then (Unix seconds).
    pub previous_expires_at: Option<i64>,
}

impl WebhookSecretResponse {
    pub fn of(secrets: &crate::domain::webhooks::WebhookSecrets, now: i64) -> Self {
        Self {
            object: "webhook_secret".into(),
            secret: secrets.current.clone(),
            previous_expires_at: secrets
                .previous
                .as_ref()
                .map(|(_, until)| *until)
                .filter(|until| *until > now),
        }
    }
}

/// A JSON integer, also written as a number with no fraction (`49.0`, as JSON Schema counts it).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..9.0e15).contains(f))
                .map(|f| f as u64)
        })
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number of bytes")))
}

/// A whole number of credits (JSON may write it `5.0`).
fn whole_number_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (-9.0e15..9.0e15).contains(f))
                .map(|f| f as i64)
        })
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number of credits")))
}

/// Up to 20 tags, each 1 to 40 printable characters, not all blank.
fn tags_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(40))
                .pattern(Some(r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$")),
        )
        .max_items(Some(20))
        .build()
}

/// One Server-Sent Event of a streamed generation or edit (the `data` of each event).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ImageStreamEvent {
    /// `image_generation.partial_image`, `image_generation.completed`, `image_edit.partial_image`
    /// or `image_edit.completed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub b64_json: String,
    pub created_at: i64,
    pub size: String,
    pub quality: String,
    pub background: String,
    pub output_format: String,
    /// Partial images only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_image_index: Option<u32>,
    /// Completed events only: the asset id in the library.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Completed events only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<serde_json::Value>,
}

/// A job of the generation queue (`GET /v1/jobs/{id}`).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone)]
pub struct JobObject {
    pub id: String,
    /// Always `job`.
    pub object: String,
    pub status: crate::domain::jobs::JobStatus,
    /// 0–100.
    pub progress: u8,
    pub operation: crate::domain::jobs::JobOperation,
    pub model: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    /// Whether a cancel was asked for while the job was processing (it stops at its next
    /// checkpoint).
    pub cancel_requested: bool,
    /// Once succeeded: the vendor that served it.
    pub provider: Option<String>,
    /// Once succeeded: the body the synchronous call would have answered (fresh URLs).
    pub result: Option<ImagesResponse>,
    /// Once failed: OpenAI's error object, with the code the synchronous call would have used.
    pub error: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct JobList {
    pub object: String,
    pub data: Vec<JobObject>,
    pub has_more: bool,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// OpenAI's Video object: a video job of this API (`GET /v1/jobs/{id}` shows the same job).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VideoObject {
    pub id: String,
    /// Always `video`.
    pub object: String,
    #[schema(pattern = "^(queued|in_progress|completed|failed)$")]
    pub status: String,
    /// 0–100.
    pub progress: u8,
    pub model: String,
    pub prompt: Option<String>,
    /// Clip length in seconds, as OpenAI writes it ("4").
    pub seconds: String,
    pub size: String,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// Videos are kept until deleted: always null.
    pub expires_at: Option<i64>,
    pub remixed_from_video_id: Option<String>,
    /// Once failed (or canceled): `code`, `message` and the `param` at fault, if any.
    pub error: Option<VideoError>,
    /// Once completed: the library asset (kind `video`) holding the clip.
    pub asset_id: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VideoError {
    pub code: String,
    pub message: String,
    pub param: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// OpenAI's cursor page of videos.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VideoList {
    pub object: String,
    pub data: Vec<VideoObject>,
    pub has_more: bool,
    pub first_id: Option<String>,
    /// Pass as `after` for the next page.
    pub last_id: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct VideoDeleted {
    pub id: String,
    /// Always `video.deleted`.
    pub object: String,
    pub deleted: bool,
}

/// `multipart/form-data` body of `POST /v1/videos` (the form the SDKs send).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateVideoForm {
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    prompt: String,
    model: Option<String>,
    #[schema(pattern = "^(4|8|12)$")]
    seconds: Option<String>,
    #[schema(pattern = "^(720x1280|1280x720|1024x1792|1792x1024)$")]
    size: Option<String>,
    /// The picture the camera moves over (PNG, JPEG or WebP, by content).
    #[schema(value_type = Option<String>, format = Binary, min_length = 1)]
    input_reference: Option<String>,
    /// A stored image as the picture (instead of the file).
    #[schema(rename = "input_reference[file_id]", pattern = "^[A-Za-z0-9_-]{1,64}$")]
    input_reference_file_id: Option<String>,
    /// A base64 `data:` URL as the picture (instead of the file).
    #[schema(rename = "input_reference[image_url]")]
    input_reference_image_url: Option<String>,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    seed: Option<i64>,
    webhook: Option<String>,
    /// `started`, `completed` or both, comma-separated.
    webhook_events_filter: Option<String>,
}

/// A user as admins see it.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    pub email: String,
    pub role: Role,
    /// Unix seconds.
    pub created_at: i64,
    pub referral_code: String,
    /// The user id of the referrer, if the user signed up with a referral code.
    pub referred_by: Option<String>,
    pub credits: Credits,
    pub disabled: bool,
    /// Unix seconds; null while the account is enabled.
    pub disabled_at: Option<i64>,
}

impl From<&UserRecord> for AdminUser {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id.clone(),
            username: u.username.clone(),
            email: u.email.clone(),
            role: u.role,
            created_at: u.created_at,
            referral_code: u.referral_code.clone(),
            referred_by: u.referred_by.clone(),
            credits: Credits {
                available: u.credits.available,
                earned: u.credits.earned,
                spent: u.credits.spent,
            },
            disabled: u.disabled_at.is_some(),
            disabled_at: u.disabled_at,
        }
    }
}

/// `GET /v1/admin/users`.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AdminUserList {
    pub object: String,
    pub data: Vec<AdminUser>,
    pub has_more: bool,
    /// Pass as `cursor` (with the same `q`) for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/admin/users/{id}`: the user and the admin actions on it, newest first.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct AdminUserDetail {
    pub user: AdminUser,
    pub audit: Vec<crate::domain::admin::AuditEntry>,
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct GrantCreditsRequest {
    /// Credits to add (positive) or take away (negative), not zero; the balance never goes
    /// below zero.
    #[schema(minimum = -1000000, maximum = 1000000)]
    #[serde(deserialize_with = "whole_number_i64")]
    pub amount: i64,
    /// Shown to the user in their ledger, and kept in the audit entry.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub reason: String,
}

/// `POST /v1/admin/users/{id}/credits`.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct CreditGrant {
    pub user_id: String,
    pub amount: i64,
    /// The balance after the change.
    pub credits: Credits,
    /// The audit entry (and ledger line) of the change.
    pub audit_id: String,
}

#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    /// Read as text and checked by hand: a wrong type is then a 400 naming `role` too.
    #[schema(value_type = Role)]
    pub role: String,
}

/// One UTC day of paid work across all users.
#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq, Eq)]
pub struct UsageDay {
    /// `yyyy-mm-dd` (UTC).
    pub date: String,
    /// Paid requests settled: image requests and video jobs.
    pub generations: i64,
    /// Images and videos delivered by them.
    pub images: i64,
    /// Credits charged for them.
    pub credits: i64,
}

/// `GET /v1/admin/usage`: every day of the period, oldest first (days without work are zeros).
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct UsageReport {
    pub object: String,
    pub days: u32,
    pub data: Vec<UsageDay>,
    pub total: UsageTotal,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct UsageTotal {
    pub generations: i64,
    pub images: i64,
    pub credits: i64,
}

/// `POST /v1/signin`, one of three steps (`sign_type`):
/// - `signin`: `sign_to`, `redirect_uri`, the app's `code_challenge` (S256; recommended)
///   (and `referral_code` for a first sign-in) → the provider's URL and the sign-in's `state`.
///   With `Authorization: Bearer`, the sign-in links the provider to that account, and only
///   that session can finish it;
/// - `code`: `sign_to`, `code`, `state`, the `code_verifier` if a challenge was sent (and
///   Apple's `user` on a first sign-in) → our tokens. Sent by the session that started it;
/// - `id_token`: `sign_to`, `id_token` obtained in the browser (Google Identity Services,
///   Sign in with Apple JS) and the `nonce` the app set → our tokens; each ID token signs in
///   once, and linking (with `Authorization: Bearer`) needs the nonce.
#[derive(Deserialize, ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    #[schema(pattern = "^(signin|code|id_token)$")]
    pub sign_type: Option<String>,
    /// `google`, `microsoft` or `apple`: one this deployment is configured for.
    #[schema(pattern = "^(google|microsoft|apple)$")]
    pub sign_to: Option<String>,
    /// `signin`: where the provider sends the browser back with the code (registered with it).
    #[schema(max_length = 2000)]
    pub redirect_uri: Option<String>,
    /// `signin`: a referral code, used if this sign-in creates the account.
    #[schema(max_length = 64)]
    pub referral_code: Option<String>,
    /// `signin`: the app's PKCE challenge (RFC 7636), the base64url SHA-256 of a
    /// `code_verifier` only the app knows; the `code` step then needs that verifier.
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    pub code_challenge: Option<String>,
    /// `signin`: `S256`, the only method accepted.
    #[schema(pattern = "^S256$")]
    pub code_challenge_method: Option<String>,
    /// `code`: the authorization code the provider returned.
    #[schema(max_length = 4096)]
    pub code: Option<String>,
    /// `code`: the `state` the `signin` step returned (and the provider echoed).
    #[schema(max_length = 128)]
    pub state: Option<String>,
    /// `code`: the PKCE verifier, when the `signin` step was given its `code_challenge`.
    #[schema(min_length = 43, max_length = 128)]
    pub code_verifier: Option<String>,
    /// `code`, Apple only: the `user` JSON Apple posts with the first sign-in (the name).
    #[schema(max_length = 4096)]
    pub user: Option<String>,
    /// `id_token`: the ID token the provider gave the browser.
    #[schema(max_length = 16384)]
    pub id_token: Option<String>,
    /// `id_token`: the nonce the app asked the provider to put in the token; checked when
    /// given, and required to link (with `Authorization: Bearer`).
    #[schema(max_length = 256)]
    pub nonce: Option<String>,
}

/// `POST /v1/signin`'s answer: the provider's URL (`signin`) or our tokens (`code`,
/// `id_token`).
#[derive(Serialize, ToSchema, Debug)]
#[serde(untagged)]
pub enum SigninAnswer {
    Started(SigninStarted),
    Tokens(TokenResponse),
}

/// The `signin` step's answer: send the browser to `url`; `state` comes back with the code.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct SigninStarted {
    pub url: String,
    pub state: String,
}
