//! Inputs of edits and variations: multipart uploads (as the OpenAI SDKs send them) or JSON that
//! names stored assets, decoded safely and checked before anything is charged.

use crate::Deps;
use crate::domain::catalog::ProviderKind;
use crate::domain::generation::{CreateImageRequest, GenerationPlan};
use crate::error::ApiError;
use crate::http::json_error;
use crate::http::multipart;
use crate::ports::{Blobs, Store};
use crate::providers::{EditInputs, InputImage};
use imaging::{self, ImagingError};
use lambda_http::Request;
use serde_json::Value;

/// Largest image part a request may carry inline; Lambda's 6 MB payload limit includes the
/// base64 encoding of binary bodies, so about 4.5 MB of raw bytes fit.
pub const MAX_INLINE_IMAGE_BYTES: usize = 4_500_000;
pub const MAX_EDIT_IMAGES: usize = 16;
const FILE_FIELDS: &[&str] = &["image", "image[]", "mask", "markup"];
const INTEGER_FIELDS: &[&str] = &[
    "n",
    "output_compression",
    "partial_images",
    "seed",
    "frame_count",
    "frame_duration_ms",
];
const BOOLEAN_FIELDS: &[&str] = &["stream"];

pub enum ImageSource {
    Bytes(Vec<u8>),
    /// An asset of the caller's library (`file_id` in JSON bodies).
    Asset(String),
}

/// A parsed edit or variation: the image sources, each with the `param` to blame, and the
/// OpenAI fields.
pub struct ParsedInputs {
    pub images: Vec<(String, ImageSource)>,
    pub mask: Option<(String, ImageSource)>,
    pub fields: CreateImageRequest,
    /// What decides whether two requests are "the same" for Idempotency-Key.
    pub canonical: String,
}

fn fields_from(value: Value) -> Result<CreateImageRequest, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| json_error(&e))
}

fn too_large(bytes: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "request body is {bytes} bytes; inline images may be at most {MAX_INLINE_IMAGE_BYTES} bytes. \\
         Upload larger images with POST /v1/uploads and pass their id"
    ))
}

/// Parses `multipart/form-data` (fields `image` / `image[]`, `mask`, and OpenAI's text fields) or
/// JSON naming stored assets (`images: [{"file_id"}]`, `mask: {"file_id"}`).
// Long: the two body forms (multipart, JSON) share their checks; each branch reads straight.
pub async fn parse(
    req: &Request,
    with_prompt: bool,
    max_json: usize,
) -> Result<ParsedInputs, ApiError> {
    let body_len = req.body().len();
    if multipart::is_multipart(req) {
        if body_len > MAX_INLINE_IMAGE_BYTES * 2 {
            return Err(too_large(body_len));
        }
        let form = multipart::parse(req, FILE_FIELDS, MAX_INLINE_IMAGE_BYTES).await?;
        let mut text = form.text_json(INTEGER_FIELDS, BOOLEAN_FIELDS)?;
        if !with_prompt {
            if text.get("prompt").is_some() {
                return Err(ApiError::invalid("prompt", "variations take no prompt"));
            }
            text["prompt"] = Value::String(String::new());
        } else if text.get("prompt").is_none() {
            return Err(ApiError::missing("prompt"));
        }
        let mut images = Vec::new();
        let mut mask = None;
        for (name, bytes) in form.files {
            match name.as_str() {
                "mask" if mask.is_some() => {
                    return Err(ApiError::invalid("mask", "send at most one mask"));
                }
                "mask" => mask = Some(("mask".to_string(), ImageSource::Bytes(bytes))),
                "markup" => {
                    return Err(ApiError::invalid(
                        "markup",
                        "markup (a GPT Image 2.5 option upstream) is not relayed by this deployment yet; mark the area to edit with mask",
                    ));
                }
                _ => {
                    let param = if images.is_empty() {
                        "image".to_string()
                    } else {
                        format!("image[{}]", images.len())
                    };
                    images.push((param, ImageSource::Bytes(bytes)));
                }
            }
        }
        if !with_prompt && mask.is_some() {
            return Err(ApiError::invalid("mask", "variations take no mask"));
        }
        if images.is_empty() {
            return Err(ApiError::missing("image"));
        }
        if images.len() > MAX_EDIT_IMAGES || (!with_prompt && images.len() > 1) {
            let max = if with_prompt { MAX_EDIT_IMAGES } else { 1 };
            return Err(ApiError::invalid(
                "image",
                format!("at most {max} image(s); got {}", images.len()),
            ));
        }
        // The parts, not the raw body: its boundary is random per request, so a retry that
        // re-encodes the same form must still be "the same request".
        let canonical = canonical_form(&text, &images, &mask);
        return Ok(ParsedInputs {
            images,
            mask,
            fields: fields_from(text)?,
            canonical,
        });
    }
    // JSON with references to stored assets.
    let mut value: Value = crate::http::json_body(req, max_json)?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid("body", "the JSON body must be an object"))?;
    let canonical = Value::Object(obj.clone()).to_string();
    let refs_key = if with_prompt { "images" } else { "image" };
    let refs = match obj.remove(refs_key) {
        Some(Value::Array(items)) if with_prompt => items,
        Some(single @ Value::Object(_)) if !with_prompt => vec![single],
        Some(_) => {
            return Err(ApiError::invalid(
                refs_key,
                if with_prompt {
                    "images must be an array of {\"file_id\": ...}"
                } else {
                    "image must be {\"file_id\": ...}"
                },
            ));
        }
        None => return Err(ApiError::missing(refs_key)),
    };
    if refs.is_empty() {
        return Err(ApiError::missing(refs_key));
    }
    if refs.len() > MAX_EDIT_IMAGES {
        return Err(ApiError::invalid(
            refs_key,
            format!("at most {MAX_EDIT_IMAGES} images; got {}", refs.len()),
        ));
    }
    if !with_prompt {
        for field in ["mask", "prompt"] {
            if obj.contains_key(field) {
                return Err(ApiError::invalid(
                    field,
                    format!("variations take no {field}"),
                ));
            }
        }
    }
    let mut images = Vec::new();
    for (i, r) in refs.into_iter().enumerate() {
        let param = if with_prompt {
            format!("images[{i}]")
        } else {
            "image".to_string()
        };
        // What is refused later (not found, not an image) is the file the id names.
        let id = reference(&param, r)?;
        images.push((format!("{param}.file_id"), ImageSource::Asset(id)));
    }
    let mask = match obj.remove("mask") {
        None | Some(Value::Null) => None,
        Some(m) => Some((
            "mask.file_id".to_string(),
            ImageSource::Asset(reference("mask", m)?),
        )),
    };
    if !with_prompt {
        obj.insert("prompt".into(), Value::String(String::new()));
    }
    Ok(ParsedInputs {
        images,
        mask,
        fields: fields_from(value)?,
        canonical,
    })
}

fn canonical_form(
    text: &Value,
    images: &[(String, ImageSource)],
    mask: &Option<(String, ImageSource)>,
) -> String {
    let digest = |source: &ImageSource| match source {
        ImageSource::Bytes(b) => crate::usecases::auth::token_hash_bytes(b),
        ImageSource::Asset(id) => format!("asset:{id}"),
    };
    serde_json::json!({
        "fields": text,
        "images": images.iter().map(|(_, s)| digest(s)).collect::<Vec<_>>(),
        "mask": mask.as_ref().map(|(_, s)| digest(s)),
    })
    .to_string()
}

fn reference(param: &str, v: Value) -> Result<String, ApiError> {
    let obj = v.as_object().ok_or_else(|| {
        ApiError::invalid(
            param,
            format!("{param} must be {{\"file_id\": \"<asset id>\"}}"),
        )
    })?;
    if obj.contains_key("image_url") {
        // Fetching arbitrary URLs server-side would be an SSRF hole.
        return Err(ApiError::invalid(
            format!("{param}.image_url"),
            "image_url is not supported: upload the image (multipart or POST /v1/uploads) and pass its id as file_id",
        ));
    }
    if let Some(extra) = obj.keys().find(|k| *k != "file_id") {
        return Err(ApiError::invalid(
            format!("{param}.{extra}"),
            format!("unknown field '{extra}'"),
        ));
    }
    obj.get("file_id")
        .and_then(Value::as_str)
        .filter(|id| !id.trim().is_empty())
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing(&format!("{param}.file_id")))
}

/// Decodes the inputs of one request: uploaded bytes, or assets of the caller's library (another
/// user's id is 404). Non-images, truncated files and oversized dimensions, alone or together,
/// are 400s naming `param`.
pub async fn load_all<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    user_id: &str,
    sources: Vec<(String, ImageSource)>,
) -> Result<Vec<InputImage>, ApiError> {
    // Every input's bytes and header first, so the request's inputs are bounded together
    // before any of them is decoded.
    let mut budget = MAX_INPUT_PIXELS;
    let mut fetched = Vec::with_capacity(sources.len());
    for (param, source) in sources {
        let (bytes, asset_id) = match source {
            ImageSource::Bytes(b) => (b, None),
            ImageSource::Asset(id) => {
                let (_, bytes) =
                    crate::usecases::library::asset_bytes(deps, user_id, &id, &param).await?;
                (bytes, Some(id))
            }
        };
        if bytes.is_empty() {
            return Err(ApiError::invalid(
                param.clone(),
                format!("{param} is empty"),
            ));
        }
        let (w, h) = imaging::dimensions(&bytes).map_err(|e| refused(&param, e))?;
        let pixels = w as u64 * h as u64;
        if pixels > imaging::MAX_PIXELS {
            return Err(refused(
                &param,
                ImagingError::TooLarge {
                    width: w,
                    height: h,
                },
            ));
        }
        budget = budget.checked_sub(pixels).ok_or_else(|| {
            ApiError::invalid(
                param.clone(),
                format!("the input images have more than {MAX_INPUT_PIXELS} pixels together; send fewer or smaller images"),
            )
        })?;
        fetched.push((param, bytes, asset_id));
    }
    let mut images = Vec::with_capacity(fetched.len());
    for (param, bytes, asset_id) in fetched {
        let decoded = {
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || imaging::decode(&bytes))
                .await
                .map_err(ApiError::internal)?
        };
        let image = decoded.map_err(|e| refused(&param, e))?;
        let has_alpha = image.color().has_alpha();
        images.push(InputImage {
            bytes,
            rgba: std::sync::Arc::new(image.into_rgba8()),
            asset_id,
            has_alpha,
        });
    }
    Ok(images)
}

fn refused(param: &str, e: ImagingError) -> ApiError {
    match e {
        ImagingError::Unsupported => {
            ApiError::invalid(param, format!("{param} is not a PNG, JPEG or WebP image"))
        }
        ImagingError::TooLarge { width, height } => ApiError::invalid(
            param,
            format!(
                "{param} is {width}x{height}: more than {} pixels",
                imaging::MAX_PIXELS
            ),
        ),
        other => ApiError::invalid(param, format!("{param}: {other}")),
    }
}

/// How many pixels the inputs of one request may have together (about 190 MB decoded).
pub const MAX_INPUT_PIXELS: u64 = 48_000_000;

/// Checks what depends on the decoded inputs and the model, before anything is charged.
pub fn check_edit(
    plan: &GenerationPlan,
    inputs: &EditInputs,
    mask_param: &str,
) -> Result<(), ApiError> {
    let first = &inputs.images[0];
    if let Some(mask) = &inputs.mask {
        if !mask.has_alpha {
            return Err(ApiError::invalid(
                mask_param,
                "mask must be a PNG with an alpha channel: transparent pixels mark where to edit",
            ));
        }
        if mask.rgba.dimensions() != first.rgba.dimensions() {
            let (w, h) = first.rgba.dimensions();
            let (mw, mh) = mask.rgba.dimensions();
            return Err(ApiError::invalid(
                mask_param,
                format!("mask is {mw}x{mh} but the image is {w}x{h}"),
            ));
        }
    }
    // The local model's edits are deterministic: one image has one fill, and k images have k
    // collages (one starting at each). More would be the same pictures, charged again.
    let distinct = inputs.images.len();
    // An inpainting model (it only edits) repaints a marked area, as the local model does.
    let needs_area = plan.model.provider() == ProviderKind::Local || !plan.model.generates;
    match plan.model.provider() {
        ProviderKind::Local if inputs.images.len() > 1 && inputs.mask.is_some() => {
            Err(ApiError::invalid(
                mask_param,
                "with several images the local model makes a collage and takes no mask",
            ))
        }
        _ if needs_area
            && inputs.images.len() == 1
            && inputs.mask.is_none()
            && !first.rgba.pixels().any(|p| p.0[3] == 0) =>
        {
            Err(ApiError::invalid(
                mask_param,
                format!(
                    "{} needs a mask to edit: send {mask_param} (or an image with transparent pixels) marking the area to fill",
                    plan.model.id
                ),
            ))
        }
        ProviderKind::Local if plan.n as usize > distinct => Err(ApiError::invalid(
            "n",
            format!(
                "{}'s edits are deterministic: this edit has {distinct} different result(s), so n can be at most {distinct} (for different images of one picture, use /v1/images/variations)",
                plan.model.id
            ),
        )),
        _ => Ok(()),
    }
}
