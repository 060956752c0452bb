//! Images: generations, edits, variations, transforms, uploads and the library.

use super::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

/// The answer to `dry_run: true`: what the request would cost and whether it could be paid
/// now. Nothing is charged, stored or sent to a vendor.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct Quote {
    /// Always `quote`.
    pub object: String,
    pub model: String,
    /// What the request would cost (the ledger line it would write is minus this).
    pub credits: i64,
    /// The vendors that would be tried, in order: the first that is up serves it.
    pub vendors: Vec<String>,
    /// Whether it would run as a job (`Prefer: respond-async`, or a model that only runs as one).
    pub job: bool,
    /// Whether this account could pay for it now.
    pub payable: bool,
    /// When it could not: the limit that refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<QuoteRefusal>,
}

/// What a paid image route answers with 200: its images, or with `dry_run`, the quote.
#[derive(Serialize, ToSchema, Debug)]
#[serde(untagged)]
pub enum ImagesOrQuote {
    Images(ImagesResponse),
    Quote(Quote),
}

/// The limit a quoted request would meet.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, PartialEq)]
pub struct QuoteRefusal {
    /// `credits`, `budget` (the API key's), `daily_images` or `storage`.
    pub limit: String,
    pub message: String,
    /// What is left of that limit (credits, budget credits, images today, bytes).
    pub available: i64,
    /// When it resets (Unix seconds): the daily image limit and a key's budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
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
    /// What this answer was charged: sent as the `x-credits-*` headers (a replayed answer
    /// charged nothing and has none).
    #[serde(skip)]
    pub charge: Option<Charge>,
}

/// A paid answer's charge and the balance after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    pub credits: i64,
    /// The account's credits once this charge was final (other requests may have spent
    /// meanwhile): `None` if the balance could not be read.
    pub remaining: Option<i64>,
}

impl Charge {
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![("x-credits-charged", self.credits.to_string())];
        if let Some(r) = self.remaining {
            h.push(("x-credits-remaining", r.to_string()));
        }
        h
    }
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
    /// An image's delivery variants: the 256-px `thumbnail` and the 1024-px `preview`, each in
    /// every format made so far. The WebP thumbnail is made with the image; AVIF and the
    /// preview follow within seconds. `null` for a video.
    pub variants: Option<Variants>,
    /// When the URLs stop working (Unix seconds). Within one window (`URL_WINDOW_SECONDS`,
    /// default an hour) every read gives the same URLs, so caches recognise them.
    pub urls_expire_at: i64,
}

/// One picture of an asset in each format it exists in: a page offers both in `<picture>`
/// and the browser takes the one it shows (`/content?variant=` picks by `Accept` instead).
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default, PartialEq, Eq)]
pub struct Formats {
    /// AVIF: about half WebP's bytes at the same look; `null` until made.
    pub avif: Option<String>,
    /// WebP, which every current browser shows; `null` until made.
    pub webp: Option<String>,
}

/// The delivery variants of an image, by size.
#[derive(Serialize, Deserialize, ToSchema, Debug, Clone, Default, PartialEq, Eq)]
pub struct Variants {
    /// Fitted within 256×256.
    pub thumbnail: Formats,
    /// Fitted within 1024×1024 (never larger than the image).
    pub preview: Formats,
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

/// An asset's Content Credentials (C2PA), validated: what made it and what it was made from.
#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ImageProvenance {
    /// `image.provenance`
    pub object: String,
    pub id: String,
    /// `Trusted` (signed by a certificate whose root this deployment trusts), `Valid` (intact,
    /// signer not trusted: a self-made chain), `Invalid` (changed since it was signed, or a
    /// bad signature) or `None` (no credentials: an upload, or stored before signing began).
    #[schema(pattern = "^(Trusted|Valid|Invalid|None)$")]
    pub validation_state: String,
    /// Whether the credentials say a model or an algorithm made or changed the content.
    pub made_with_ai: bool,
    /// "Made with AI: <model> via <vendor>", from the newest step naming a model.
    pub summary: Option<String>,
    /// The signer's certificate name and issuer.
    pub signer: Option<ProvenanceSigner>,
    /// What happened, newest first, down the parents' credentials.
    pub history: Vec<ProvenanceStep>,
    /// The manifest store as the C2PA SDK reads it: `active_manifest`, `manifests` (with their
    /// assertions and ingredients) and `validation_results`.
    #[schema(value_type = Option<Object>)]
    pub manifest_store: Option<serde_json::Value>,
    /// Why the credentials could not be read at all (`validation_state` is then `Invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ProvenanceSigner {
    pub common_name: Option<String>,
    pub issuer: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug, PartialEq)]
pub struct ProvenanceStep {
    /// The asset the step made (the manifest's title).
    pub asset: Option<String>,
    /// `c2pa.created`, `c2pa.edited`, or `c2pa.opened` (a new version of another asset).
    pub action: String,
    /// RFC 3339.
    pub when: Option<String>,
    pub model: Option<String>,
    pub vendor: Option<String>,
    /// The IPTC digital source type URI.
    pub digital_source_type: Option<String>,
    pub description: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Debug)]
pub struct ImageList {
    pub object: String,
    pub data: Vec<ImageInfo>,
    pub has_more: bool,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
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
    /// What the outputs' Content Credentials may also disclose: `prompt`, `author`, or both
    /// comma-separated.
    #[schema(pattern = "^(prompt|author)(,(prompt|author))?$")]
    provenance_include: Option<String>,
    /// `true`: a quote of the request (`Quote`); nothing is charged, stored or sent to a vendor.
    dry_run: Option<bool>,
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
    /// What the outputs' Content Credentials may also disclose.
    #[schema(value_type = Option<Vec<crate::domain::generation::ProvenanceItem>>)]
    provenance_include: Option<Vec<String>>,
    /// `true`: a quote of the request (`Quote`); nothing is charged, stored or sent to a vendor.
    dry_run: Option<bool>,
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
    /// What the outputs' Content Credentials may also disclose: `prompt`, `author`, or both
    /// comma-separated.
    #[schema(pattern = "^(prompt|author)(,(prompt|author))?$")]
    provenance_include: Option<String>,
    /// `true`: a quote of the request (`Quote`); nothing is charged, stored or sent to a vendor.
    dry_run: Option<bool>,
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
