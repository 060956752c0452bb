//! The checks of a request against its model: prompt, count, encoding, frames, streaming,
//! options and sizes, each refusal naming its `param`.

use super::*;

impl CreateImageRequest {
    pub(super) fn checked_prompt(&self, model: &Model, op: Operation) -> Result<String, ApiError> {
        let prompt = self.prompt.trim().to_string();
        let needs_prompt = !matches!(op, Operation::Variation { .. });
        if needs_prompt && prompt.is_empty() {
            return Err(ApiError::invalid("prompt", "prompt must not be empty"));
        }
        let chars = prompt.chars().count();
        if chars > model.max_prompt_chars {
            return Err(ApiError::invalid(
                "prompt",
                format!(
                    "prompt is {chars} characters; model '{}' accepts at most {}",
                    model.id, model.max_prompt_chars
                ),
            ));
        }
        Ok(prompt)
    }

    pub(super) fn checked_n(&self, model: &Model) -> Result<i64, ApiError> {
        let n = self.n.unwrap_or(1);
        if !(1..=10).contains(&n) {
            return Err(ApiError::invalid("n", "n must be between 1 and 10"));
        }
        if n > model.max_n as i64 {
            return Err(ApiError::invalid(
                "n",
                format!("model '{}' supports at most n={}", model.id, model.max_n),
            ));
        }
        Ok(n)
    }

    /// How the images are answered and encoded: the fields that depend on each other only.
    pub(super) fn encoding(
        &self,
        model: &Model,
    ) -> Result<(ResponseFormat, OutputFormat, Option<u8>, Background), ApiError> {
        let response_format = match self.response_format.as_deref() {
            // As OpenAI's: GPT image models answer base64 and take no response_format.
            None if !model.response_format => ResponseFormat::B64Json,
            Some(_) if !model.response_format => {
                return Err(ApiError::invalid(
                    "response_format",
                    format!(
                        "model '{}' always answers base64 (b64_json), as OpenAI's GPT image models do: leave response_format out; every image is also in your library (GET /v1/images/{{id}})",
                        model.id
                    ),
                ));
            }
            None | Some("url") => ResponseFormat::Url,
            Some("b64_json") => ResponseFormat::B64Json,
            Some(other) => {
                return Err(ApiError::invalid(
                    "response_format",
                    format!("response_format must be 'url' or 'b64_json', not '{other}'"),
                ));
            }
        };
        let output_format = match self.output_format.as_deref() {
            None => OutputFormat::Png,
            Some(f) => OutputFormat::parse(f)
                .filter(|f| *f != OutputFormat::Mp4)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "output_format",
                        format!("output_format must be png, jpeg, webp, gif or svg, not '{f}'"),
                    )
                })?,
        };
        if matches!(output_format, OutputFormat::Gif | OutputFormat::Svg) && !model.gif_and_svg {
            let with: Vec<&str> = catalog::MODELS
                .iter()
                .filter(|m| m.gif_and_svg)
                .map(|m| m.id)
                .collect();
            return Err(ApiError::invalid(
                "output_format",
                format!(
                    "model '{}' does not write {} output; models that do: {}",
                    model.id,
                    output_format.as_str(),
                    with.join(", ")
                ),
            ));
        }
        for (param, given, needs) in [
            ("frame_count", self.frame_count.is_some(), OutputFormat::Gif),
            (
                "frame_duration_ms",
                self.frame_duration_ms.is_some(),
                OutputFormat::Gif,
            ),
        ] {
            if given && output_format != needs {
                return Err(ApiError::invalid(
                    param,
                    format!("{param} applies to output_format={} only", needs.as_str()),
                ));
            }
        }
        if self.svg.is_some() {
            return Err(ApiError::invalid(
                "svg",
                if output_format == OutputFormat::Svg {
                    format!(
                        "model '{}' writes its SVG itself, without an authoring model: omit svg",
                        model.id
                    )
                } else {
                    "svg applies to output_format=svg only".to_string()
                },
            ));
        }
        let output_compression = match self.output_compression {
            None => None,
            Some(c) if !(0..=100).contains(&c) => {
                return Err(ApiError::invalid(
                    "output_compression",
                    "output_compression must be between 0 and 100",
                ));
            }
            Some(_) if !matches!(output_format, OutputFormat::Jpeg | OutputFormat::Webp) => {
                return Err(ApiError::invalid(
                    "output_compression",
                    format!(
                        "output_compression applies to jpeg and webp output, not {}",
                        output_format.as_str()
                    ),
                ));
            }
            Some(c) => Some(c as u8),
        };
        let background = match self.background.as_deref() {
            None | Some("auto") | Some("opaque") => Background::Opaque,
            Some("transparent") => Background::Transparent,
            Some(other) => {
                return Err(ApiError::invalid(
                    "background",
                    format!("background must be transparent, opaque or auto, not '{other}'"),
                ));
            }
        };
        if background == Background::Transparent && output_format == OutputFormat::Jpeg {
            return Err(ApiError::invalid(
                "background",
                "a transparent background needs png or webp output; jpeg has no alpha channel",
            ));
        }
        Ok((
            response_format,
            output_format,
            output_compression,
            background,
        ))
    }

    /// GIF frames (2–16, default 9; 10 ms to 655,350 ms each, default 200, rounded to 10 ms as
    /// GIF stores them); SVG makes one image. Both are generations only.
    pub(super) fn checked_frames(
        &self,
        format: OutputFormat,
        n: i64,
        op: Operation,
    ) -> Result<Option<(u8, u32)>, ApiError> {
        if matches!(format, OutputFormat::Gif | OutputFormat::Svg) && op != Operation::Generate {
            return Err(ApiError::invalid(
                "output_format",
                format!(
                    "{} output is for generations; edits and variations make png, jpeg or webp",
                    format.as_str()
                ),
            ));
        }
        if format == OutputFormat::Svg && n != 1 {
            return Err(ApiError::invalid(
                "n",
                "SVG output makes one image: n must be 1",
            ));
        }
        if format != OutputFormat::Gif {
            return Ok(None);
        }
        let count = self.frame_count.unwrap_or(9);
        if !(2..=16).contains(&count) {
            return Err(ApiError::invalid(
                "frame_count",
                "frame_count must be from 2 to 16",
            ));
        }
        let delay = self.frame_duration_ms.unwrap_or(200);
        if !(1..=655_350).contains(&delay) {
            return Err(ApiError::invalid(
                "frame_duration_ms",
                "frame_duration_ms must be from 1 to 655350",
            ));
        }
        let delay = ((delay + 5) / 10 * 10).max(10) as u32;
        Ok(Some((count as u8, delay)))
    }

    /// `stream` and `partial_images` (0–3): generations and edits, raster output, base64.
    pub(super) fn checked_stream(
        &self,
        format: OutputFormat,
        response_format: ResponseFormat,
        op: Operation,
    ) -> Result<(bool, u8), ApiError> {
        let stream = self.stream == Some(true);
        let partial_images = self.partial_images.unwrap_or(0);
        if !(0..=3).contains(&partial_images) {
            return Err(ApiError::invalid(
                "partial_images",
                "partial_images must be from 0 to 3",
            ));
        }
        if !stream {
            if partial_images > 0 {
                return Err(ApiError::invalid(
                    "partial_images",
                    "partial_images needs stream: true",
                ));
            }
            return Ok((false, 0));
        }
        if matches!(op, Operation::Variation { .. }) {
            return Err(ApiError::invalid(
                "stream",
                "variations are not streamed; leave stream out",
            ));
        }
        if matches!(format, OutputFormat::Gif | OutputFormat::Svg) {
            return Err(ApiError::invalid(
                "stream",
                format!(
                    "{} output is not streamed; leave stream out",
                    format.as_str()
                ),
            ));
        }
        if self.response_format.is_some() && response_format == ResponseFormat::Url {
            return Err(ApiError::invalid(
                "response_format",
                "a stream carries its images as base64: leave response_format out",
            ));
        }
        Ok((true, partial_images as u8))
    }

    /// The options only some models (or no model here) take; returns the moderation level.
    pub(super) fn checked_options(&self, model: &Model) -> Result<Option<&'static str>, ApiError> {
        for (param, value) in [
            ("user", &self.user),
            ("safety_identifier", &self.safety_identifier),
        ] {
            if value
                .as_ref()
                .is_some_and(|u| u.chars().count() > MAX_USER_CHARS)
            {
                return Err(ApiError::invalid(
                    param,
                    format!("{param} must be at most {MAX_USER_CHARS} characters"),
                ));
            }
        }
        match self.moderation.as_deref() {
            None => Ok(None),
            Some(_) if !model.gpt_image_params => Err(ApiError::invalid(
                "moderation",
                format!("model '{}' does not take a moderation level", model.id),
            )),
            Some(m) => Ok(Some(pick("moderation", m, &["auto", "low"], model)?)),
        }
    }
}

/// All outputs of one request are held in memory together: their pixels are capped.
pub(super) fn within_output_cap(size: Size, n: i64) -> Result<(), ApiError> {
    if size.pixels() * n as u64 > MAX_OUTPUT_PIXELS {
        return Err(ApiError::invalid(
            "n",
            format!(
                "{n} images of {size} are more than {MAX_OUTPUT_PIXELS} pixels together; ask for fewer or a smaller size"
            ),
        ));
    }
    Ok(())
}

pub(super) fn pick(
    param: &str,
    value: &str,
    allowed: &'static [&'static str],
    model: &Model,
) -> Result<&'static str, ApiError> {
    allowed
        .iter()
        .copied()
        .find(|a| *a == value)
        .ok_or_else(|| {
            ApiError::invalid(
                param,
                format!(
                    "'{value}' is not a supported {param} for model '{}'; supported: {}",
                    model.id,
                    allowed.join(", ")
                ),
            )
        })
}

/// A `size` the model draws: one of its sizes, or `WxH` within its rule for arbitrary sizes.
pub(super) fn checked_size(
    s: &str,
    sizes: &[Size],
    model: &Model,
    op: Operation,
) -> Result<Size, ApiError> {
    let listed: Vec<String> = sizes.iter().map(Size::to_string).collect();
    let parsed = Size::parse(s);
    if let Some(size) = parsed.filter(|p| sizes.contains(p)) {
        return Ok(size);
    }
    // Edits of the offline model and of inpainting models keep the input's size; others follow
    // the model's rule.
    let rule = model
        .any_size
        .filter(|_| matches!(op, Operation::Generate) || keeps_input_size(model));
    match (parsed, rule) {
        (Some(size), Some(rule)) => match rule.refusal(size) {
            None => Ok(size),
            Some(why) => Err(ApiError::invalid(
                "size",
                format!("size '{s}' is not one model '{}' draws: {why}", model.id),
            )),
        },
        (None, Some(_)) => Err(ApiError::invalid(
            "size",
            format!("size must be auto or WIDTHxHEIGHT (e.g. 1536x864), not '{s}'"),
        )),
        (_, None) => Err(ApiError::invalid(
            "size",
            format!(
                "size '{s}' is not supported by model '{}'; supported: auto, {}",
                model.id,
                listed.join(", ")
            ),
        )),
    }
}

/// A 400 on `param` for a model without it, naming the usable models that have it.
pub(super) fn unsupported(param: &str, model: &Model, has: impl Fn(&Model) -> bool) -> ApiError {
    let with: Vec<&str> = catalog::MODELS
        .iter()
        .filter(|m| has(m))
        .map(|m| m.id)
        .collect();
    ApiError::invalid(
        param,
        format!(
            "model '{}' does not take {param}; models that do: {}",
            model.id,
            with.join(", ")
        ),
    )
}

/// The sizes an operation may ask of `model`, and its default; refuses what the model lacks.
pub(super) fn sizes_for(model: &Model, op: Operation) -> Result<(&'static [Size], Size), ApiError> {
    match op {
        Operation::Generate if !model.generates => Err(ApiError::invalid(
            "model",
            format!(
                "model '{}' only edits images (POST /v1/images/edits with a mask)",
                model.id
            ),
        )),
        Operation::Generate => Ok((model.sizes, model.default_size)),
        Operation::Edit { input, .. } if !model.generates => {
            if let Some(why) = model.any_size.and_then(|rule| rule.refusal(input)) {
                return Err(ApiError::invalid(
                    "image",
                    format!("model '{}' cannot edit a {input} image: {why}", model.id),
                ));
            }
            Ok((model.edit_sizes, input))
        }
        Operation::Edit { images, input } => {
            if model.max_edit_images == 0 {
                return Err(ApiError::invalid(
                    "model",
                    format!("model '{}' cannot edit images", model.id),
                ));
            }
            if images > model.max_edit_images as usize {
                return Err(ApiError::invalid(
                    "image",
                    format!(
                        "model '{}' edits at most {} image(s); got {images}",
                        model.id, model.max_edit_images
                    ),
                ));
            }
            Ok((model.edit_sizes, edit_default(model, input)))
        }
        Operation::Variation { input } => {
            if !model.variations {
                return Err(ApiError::invalid(
                    "model",
                    format!("model '{}' does not make variations", model.id),
                ));
            }
            Ok((model.edit_sizes, edit_default(model, input)))
        }
    }
}

/// The offline model and inpainting models keep the input's size.
pub(super) fn keeps_input_size(model: &Model) -> bool {
    model.provider() == ProviderKind::Local || !model.generates
}

/// Edits keep the input's size where the model does; vendors default to their standard square.
pub(super) fn edit_default(model: &Model, input: Size) -> Size {
    if keeps_input_size(model) {
        input
    } else {
        model.default_size
    }
}
