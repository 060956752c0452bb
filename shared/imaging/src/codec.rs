//! Image post-processing: bounded decoding, white→transparent background, high-quality resize,
//! and encoding to PNG / JPEG / WebP.

use crate::Format;
use fast_image_resize::images::Image as FirImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageReader, RgbaImage};
use std::io::Cursor;

/// Default tolerance of "near white": every channel within 24 of 255.
pub const WHITE_TOLERANCE: u8 = 24;
pub const THUMBNAIL_EDGE: u32 = 256;
/// Refuse anything larger before decoding (decompression bombs).
pub const MAX_PIXELS: u64 = 40_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    #[error("not a supported image (PNG, JPEG or WebP)")]
    Unsupported,
    #[error("image is {width}x{height}: more than {MAX_PIXELS} pixels")]
    TooLarge { width: u32, height: u32 },
    #[error("image data is corrupt or truncated: {0}")]
    Corrupt(String),
    /// Within the pixel count, but beyond what the decoder may allocate or address.
    #[error("image is beyond the decoder's limits: {0}")]
    OverLimits(String),
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// The largest width or height `decode` accepts: nothing larger may be stored.
pub const MAX_DECODE_EDGE: u32 = 20_000;

/// The largest width or height a WebP image can have.
pub const WEBP_MAX_EDGE: u32 = 16_383;

/// Width and height from the header, without decoding the pixels.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32), ImagingError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImagingError::Corrupt(e.to_string()))?;
    match reader.format() {
        Some(image::ImageFormat::Png | image::ImageFormat::Jpeg | image::ImageFormat::WebP) => {}
        _ => return Err(ImagingError::Unsupported),
    }
    reader
        .into_dimensions()
        .map_err(|e| ImagingError::Corrupt(e.to_string()))
}

/// Whether a JPEG stream reaches an end-of-image marker after its first scan. The marker segments
/// before the scan are walked by their lengths (an EXIF thumbnail's own end marker lies inside
/// one); entropy-coded data cannot contain FF D9 (an FF there is followed by 00 or a restart).
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut i = 2; // after the start-of-image marker
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        match marker {
            0xFF => i += 1, // fill byte
            0x01 | 0xD0..=0xD7 => i += 2,
            0xD9 => return false, // ends before any scan
            _ => {
                let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
                if marker == 0xDA {
                    return bytes
                        .get(i + 2 + len..)
                        .is_some_and(|scan| scan.windows(2).any(|w| w == [0xFF, 0xD9]));
                }
                i += 2 + len;
            }
        }
    }
    false
}

/// Decodes PNG/JPEG/WebP recognised by their bytes, checking dimensions from the header first.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, ImagingError> {
    checked_reader(bytes)?.decode().map_err(decoding_error)
}

/// [`decode`], to RGBA: 8-bit pictures are decoded into the RGBA buffer itself and widened in
/// place, so that an RGB picture is never held twice (at 40 MP, 160 MB instead of 280).
pub fn decode_rgba(bytes: &[u8]) -> Result<RgbaImage, ImagingError> {
    use image::{ColorType, ImageDecoder};
    let decoder = checked_reader(bytes)?
        .into_decoder()
        .map_err(decoding_error)?;
    // Checked here because `ImageReader::decode`, not the decoder, checks its output's size.
    if decoder.total_bytes() > MAX_ALLOC {
        return Err(ImagingError::OverLimits(format!(
            "{} bytes of pixels, more than {MAX_ALLOC}",
            decoder.total_bytes()
        )));
    }
    let channels = match decoder.color_type() {
        ColorType::Rgba8 => 4,
        ColorType::Rgb8 => 3,
        ColorType::La8 => 2,
        ColorType::L8 => 1,
        _ => {
            let img = DynamicImage::from_decoder(decoder).map_err(decoding_error)?;
            return Ok(img.into_rgba8());
        }
    };
    let (w, h) = decoder.dimensions();
    let pixels = w as usize * h as usize;
    let mut buf = vec![0u8; pixels * 4];
    decoder
        .read_image(&mut buf[..pixels * channels])
        .map_err(decoding_error)?;
    widen_to_rgba(&mut buf, channels);
    Ok(RgbaImage::from_raw(w, h, buf).expect("sized for RGBA"))
}

/// Turns `buf`'s first quarter to three quarters (pixels of `channels` bytes: grey, grey and
/// alpha, RGB; 4 is already RGBA) into RGBA pixels over the whole buffer, from the last pixel back: a pixel's
/// RGBA bytes only ever cover source bytes already widened.
fn widen_to_rgba(buf: &mut [u8], channels: usize) {
    let widen = |p: &[u8]| match *p {
        [v] => [v, v, v, 255],
        [v, a] => [v, v, v, a],
        [r, g, b] => [r, g, b, 255],
        _ => unreachable!("1 to 3 channels"),
    };
    if channels == 4 {
        return;
    }
    // Blocks of pixels through a small copy, so that the loop vectorises; then one at a time.
    const BLOCK: usize = 16;
    let pixels = buf.len() / 4;
    for i in (pixels - pixels % BLOCK..pixels).rev() {
        let px = widen(&buf[i * channels..][..channels]);
        buf[i * 4..][..4].copy_from_slice(&px);
    }
    let mut block = [0u8; BLOCK * 3];
    for b in (0..pixels / BLOCK).rev() {
        let src = &mut block[..BLOCK * channels];
        src.copy_from_slice(&buf[b * BLOCK * channels..][..BLOCK * channels]);
        let dst = &mut buf[b * BLOCK * 4..][..BLOCK * 4];
        for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(channels)) {
            d.copy_from_slice(&widen(s));
        }
    }
}

/// The most a decoder may allocate: the largest RGBA picture and room for its own buffers.
const MAX_ALLOC: u64 = MAX_PIXELS * 4 + (64 << 20);

/// A reader of PNG/JPEG/WebP recognised by their bytes, with the dimensions checked from the
/// header and the decoder's allocations bounded.
fn checked_reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, ImagingError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImagingError::Corrupt(e.to_string()))?;
    match reader.format() {
        Some(image::ImageFormat::Png | image::ImageFormat::WebP) => {}
        // The JPEG decoder fills a scan cut short with grey and reports success.
        Some(image::ImageFormat::Jpeg) if !jpeg_is_complete(bytes) => {
            return Err(ImagingError::Corrupt(
                "the JPEG data ends before its end-of-image marker".into(),
            ));
        }
        Some(image::ImageFormat::Jpeg) => {}
        _ => return Err(ImagingError::Unsupported),
    }
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| ImagingError::Corrupt(e.to_string()))?;
    if width as u64 * height as u64 > MAX_PIXELS {
        return Err(ImagingError::TooLarge { width, height });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImagingError::Corrupt(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DECODE_EDGE);
    limits.max_image_height = Some(MAX_DECODE_EDGE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

fn decoding_error(e: image::ImageError) -> ImagingError {
    match e {
        image::ImageError::Limits(e) => ImagingError::OverLimits(e.to_string()),
        e => ImagingError::Corrupt(e.to_string()),
    }
}

/// The format of encoded bytes, recognised by their content (never by a declared type).
pub fn sniff_format(bytes: &[u8]) -> Option<Format> {
    match image::guess_format(bytes).ok()? {
        image::ImageFormat::Png => Some(Format::Png),
        image::ImageFormat::Jpeg => Some(Format::Jpeg),
        image::ImageFormat::WebP => Some(Format::Webp),
        _ => None,
    }
}

#[inline]
fn whiteness_distance(p: &[u8]) -> u8 {
    255 - p[0].min(p[1]).min(p[2])
}

/// Makes the near-white background that touches the border transparent — not every white
/// pixel: white enclosed by the subject stays opaque. Pixels of the subject that touch the
/// background get a soft alpha proportional to how far from white they are, so anti-aliased
/// edges do not keep a white halo.
pub fn white_to_alpha(img: &mut RgbaImage, tolerance: u8) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return;
    }
    let tol = tolerance;
    let data: &mut [u8] = img.as_mut();
    // `bg` marks background pixels; a pixel is marked when it is pushed, so each is visited once.
    let mut bg = vec![false; w * h];
    let near_white = |data: &[u8], i: usize| whiteness_distance(&data[i * 4..i * 4 + 4]) <= tol;
    let mut stack: Vec<usize> = Vec::with_capacity(w * 2 + h * 2);
    let seed = |i: usize, bg: &mut Vec<bool>, stack: &mut Vec<usize>| {
        if !bg[i] && near_white(data, i) {
            bg[i] = true;
            stack.push(i);
        }
    };
    for x in 0..w {
        seed(x, &mut bg, &mut stack);
        seed((h - 1) * w + x, &mut bg, &mut stack);
    }
    for y in 0..h {
        seed(y * w, &mut bg, &mut stack);
        seed(y * w + w - 1, &mut bg, &mut stack);
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        if x > 0 {
            seed(i - 1, &mut bg, &mut stack);
        }
        if x + 1 < w {
            seed(i + 1, &mut bg, &mut stack);
        }
        if y > 0 {
            seed(i - w, &mut bg, &mut stack);
        }
        if y + 1 < h {
            seed(i + w, &mut bg, &mut stack);
        }
    }
    let span = 2.0 * tol.max(1) as f32;
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let px = &mut data[i * 4..i * 4 + 4];
            if bg[i] {
                px[3] = 0;
                continue;
            }
            let touches = (x > 0 && bg[i - 1])
                || (x + 1 < w && bg[i + 1])
                || (y > 0 && bg[i - w])
                || (y + 1 < h && bg[i + w]);
            if touches {
                let d = whiteness_distance(px) as f32;
                let soft = (255.0 * d / span).round().min(255.0) as u8;
                px[3] = px[3].min(soft);
            }
        }
    }
}

/// Lanczos3 resampling with premultiplied alpha (no dark fringes around transparency).
pub fn resize(img: &RgbaImage, width: u32, height: u32) -> RgbaImage {
    if img.width() == width && img.height() == height {
        return img.clone();
    }
    resize_region(img, (0, 0, img.width(), img.height()), width, height)
}

/// The centre of `img` in the shape of `width`×`height`, resized to it (what a frame of that
/// shape shows of a picture of another shape).
pub fn cover(img: &RgbaImage, width: u32, height: u32) -> RgbaImage {
    let (pw, ph) = (img.width() as f64, img.height() as f64);
    let aspect = width as f64 / height as f64;
    let (cw, ch) = if pw / ph > aspect {
        ((ph * aspect).round().max(1.0), ph)
    } else {
        (pw, (pw / aspect).round().max(1.0))
    };
    let region = (
        ((pw - cw) / 2.0) as u32,
        ((ph - ch) / 2.0) as u32,
        cw as u32,
        ch as u32,
    );
    resize_region(img, region, width, height)
}

/// Lanczos3 of the region `(x, y, w, h)` of `img` to `width`×`height`, read in place: neither
/// the source nor the region is copied first (a 40-megapixel input is 160 MB a copy). The
/// output is made a band of rows at a time, each from the source rows its kernel reaches, so
/// that the resizer's buffers (its vertical pass, and a premultiplied copy of those rows when
/// some pixel is not opaque) stay near [`RESIZE_BAND_BYTES`] instead of growing with the picture.
pub fn resize_region(
    img: &RgbaImage,
    (x, y, w, h): (u32, u32, u32, u32),
    width: u32,
    height: u32,
) -> RgbaImage {
    if let Some(shrunk) = box_shrunk(img, (x, y, w, h), width, height) {
        let (sw, sh) = shrunk.dimensions();
        let band = resize_band(sw, sh, width, height);
        return resize_region_in_bands(&shrunk, (0, 0, sw, sh), width, height, band);
    }
    let band = resize_band(w, h, width, height);
    resize_region_in_bands(img, (x, y, w, h), width, height, band)
}

/// The most a box pre-shrink may hold: larger pictures are reduced in bands instead.
const BOX_SHRINK_MAX_BYTES: usize = 32 << 20;

/// A large reduction first shrinks by a whole factor with a box filter (each output pixel the
/// mean of k×k), leaving Lanczos3 at least a ×2 reduction, as libvips does: Lanczos' kernel
/// grows with the reduction, a box costs the same at any factor. `None` below ×4, or when the
/// shrunk picture would be too large to hold.
fn box_shrunk(
    img: &RgbaImage,
    (x, y, w, h): (u32, u32, u32, u32),
    width: u32,
    height: u32,
) -> Option<RgbaImage> {
    let reduction = (w as f64 / width.max(1) as f64).min(h as f64 / height.max(1) as f64);
    // The largest factor that divides both sides (the box then spans whole pixels), or the
    // largest at all when none does.
    let most = (reduction / 2.0).floor() as u32;
    if most < 2 {
        return None;
    }
    let k = (2..=most)
        .rev()
        .find(|k| w % k == 0 && h % k == 0)
        .unwrap_or(most);
    // The whole region, shrunk by about k: the box's weights cover a fraction of the edge
    // pixels where k does not divide the size, and the picture keeps its exact geometry.
    let (sw, sh) = (
        ((w as f64 / k as f64).round() as u32).max(1),
        ((h as f64 / k as f64).round() as u32).max(1),
    );
    if sw as usize * sh as usize * 4 > BOX_SHRINK_MAX_BYTES {
        return None;
    }
    let src = fast_image_resize::images::ImageRef::new(
        img.width(),
        img.height(),
        img.as_raw(),
        PixelType::U8x4,
    )
    .ok()?;
    let mut dst = FirImage::new(sw, sh, PixelType::U8x4);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Box))
        .crop(x as f64, y as f64, w as f64, h as f64)
        .use_alpha(has_transparency(img));
    Resizer::new().resize(&src, &mut dst, &options).ok()?;
    RgbaImage::from_raw(sw, sh, dst.into_vec())
}

/// Bytes the resizer's buffers may take for one band of output rows.
const RESIZE_BAND_BYTES: usize = 8 << 20;

/// Output rows per band of a resize (see [`resize_region`]).
fn resize_band(w: u32, h: u32, width: u32, height: u32) -> u32 {
    let scale = (h as f64 / height.max(1) as f64).max(1.0);
    let row = w.max(width) as usize * 4;
    ((RESIZE_BAND_BYTES as f64 / row as f64 / scale) as u32).max(16)
}

fn resize_region_in_bands(
    img: &RgbaImage,
    (x, y, w, h): (u32, u32, u32, u32),
    width: u32,
    height: u32,
    band: u32,
) -> RgbaImage {
    let mut out = vec![0u8; width as usize * height as usize * 4];
    if out.is_empty() || w == 0 || h == 0 {
        return RgbaImage::from_raw(width, height, out).expect("buffer matches dimensions");
    }
    let stride = img.width() as usize * 4;
    let scale = h as f64 / height.max(1) as f64;
    // Source rows a band's kernel reaches beyond its own: Lanczos3's 3, wider by the scale when
    // shrinking, and one for rounding.
    let reach = 3.0 * scale.max(1.0) + 1.0;
    // Premultiplying alpha copies the rows first: only worth it when some pixel is not opaque.
    let alpha = has_transparency(img);
    let mut resizer = Resizer::new();
    for r0 in (0..height).step_by(band as usize) {
        let rows = band.min(height - r0);
        let top = y as f64 + r0 as f64 * scale;
        let bottom = if r0 + rows == height {
            (y + h) as f64
        } else {
            y as f64 + (r0 + rows) as f64 * scale
        };
        let first = (top - reach).floor().max(0.0) as u32;
        let last = ((bottom + reach).ceil() as u32).min(img.height());
        let src = fast_image_resize::images::ImageRef::new(
            img.width(),
            last - first,
            &img.as_raw()[first as usize * stride..last as usize * stride],
            PixelType::U8x4,
        )
        .expect("rows of the source");
        let bytes =
            &mut out[r0 as usize * width as usize * 4..][..rows as usize * width as usize * 4];
        let mut dst = FirImage::from_slice_u8(width, rows, bytes, PixelType::U8x4)
            .expect("rows of the output");
        let options = ResizeOptions::new()
            .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
            .crop(x as f64, top - first as f64, w as f64, bottom - top)
            .use_alpha(alpha);
        resizer
            .resize(&src, &mut dst, &options)
            .expect("same pixel type, crop within the rows");
    }
    RgbaImage::from_raw(width, height, out).expect("buffer matches dimensions")
}

/// The largest size within `edge`×`edge` keeping the aspect ratio (never upscaling).
pub fn fit_within(width: u32, height: u32, edge: u32) -> (u32, u32) {
    if width <= edge && height <= edge {
        return (width, height);
    }
    let scale = edge as f64 / width.max(height) as f64;
    (
        ((width as f64 * scale).round() as u32).max(1),
        ((height as f64 * scale).round() as u32).max(1),
    )
}

pub fn has_transparency(img: &RgbaImage) -> bool {
    // A block of pixels at a time, without an early exit inside it: the AND of their alphas
    // vectorises, and most images are opaque (then every pixel is read anyway).
    img.as_raw()
        .chunks(4096)
        .any(|block| block.chunks_exact(4).fold(255u8, |all, p| all & p[3]) != 255)
}

/// Encodes to the requested format. `quality` (0–100) applies to JPEG and WebP; `None` is the
/// format's best (JPEG 90, WebP lossless). Opaque images are written without an alpha channel.
pub fn encode(
    img: &RgbaImage,
    format: Format,
    quality: Option<u8>,
) -> Result<Vec<u8>, ImagingError> {
    let (w, h) = img.dimensions();
    match format {
        Format::Png => encode_png(img),
        Format::Jpeg => encode_jpeg(img, quality.unwrap_or(90).max(1)),
        Format::Webp => {
            // libwebp's limit; its Rust binding panics beyond it rather than failing.
            if w > WEBP_MAX_EDGE || h > WEBP_MAX_EDGE {
                return Err(ImagingError::Encode(format!(
                    "WebP is limited to {WEBP_MAX_EDGE} pixels a side; this image is {w}x{h}"
                )));
            }
            let encoder = webp::Encoder::from_rgba(img.as_raw(), w, h);
            let mem = match quality {
                None => encoder.encode_lossless(),
                Some(q) => encoder.encode(q as f32),
            };
            Ok(mem.to_vec())
        }
    }
}

/// PNG with zlib level 1 (fdeflate) and adaptive filters, RGB when the picture is opaque. Rows
/// go to the encoder one at a time: an opaque picture is never copied whole to RGB.
fn encode_png(img: &RgbaImage) -> Result<Vec<u8>, ImagingError> {
    use std::io::Write;
    let err = |e: png::EncodingError| ImagingError::Encode(e.to_string());
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(ImagingError::Encode("a PNG has at least one pixel".into()));
    }
    let alpha = has_transparency(img);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(if alpha {
        png::ColorType::Rgba
    } else {
        png::ColorType::Rgb
    });
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Adaptive);
    let mut writer = encoder.write_header().map_err(err)?;
    // IDAT chunks of 256 KB (the default is 4 KB: a chunk header and CRC every 4 KB).
    let mut stream = writer.stream_writer_with_size(256 << 10).map_err(err)?;
    let mut rgb = vec![0u8; w as usize * 3];
    for row in img.as_raw().chunks_exact(w as usize * 4) {
        let bytes = if alpha {
            row
        } else {
            for (d, s) in rgb.chunks_exact_mut(3).zip(row.chunks_exact(4)) {
                d.copy_from_slice(&s[..3]);
            }
            &rgb
        };
        stream
            .write_all(bytes)
            .map_err(|e| ImagingError::Encode(e.to_string()))?;
    }
    stream.finish().map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

/// libjpeg's largest side (`JPEG_MAX_DIMENSION`).
pub const JPEG_MAX_EDGE: u32 = 65500;

/// Baseline JPEG, 4:2:0, alpha dropped, with libjpeg-turbo's SIMD code (mozjpeg in its
/// "fastest" profile, which writes the same files as libjpeg-turbo): the encoder Pillow uses.
fn encode_jpeg(img: &RgbaImage, quality: u8) -> Result<Vec<u8>, ImagingError> {
    let (w, h) = img.dimensions();
    if w > JPEG_MAX_EDGE || h > JPEG_MAX_EDGE {
        // Checked here: libjpeg reports errors by unwinding, which aborts a release build.
        return Err(ImagingError::Encode(format!(
            "JPEG is limited to {JPEG_MAX_EDGE} pixels a side; this image is {w}x{h}"
        )));
    }
    let encode = || -> std::io::Result<Vec<u8>> {
        let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_EXT_RGBA);
        c.set_fastest_defaults();
        c.set_size(w as usize, h as usize);
        c.set_quality(quality.min(100) as f32);
        c.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        // About a quarter of a byte per pixel at usual qualities; the Vec grows if need be.
        let mut started = c.start_compress(Vec::with_capacity(w as usize * h as usize / 4))?;
        started.write_scanlines(img.as_raw())?;
        started.finish()
    };
    std::panic::catch_unwind(encode)
        .map_err(|_| ImagingError::Encode("the JPEG encoder failed".into()))?
        .map_err(|e| ImagingError::Encode(e.to_string()))
}

/// A 256-px WebP preview, fitted within the square.
pub fn thumbnail(img: &RgbaImage) -> Result<Vec<u8>, ImagingError> {
    let (w, h) = fit_within(img.width(), img.height(), THUMBNAIL_EDGE);
    encode(&resize(img, w, h), Format::Webp, Some(80))
}

/// The benchmarked pipeline: decode a PNG, white→alpha, Lanczos3 to 256×256, encode PNG.
pub fn transparent_thumbnail_png(png: &[u8]) -> Result<Vec<u8>, ImagingError> {
    let mut img = decode_rgba(png)?;
    white_to_alpha(&mut img, WHITE_TOLERANCE);
    encode(&resize(&img, 256, 256), Format::Png, None)
}

/// An animated GIF of `frames` (all the same size), each shown `delay_ms`, looping forever.
/// GIF has one transparent palette entry: pixels under half alpha become transparent.
pub fn encode_gif(frames: &[RgbaImage], delay_ms: u32) -> Result<Vec<u8>, ImagingError> {
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame};
    let enc_err = |e: image::ImageError| ImagingError::Encode(e.to_string());
    let mut out = Vec::new();
    {
        // Speed 10: a good palette at a fraction of the best quantizer's time.
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(enc_err)?;
        for img in frames {
            let delay = Delay::from_numer_denom_ms(delay_ms, 1);
            encoder
                .encode_frame(Frame::from_parts(img.clone(), 0, 0, delay))
                .map_err(enc_err)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageEncoder;
    use image::Rgba;
    use image::codecs::png::PngEncoder;

    /// White canvas, a black ring enclosing a white hole, and an anti-aliased grey edge.
    fn ring() -> RgbaImage {
        let mut img = RgbaImage::from_pixel(64, 64, Rgba([255, 255, 255, 255]));
        for y in 16..48 {
            for x in 16..48 {
                let inner = (24..40).contains(&x) && (24..40).contains(&y);
                if !inner {
                    img.put_pixel(x, y, Rgba([0, 0, 0, 255]));
                }
            }
        }
        img.put_pixel(15, 30, Rgba([225, 225, 225, 255]));
        img
    }

    #[test]
    fn only_border_connected_white_becomes_transparent() {
        let mut img = ring();
        white_to_alpha(&mut img, WHITE_TOLERANCE);
        assert_eq!(img.get_pixel(0, 0).0[3], 0, "background");
        assert_eq!(img.get_pixel(63, 63).0[3], 0, "background");
        assert_eq!(
            img.get_pixel(32, 32).0[3],
            255,
            "enclosed white hole stays opaque"
        );
        assert_eq!(img.get_pixel(20, 20).0[3], 255, "subject interior");
        // The grey anti-aliasing pixel touches the background: partially transparent.
        let a = img.get_pixel(15, 30).0[3];
        assert!(a > 0 && a < 255, "soft edge alpha {a}");
        // A black edge pixel touching the background stays fully opaque.
        assert_eq!(img.get_pixel(16, 16).0[3], 255);
    }

    #[test]
    fn near_white_within_tolerance_counts_as_background() {
        let mut img = RgbaImage::from_pixel(8, 8, Rgba([240, 236, 250, 255]));
        white_to_alpha(&mut img, WHITE_TOLERANCE);
        assert!(img.pixels().all(|p| p.0[3] == 0));
        let mut img = RgbaImage::from_pixel(8, 8, Rgba([200, 255, 255, 255]));
        white_to_alpha(&mut img, WHITE_TOLERANCE);
        assert!(img.pixels().all(|p| p.0[3] == 255));
    }

    #[test]
    fn resize_hits_exact_dimensions_and_keeps_colour_under_alpha() {
        let mut img = ring();
        white_to_alpha(&mut img, WHITE_TOLERANCE);
        let small = resize(&img, 16, 8);
        assert_eq!(small.dimensions(), (16, 8));
        // Premultiplied resampling: no white bleeding into the black ring's colour.
        let p = small.get_pixel(4, 3).0;
        assert!(p[3] > 0 && p[0] < 60, "{p:?}");
        assert_eq!(fit_within(1792, 1024, 256), (256, 146));
        assert_eq!(fit_within(100, 50, 256), (100, 50));
    }

    #[test]
    fn a_resize_in_bands_equals_one_in_a_single_band() {
        // Noise, with a transparent corner (premultiplied per band's rows).
        let bytes = (0..300u32 * 200 * 4)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<_>>();
        let opaque = RgbaImage::from_fn(300, 200, |x, y| {
            let i = ((y * 300 + x) * 4) as usize;
            Rgba([bytes[i], bytes[i + 1], bytes[i + 2], 255])
        });
        let mut transparent = opaque.clone();
        for (x, y, p) in transparent.enumerate_pixels_mut() {
            if x < 120 && y < 90 {
                p.0[3] = (x + y) as u8;
            }
        }
        for img in [&opaque, &transparent] {
            for (region, size) in [
                ((0, 0, 300, 200), (150, 100)),
                ((0, 0, 300, 200), (77, 33)),
                ((17, 9, 250, 170), (300, 200)),
                ((5, 40, 120, 90), (480, 361)),
            ] {
                let whole = resize_region_in_bands(img, region, size.0, size.1, size.1);
                let banded = resize_region_in_bands(img, region, size.0, size.1, 16);
                // Each band's kernel weights are rounded to fixed point on their own scale:
                // rare steps of a level or two on noise. Compared premultiplied, as resampled
                // (unpremultiplying magnifies a step where a pixel is nearly transparent).
                let premultiplied = |p: &Rgba<u8>| {
                    let a = p.0[3] as u32;
                    [0, 1, 2]
                        .map(|c| (p.0[c] as u32 * a + 127) / 255)
                        .map(|v| v as u8)
                };
                let (mut worst, mut total) = (0u8, 0.0);
                for (p, q) in whole.pixels().zip(banded.pixels()) {
                    let (a, b) = (premultiplied(p), premultiplied(q));
                    let d = (0..3)
                        .map(|c| a[c].abs_diff(b[c]))
                        .chain([p.0[3].abs_diff(q.0[3])])
                        .max()
                        .unwrap_or(0);
                    total += d as f64;
                    worst = worst.max(d);
                }
                let mean = total / (size.0 * size.1) as f64;
                assert!(
                    worst <= 2 && mean < 0.05,
                    "{region:?} to {size:?}: off by {worst}, {mean:.4} on average"
                );
            }
        }
        assert!(
            resize_band(8000, 5000, 4000, 2500) < 2500,
            "a 40 MP shrink is banded"
        );
        assert_eq!(resize(&opaque, 0, 0).dimensions(), (0, 0));
    }

    #[test]
    fn encodes_every_format_and_decodes_back() {
        let mut img = ring();
        white_to_alpha(&mut img, WHITE_TOLERANCE);
        for (format, quality, alpha) in [
            (Format::Png, None, true),
            (Format::Webp, None, true),
            (Format::Webp, Some(50), true),
            (Format::Jpeg, Some(70), false),
        ] {
            let bytes = encode(&img, format, quality).unwrap();
            let back = decode(&bytes).unwrap();
            assert_eq!((back.width(), back.height()), (64, 64), "{format:?}");
            assert_eq!(back.color().has_alpha(), alpha, "{format:?}");
        }
        // Lower quality, fewer bytes.
        let noisy = RgbaImage::from_fn(128, 128, |x, y| {
            Rgba([
                (x * 7 % 255) as u8,
                (y * 13 % 255) as u8,
                ((x ^ y) % 255) as u8,
                255,
            ])
        });
        // PNG is lossless (its rows streamed to the encoder), RGB when opaque.
        let png = encode(&noisy, Format::Png, None).unwrap();
        let back = decode(&png).unwrap();
        assert_eq!(back.color(), image::ColorType::Rgb8);
        assert_eq!(back.into_rgba8(), noisy);
        let mut transparent = noisy.clone();
        transparent.get_pixel_mut(5, 7).0[3] = 10;
        let back = decode(&encode(&transparent, Format::Png, None).unwrap()).unwrap();
        assert_eq!(back.into_rgba8(), transparent);
        let empty = RgbaImage::new(0, 4);
        assert!(matches!(
            encode(&empty, Format::Png, None),
            Err(ImagingError::Encode(_))
        ));
        let hi = encode(&noisy, Format::Jpeg, Some(95)).unwrap();
        let lo = encode(&noisy, Format::Jpeg, Some(20)).unwrap();
        assert!(lo.len() < hi.len());
    }

    /// Peak signal-to-noise ratio of `b` against `a` over R, G and B, in dB.
    fn psnr(a: &RgbaImage, b: &RgbaImage) -> f64 {
        let (mut sum, mut n) = (0.0, 0.0);
        for (p, q) in a.pixels().zip(b.pixels()) {
            for c in 0..3 {
                sum += (p.0[c] as f64 - q.0[c] as f64).powi(2);
                n += 1.0;
            }
        }
        10.0 * (255.0f64.powi(2) / (sum / n)).log10()
    }

    #[test]
    fn jpeg_is_baseline_4_2_0_and_faithful_at_quality_80() {
        let img = crate::procedural::render("a lighthouse at dusk", 3, 0, 512, 384);
        let bytes = encode(&img, Format::Jpeg, Some(80)).unwrap();
        // SOF0 (baseline), 3 components, the first (luma) sampled 2x2: 4:2:0.
        let sof = bytes
            .windows(2)
            .position(|m| m == [0xFF, 0xC0])
            .expect("SOF0");
        assert_eq!(bytes[sof + 9], 3, "components");
        assert_eq!(bytes[sof + 11], 0x22, "luma sampling");
        assert_eq!(
            (bytes[sof + 14], bytes[sof + 17]),
            (0x11, 0x11),
            "chroma sampling"
        );
        let back = decode(&bytes).unwrap().into_rgba8();
        assert_eq!(back.dimensions(), (512, 384));
        let db = psnr(&img, &back);
        // Quality 80 of a flat-shaded picture: well above visible loss (libjpeg-turbo's own
        // output is compared on size and PSNR by make bench).
        assert!(db > 34.0, "PSNR {db:.1} dB");
        assert!(bytes.len() < 512 * 384 / 4, "{} bytes", bytes.len());
    }

    #[test]
    fn jpeg_beyond_libjpegs_largest_side_is_an_error_not_an_abort() {
        let img = RgbaImage::new(JPEG_MAX_EDGE + 1, 1);
        let e = encode(&img, Format::Jpeg, Some(80)).unwrap_err();
        assert!(e.to_string().contains("65500"), "{e}");
        assert!(encode(&RgbaImage::new(JPEG_MAX_EDGE, 1), Format::Jpeg, Some(80)).is_ok());
    }

    #[test]
    fn refuses_non_images_truncated_data_and_bombs() {
        assert!(matches!(
            decode(b"hello world, not an image"),
            Err(ImagingError::Unsupported)
        ));
        let png = encode(&ring(), Format::Png, None).unwrap();
        assert!(matches!(
            decode(&png[..png.len() / 2]),
            Err(ImagingError::Corrupt(_))
        ));
        let jpeg = encode(&ring(), Format::Jpeg, Some(90)).unwrap();
        assert!(decode(&jpeg).is_ok());
        for cut in [jpeg.len() - 2, jpeg.len() * 2 / 3, 400] {
            let r = decode(&jpeg[..cut]);
            assert!(
                matches!(r, Err(ImagingError::Corrupt(_))),
                "cut at {cut}: {r:?}"
            );
        }
        let wide = RgbaImage::from_pixel(WEBP_MAX_EDGE + 1, 1, Rgba([1, 2, 3, 255]));
        assert!(matches!(
            encode(&wide, Format::Webp, Some(80)),
            Err(ImagingError::Encode(_))
        ));
        // Bytes after the end marker are tolerated, as every decoder does.
        let mut padded = jpeg.clone();
        padded.extend_from_slice(&[0, 0, 0]);
        assert!(decode(&padded).is_ok());
        // A valid PNG header (correct CRC) claiming 100000x100000 pixels, then small data.
        let mut bomb = png[..33].to_vec();
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        bomb.extend_from_slice(&png[33..]);
        let r = decode(&bomb);
        assert!(matches!(r, Err(ImagingError::TooLarge { .. })), "{r:?}");
    }

    /// A PNG whose header claims `width`x`height` (CRC fixed), followed by `png`'s small data.
    fn claiming(png: &[u8], width: u32, height: u32) -> Vec<u8> {
        let mut forged = png[..33].to_vec();
        forged[16..20].copy_from_slice(&width.to_be_bytes());
        forged[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&forged[12..29]);
        forged[29..33].copy_from_slice(&crc.to_be_bytes());
        forged.extend_from_slice(&png[33..]);
        forged
    }

    /// The pixel count is not the only guard: the decoder itself runs with limits on edges and
    /// allocation, which catch what passes the count (a long strip, 16-bit channels).
    #[test]
    fn the_decoder_refuses_what_its_limits_forbid_before_allocating() {
        let png = encode(&ring(), Format::Png, None).unwrap();
        let strip = claiming(&png, MAX_DECODE_EDGE + 1, 1);
        let r = decode(&strip);
        assert!(matches!(r, Err(ImagingError::OverLimits(_))), "{r:?}");

        let deep = image::ImageBuffer::<Rgba<u16>, _>::from_pixel(2, 2, Rgba([9, 9, 9, 65535]));
        let mut deep_png = Vec::new();
        PngEncoder::new(&mut deep_png)
            .write_image(
                deep.as_raw()
                    .iter()
                    .flat_map(|v| v.to_be_bytes())
                    .collect::<Vec<_>>()
                    .as_slice(),
                2,
                2,
                image::ExtendedColorType::Rgba16,
            )
            .unwrap();
        assert!(decode(&deep_png).is_ok(), "16-bit images are read");
        assert_eq!(
            decode_rgba(&deep_png).unwrap(),
            decode(&deep_png).unwrap().into_rgba8()
        );
        // 36 MP is within the count, but 8 bytes a pixel is 288 MB: over the allocation limit.
        let r = decode(&claiming(&deep_png, 6000, 6000));
        assert!(matches!(r, Err(ImagingError::OverLimits(_))), "{r:?}");
        let r = decode_rgba(&claiming(&deep_png, 6000, 6000));
        assert!(matches!(r, Err(ImagingError::OverLimits(_))), "{r:?}");
        let r = decode_rgba(&strip);
        assert!(matches!(r, Err(ImagingError::OverLimits(_))), "{r:?}");
    }

    #[test]
    fn decoding_straight_to_rgba_gives_the_same_pixels_for_every_layout() {
        // 37×23 pixels: not a whole number of the widening's blocks.
        let (w, h) = (37, 23);
        let rgba = RgbaImage::from_fn(w, h, |x, y| {
            Rgba([
                (x * 7) as u8,
                (y * 11) as u8,
                (x * y) as u8,
                (x * 5 + y) as u8,
            ])
        });
        let rgb = DynamicImage::ImageRgba8(rgba.clone()).into_rgb8();
        let grey = DynamicImage::ImageRgba8(rgba.clone()).into_luma8();
        let grey_alpha = DynamicImage::ImageRgba8(rgba.clone()).into_luma_alpha8();
        let png = |img: DynamicImage| {
            let mut out = Vec::new();
            img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
                .unwrap();
            out
        };
        let files = [
            png(DynamicImage::ImageRgba8(rgba.clone())),
            png(DynamicImage::ImageRgb8(rgb.clone())),
            png(DynamicImage::ImageLuma8(grey.clone())),
            png(DynamicImage::ImageLumaA8(grey_alpha)),
            encode(&rgba, Format::Jpeg, Some(90)).unwrap(),
            encode(&rgba, Format::Webp, None).unwrap(),
            encode(
                &DynamicImage::ImageLuma8(grey).into_rgba8(),
                Format::Webp,
                Some(80),
            )
            .unwrap(),
        ];
        for (i, bytes) in files.iter().enumerate() {
            let ours = decode_rgba(bytes).unwrap();
            assert_eq!(ours, decode(bytes).unwrap().into_rgba8(), "file {i}");
        }
        assert_eq!(decode_rgba(&files[0]).unwrap(), rgba);
        assert_eq!(
            decode_rgba(&files[1]).unwrap(),
            DynamicImage::ImageRgb8(rgb).into_rgba8()
        );
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in bytes {
            crc ^= *b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn pipeline_produces_a_transparent_256_png() {
        let mut big = RgbaImage::from_pixel(1024, 1024, Rgba([255, 255, 255, 255]));
        for y in 300..700 {
            for x in 300..700 {
                big.put_pixel(x, y, Rgba([200, 30, 30, 255]));
            }
        }
        let png = encode(&big, Format::Png, None).unwrap();
        let out = decode(&transparent_thumbnail_png(&png).unwrap())
            .unwrap()
            .into_rgba8();
        assert_eq!(out.dimensions(), (256, 256));
        assert_eq!(out.get_pixel(0, 0).0[3], 0);
        assert_eq!(out.get_pixel(128, 128).0, [200, 30, 30, 255]);
    }
}
