//! Request bodies of the pixel routes: multipart forms (as the OpenAI SDKs send them) or JSON that
//! names stored assets, read into the use cases' inputs with the field at fault named.

use super::{json_body, json_error, multipart};
use crate::domain::generation::CreateImageRequest;
use crate::domain::videos::{CreateVideoRequest, InputReference};
use crate::error::ApiError;
use crate::usecases::auth::token_hash_bytes;
use crate::usecases::edit_inputs::{
    ImageSource, MAX_EDIT_IMAGES, MAX_INLINE_IMAGE_BYTES, ParsedInputs,
};
use crate::usecases::videos::ParsedVideo;
use base64::Engine;
use lambda_http::Request;
use serde_json::Value;

const FILE_FIELDS: &[&str] = &["image", "image[]", "mask", "markup"];
const INTEGER_FIELDS: &[&str] = &[
    "n",
    "output_compression",
    "partial_images",
    "seed",
    "frame_count",
    "frame_duration_ms",
];
const BOOLEAN_FIELDS: &[&str] = &["stream", "dry_run"];

fn fields_from(value: Value) -> Result<CreateImageRequest, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| json_error(&e))
}

fn too_large(bytes: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "request body is {bytes} bytes; inline images may be at most {MAX_INLINE_IMAGE_BYTES} bytes. \\
         Upload larger images with POST /v1/uploads and pass their id"
    ))
}

/// A form has no arrays: a list field's items are comma-separated.
fn comma_list(form: &mut Value, field: &str) {
    if let Some(Value::String(items)) = form.get(field) {
        let items: Vec<Value> = items
            .split(',')
            .map(|e| Value::String(e.trim().to_string()))
            .filter(|e| e.as_str() != Some(""))
            .collect();
        form[field] = Value::Array(items);
    }
}

/// Parses `multipart/form-data` (fields `image` / `image[]`, `mask`, and OpenAI's text fields) or
/// JSON naming stored assets (`images: [{"file_id"}]`, `mask: {"file_id"}`).
// Long: the two body forms (multipart, JSON) share their checks; each branch reads straight.
pub async fn edit(
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
        comma_list(&mut text, "provenance_include");
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
    let mut value: Value = json_body(req, max_json)?;
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
        ImageSource::Bytes(b) => token_hash_bytes(b),
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

/// Parses multipart (the SDK's way: `input_reference` as a file, or as
/// `input_reference[file_id]`) or JSON (`input_reference: {"file_id"}` or a data URL).
pub async fn video(req: &Request, max_json: usize) -> Result<ParsedVideo, ApiError> {
    let (mut value, file) = if multipart::is_multipart(req) {
        if req.body().len() > MAX_INLINE_IMAGE_BYTES * 2 {
            return Err(ApiError::PayloadTooLarge(format!(
                "request body is {} bytes; an inline input_reference may be at most {MAX_INLINE_IMAGE_BYTES} bytes. Upload larger images with POST /v1/uploads and pass {{\"file_id\": ...}}",
                req.body().len()
            )));
        }
        let form = multipart::parse(req, &["input_reference"], MAX_INLINE_IMAGE_BYTES).await?;
        let mut text = form.text_json(&["seed"], &["dry_run"])?;
        comma_list(&mut text, "webhook_events_filter");
        comma_list(&mut text, "provenance_include");
        let obj = text.as_object_mut().expect("a form is an object");
        // The SDK writes a reference object as bracketed fields.
        let mut reference = serde_json::Map::new();
        for field in ["file_id", "image_url"] {
            if let Some(v) = obj.remove(&format!("input_reference[{field}]")) {
                reference.insert(field.into(), v);
            }
        }
        let mut files = form.files;
        if files.len() > 1 {
            return Err(ApiError::invalid(
                "input_reference",
                "send at most one input_reference",
            ));
        }
        let file = files.pop().map(|(_, bytes)| bytes);
        if !reference.is_empty() {
            if file.is_some() {
                return Err(ApiError::invalid(
                    "input_reference",
                    "send input_reference as a file or as a reference, not both",
                ));
            }
            obj.insert("input_reference".into(), Value::Object(reference));
        }
        (text, file)
    } else {
        let value: Value = json_body(req, max_json)?;
        if !value.is_object() {
            return Err(ApiError::invalid("body", "the JSON body must be an object"));
        }
        (value, None)
    };
    let canonical = serde_json::json!({
        "fields": value,
        "file": file.as_deref().map(token_hash_bytes),
    })
    .to_string();
    if value.get("prompt").is_none() {
        return Err(ApiError::missing("prompt"));
    }
    // Typed, with the field at fault named.
    let obj = value.as_object_mut().expect("checked above");
    let reference = obj.remove("input_reference");
    let mut fields: CreateVideoRequest =
        serde_path_to_error::deserialize(value).map_err(|e| json_error(&e))?;
    let picture = match (file, reference) {
        (Some(bytes), _) => Some(("input_reference".to_string(), ImageSource::Bytes(bytes))),
        (None, None | Some(Value::Null)) => None,
        (None, Some(r)) => {
            let r: InputReference = serde_json::from_value(r).map_err(|e| {
                ApiError::invalid(
                    "input_reference",
                    format!("input_reference must be {{\"file_id\"}} or {{\"image_url\"}}: {e}"),
                )
            })?;
            fields.input_reference = Some(r.clone());
            Some(picture_of(r)?)
        }
    };
    Ok(ParsedVideo {
        fields,
        picture,
        canonical,
    })
}

fn picture_of(r: InputReference) -> Result<(String, ImageSource), ApiError> {
    match (r.file_id, r.image_url) {
        (Some(id), None) if !id.trim().is_empty() => {
            Ok(("input_reference.file_id".into(), ImageSource::Asset(id)))
        }
        (None, Some(url)) => {
            let param = "input_reference.image_url";
            // Only data URLs: fetching arbitrary URLs server-side would be an SSRF hole.
            let data = url
                .strip_prefix("data:")
                .and_then(|rest| rest.split_once(";base64,"))
                .map(|(_, data)| data)
                .ok_or_else(|| {
                    ApiError::invalid(
                        param,
                        "image_url must be a base64 data URL (data:image/png;base64,...); for other images upload them (POST /v1/uploads) and pass file_id",
                    )
                })?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| {
                    ApiError::invalid(param, format!("image_url is not valid base64: {e}"))
                })?;
            Ok((param.into(), ImageSource::Bytes(bytes)))
        }
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "input_reference",
            "give file_id or image_url, not both",
        )),
        _ => Err(ApiError::missing("input_reference.file_id")),
    }
}
