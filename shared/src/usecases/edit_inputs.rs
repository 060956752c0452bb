//! Inputs of edits, variations and videos once parsed (`http::forms` reads the bodies): uploaded
//! bytes or stored assets, decoded safely and checked before anything is charged.

use crate::domain::catalog::ProviderKind;
use crate::domain::generation::{CreateImageRequest, GenerationPlan};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::providers::{EditInputs, InputImage};
use crate::usecases::Deps;
use imaging::{self, ImagingError};

/// Largest image part a request may carry inline; Lambda's 6 MB payload limit includes the
/// base64 encoding of binary bodies, so about 4.5 MB of raw bytes fit.
pub const MAX_INLINE_IMAGE_BYTES: usize = 4_500_000;
pub const MAX_EDIT_IMAGES: usize = 16;
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
