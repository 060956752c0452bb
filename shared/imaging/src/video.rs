//! Short H.264 clips made offline from one still picture: a slow camera move (zoom and pan)
//! over it, encoded by OpenH264 (Cisco's source, compiled by the crate) and muxed into a
//! fast-start MP4, with a JPEG poster and a JPEG spritesheet of the clip.

use crate::Format;
use crate::codec::{ImagingError, encode, fit_within, resize, resize_region};
use fast_image_resize::images::{Image as FirImage, ImageRef};
use fast_image_resize::{PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbaImage;
use openh264::OpenH264API;
use openh264::encoder::{
    Encoder, EncoderConfig, FrameRate, IntraFramePeriod, QpRange, RateControlMode, VuiConfig,
};
use openh264::formats::{RgbaSliceU8, YUVBuffer};

pub const FPS: u32 = 24;
/// Frames in a spritesheet, laid out in rows of [`SPRITE_COLUMNS`].
pub const SPRITES: u32 = 10;
pub const SPRITE_COLUMNS: u32 = 5;
/// Width of one spritesheet frame.
pub const SPRITE_WIDTH: u32 = 256;
/// How much larger than the frame the source is kept: the camera moves inside that margin.
const MARGIN: f64 = 1.25;
/// H.264's quantiser (0 best – 51 smallest): 26 is visually clean at a few Mbit/s for 720p.
const QP: u8 = 26;

/// A finished clip: the MP4 and its two pictures.
pub struct Clip {
    pub mp4: Vec<u8>,
    /// The first frame as a JPEG, the size of the video (the player's poster).
    pub thumbnail: Vec<u8>,
    /// [`SPRITES`] frames spread over the clip, in a JPEG grid.
    pub spritesheet: Vec<u8>,
    pub frames: u32,
    pub width: u32,
    pub height: u32,
}

/// Where the camera looks in the source, as a rectangle in its pixels.
#[derive(Debug, Clone, Copy)]
struct View {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl View {
    fn lerp(a: View, b: View, t: f64) -> View {
        let m = |p: f64, q: f64| p + (q - p) * t;
        View {
            x: m(a.x, b.x),
            y: m(a.y, b.y),
            w: m(a.w, b.w),
            h: m(a.h, b.h),
        }
    }
}

/// Makes the frames of a camera move over a picture and encodes them, a batch at a time so the
/// caller can report progress and stop between batches.
pub struct ClipEncoder {
    source: RgbaImage,
    width: u32,
    height: u32,
    total: u32,
    done: u32,
    start: View,
    end: View,
    encoder: Encoder,
    yuv: YUVBuffer,
    resizer: Resizer,
    frame: FirImage<'static>,
    samples: Vec<(Vec<u8>, bool)>,
    thumbnail: Option<Vec<u8>>,
    sprites: Vec<RgbaImage>,
}

impl ClipEncoder {
    /// A clip of `seconds` at [`FPS`] and `width`×`height` (both even) over `picture`; `seed`
    /// picks the move (zoom in or out, and which way it pans).
    pub fn new(
        picture: &RgbaImage,
        (width, height): (u32, u32),
        seconds: u32,
        seed: u64,
    ) -> Result<Self, ImagingError> {
        if !width.is_multiple_of(2) || !height.is_multiple_of(2) || width < 16 || height < 16 {
            return Err(ImagingError::Encode(format!(
                "H.264 4:2:0 needs an even size of at least 16x16, not {width}x{height}"
            )));
        }
        let total = seconds * FPS;
        if total == 0 {
            return Err(ImagingError::Encode(
                "a clip needs at least one second".into(),
            ));
        }
        // The source once: the picture's centre in the frame's shape (whatever its own shape:
        // a sliver of a picture is not blown up whole), at the frame's size with a margin to
        // move in. Each frame then reads about 1.5 frames' worth of pixels.
        let (tw, th) = (
            (width as f64 * MARGIN).round() as u32,
            (height as f64 * MARGIN).round() as u32,
        );
        let (pw, ph) = (picture.width() as f64, picture.height() as f64);
        let aspect = tw as f64 / th as f64;
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
        let mut source = resize_region(picture, region, tw, th);
        flatten(&mut source);
        let (sw, sh) = (tw as f64, th as f64);
        // The whole source, and one 1/MARGIN of it.
        let wide = (sw, sh);
        let close = (wide.0 / MARGIN, wide.1 / MARGIN);
        let corner = |(w, h): (f64, f64), fx: f64, fy: f64| View {
            x: (sw - w) * fx,
            y: (sh - h) * fy,
            w,
            h,
        };
        let across = ((seed >> 1) % 3) as f64 / 2.0;
        let zoom_in = seed.is_multiple_of(2);
        let (a, b) = (corner(wide, 0.5, 0.5), corner(close, across, 1.0 - across));
        let (start, end) = if zoom_in { (a, b) } else { (b, a) };
        let config = EncoderConfig::new()
            .max_frame_rate(FrameRate::from_hz(FPS as f32))
            // Constant quality, never a skipped frame: the clip has exactly its frames (rate
            // control in OpenH264 needs frame skipping to hold a bitrate).
            .rate_control_mode(RateControlMode::Off)
            .qp(QpRange::new(QP, QP))
            .skip_frames(false)
            // A keyframe every two seconds, so players can seek.
            .intra_frame_period(IntraFramePeriod::from_num_frames(2 * FPS))
            // OpenH264 converts RGB with BT.601's limited-range matrix: say so in the stream.
            .vui(VuiConfig::bt601());
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| ImagingError::Encode(e.to_string()))?;
        Ok(Self {
            source,
            width,
            height,
            total,
            done: 0,
            start,
            end,
            encoder,
            yuv: YUVBuffer::new(width as usize, height as usize),
            resizer: Resizer::new(),
            frame: FirImage::new(width, height, PixelType::U8x4),
            samples: Vec::with_capacity(total as usize),
            thumbnail: None,
            sprites: Vec::new(),
        })
    }

    pub fn total(&self) -> u32 {
        self.total
    }

    pub fn done(&self) -> u32 {
        self.done
    }

    /// Draws and encodes up to `count` more frames; returns how many are done in all.
    pub fn encode_next(&mut self, count: u32) -> Result<u32, ImagingError> {
        let until = (self.done + count).min(self.total);
        while self.done < until {
            let i = self.done;
            // Ease in and out: the camera starts and stops gently.
            let t = if self.total == 1 {
                0.0
            } else {
                i as f64 / (self.total - 1) as f64
            };
            let eased = t * t * (3.0 - 2.0 * t);
            let v = View::lerp(self.start, self.end, eased);
            let src = ImageRef::new(
                self.source.width(),
                self.source.height(),
                self.source.as_raw(),
                PixelType::U8x4,
            )
            .expect("buffer matches dimensions");
            let options = ResizeOptions::new()
                .resize_alg(ResizeAlg::Convolution(
                    fast_image_resize::FilterType::Bilinear,
                ))
                .crop(v.x, v.y, v.w, v.h)
                .use_alpha(false);
            self.resizer
                .resize(&src, &mut self.frame, &options)
                .map_err(|e| ImagingError::Encode(e.to_string()))?;
            let (w, h) = (self.width as usize, self.height as usize);
            self.yuv
                .read_rgba8(RgbaSliceU8::new(self.frame.buffer(), (w, h)));
            let bitstream = self
                .encoder
                .encode(&self.yuv)
                .map_err(|e| ImagingError::Encode(e.to_string()))?;
            let keyframe = matches!(
                bitstream.frame_type(),
                openh264::encoder::FrameType::IDR | openh264::encoder::FrameType::I
            );
            let data = bitstream.to_vec();
            if data.is_empty() {
                return Err(ImagingError::Encode(format!("frame {i} came out empty")));
            }
            self.samples.push((data, keyframe));
            if i == 0 || sprite_at(i, self.total) {
                let rgba = RgbaImage::from_raw(self.width, self.height, self.frame.buffer().into())
                    .expect("buffer matches dimensions");
                if i == 0 {
                    self.thumbnail = Some(encode(&rgba, Format::Jpeg, Some(85))?);
                }
                if sprite_at(i, self.total) {
                    let (sw, sh) = fit_within(self.width, self.height, SPRITE_WIDTH);
                    self.sprites.push(resize(&rgba, sw, sh));
                }
            }
            self.done += 1;
        }
        Ok(self.done)
    }

    /// The MP4 and its pictures, once every frame is encoded.
    pub fn finish(mut self) -> Result<Clip, ImagingError> {
        self.encode_next(self.total)?;
        let mux_err = |e: muxide::api::MuxerError| ImagingError::Encode(e.to_string());
        let mut muxer = muxide::api::MuxerBuilder::new(Vec::new())
            .video(
                muxide::api::VideoCodec::H264,
                self.width,
                self.height,
                FPS as f64,
            )
            .with_fast_start(true)
            .build()
            .map_err(mux_err)?;
        for (i, (data, keyframe)) in self.samples.iter().enumerate() {
            muxer
                .write_video(i as f64 / FPS as f64, data, *keyframe)
                .map_err(mux_err)?;
        }
        muxer.finish_in_place().map_err(mux_err)?;
        Ok(Clip {
            mp4: muxer.into_writer(),
            thumbnail: self.thumbnail.take().unwrap_or_default(),
            spritesheet: spritesheet(&self.sprites)?,
            frames: self.total,
            width: self.width,
            height: self.height,
        })
    }
}

/// Whether frame `i` of `total` is one of the spritesheet's, spread evenly from the first.
fn sprite_at(i: u32, total: u32) -> bool {
    let n = SPRITES.min(total);
    (0..n).any(|k| k as u64 * total as u64 / n as u64 == i as u64)
}

/// Video has no alpha: transparent parts of the picture are shown over black.
fn flatten(img: &mut RgbaImage) {
    for p in img.pixels_mut() {
        let a = p.0[3] as u32;
        if a != 255 {
            for c in 0..3 {
                p.0[c] = (p.0[c] as u32 * a / 255) as u8;
            }
            p.0[3] = 255;
        }
    }
}

fn spritesheet(sprites: &[RgbaImage]) -> Result<Vec<u8>, ImagingError> {
    let Some(first) = sprites.first() else {
        return Err(ImagingError::Encode("a clip without frames".into()));
    };
    let (w, h) = first.dimensions();
    let columns = SPRITE_COLUMNS.min(sprites.len() as u32);
    let rows = (sprites.len() as u32).div_ceil(columns);
    let mut sheet = RgbaImage::from_pixel(w * columns, h * rows, image::Rgba([0, 0, 0, 255]));
    for (k, sprite) in sprites.iter().enumerate() {
        let k = k as u32;
        image::imageops::replace(
            &mut sheet,
            sprite,
            ((k % columns) * w) as i64,
            ((k / columns) * h) as i64,
        );
    }
    encode(&sheet, Format::Jpeg, Some(80))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture() -> RgbaImage {
        RgbaImage::from_fn(300, 200, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8, 255])
        })
    }

    /// The boxes of an MP4 (type, size) at the top level.
    fn boxes(mp4: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= mp4.len() {
            let size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
            out.push((String::from_utf8_lossy(&mp4[at + 4..at + 8]).into(), size));
            if size < 8 {
                break;
            }
            at += size;
        }
        out
    }

    #[test]
    fn a_clip_is_a_fast_start_mp4_of_every_frame_with_its_pictures() {
        let clip = ClipEncoder::new(&picture(), (128, 96), 1, 7)
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(clip.frames, FPS);
        let kinds: Vec<String> = boxes(&clip.mp4).into_iter().map(|b| b.0).collect();
        assert_eq!(kinds.first().map(String::as_str), Some("ftyp"));
        let moov = kinds.iter().position(|k| k == "moov").expect("a moov box");
        let mdat = kinds.iter().position(|k| k == "mdat").expect("an mdat box");
        assert!(
            moov < mdat,
            "moov first, so players start before the end: {kinds:?}"
        );
        assert!(
            clip.mp4.windows(4).any(|w| w == b"avc1"),
            "an H.264 sample entry"
        );
        let poster = crate::codec::decode(&clip.thumbnail).unwrap();
        assert_eq!((poster.width(), poster.height()), (128, 96));
        let sheet = crate::codec::decode(&clip.spritesheet).unwrap();
        assert_eq!((sheet.width(), sheet.height()), (128 * 5, 96 * 2));
    }

    #[test]
    fn the_camera_moves_and_batches_add_up_to_the_clip() {
        let mut enc = ClipEncoder::new(&picture(), (64, 64), 2, 3).unwrap();
        assert_eq!(enc.total(), 48);
        assert_eq!(enc.encode_next(20).unwrap(), 20);
        assert_eq!(enc.encode_next(100).unwrap(), 48);
        let first = View::lerp(enc.start, enc.end, 0.0);
        let last = View::lerp(enc.start, enc.end, 1.0);
        assert!((first.w - last.w).abs() > 1.0, "the view zooms");
        assert_eq!(enc.finish().unwrap().frames, 48);
    }

    #[test]
    fn a_sliver_of_a_picture_is_cropped_to_the_frame_not_blown_up() {
        // 8000x2 for a portrait frame would be 6,400,000 pixels wide if scaled whole.
        let sliver = RgbaImage::from_pixel(8000, 2, image::Rgba([200, 40, 40, 255]));
        let enc = ClipEncoder::new(&sliver, (72, 128), 1, 0).unwrap();
        assert_eq!(enc.source.dimensions(), (90, 160));
        let clip = enc.finish().unwrap();
        let poster = crate::codec::decode(&clip.thumbnail).unwrap().into_rgb8();
        let p = poster.get_pixel(36, 64).0;
        assert!(p[0] > 150 && p[1] < 90, "the picture's colour: {p:?}");
    }

    #[test]
    fn odd_sizes_are_refused() {
        assert!(ClipEncoder::new(&picture(), (127, 96), 1, 0).is_err());
    }
}
