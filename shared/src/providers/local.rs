//! The offline default. Not an AI model, and honest about it: a deterministic procedural
//! renderer. The prompt's words choose the palette and shapes, the seed and image index vary
//! the layout; the same prompt and seed always give the same pixels.
//! The pixels are `imaging::procedural`; this is the provider around them.

use super::{
    Answer, Call, EditInputs, InputImage, Op, Partials, ProviderError, ProviderImage,
    ProviderOutput, Vendor,
};
use crate::domain::catalog::{ProviderKind, Route};
use crate::domain::generation::{Background, GenerationPlan, OutputFormat};
use base64::Engine;
use imaging::RgbaImage;
use imaging::procedural::{Level, edit, scene, variation};
use std::sync::Arc;

pub struct LocalProvider;

/// `low`/`medium`/`high` as the renderer's levels (medium when absent).
fn level(name: Option<&str>) -> Level {
    match name {
        Some("low") => Level::Low,
        Some("high") => Level::High,
        _ => Level::Medium,
    }
}

impl LocalProvider {
    pub async fn generate(
        &self,
        plan: &GenerationPlan,
        sink: Option<&Partials>,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let (prompt, seed, n) = (plan.prompt.clone(), plan.seed, plan.n as u64);
        let size = (plan.size.width, plan.size.height);
        let (quality, complexity) = (level(Some(plan.quality)), level(plan.complexity));
        let (format, frames) = (plan.output_format, plan.frames);
        let transparent = plan.background == Background::Transparent;
        let partial_images = plan.partial_images as usize;
        let (plan, sink) = (plan.clone(), sink.cloned());
        tokio::task::spawn_blocking(move || {
            (0..n)
                .map(|i| {
                    let sc = scene(&prompt, seed, i, size, quality, complexity);
                    let drawn =
                        (1..=partial_images).map(|k| sc.drawn_so_far(k, partial_images + 1));
                    let partials = hand_on(drawn, i as usize, &plan, sink.as_ref());
                    let image = match (format, frames) {
                        (OutputFormat::Svg, _) => ProviderOutput::Svg {
                            svg: sc.svg(transparent),
                            raster: sc.raster(),
                        },
                        (OutputFormat::Gif, Some((count, delay_ms))) => ProviderOutput::Frames {
                            frames: sc.frames(count as usize),
                            delay_ms,
                        },
                        _ => ProviderOutput::Raw(sc.raster()),
                    };
                    ProviderImage {
                        image,
                        revised_prompt: None,
                        partials,
                        usage: None,
                    }
                })
                .collect()
        })
        .await
        .map_err(|e| ProviderError::BadOutput(e.to_string()))
    }

    pub async fn edit(
        &self,
        plan: &GenerationPlan,
        inputs: &EditInputs,
        sink: Option<&Partials>,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let images: Vec<Arc<RgbaImage>> = inputs.images.iter().map(|i| i.rgba.clone()).collect();
        let mask = inputs.mask.as_ref().map(|m| m.rgba.clone());
        let n = plan.n as u64;
        let partial_images = plan.partial_images as u32;
        let (plan, sink) = (plan.clone(), sink.cloned());
        tokio::task::spawn_blocking(move || {
            let images: Vec<&RgbaImage> = images.iter().map(|i| &**i).collect();
            (0..n)
                .map(|i| {
                    let done = edit(&images, mask.as_deref(), i);
                    // Stages between the input and the result, as the fill spreads.
                    let drawn = (1..=partial_images).filter_map(|k| {
                        let t = k as f32 / (partial_images + 1) as f32;
                        imaging::procedural::between(images[0], &done, t)
                    });
                    let partials = hand_on(drawn, i as usize, &plan, sink.as_ref());
                    ProviderImage {
                        image: ProviderOutput::Raw(done),
                        revised_prompt: None,
                        partials,
                        usage: None,
                    }
                })
                .collect()
        })
        .await
        .map_err(|e| ProviderError::BadOutput(e.to_string()))
    }

    pub async fn variation(
        &self,
        plan: &GenerationPlan,
        input: &InputImage,
    ) -> Result<Vec<ProviderImage>, ProviderError> {
        let img = input.rgba.clone();
        let (n, seed) = (plan.n as u64, plan.seed);
        tokio::task::spawn_blocking(move || {
            (0..n)
                .map(|i| ProviderImage {
                    image: ProviderOutput::Raw(variation(&img, seed, i)),
                    revised_prompt: None,
                    partials: Vec::new(),
                    usage: None,
                })
                .collect()
        })
        .await
        .map_err(|e| ProviderError::BadOutput(e.to_string()))
    }
}

/// Partial images as drawn: to `sink`, encoded as the plan asks, when the answer streams them
/// (none are kept then), else kept to go with the image.
fn hand_on(
    drawn: impl Iterator<Item = RgbaImage>,
    image: usize,
    plan: &GenerationPlan,
    sink: Option<&Partials>,
) -> Vec<RgbaImage> {
    let Some(sink) = sink else {
        return drawn.collect();
    };
    let format = plan.output_format.raster().unwrap_or(imaging::Format::Png);
    for partial in drawn {
        match imaging::encode(&partial, format, plan.output_compression) {
            Ok(bytes) => sink.send(
                plan,
                image,
                base64::engine::general_purpose::STANDARD.encode(bytes),
            ),
            // A partial image is a preview the answer may do without.
            Err(e) => tracing::warn!(error = %e, "a partial image could not be encoded"),
        }
    }
    Vec::new()
}

impl Vendor for LocalProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Local
    }

    fn images<'a, 'c: 'a>(
        &'a self,
        plan: &'a GenerationPlan,
        _route: &'a Route,
        op: Op<'a>,
        call: Call<'c>,
    ) -> Answer<'a, Vec<ProviderImage>> {
        let sink = call.partials.filter(|_| plan.stream);
        match op {
            Op::Generate => Box::pin(self.generate(plan, sink)),
            Op::Edit(inputs) => Box::pin(self.edit(plan, inputs, sink)),
            Op::Variation(input) => Box::pin(self.variation(plan, input)),
        }
    }
}
