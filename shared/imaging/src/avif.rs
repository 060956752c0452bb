//! Still AVIF as libavif makes it: libaom's all-intra mode, one thread, in an AVIF container
//! (avif-serialize). 8-bit BT.601 full-range YCbCr 4:2:0; an alpha channel, when the picture
//! has one, is a second, monochrome AV1 image.

use crate::codec::ImagingError;
use image::RgbaImage;
use libaom_sys as aom;
use std::ptr;

/// `quality` 1–100 (libavif's scale: 100 is lossless-ish, 60 looks like WebP 80), `speed` 0–9
/// (libaom's cpu-used, which is avifenc's `-s`).
pub fn encode_avif(img: &RgbaImage, quality: u8, speed: u8) -> Result<Vec<u8>, ImagingError> {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(ImagingError::Encode("AVIF: an empty picture".into()));
    }
    let q = quantizer(quality);
    let speed = speed.min(9);
    let (y, u, v) = ycbcr_420(img);
    let color = encode_av1(w, h, [&y, &u, &v], false, q, speed)?;
    let alpha = if img.pixels().any(|p| p[3] != 255) {
        let a: Vec<u8> = img.pixels().map(|p| p[3]).collect();
        let gray = vec![128u8; chroma_len(w, h)];
        Some(encode_av1(w, h, [&a, &gray, &gray], true, q, speed)?)
    } else {
        None
    };
    let mut avif = avif_serialize::Aviffy::new();
    avif.set_seq_profile(0)
        .set_chroma_subsampling((true, true))
        .set_full_color_range(true)
        .set_matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601);
    Ok(avif.to_vec(&color, alpha.as_deref(), w, h, 8))
}

/// libavif's mapping of quality to AV1's quantizer (0–63).
fn quantizer(quality: u8) -> u32 {
    let quality = u32::from(quality.clamp(1, 100));
    ((100 - quality) * 63 + 50) / 100
}

fn chroma_len(w: u32, h: u32) -> usize {
    (w.div_ceil(2) * h.div_ceil(2)) as usize
}

/// BT.601 full-range YCbCr, chroma the mean of each 2×2 block.
fn ycbcr_420(img: &RgbaImage) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut y = vec![0u8; w * h];
    for (dst, px) in y.iter_mut().zip(raw.chunks_exact(4)) {
        let (r, g, b) = (f32::from(px[0]), f32::from(px[1]), f32::from(px[2]));
        *dst = (0.299 * r + 0.587 * g + 0.114 * b).round() as u8;
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (mut u, mut v) = (vec![0u8; cw * ch], vec![0u8; cw * ch]);
    for cy in 0..ch {
        for cx in 0..cw {
            let (mut r, mut g, mut b, mut n) = (0f32, 0f32, 0f32, 0f32);
            for yy in (cy * 2)..(cy * 2 + 2).min(h) {
                for xx in (cx * 2)..(cx * 2 + 2).min(w) {
                    let i = (yy * w + xx) * 4;
                    r += f32::from(raw[i]);
                    g += f32::from(raw[i + 1]);
                    b += f32::from(raw[i + 2]);
                    n += 1.0;
                }
            }
            let (r, g, b) = (r / n, g / n, b / n);
            let luma = 0.299 * r + 0.587 * g + 0.114 * b;
            u[cy * cw + cx] = ((b - luma) / 1.772 + 128.0).round().clamp(0.0, 255.0) as u8;
            v[cy * cw + cx] = ((r - luma) / 1.402 + 128.0).round().clamp(0.0, 255.0) as u8;
        }
    }
    (y, u, v)
}

/// One intra frame: the AV1 OBUs of an AVIF item (without the temporal delimiter).
fn encode_av1(
    w: u32,
    h: u32,
    planes: [&[u8]; 3],
    monochrome: bool,
    q: u32,
    speed: u8,
) -> Result<Vec<u8>, ImagingError> {
    let failed = |what: &str, err: aom::aom_codec_err_t| {
        ImagingError::Encode(format!("AVIF: libaom {what} failed ({err:?})"))
    };
    // SAFETY: libaom's encoder API as its documentation gives it: the configuration is filled
    // by libaom before use, the planes outlive the one `aom_codec_encode` that reads them, and
    // the context is destroyed on every path once initialised.
    unsafe {
        let iface = aom::aom_codec_av1_cx();
        let mut cfg: aom::aom_codec_enc_cfg_t = std::mem::zeroed();
        let err = aom::aom_codec_enc_config_default(iface, &mut cfg, aom::AOM_USAGE_ALL_INTRA);
        if err != aom::AOM_CODEC_OK {
            return Err(failed("configuration", err));
        }
        cfg.g_w = w;
        cfg.g_h = h;
        cfg.g_threads = 1;
        cfg.g_profile = 0;
        cfg.g_bit_depth = aom::AOM_BITS_8;
        cfg.g_input_bit_depth = 8;
        // One frame, shown as a still picture (libaom then writes a reduced still-picture
        // header), with nothing held back for lookahead.
        cfg.g_limit = 1;
        cfg.g_lag_in_frames = 0;
        cfg.kf_mode = aom::AOM_KF_DISABLED;
        cfg.kf_max_dist = 0;
        cfg.monochrome = u32::from(monochrome);
        cfg.rc_end_usage = aom::AOM_Q;
        cfg.rc_min_quantizer = q;
        cfg.rc_max_quantizer = q;
        let mut ctx: aom::aom_codec_ctx_t = std::mem::zeroed();
        let err = aom::aom_codec_enc_init_ver(
            &mut ctx,
            iface,
            &cfg,
            0,
            aom::AOM_ENCODER_ABI_VERSION as i32,
        );
        if err != aom::AOM_CODEC_OK {
            return Err(failed("initialisation", err));
        }
        let out = encode_frame(&mut ctx, w, h, planes, monochrome, q, speed)
            .map_err(|e| failed("encoding", e));
        aom::aom_codec_destroy(&mut ctx);
        let mut obus = out?;
        // An AVIF item holds no temporal delimiter (OBU type 2, empty).
        if obus.starts_with(&[0x12, 0x00]) {
            obus.drain(..2);
        }
        Ok(obus)
    }
}

/// # Safety
/// `ctx` is an initialised encoder for `w`×`h`.
unsafe fn encode_frame(
    ctx: &mut aom::aom_codec_ctx_t,
    w: u32,
    h: u32,
    planes: [&[u8]; 3],
    monochrome: bool,
    q: u32,
    speed: u8,
) -> Result<Vec<u8>, aom::aom_codec_err_t> {
    let ok = |e: aom::aom_codec_err_t| {
        if e == aom::AOM_CODEC_OK {
            Ok(())
        } else {
            Err(e)
        }
    };
    // SAFETY: the caller's contract; controls take the documented argument types.
    unsafe {
        ok(aom::aom_codec_control(
            ctx,
            aom::AOME_SET_CPUUSED as i32,
            i32::from(speed),
        ))?;
        ok(aom::aom_codec_control(
            ctx,
            aom::AOME_SET_CQ_LEVEL as i32,
            q,
        ))?;
        ok(aom::aom_codec_control(
            ctx,
            aom::AV1E_SET_COLOR_RANGE as i32,
            1i32,
        ))?;
        ok(aom::aom_codec_control(
            ctx,
            aom::AV1E_SET_MATRIX_COEFFICIENTS as i32,
            6i32,
        ))?;
        // Nothing is predicted from this frame: its reconstruction needs no loop filtering.
        ok(aom::aom_codec_control(
            ctx,
            aom::AV1E_SET_SKIP_POSTPROC_FILTERING as i32,
            1u32,
        ))?;
        // libavif's default tuning: fewer bytes for the same look than PSNR tuning.
        ok(aom::aom_codec_control(
            ctx,
            aom::AOME_SET_TUNING as i32,
            aom::AOM_TUNE_SSIM as i32,
        ))?;
        let mut image: aom::aom_image_t = std::mem::zeroed();
        if aom::aom_img_wrap(
            &mut image,
            aom::AOM_IMG_FMT_I420,
            w,
            h,
            1,
            planes[0].as_ptr().cast_mut(),
        )
        .is_null()
        {
            return Err(aom::AOM_CODEC_INVALID_PARAM);
        }
        let chroma_stride = w.div_ceil(2) as i32;
        image.planes = planes.map(|p| p.as_ptr().cast_mut());
        image.stride = [w as i32, chroma_stride, chroma_stride];
        image.range = aom::AOM_CR_FULL_RANGE;
        image.monochrome = i32::from(monochrome);
        ok(aom::aom_codec_encode(ctx, &image, 0, 1, 0))?;
        let mut out = Vec::new();
        drain(ctx, &mut out);
        ok(aom::aom_codec_encode(ctx, ptr::null(), 0, 1, 0))?;
        drain(ctx, &mut out);
        if out.is_empty() {
            return Err(aom::AOM_CODEC_ERROR);
        }
        Ok(out)
    }
}

/// # Safety
/// `ctx` is an initialised encoder.
unsafe fn drain(ctx: &mut aom::aom_codec_ctx_t, out: &mut Vec<u8>) {
    let mut iter: aom::aom_codec_iter_t = ptr::null();
    loop {
        // SAFETY: the packet is valid until the next call on `ctx`, and read before it.
        unsafe {
            let pkt = aom::aom_codec_get_cx_data(ctx, &mut iter);
            if pkt.is_null() {
                return;
            }
            if (*pkt).kind == aom::AOM_CODEC_CX_FRAME_PKT {
                let frame = (*pkt).data.frame;
                out.extend_from_slice(std::slice::from_raw_parts(frame.buf.cast(), frame.sz));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32, alpha: u8) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8, alpha])
        })
    }

    #[test]
    fn pictures_of_any_size_decode_as_avif_with_their_alpha() {
        for (w, h, alpha) in [(64, 64, 255), (33, 17, 255), (40, 30, 120), (1, 1, 255)] {
            let bytes = encode_avif(&picture(w, h, alpha), 60, 8).unwrap();
            assert_eq!(&bytes[4..12], b"ftypavif", "{w}x{h}");
            let parsed = avif_parse::read_avif(&mut std::io::Cursor::new(&bytes)).unwrap();
            assert_eq!(parsed.alpha_item.is_some(), alpha != 255, "{w}x{h}");
            let meta = parsed.primary_item_metadata().unwrap();
            assert_eq!(
                (meta.max_frame_width.get(), meta.max_frame_height.get()),
                (w, h)
            );
            assert!(!meta.monochrome && meta.chroma_subsampling == (true, true));
        }
    }

    #[test]
    fn quality_maps_to_libavifs_quantizers() {
        assert_eq!(quantizer(60), 25);
        assert_eq!(quantizer(100), 0);
        assert_eq!(quantizer(1), 62);
    }

    #[test]
    fn the_same_picture_gives_the_same_bytes() {
        let p = picture(48, 48, 255);
        assert_eq!(
            encode_avif(&p, 60, 8).unwrap(),
            encode_avif(&p, 60, 8).unwrap()
        );
    }
}
