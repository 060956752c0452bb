//! The local renderer's pixels: a deterministic procedural painter (the prompt's words choose the
//! palette and shapes, the seed and index the layout), classical inpainting for edits, a collage
//! of several inputs, and seeded variations. Not an AI model, and honest about it.

use crate::inpaint::inpaint;
use image::{Rgba, RgbaImage};

/// SplitMix64: tiny, fast and stable across platforms and crate versions (unlike `rand`'s
/// generators), so images stay reproducible forever.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325 ^ seed, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn hsv(h: f32, s: f32, v: f32) -> [u8; 3] {
    let h = (h.rem_euclid(1.0)) * 6.0;
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [
        ((r + m) * 255.0) as u8,
        ((g + m) * 255.0) as u8,
        ((b + m) * 255.0) as u8,
    ]
}

#[derive(Debug, Clone, Copy)]
enum Shape {
    Disc {
        cx: f32,
        cy: f32,
        r: f32,
    },
    Ring {
        cx: f32,
        cy: f32,
        r: f32,
        width: f32,
    },
    Rect {
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
    },
}

impl Shape {
    /// Signed distance (negative inside), for anti-aliased edges.
    fn distance(&self, x: f32, y: f32) -> f32 {
        match *self {
            Shape::Disc { cx, cy, r } => ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r,
            Shape::Ring { cx, cy, r, width } => {
                (((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r).abs() - width / 2.0
            }
            Shape::Rect { x0, y0, x1, y1 } => {
                let dx = (x0 - x).max(x - x1);
                let dy = (y0 - y).max(y - y1);
                dx.max(dy)
            }
        }
    }

    fn moved(&self, dx: f32, dy: f32) -> Self {
        match *self {
            Shape::Disc { cx, cy, r } => Shape::Disc {
                cx: cx + dx,
                cy: cy + dy,
                r,
            },
            Shape::Ring { cx, cy, r, width } => Shape::Ring {
                cx: cx + dx,
                cy: cy + dy,
                r,
                width,
            },
            Shape::Rect { x0, y0, x1, y1 } => Shape::Rect {
                x0: x0 + dx,
                y0: y0 + dy,
                x1: x1 + dx,
                y1: y1 + dy,
            },
        }
    }

    fn bounds(&self) -> (f32, f32, f32, f32) {
        match *self {
            Shape::Disc { cx, cy, r } => (cx - r, cy - r, cx + r, cy + r),
            Shape::Ring { cx, cy, r, width } => {
                let o = r + width / 2.0;
                (cx - o, cy - o, cx + o, cy + o)
            }
            Shape::Rect { x0, y0, x1, y1 } => (x0, y0, x1, y1),
        }
    }
}

/// How much the renderer does: `quality` is detail (how many shapes, and highlights on them),
/// `complexity` is layout planning (scattered, centred, or composed on thirds by size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    Low,
    #[default]
    Medium,
    High,
}

/// Renders image `index` of a request at medium quality and complexity.
pub fn render(prompt: &str, seed: u64, index: u64, width: u32, height: u32) -> RgbaImage {
    render_with(
        prompt,
        seed,
        index,
        (width, height),
        Level::Medium,
        Level::Medium,
    )
}

/// Renders image `index` of a request. Pure function of its arguments.
pub fn render_with(
    prompt: &str,
    seed: u64,
    index: u64,
    size: (u32, u32),
    quality: Level,
    complexity: Level,
) -> RgbaImage {
    scene(prompt, seed, index, size, quality, complexity).raster()
}

/// What the renderer draws, before it is pixels or vector: shapes over a white backdrop.
#[derive(Debug, Clone)]
pub struct Scene {
    width: u32,
    height: u32,
    items: Vec<(Shape, [u8; 3], f32)>,
}

/// The scene of image `index` of a request: the prompt's words pick the palette, the seed and
/// index the layout, `quality` the detail and `complexity` the composition.
// Long: one scene, shape by shape; splitting it would scatter the random stream's order.
pub fn scene(
    prompt: &str,
    seed: u64,
    index: u64,
    (width, height): (u32, u32),
    quality: Level,
    complexity: Level,
) -> Scene {
    let normalized = prompt.to_lowercase();
    let words: Vec<&str> = normalized
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let base = fnv1a(normalized.as_bytes(), seed);
    let mut rng = Rng(base ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    // Each word contributes a hue, so prompts sharing words share colours.
    let hues: Vec<f32> = if words.is_empty() {
        vec![rng.unit()]
    } else {
        words
            .iter()
            .map(|w| (fnv1a(w.as_bytes(), 0) % 360) as f32 / 360.0)
            .collect()
    };
    let (w, h) = (width as f32, height as f32);
    let unit = w.min(h);
    let planned = 3 + (base % 5) as usize + words.len().min(4);
    let count = match quality {
        Level::Low => planned.div_ceil(2).max(2),
        Level::Medium => planned,
        Level::High => planned * 2,
    };
    let mut items = Vec::with_capacity(count * 2);
    for k in 0..count {
        let hue = hues[k % hues.len()] + rng.range(-0.04, 0.04);
        let colour = hsv(hue, rng.range(0.55, 0.95), rng.range(0.45, 0.9));
        let (mut cx, mut cy) = (rng.range(0.2, 0.8) * w, rng.range(0.2, 0.8) * h);
        let mut size = rng.range(0.08, 0.28) * unit;
        match complexity {
            Level::Medium => {}
            // Scattered to the edges, all of a size.
            Level::Low => {
                cx = (cx / w - 0.5) * 1.6 * w + w / 2.0;
                cy = (cy / h - 0.5) * 1.6 * h + h / 2.0;
                size = unit * 0.16;
            }
            // Composed: the largest shapes first, each on a point of the rule of thirds.
            Level::High => {
                const THIRDS: [(f32, f32); 4] = [(1.0, 1.0), (2.0, 1.0), (1.0, 2.0), (2.0, 2.0)];
                let (tx, ty) = THIRDS[k % 4];
                cx = (tx / 3.0 + (cx / w - 0.5) * 0.12) * w;
                cy = (ty / 3.0 + (cy / h - 0.5) * 0.12) * h;
                size = unit * 0.3 / (1.0 + k as f32 * 0.35);
            }
        }
        let shape = match rng.next() % 3 {
            0 => Shape::Disc { cx, cy, r: size },
            1 => Shape::Ring {
                cx,
                cy,
                r: size,
                width: size * rng.range(0.15, 0.4),
            },
            _ => {
                let aspect = rng.range(0.5, 2.0);
                Shape::Rect {
                    x0: cx - size * aspect,
                    y0: cy - size / aspect,
                    x1: cx + size * aspect,
                    y1: cy + size / aspect,
                }
            }
        };
        let opacity = rng.range(0.75, 1.0);
        items.push((shape, colour, opacity));
        if quality == Level::High {
            // Detail: a soft highlight up and left of each shape's centre.
            let light = Shape::Disc {
                cx: cx - size * 0.3,
                cy: cy - size * 0.3,
                r: size * 0.22,
            };
            items.push((light, hsv(hue, 0.25, 1.0), 0.45));
        }
    }
    Scene {
        width,
        height,
        items,
    }
}

impl Scene {
    pub fn raster(&self) -> RgbaImage {
        let mut img = RgbaImage::from_pixel(self.width, self.height, Rgba([255, 255, 255, 255]));
        for (shape, colour, opacity) in &self.items {
            paint(&mut img, shape, *colour, *opacity);
        }
        img
    }

    /// The same scene as SVG: one element per shape, in painting order. Without the white
    /// backdrop when `transparent`.
    pub fn svg(&self, transparent: bool) -> String {
        use std::fmt::Write;
        let (w, h) = (self.width, self.height);
        let mut out = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n"
        );
        if !transparent {
            out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
        }
        for (shape, [r, g, b], opacity) in &self.items {
            let colour = format!("#{r:02x}{g:02x}{b:02x}");
            let _ = match *shape {
                Shape::Disc { cx, cy, r } => writeln!(
                    out,
                    "<circle cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"{r:.2}\" fill=\"{colour}\" fill-opacity=\"{opacity:.3}\"/>"
                ),
                Shape::Ring { cx, cy, r, width } => writeln!(
                    out,
                    "<circle cx=\"{cx:.2}\" cy=\"{cy:.2}\" r=\"{r:.2}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width:.2}\" stroke-opacity=\"{opacity:.3}\"/>"
                ),
                Shape::Rect { x0, y0, x1, y1 } => writeln!(
                    out,
                    "<rect x=\"{x0:.2}\" y=\"{y0:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{colour}\" fill-opacity=\"{opacity:.3}\"/>",
                    x1 - x0,
                    y1 - y0
                ),
            };
        }
        out.push_str("</svg>\n");
        out
    }

    /// The scene with the first `stage` of `stages` parts of its shapes drawn (streaming's
    /// partial images: the picture as it is being painted).
    pub fn drawn_so_far(&self, stage: usize, stages: usize) -> RgbaImage {
        let shown = (self.items.len() * stage).div_ceil(stages.max(1));
        Scene {
            items: self.items[..shown.min(self.items.len())].to_vec(),
            ..self.clone()
        }
        .raster()
    }

    /// `count` frames of the scene in motion: each shape drifts on its own loop, so the last
    /// frame leads back into the first.
    pub fn frames(&self, count: usize) -> Vec<RgbaImage> {
        let amplitude = self.width.min(self.height) as f32 * 0.04;
        (0..count)
            .map(|f| {
                let t = std::f32::consts::TAU * f as f32 / count as f32;
                let moved = Scene {
                    items: self
                        .items
                        .iter()
                        .enumerate()
                        .map(|(i, (shape, colour, opacity))| {
                            let phase = t + i as f32 * 0.7;
                            let angle = i as f32 * 2.4;
                            let (dx, dy) = (
                                amplitude * phase.sin() * angle.cos(),
                                amplitude * phase.sin() * angle.sin(),
                            );
                            (shape.moved(dx, dy), *colour, *opacity)
                        })
                        .collect(),
                    ..self.clone()
                };
                moved.raster()
            })
            .collect()
    }
}

/// `from` blended towards `to` by `t` (0 to 1): the stages of an edit in progress. `None` when
/// the two differ in size (a collage), which has no stages.
pub fn between(from: &RgbaImage, to: &RgbaImage, t: f32) -> Option<RgbaImage> {
    if from.dimensions() != to.dimensions() {
        return None;
    }
    let mut out = to.clone();
    for (o, f) in out.pixels_mut().zip(from.pixels()) {
        for (c, s) in o.0.iter_mut().zip(f.0) {
            *c = (s as f32 * (1.0 - t) + *c as f32 * t).round() as u8;
        }
    }
    Some(out)
}

/// Blends `shape` in `colour` at `opacity` over `img`, anti-aliased at its edge.
fn paint(img: &mut RgbaImage, shape: &Shape, colour: [u8; 3], opacity: f32) {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (bx0, by0, bx1, by1) = shape.bounds();
    let x0 = bx0.floor().max(0.0) as u32;
    let y0 = by0.floor().max(0.0) as u32;
    let x1 = (bx1.ceil() + 1.0).min(w).max(0.0) as u32;
    let y1 = (by1.ceil() + 1.0).min(h).max(0.0) as u32;
    for y in y0..y1 {
        for x in x0..x1 {
            let d = shape.distance(x as f32 + 0.5, y as f32 + 0.5);
            let coverage = (0.5 - d).clamp(0.0, 1.0) * opacity;
            if coverage <= 0.0 {
                continue;
            }
            let p = img.get_pixel_mut(x, y);
            for (channel, target) in p.0.iter_mut().zip(colour) {
                *channel = (*channel as f32 * (1.0 - coverage) + target as f32 * coverage) as u8;
            }
        }
    }
}

/// A local edit. One image: the transparent part of the mask (or of the image itself, without
/// a mask) is filled by Telea inpainting, so a masked object on a simple background disappears;
/// everything outside the mask is kept exactly. Several images: a collage of them. The prompt
/// cannot steer either: this is not an AI model. Outputs `i` of `n` differ by inpainting radius
/// or collage order.
pub fn edit(images: &[&RgbaImage], mask: Option<&RgbaImage>, index: u64) -> RgbaImage {
    if images.len() > 1 {
        return collage(images, index as usize);
    }
    let mut img = images[0].clone();
    let source = mask.unwrap_or(images[0]);
    let unknown: Vec<bool> = source.pixels().map(|p| p.0[3] == 0).collect();
    // One image has one fill: the same for every index (callers ask for one).
    inpaint(&mut img, &unknown, 3);
    // The filled region is opaque; pixels outside the mask keep their own alpha.
    for (p, u) in img.pixels_mut().zip(&unknown) {
        if *u {
            p.0[3] = 255;
        }
    }
    img
}

/// Images laid out in a grid on white, each fitted to its cell, starting with image `start`.
fn collage(images: &[&RgbaImage], start: usize) -> RgbaImage {
    let count = images.len();
    let cols = (count as f64).sqrt().ceil() as u32;
    let rows = (count as u32).div_ceil(cols);
    let cell = 512;
    let mut out = RgbaImage::from_pixel(cols * cell, rows * cell, Rgba([255, 255, 255, 255]));
    for k in 0..count {
        let img = images[(start + k) % count];
        let (w, h) = crate::fit_within(img.width(), img.height(), cell);
        let scaled = crate::resize(img, w, h);
        let (cx, cy) = ((k as u32 % cols) * cell, (k as u32 / cols) * cell);
        image::imageops::overlay(
            &mut out,
            &scaled,
            (cx + (cell - w) / 2) as i64,
            (cy + (cell - h) / 2) as i64,
        );
    }
    out
}

/// A documented, deterministic alteration: a seeded crop/zoom of 80–95 %, a mirror on every
/// other variation, a hue rotation of up to ±30° and an exposure change of up to ±12 %.
pub fn variation(img: &RgbaImage, seed: u64, index: u64) -> RgbaImage {
    let mut rng = Rng(fnv1a(&index.to_le_bytes(), seed ^ 0x5EED));
    let (w, h) = img.dimensions();
    let zoom = rng.range(0.80, 0.95);
    let (cw, ch) = (((w as f32) * zoom) as u32, ((h as f32) * zoom) as u32);
    let x = (rng.unit() * (w - cw) as f32) as u32;
    let y = (rng.unit() * (h - ch) as f32) as u32;
    // One full-size copy at a time: the crop is read in place by the resize, and the mirror,
    // hue and exposure change the result where it lies.
    let mut out = crate::resize_region(img, (x, y, cw.max(1), ch.max(1)), w, h);
    if (seed + index) % 2 == 1 {
        image::imageops::flip_horizontal_in_place(&mut out);
    }
    let hue = rng.range(-30.0, 30.0) as i32;
    image::imageops::colorops::huerotate_in_place(&mut out, hue);
    let exposure = rng.range(0.88, 1.12);
    for p in out.pixels_mut() {
        for c in 0..3 {
            p.0[c] = (p.0[c] as f32 * exposure).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(a: &RgbaImage, b: &RgbaImage) -> f64 {
        let total: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as u64)
            .sum();
        total as f64 / a.as_raw().len() as f64
    }

    /// Pixels that are not the white backdrop: how much of the canvas the scene covers.
    fn painted(img: &RgbaImage) -> usize {
        img.pixels().filter(|p| p.0 != [255, 255, 255, 255]).count()
    }

    /// Distinct colours: shapes, their overlaps and their highlights each add some.
    fn colours(img: &RgbaImage) -> usize {
        img.pixels()
            .map(|p| p.0)
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    #[test]
    fn quality_is_detail_and_complexity_is_layout() {
        let at = |q, c| render_with("a harbour at noon", 3, 0, (256, 256), q, c);
        let (low, medium, high) = (
            at(Level::Low, Level::Medium),
            at(Level::Medium, Level::Medium),
            at(Level::High, Level::Medium),
        );
        assert_eq!(medium, render("a harbour at noon", 3, 0, 256, 256));
        assert!(colours(&low) < colours(&medium) && colours(&medium) < colours(&high));
        assert!(painted(&low) < painted(&high));
        // Layouts differ visibly; each is still deterministic.
        let scattered = at(Level::Medium, Level::Low);
        let composed = at(Level::Medium, Level::High);
        assert!(diff(&scattered, &medium) > 5.0 && diff(&composed, &medium) > 5.0);
        assert_eq!(composed, at(Level::Medium, Level::High));
    }

    #[test]
    fn the_svg_and_the_animation_are_the_same_scene() {
        let sc = scene(
            "a harbour at noon",
            3,
            0,
            (200, 120),
            Level::High,
            Level::Medium,
        );
        let svg = sc.svg(false);
        assert!(
            svg.starts_with(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" height=\"120\""
            )
        );
        let shapes = svg.matches("<circle").count() + svg.matches("<rect").count();
        assert_eq!(
            shapes,
            sc.items.len() + 1,
            "one element per shape, and the backdrop"
        );
        assert_eq!(
            sc.svg(true).matches("<rect width=\"100%\"").count(),
            0,
            "transparent: no backdrop"
        );
        let frames = sc.frames(6);
        assert_eq!(frames.len(), 6);
        assert!(diff(&frames[0], &frames[2]) > 0.5, "the shapes move");
        let gif = crate::encode_gif(&frames, 120).unwrap();
        assert_eq!(&gif[..6], b"GIF89a");
        use image::AnimationDecoder;
        let decoded = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(gif))
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap();
        assert_eq!(decoded.len(), 6);
        assert_eq!(decoded[0].delay().numer_denom_ms(), (120, 1));
        assert_eq!(decoded[0].buffer().dimensions(), (200, 120));
    }

    #[test]
    fn same_prompt_and_seed_give_the_same_image() {
        assert_eq!(
            render("a red fox", 7, 0, 128, 96),
            render("a red fox", 7, 0, 128, 96)
        );
    }

    #[test]
    fn different_prompts_seeds_and_indexes_differ_visibly() {
        let fox = render("a red fox in the snow", 0, 0, 128, 128);
        for other in [
            render("a blue whale at dawn", 0, 0, 128, 128),
            render("a red fox in the snow", 1, 0, 128, 128),
            render("a red fox in the snow", 0, 1, 128, 128),
        ] {
            assert!(
                diff(&fox, &other) > 5.0,
                "mean abs difference {}",
                diff(&fox, &other)
            );
        }
    }

    #[test]
    fn edits_keep_everything_outside_the_mask() {
        let base = render("a scene", 3, 0, 64, 48);
        let mut mask = RgbaImage::from_pixel(64, 48, Rgba([0, 0, 0, 255]));
        for y in 10..30 {
            for x in 20..40 {
                mask.put_pixel(x, y, Rgba([0, 0, 0, 0]));
            }
        }
        let out = edit(&[&base], Some(&mask), 0);
        for (x, y, p) in out.enumerate_pixels() {
            if mask.get_pixel(x, y).0[3] != 0 {
                assert_eq!(p, base.get_pixel(x, y));
            } else {
                assert_eq!(p.0[3], 255);
            }
        }
    }

    #[test]
    fn variations_differ_from_each_other_and_are_reproducible() {
        let base = render("a harbour", 1, 0, 96, 96);
        let a = variation(&base, 0, 0);
        let b = variation(&base, 0, 1);
        assert_eq!(a.dimensions(), (96, 96));
        assert!(diff(&a, &b) > 3.0);
        assert_eq!(a, variation(&base, 0, 0));
    }

    #[test]
    fn several_images_make_a_collage() {
        let imgs = [
            render("a", 0, 0, 40, 40),
            render("b", 0, 0, 80, 40),
            render("c", 0, 0, 40, 80),
        ];
        let imgs: Vec<&RgbaImage> = imgs.iter().collect();
        let out = edit(&imgs, None, 0);
        assert_eq!(out.dimensions(), (1024, 1024), "2x2 grid of 512-px cells");
        assert_ne!(edit(&imgs, None, 0), edit(&imgs, None, 1));
    }

    #[test]
    fn sizes_are_honoured_and_the_backdrop_is_white() {
        let img = render("tall", 0, 0, 64, 112);
        assert_eq!(img.dimensions(), (64, 112));
        assert_eq!(img.get_pixel(0, 0).0, [255, 255, 255, 255]);
        assert!(
            img.pixels().any(|p| p.0 != [255, 255, 255, 255]),
            "something is drawn"
        );
    }
}
