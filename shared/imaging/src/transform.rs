//! Deterministic image operations for `POST /v1/images/{id}/transform`, parsed from JSON with
//! every bad operation or value a 400 naming `operations[i].field`.

use crate as imaging;
use crate::Format;
use crate::Invalid;
use image::{Rgba, RgbaImage};
use serde_json::Value;

pub const MAX_OPERATIONS: usize = 20;
pub const MAX_EDGE: u32 = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Within the box, aspect kept.
    Contain,
    /// Covers the box, aspect kept, centre-cropped to it.
    Cover,
    /// Exactly the box, aspect ignored.
    Fill,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Resize {
        width: Option<u32>,
        height: Option<u32>,
        fit: Fit,
        upscale: bool,
    },
    Crop {
        x: u32,
        y: u32,
        width: u32,
        height: u32,
    },
    Rotate {
        degrees: f32,
        background: Rgba<u8>,
    },
    Flip,
    Flop,
    Grayscale,
    Blur {
        sigma: f32,
    },
    Sharpen {
        sigma: f32,
        threshold: i32,
    },
    Brightness {
        factor: f32,
    },
    Contrast {
        factor: f32,
    },
    Saturation {
        factor: f32,
    },
    Hue {
        degrees: f32,
    },
    Gamma {
        value: f32,
    },
    RemoveBackground {
        tolerance: u8,
    },
}

pub const OPERATIONS: &[&str] = &[
    "resize",
    "crop",
    "rotate",
    "flip",
    "flop",
    "grayscale",
    "blur",
    "sharpen",
    "brightness",
    "contrast",
    "saturation",
    "hue",
    "gamma",
    "remove_background",
];

/// A parsed request: the operations in order and the output encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    pub ops: Vec<Op>,
    pub output_format: Option<Format>,
    pub quality: Option<u8>,
}

struct Fields<'a> {
    obj: &'a serde_json::Map<String, Value>,
    at: String,
    used: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    fn param(&self, name: &str) -> String {
        format!("{}.{name}", self.at)
    }

    fn number(
        &mut self,
        name: &'static str,
        lo: f64,
        hi: f64,
        default: Option<f64>,
    ) -> Result<f64, Invalid> {
        self.used.push(name);
        match self.obj.get(name) {
            None | Some(Value::Null) => default.ok_or_else(|| Invalid::missing(&self.param(name))),
            Some(v) => {
                let n = v.as_f64().ok_or_else(|| {
                    Invalid::new(self.param(name), format!("{name} must be a number"))
                })?;
                if !(lo..=hi).contains(&n) {
                    return Err(Invalid::new(
                        self.param(name),
                        format!("{name} must be between {lo} and {hi}"),
                    ));
                }
                Ok(n)
            }
        }
    }

    fn integer(
        &mut self,
        name: &'static str,
        lo: u32,
        hi: u32,
        default: Option<u32>,
    ) -> Result<u32, Invalid> {
        let n = self.number(name, lo as f64, hi as f64, default.map(f64::from))?;
        if n.fract() != 0.0 {
            return Err(Invalid::new(
                self.param(name),
                format!("{name} must be an integer"),
            ));
        }
        Ok(n as u32)
    }

    fn optional_integer(
        &mut self,
        name: &'static str,
        lo: u32,
        hi: u32,
    ) -> Result<Option<u32>, Invalid> {
        match self.obj.get(name) {
            None | Some(Value::Null) => {
                self.used.push(name);
                Ok(None)
            }
            Some(_) => self.integer(name, lo, hi, None).map(Some),
        }
    }

    fn string(&mut self, name: &'static str) -> Result<Option<&'a str>, Invalid> {
        self.used.push(name);
        match self.obj.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Invalid::new(
                self.param(name),
                format!("{name} must be a string"),
            )),
        }
    }

    fn boolean(&mut self, name: &'static str) -> Result<bool, Invalid> {
        self.used.push(name);
        match self.obj.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(Invalid::new(
                self.param(name),
                format!("{name} must be true or false"),
            )),
        }
    }

    fn finish(self) -> Result<(), Invalid> {
        match self
            .obj
            .keys()
            .find(|k| *k != "op" && !self.used.contains(&k.as_str()))
        {
            Some(extra) => Err(Invalid::new(
                self.param(extra),
                format!("unknown field '{extra}' for this operation"),
            )),
            None => Ok(()),
        }
    }
}

fn colour(param: String, s: &str) -> Result<Rgba<u8>, Invalid> {
    if s == "transparent" {
        return Ok(Rgba([0, 0, 0, 0]));
    }
    let hex = s.strip_prefix('#').unwrap_or("");
    let bad = || {
        Invalid::new(
            param.clone(),
            "background must be \"transparent\", #RRGGBB or #RRGGBBAA",
        )
    };
    if !(hex.len() == 6 || hex.len() == 8) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
    Ok(Rgba([
        byte(0)?,
        byte(2)?,
        byte(4)?,
        if hex.len() == 8 { byte(6)? } else { 255 },
    ]))
}

impl Transform {
    pub fn parse(body: &Value) -> Result<Self, Invalid> {
        let obj = body
            .as_object()
            .ok_or_else(|| Invalid::new("body", "the body must be a JSON object"))?;
        if let Some(extra) = obj
            .keys()
            .find(|k| !["operations", "output_format", "quality"].contains(&k.as_str()))
        {
            return Err(Invalid::new(
                extra.clone(),
                format!("Unrecognized request argument supplied: {extra}"),
            ));
        }
        let list = match obj.get("operations") {
            Some(Value::Array(a)) => a,
            None => return Err(Invalid::missing("operations")),
            Some(_) => {
                return Err(Invalid::new("operations", "operations must be an array"));
            }
        };
        if list.is_empty() || list.len() > MAX_OPERATIONS {
            return Err(Invalid::new(
                "operations",
                format!("send 1 to {MAX_OPERATIONS} operations"),
            ));
        }
        let mut ops = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let at = format!("operations[{i}]");
            let o = item
                .as_object()
                .ok_or_else(|| Invalid::new(at.clone(), "each operation is an object"))?;
            let name = o
                .get("op")
                .and_then(Value::as_str)
                .ok_or_else(|| Invalid::missing(&format!("{at}.op")))?;
            let mut f = Fields {
                obj: o,
                at: at.clone(),
                used: Vec::new(),
            };
            let op = match name {
                "resize" => {
                    let width = f.optional_integer("width", 1, MAX_EDGE)?;
                    let height = f.optional_integer("height", 1, MAX_EDGE)?;
                    if width.is_none() && height.is_none() {
                        return Err(Invalid::missing(&format!("{at}.width")));
                    }
                    let fit = match f.string("fit")?.unwrap_or("contain") {
                        "contain" => Fit::Contain,
                        "cover" => Fit::Cover,
                        "fill" => Fit::Fill,
                        _ => {
                            return Err(Invalid::new(
                                f.param("fit"),
                                "fit must be contain, cover or fill",
                            ));
                        }
                    };
                    Op::Resize {
                        width,
                        height,
                        fit,
                        upscale: f.boolean("upscale")?,
                    }
                }
                "crop" => Op::Crop {
                    x: f.integer("x", 0, MAX_EDGE, Some(0))?,
                    y: f.integer("y", 0, MAX_EDGE, Some(0))?,
                    width: f.integer("width", 1, MAX_EDGE, None)?,
                    height: f.integer("height", 1, MAX_EDGE, None)?,
                },
                "rotate" => {
                    let degrees = f.number("degrees", -360.0, 360.0, None)? as f32;
                    let background = match f.string("background")? {
                        None => Rgba([0, 0, 0, 0]),
                        Some(s) => colour(f.param("background"), s)?,
                    };
                    Op::Rotate {
                        degrees,
                        background,
                    }
                }
                "flip" => Op::Flip,
                "flop" => Op::Flop,
                "grayscale" => Op::Grayscale,
                "blur" => Op::Blur {
                    sigma: f.number("sigma", 0.1, imaging::MAX_BLUR_SIGMA as f64, None)? as f32,
                },
                "sharpen" => Op::Sharpen {
                    sigma: f.number("sigma", 0.1, 10.0, Some(1.0))? as f32,
                    threshold: f.integer("threshold", 0, 255, Some(0))? as i32,
                },
                "brightness" => Op::Brightness {
                    factor: f.number("factor", 0.0, 4.0, None)? as f32,
                },
                "contrast" => Op::Contrast {
                    factor: f.number("factor", 0.0, 4.0, None)? as f32,
                },
                "saturation" => Op::Saturation {
                    factor: f.number("factor", 0.0, 4.0, None)? as f32,
                },
                "hue" => Op::Hue {
                    degrees: f.number("degrees", -360.0, 360.0, None)? as f32,
                },
                "gamma" => Op::Gamma {
                    value: f.number("value", 0.1, 10.0, None)? as f32,
                },
                "remove_background" => Op::RemoveBackground {
                    tolerance: f.integer(
                        "tolerance",
                        0,
                        128,
                        Some(imaging::WHITE_TOLERANCE as u32),
                    )? as u8,
                },
                other => {
                    return Err(Invalid::new(
                        format!("{at}.op"),
                        format!(
                            "unknown operation '{other}'; supported: {}",
                            OPERATIONS.join(", ")
                        ),
                    ));
                }
            };
            f.finish()?;
            ops.push(op);
        }
        let output_format = match obj.get("output_format") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Format::parse(s).ok_or_else(|| {
                Invalid::new("output_format", "output_format must be png, jpeg or webp")
            })?),
            Some(_) => {
                return Err(Invalid::new(
                    "output_format",
                    "output_format must be a string",
                ));
            }
        };
        let quality = match obj.get("quality") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|q| (1..=100).contains(q))
                    .ok_or_else(|| {
                        Invalid::new("quality", "quality must be an integer from 1 to 100")
                    })? as u8,
            ),
        };
        Ok(Self {
            ops,
            output_format,
            quality,
        })
    }
}

/// What the operations made, and which of them had nothing to do.
#[derive(Debug)]
pub struct Applied {
    pub image: RgbaImage,
    /// Indexes of resizes that `upscale: false` kept from enlarging the image.
    pub upscale_prevented: Vec<usize>,
}

/// Applies the operations in order. A crop outside the current image, or a result that could
/// not be read back (beyond the decoder's limits), is a 400 naming the operation.
pub fn apply(mut img: RgbaImage, ops: &[Op]) -> Result<Applied, Invalid> {
    let mut upscale_prevented = Vec::new();
    let mut i = 0;
    while i < ops.len() {
        let op = &ops[i];
        // Every operation's largest allocation is known before it is made: refuse it up front.
        let peak = peak_pixels(op, img.dimensions());
        if peak > imaging::MAX_PIXELS {
            return Err(Invalid::new(
                format!("operations[{i}]"),
                format!(
                    "this operation would make a {peak}-pixel image; at most {} pixels",
                    imaging::MAX_PIXELS
                ),
            ));
        }
        let (w, h) = output_dims(op, img.dimensions());
        if w > imaging::MAX_DECODE_EDGE || h > imaging::MAX_DECODE_EDGE {
            return Err(Invalid::new(
                format!("operations[{i}]"),
                format!(
                    "this operation would make a {w}x{h} image; at most {} pixels a side",
                    imaging::MAX_DECODE_EDGE
                ),
            ));
        }
        if let Op::Resize {
            width,
            height,
            fit,
            upscale: false,
        } = *op
        {
            let dims = img.dimensions();
            if resize_dims(dims, width, height, fit, true)
                != resize_dims(dims, width, height, fit, false)
            {
                upscale_prevented.push(i);
            }
        }
        // A run of tone curves (brightness, contrast, gamma) is one lookup table: each maps 0–255
        // to 0–255 on its own, so their composition is exact and the pixels are walked once.
        if tone(op, 0).is_some() {
            let mut lut: [u8; 256] = std::array::from_fn(|v| v as u8);
            while let Some(op) = ops.get(i).filter(|op| tone(op, 0).is_some()) {
                for v in &mut lut {
                    *v = tone(op, *v).expect("a tone curve");
                }
                i += 1;
            }
            img = map_lut(img, &lut);
            continue;
        }
        let index = i;
        i += 1;
        img = match *op {
            Op::Resize {
                width,
                height,
                fit,
                upscale,
            } => resize(&img, width, height, fit, upscale),
            Op::Crop {
                x,
                y,
                width,
                height,
            } => {
                let (w, h) = img.dimensions();
                if x.saturating_add(width) > w || y.saturating_add(height) > h {
                    return Err(Invalid::new(
                        format!("operations[{index}]"),
                        format!("crop {width}x{height}+{x}+{y} lies outside the {w}x{h} image"),
                    ));
                }
                image::imageops::crop_imm(&img, x, y, width, height).to_image()
            }
            Op::Rotate {
                degrees,
                background,
            } => rotate(&img, degrees, background),
            Op::Flip => image::imageops::flip_vertical(&img),
            Op::Flop => image::imageops::flip_horizontal(&img),
            Op::Grayscale => map_rgb(img, |[r, g, b]| {
                let y = (0.2126 * r as f32 + 0.7152 * g as f32 + 0.0722 * b as f32).round() as u8;
                [y, y, y]
            }),
            Op::Blur { sigma } => imaging::gaussian_blur(&img, sigma),
            Op::Sharpen { sigma, threshold } => unsharp(&img, sigma, threshold),
            Op::Brightness { .. } | Op::Contrast { .. } | Op::Gamma { .. } => {
                unreachable!("tone curves are applied as one table above")
            }
            Op::Saturation { factor } => saturate(img, factor),
            Op::Hue { degrees } => {
                image::imageops::colorops::huerotate_in_place(&mut img, degrees.round() as i32);
                img
            }
            Op::RemoveBackground { tolerance } => {
                imaging::white_to_alpha(&mut img, tolerance);
                img
            }
        };
    }
    Ok(Applied {
        image: img,
        upscale_prevented,
    })
}

fn clamp(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// The value a tone curve gives channel value `v`; `None` for operations that are not one.
fn tone(op: &Op, v: u8) -> Option<u8> {
    let v = v as f32;
    Some(match *op {
        Op::Brightness { factor } => clamp(v * factor),
        Op::Contrast { factor } => clamp((v - 128.0) * factor + 128.0),
        Op::Gamma { value } => clamp(255.0 * (v / 255.0).powf(1.0 / value)),
        _ => return None,
    })
}

/// Applies a tone table to R, G and B (alpha is not a colour).
fn map_lut(mut img: RgbaImage, lut: &[u8; 256]) -> RgbaImage {
    for p in img.chunks_exact_mut(4) {
        p[0] = lut[p[0] as usize];
        p[1] = lut[p[1] as usize];
        p[2] = lut[p[2] as usize];
    }
    img
}

/// Saturation around Rec. 709 luma, in 16-bit fixed point.
fn saturate(mut img: RgbaImage, factor: f32) -> RgbaImage {
    let f = (factor * 65536.0).round() as i32;
    for p in img.chunks_exact_mut(4) {
        let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
        let y = (13933 * r + 46871 * g + 4732 * b + 32768) >> 16;
        for c in &mut p[..3] {
            *c = (y + (((*c as i32 - y) * f + 32768) >> 16)).clamp(0, 255) as u8;
        }
    }
    img
}

fn map_rgb(mut img: RgbaImage, f: impl Fn([u8; 3]) -> [u8; 3]) -> RgbaImage {
    for p in img.pixels_mut() {
        let [r, g, b] = f([p.0[0], p.0[1], p.0[2]]);
        p.0[0] = r;
        p.0[1] = g;
        p.0[2] = b;
    }
    img
}

/// The most pixels an operation holds at once on an image of `dims`.
/// The size an operation gives an image of `dims`, known before any pixel is touched.
fn output_dims(op: &Op, dims: (u32, u32)) -> (u32, u32) {
    match *op {
        Op::Resize {
            width,
            height,
            fit,
            upscale,
        } => resize_dims(dims, width, height, fit, upscale).1,
        Op::Crop { width, height, .. } => (width, height),
        Op::Rotate { degrees, .. } => rotated_dims(dims, degrees),
        _ => dims,
    }
}

/// The largest image an operation holds at once: its input, or a larger intermediate.
fn peak_pixels(op: &Op, dims: (u32, u32)) -> u64 {
    let area = |(w, h): (u32, u32)| w as u64 * h as u64;
    let scaled = match *op {
        Op::Resize {
            width,
            height,
            fit,
            upscale,
        } => resize_dims(dims, width, height, fit, upscale).0,
        _ => output_dims(op, dims),
    };
    area(scaled).max(area(dims))
}

/// Unsharp mask: adds back the difference from a Gaussian blur where it exceeds `threshold`.
fn unsharp(img: &RgbaImage, sigma: f32, threshold: i32) -> RgbaImage {
    let blurred = imaging::gaussian_blur(img, sigma);
    let mut out = img.clone();
    for (p, b) in out.pixels_mut().zip(blurred.pixels()) {
        for c in 0..3 {
            let diff = p.0[c] as i32 - b.0[c] as i32;
            if diff.abs() > threshold {
                p.0[c] = (p.0[c] as i32 + diff).clamp(0, 255) as u8;
            }
        }
    }
    out
}

/// Target size of a resize. Without `upscale` the result is never larger than the source.
pub fn resize_dims(
    src: (u32, u32),
    width: Option<u32>,
    height: Option<u32>,
    fit: Fit,
    upscale: bool,
) -> ((u32, u32), (u32, u32)) {
    let (sw, sh) = (src.0 as f64, src.1 as f64);
    let (bw, bh) = match (width, height) {
        (Some(w), Some(h)) => (w as f64, h as f64),
        (Some(w), None) => (w as f64, (w as f64 * sh / sw).round().max(1.0)),
        (None, Some(h)) => ((h as f64 * sw / sh).round().max(1.0), h as f64),
        (None, None) => (sw, sh),
    };
    let cap = |s: f64| if upscale { s } else { s.min(1.0) };
    // Never more than MAX_EDGE a side, even when the other side's box is far larger.
    let round = |v: f64| (v.round().min(MAX_EDGE as f64) as u32).max(1);
    match fit {
        Fit::Fill => {
            let (w, h) = if upscale {
                (bw, bh)
            } else {
                (bw.min(sw), bh.min(sh))
            };
            ((round(w), round(h)), (round(w), round(h)))
        }
        Fit::Contain => {
            let s = cap((bw / sw).min(bh / sh));
            (
                (round(sw * s), round(sh * s)),
                (round(sw * s), round(sh * s)),
            )
        }
        Fit::Cover => {
            let s = cap((bw / sw).max(bh / sh));
            let scaled = (round(sw * s), round(sh * s));
            let crop = (scaled.0.min(round(bw)), scaled.1.min(round(bh)));
            (scaled, crop)
        }
    }
}

fn resize(
    img: &RgbaImage,
    width: Option<u32>,
    height: Option<u32>,
    fit: Fit,
    upscale: bool,
) -> RgbaImage {
    let (scaled, crop) = resize_dims(img.dimensions(), width, height, fit, upscale);
    let resized = imaging::resize(img, scaled.0, scaled.1);
    if crop == scaled {
        return resized;
    }
    let x = (scaled.0 - crop.0) / 2;
    let y = (scaled.1 - crop.1) / 2;
    image::imageops::crop_imm(&resized, x, y, crop.0, crop.1).to_image()
}

/// Right angles are exact; other angles are bilinear on a canvas grown to hold the whole image,
/// filled with `background`.
/// The canvas that holds an image of `dims` rotated by `degrees` (swapped at right angles).
fn rotated_dims(dims: (u32, u32), degrees: f32) -> (u32, u32) {
    let d = degrees.rem_euclid(360.0);
    if d == 0.0 || d == 180.0 {
        return dims;
    }
    if d == 90.0 || d == 270.0 {
        return (dims.1, dims.0);
    }
    let (w, h) = (dims.0 as f32, dims.1 as f32);
    let (sin, cos) = d.to_radians().sin_cos();
    (
        (w * cos.abs() + h * sin.abs()).ceil() as u32,
        (w * sin.abs() + h * cos.abs()).ceil() as u32,
    )
}

fn rotate(img: &RgbaImage, degrees: f32, background: Rgba<u8>) -> RgbaImage {
    let d = degrees.rem_euclid(360.0);
    if d == 0.0 {
        return img.clone();
    }
    if d == 90.0 {
        return image::imageops::rotate90(img);
    }
    if d == 180.0 {
        return image::imageops::rotate180(img);
    }
    if d == 270.0 {
        return image::imageops::rotate270(img);
    }
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (sin, cos) = d.to_radians().sin_cos();
    let (nw, nh) = rotated_dims(img.dimensions(), degrees);
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (ncx, ncy) = (nw as f32 / 2.0, nh as f32 / 2.0);
    RgbaImage::from_fn(nw, nh, |x, y| {
        // Inverse mapping: where in the source does this output pixel come from?
        let (dx, dy) = (x as f32 + 0.5 - ncx, y as f32 + 0.5 - ncy);
        let sx = cos * dx + sin * dy + cx - 0.5;
        let sy = -sin * dx + cos * dy + cy - 0.5;
        if sx < -0.5 || sy < -0.5 || sx > w - 0.5 || sy > h - 0.5 {
            return background;
        }
        image::imageops::sample_bilinear(img, (sx + 0.5) / w, (sy + 0.5) / h).unwrap_or(background)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param(body: Value) -> String {
        match Transform::parse(&body) {
            Err(Invalid { param, .. }) => param,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn bad_operations_name_their_field() {
        assert_eq!(
            param(json!({"operations": [{"op": "explode"}]})),
            "operations[0].op"
        );
        assert_eq!(
            param(json!({"operations": [{"op": "flip"}, {"op": "blur", "sigma": 500}]})),
            "operations[1].sigma"
        );
        assert_eq!(
            param(json!({"operations": [{"op": "resize"}]})),
            "operations[0].width"
        );
        assert_eq!(
            param(json!({"operations": [{"op": "resize", "width": 0}]})),
            "operations[0].width"
        );
        assert_eq!(
            param(json!({"operations": [{"op": "resize", "width": 10, "fit": "squash"}]})),
            "operations[0].fit"
        );
        assert_eq!(
            param(json!({"operations": [{"op": "crop", "width": 10}]})),
            "operations[0].height"
        );
        assert_eq!(
            param(json!({"operations": [{"op": "rotate", "degrees": 45, "background": "red"}]})),
            "operations[0].background"
        );
        assert_eq!(
            param(json!({"operations": [{"op": "gamma", "value": 1, "extra": 1}]})),
            "operations[0].extra"
        );
        assert_eq!(param(json!({"operations": []})), "operations");
        assert_eq!(
            param(json!({"operations": [{"op": "flip"}], "quality": 0})),
            "quality"
        );
        assert_eq!(
            param(json!({"operations": [{"op": "flip"}], "output_format": "gif"})),
            "output_format"
        );
        assert_eq!(param(json!({"ops": []})), "ops");
    }

    #[test]
    fn resize_fits() {
        assert_eq!(
            resize_dims((400, 200), Some(100), Some(100), Fit::Contain, false),
            ((100, 50), (100, 50))
        );
        assert_eq!(
            resize_dims((400, 200), Some(100), Some(100), Fit::Cover, false),
            ((200, 100), (100, 100))
        );
        assert_eq!(
            resize_dims((400, 200), Some(100), Some(100), Fit::Fill, false),
            ((100, 100), (100, 100))
        );
        assert_eq!(
            resize_dims((400, 200), Some(800), None, Fit::Contain, false),
            ((400, 200), (400, 200)),
            "no upscale"
        );
        assert_eq!(
            resize_dims((400, 200), Some(800), None, Fit::Contain, true),
            ((800, 400), (800, 400))
        );
        assert_eq!(
            resize_dims((400, 200), None, Some(50), Fit::Contain, false),
            ((100, 50), (100, 50))
        );
    }

    #[test]
    fn chains_give_exact_dimensions() {
        let img = RgbaImage::from_pixel(300, 200, Rgba([200, 100, 50, 255]));
        let t = Transform::parse(&json!({"operations": [
            {"op": "resize", "width": 150, "height": 150, "fit": "cover"},
            {"op": "crop", "x": 10, "y": 20, "width": 100, "height": 80},
            {"op": "rotate", "degrees": 90},
            {"op": "grayscale"}, {"op": "blur", "sigma": 1.5}, {"op": "sharpen"},
            {"op": "brightness", "factor": 1.1}, {"op": "contrast", "factor": 1.2},
            {"op": "saturation", "factor": 0.5}, {"op": "hue", "degrees": 30}, {"op": "gamma", "value": 2.2},
            {"op": "flip"}, {"op": "flop"}
        ]}))
        .unwrap();
        let out = apply(img, &t.ops).unwrap().image;
        assert_eq!(out.dimensions(), (80, 100));
        let p = out.get_pixel(40, 50).0;
        assert!(
            p[0] == p[1] && p[1] == p[2],
            "grayscale stays gray through hue: {p:?}"
        );
    }

    #[test]
    fn arbitrary_rotation_grows_the_canvas_with_the_background() {
        let img = RgbaImage::from_pixel(100, 50, Rgba([0, 0, 255, 255]));
        let out = rotate(&img, 45.0, Rgba([255, 0, 0, 255]));
        assert_eq!(out.dimensions(), (107, 107));
        assert_eq!(out.get_pixel(0, 0).0, [255, 0, 0, 255]);
        assert_eq!(out.get_pixel(53, 53).0, [0, 0, 255, 255]);
    }

    #[test]
    fn oversized_intermediates_are_refused_before_allocating() {
        let img = RgbaImage::from_pixel(10, 10, Rgba([0, 0, 0, 255]));
        let ops = [
            Op::Resize {
                width: Some(1),
                height: Some(8192),
                fit: Fit::Fill,
                upscale: true,
            },
            Op::Resize {
                width: Some(8192),
                height: None,
                fit: Fit::Contain,
                upscale: true,
            },
        ];
        let e = apply(img.clone(), &ops).unwrap_err();
        assert!(e.param.starts_with("operations["), "{e:?}");
        let big = [
            Op::Resize {
                width: Some(8192),
                height: Some(8192),
                fit: Fit::Fill,
                upscale: true,
            },
            Op::Rotate {
                degrees: 45.0,
                background: Rgba([0, 0, 0, 0]),
            },
        ];
        let e = apply(img, &big).unwrap_err();
        assert_eq!(e.param, "operations[0]");
    }

    #[test]
    fn crop_outside_the_image_is_refused() {
        let img = RgbaImage::from_pixel(10, 10, Rgba([0, 0, 0, 255]));
        let e = apply(
            img,
            &[Op::Crop {
                x: 5,
                y: 5,
                width: 10,
                height: 2,
            }],
        )
        .unwrap_err();
        assert_eq!(e.param, "operations[0]");
    }

    #[test]
    fn a_run_of_tone_curves_gives_what_each_curve_in_turn_gives() {
        let img = RgbaImage::from_fn(64, 4, |x, y| {
            Rgba([
                (x * 4) as u8,
                255 - (x * 4) as u8,
                (x * y * 3) as u8,
                100 + y as u8,
            ])
        });
        let run = [
            Op::Brightness { factor: 1.3 },
            Op::Gamma { value: 0.7 },
            Op::Contrast { factor: 1.6 },
            Op::Saturation { factor: 0.5 },
            Op::Contrast { factor: 0.8 },
        ];
        let one_by_one = run.iter().fold(img.clone(), |im, op| {
            apply(im, std::slice::from_ref(op)).unwrap().image
        });
        let fused = apply(img.clone(), &run).unwrap().image;
        assert_eq!(fused, one_by_one);
        assert_ne!(fused, img);
        // Alpha is not a colour: the curves leave it alone.
        assert!(
            fused
                .pixels()
                .zip(img.pixels())
                .all(|(a, b)| a.0[3] == b.0[3])
        );
        // Each curve on its own: brightness 2 doubles, up to white.
        let b = apply(img.clone(), &[Op::Brightness { factor: 2.0 }])
            .unwrap()
            .image;
        assert_eq!(b.get_pixel(10, 0).0[0], 80);
        assert_eq!(b.get_pixel(40, 0).0[0], 255);
    }
}
