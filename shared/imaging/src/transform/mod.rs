//! Deterministic image operations for `POST /v1/images/{id}/transform`, parsed from JSON with
//! every bad operation or value a 400 naming `operations[i].field`.

use crate as imaging;
use crate::Format;
use crate::Invalid;
use image::{Rgba, RgbaImage};

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

/// The operations `make bench` times against Pillow and pyvips (infra/bench/transforms.py names
/// them alike) and whose peak memory it measures on a 40-megapixel picture.
pub const BENCHMARKED: &[(&str, &[Op])] = &[
    ("gaussian_blur_sigma_2", &[Op::Blur { sigma: 2.0 }]),
    (
        "colour_adjust",
        &[
            Op::Brightness { factor: 1.1 },
            Op::Contrast { factor: 1.2 },
            Op::Saturation { factor: 0.8 },
        ],
    ),
    (
        "sharpen_sigma_1",
        &[Op::Sharpen {
            sigma: 1.0,
            threshold: 0,
        }],
    ),
    (
        "rotate_17",
        &[Op::Rotate {
            degrees: 17.0,
            background: Rgba([255, 255, 255, 255]),
        }],
    ),
    ("hue_30", &[Op::Hue { degrees: 30.0 }]),
    ("gamma_1_2", &[Op::Gamma { value: 1.2 }]),
    (
        "remove_background",
        &[Op::RemoveBackground { tolerance: 24 }],
    ),
    (
        "crop_512",
        &[Op::Crop {
            x: 256,
            y: 256,
            width: 512,
            height: 512,
        }],
    ),
];

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

mod parse;
#[cfg(test)]
mod tests;

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
                // A row at a time: whole-row copies rather than pixel by pixel.
                let (stride, run) = (w as usize * 4, width as usize * 4);
                let mut out = Vec::with_capacity(run * height as usize);
                for row in img
                    .as_raw()
                    .chunks_exact(stride)
                    .skip(y as usize)
                    .take(height as usize)
                {
                    out.extend_from_slice(&row[x as usize * 4..][..run]);
                }
                RgbaImage::from_raw(width, height, out).expect("rows of the crop")
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
            Op::Blur { sigma } => {
                imaging::gaussian_blur_in_place(&mut img, sigma);
                img
            }
            Op::Sharpen { sigma, threshold } => {
                imaging::unsharp_in_place(&mut img, sigma, threshold.clamp(0, 255) as u8);
                img
            }
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
    // Red and green through one 64K-entry table of pairs (128 KB, in L2): two lookups a pixel
    // instead of three, and one 32-bit load and store.
    let pairs: Vec<u16> = (0..=u16::MAX)
        .map(|v| u16::from_le_bytes([lut[(v & 0xff) as usize], lut[(v >> 8) as usize]]))
        .collect();
    for p in img.chunks_exact_mut(4) {
        let v = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        let rg = pairs[(v & 0xffff) as usize] as u32;
        let b = lut[((v >> 16) & 0xff) as usize] as u32;
        p.copy_from_slice(&(rg | b << 16 | (v & 0xff00_0000)).to_le_bytes());
    }
    img
}

/// Saturation around Rec. 709 luma, in 16-bit fixed point.
fn saturate(mut img: RgbaImage, factor: f32) -> RgbaImage {
    let f = (factor * 65536.0).round() as i32;
    if (0..=65536).contains(&f) {
        // Less saturated: each channel is a mix of itself and the luma, y + (c - y)·f =
        // (c·f + y·(1 - f)), never outside 0–255, so no clamp (the same values, exactly).
        let rest = 65536 - f;
        for p in img.chunks_exact_mut(4) {
            let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
            let y = (13933 * r + 46871 * g + 4732 * b + 32768) >> 16;
            let base = y * rest + 32768;
            p[0] = ((r * f + base) >> 16) as u8;
            p[1] = ((g * f + base) >> 16) as u8;
            p[2] = ((b * f + base) >> 16) as u8;
        }
        return img;
    }
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
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (sin, cos) = (d as f64).to_radians().sin_cos();
    let (nw, nh) = rotated_dims(img.dimensions(), degrees);
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let (ncx, ncy) = (nw as f64 / 2.0, nh as f64 / 2.0);
    let src = img.as_raw();
    let stride = w as usize * 4;
    // Source positions in 16.16 fixed point: along an output row they move by (cos, -sin).
    const ONE: i64 = 1 << 16;
    let fixed = |v: f64| (v * ONE as f64).round() as i64;
    let (step_x, step_y) = (fixed(cos), fixed(-sin));
    let mut out = vec![0u8; nw as usize * nh as usize * 4];
    for (y, row) in out.chunks_exact_mut(nw as usize * 4).enumerate() {
        // Inverse mapping of the row's first pixel centre, shifted to sample centres.
        let dy = y as f64 + 0.5 - ncy;
        let dx = 0.5 - ncx;
        let mut sx = fixed(cos * dx + sin * dy + cx - 0.5);
        let mut sy = fixed(-sin * dx + cos * dy + cy - 0.5);
        for px in row.chunks_exact_mut(4) {
            let (x0, y0) = (sx >> 16, sy >> 16);
            let (fx, fy) = (
                ((sx & (ONE - 1)) >> 8) as u32,
                ((sy & (ONE - 1)) >> 8) as u32,
            );
            if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
                // Inside: the four neighbours are two pairs of adjacent pixels.
                let i = y0 as usize * stride + x0 as usize * 4;
                let (top, bottom) = (&src[i..i + 8], &src[i + stride..i + stride + 8]);
                for k in 0..4 {
                    let t = top[k] as u32 * (256 - fx) + top[k + 4] as u32 * fx;
                    let b = bottom[k] as u32 * (256 - fx) + bottom[k + 4] as u32 * fx;
                    px[k] = ((t * (256 - fy) + b * fy + (1 << 15)) >> 16) as u8;
                }
            } else if x0 < -1 || y0 < -1 || x0 >= w || y0 >= h {
                px.copy_from_slice(&background.0);
            } else {
                // On the picture's edge: neighbours outside it are the background, so the edge
                // blends into it instead of ending in a jagged line.
                let at = |x: i64, y: i64| -> [u8; 4] {
                    if x < 0 || y < 0 || x >= w || y >= h {
                        background.0
                    } else {
                        let i = y as usize * stride + x as usize * 4;
                        [src[i], src[i + 1], src[i + 2], src[i + 3]]
                    }
                };
                let (a, b, c, e) = (
                    at(x0, y0),
                    at(x0 + 1, y0),
                    at(x0, y0 + 1),
                    at(x0 + 1, y0 + 1),
                );
                for k in 0..4 {
                    let top = a[k] as u32 * (256 - fx) + b[k] as u32 * fx;
                    let bottom = c[k] as u32 * (256 - fx) + e[k] as u32 * fx;
                    px[k] = ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8;
                }
            }
            sx += step_x;
            sy += step_y;
        }
    }
    RgbaImage::from_raw(nw, nh, out).expect("rotated size")
}
