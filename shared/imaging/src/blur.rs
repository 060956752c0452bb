//! Gaussian blur as a cascade of box blurs with integer running sums: the cost does not grow
//! with sigma.

use crate::has_transparency;
use image::RgbaImage;

/// Gaussian blur approximated by three box blurs per direction (the classic "boxes for Gauss"
/// construction, as Pillow does), with integer running sums: the cost does not grow with sigma.
/// Images with transparency are blurred premultiplied, so transparent pixels do not bleed colour.
/// `sigma` is capped at [`MAX_BLUR_SIGMA`].
pub fn gaussian_blur(img: &RgbaImage, sigma: f32) -> RgbaImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 || sigma <= 0.0 {
        return img.clone();
    }
    let alpha = has_transparency(img);
    let mut a: Vec<u8> = img.as_raw().clone();
    if alpha {
        for p in a.chunks_exact_mut(4) {
            let al = p[3] as u32;
            for c in &mut p[..3] {
                *c = ((*c as u32 * al + 127) / 255) as u8;
            }
        }
    }
    let mut b = vec![0u8; a.len()];
    let radii = box_radii(sigma.min(MAX_BLUR_SIGMA));
    // Columns first: a vertical box pass vectorises. The horizontal passes are the same vertical
    // passes on the transposed image, which beats a per-pixel horizontal pass even with the two
    // transposes.
    for &radius in &radii {
        box_vertical(&a, &mut b, w, h, radius);
        std::mem::swap(&mut a, &mut b);
    }
    transpose(&a, &mut b, w, h);
    std::mem::swap(&mut a, &mut b);
    for &radius in &radii {
        box_vertical(&a, &mut b, h, w, radius);
        std::mem::swap(&mut a, &mut b);
    }
    transpose(&a, &mut b, h, w);
    std::mem::swap(&mut a, &mut b);
    if alpha {
        for p in a.chunks_exact_mut(4) {
            let al = p[3] as u32;
            if al == 0 {
                continue;
            }
            for c in &mut p[..3] {
                *c = ((*c as u32 * 255 + al / 2) / al).min(255) as u8;
            }
        }
    }
    RgbaImage::from_raw(w as u32, h as u32, a).expect("same size")
}

/// Radii of three box filters whose succession approximates a Gaussian of `sigma`.
fn box_radii(sigma: f32) -> [usize; 3] {
    let n = 3.0f32;
    let ideal = (12.0 * sigma * sigma / n + 1.0).sqrt();
    let mut lower = ideal.floor() as i32;
    if lower % 2 == 0 {
        lower -= 1;
    }
    let lower = lower.max(1);
    let upper = lower + 2;
    let (l, s) = (lower as f32, sigma);
    let m = ((12.0 * s * s - n * l * l - 4.0 * n * l - 3.0 * n) / (-4.0 * l - 4.0)).round() as i32;
    let mut out = [0usize; 3];
    for (i, r) in out.iter_mut().enumerate() {
        let width = if (i as i32) < m { lower } else { upper };
        *r = ((width - 1) / 2) as usize;
    }
    out
}

/// Pixel transpose of a `w`×`h` RGBA buffer into `h`×`w`, in 8×8 tiles written a column at a
/// time (contiguous stores; larger tiles of a power-of-two stride evict each other from L1).
fn transpose(src: &[u8], dst: &mut [u8], w: usize, h: usize) {
    const TILE: usize = 8;
    let src: &[[u8; 4]] = src.as_chunks::<4>().0;
    let dst: &mut [[u8; 4]] = dst.as_chunks_mut::<4>().0;
    for y0 in (0..h).step_by(TILE) {
        let y1 = (y0 + TILE).min(h);
        for x0 in (0..w).step_by(TILE) {
            for x in x0..(x0 + TILE).min(w) {
                let out = &mut dst[x * h + y0..x * h + y1];
                for (o, y) in out.iter_mut().zip(y0..y1) {
                    *o = src[y * w + x];
                }
            }
        }
    }
}

/// The largest box radius: a window's sum plus half a window still fits in 16 bits.
const MAX_RADIUS: usize = 127;

/// The largest sigma [`gaussian_blur`] takes; its box radii stay within [`MAX_RADIUS`].
pub const MAX_BLUR_SIGMA: f32 = 100.0;

/// One vertical box pass with 16-bit running sums per column and channel: row-slice
/// arithmetic that vectorises, and the mean is one high-half multiply,
/// `((s + n/2) · ⌈2¹⁶/n⌉) >> 16` (the rounded mean, or rarely one above it).
fn box_vertical(src: &[u8], dst: &mut [u8], w: usize, h: usize, r: usize) {
    if r == 0 {
        dst.copy_from_slice(src);
        return;
    }
    debug_assert!(r <= MAX_RADIUS, "radius {r}");
    let n = 2 * r as u32 + 1;
    let inv = ((1u32 << 16).div_ceil(n)) as u16;
    let stride = w * 4;
    let row = |y: isize| {
        let y = y.clamp(0, h as isize - 1) as usize;
        &src[y * stride..(y + 1) * stride]
    };
    // Each sum starts at half a window, so that the truncating multiply rounds.
    let mut acc = vec![(n / 2) as u16; stride];
    for y in -(r as isize)..=r as isize {
        for (a, v) in acc.iter_mut().zip(row(y)) {
            *a += *v as u16;
        }
    }
    for (y, out) in dst.chunks_exact_mut(stride).take(h).enumerate() {
        let (add, sub) = (
            row(y as isize + r as isize + 1),
            row(y as isize - r as isize),
        );
        // One pass over equal-length slices: no bounds checks, so it vectorises.
        for (((o, a), p), m) in out.iter_mut().zip(acc.iter_mut()).zip(add).zip(sub) {
            *o = ((*a as u32 * inv as u32) >> 16) as u8;
            // The window's true sum stays within 16 bits; only the order of the steps wraps.
            *a = a.wrapping_add(*p as u16).wrapping_sub(*m as u16);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    #[test]
    fn gaussian_blur_spreads_like_a_gaussian_and_keeps_flat_areas() {
        let mut img = RgbaImage::from_pixel(41, 41, Rgba([0, 0, 0, 255]));
        img.put_pixel(20, 20, Rgba([255, 255, 255, 255]));
        let out = gaussian_blur(&img, 2.0);
        let at = |x: u32| out.get_pixel(x, 20).0[0] as i32;
        assert!(
            at(20) > at(21) && at(21) > at(22) && at(22) > at(23),
            "falls off from the centre"
        );
        assert_eq!(at(20 - 2), at(20 + 2), "symmetric");
        assert_eq!(at(0), 0, "far pixels untouched");
        let flat = RgbaImage::from_pixel(16, 16, Rgba([90, 120, 200, 255]));
        assert_eq!(gaussian_blur(&flat, 3.0), flat);
        assert_eq!(box_radii(2.0), [1, 1, 2]);
        assert!(box_radii(MAX_BLUR_SIGMA).iter().all(|r| *r <= MAX_RADIUS));
    }

    #[test]
    fn blur_of_a_non_square_image_is_isotropic_and_in_place() {
        // Rows and columns are blurred through a transpose: a mix-up of width and height would
        // move or stretch the spot.
        let (w, h) = (37, 23);
        let mut img = RgbaImage::from_pixel(w, h, Rgba([0, 0, 0, 255]));
        img.put_pixel(10, 7, Rgba([255, 255, 255, 255]));
        let out = gaussian_blur(&img, 1.5);
        assert_eq!(out.dimensions(), (w, h));
        let v = |x: u32, y: u32| out.get_pixel(x, y).0[0];
        let brightest = out
            .enumerate_pixels()
            .max_by_key(|(_, _, p)| p.0[0])
            .unwrap();
        assert_eq!((brightest.0, brightest.1), (10, 7));
        for d in 1..4 {
            assert_eq!(v(10 - d, 7), v(10 + d, 7), "left/right at {d}");
            assert_eq!(v(10, 7 - d), v(10, 7 + d), "up/down at {d}");
            assert_eq!(v(10 + d, 7), v(10, 7 + d), "as wide as tall at {d}");
        }
        let mut t = vec![0u8; (w * h * 4) as usize];
        let mut back = vec![0u8; t.len()];
        transpose(img.as_raw(), &mut t, w as usize, h as usize);
        transpose(&t, &mut back, h as usize, w as usize);
        assert_eq!(&back, img.as_raw());
        assert_eq!(&t[(10 * h as usize + 7) * 4..][..4], &[255, 255, 255, 255]);
    }

    #[test]
    fn sixteen_bit_box_means_stay_within_one_of_the_exact_mean() {
        let (w, h) = (9, 300);
        let mut seed = 0x2545_f491_u32;
        let src: Vec<u8> = (0..w * h * 4)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                (seed >> 24) as u8
            })
            .collect();
        for r in [1, 2, 7, 40, MAX_RADIUS] {
            let mut fast = vec![0u8; src.len()];
            box_vertical(&src, &mut fast, w, h, r);
            for (i, got) in fast.iter().enumerate() {
                let (x, y) = (i % (w * 4), (i / (w * 4)) as isize);
                let sum: u32 = (y - r as isize..=y + r as isize)
                    .map(|yy| src[yy.clamp(0, h as isize - 1) as usize * w * 4 + x] as u32)
                    .sum();
                let exact = (sum as f64 / (2 * r + 1) as f64).round() as i32;
                assert!(
                    (*got as i32 - exact).abs() <= 1,
                    "r {r} at {i}: {got} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn blurring_transparency_does_not_bleed_colour() {
        let mut img = RgbaImage::from_pixel(20, 20, Rgba([255, 255, 255, 0]));
        for y in 0..20 {
            for x in 0..10 {
                img.put_pixel(x, y, Rgba([200, 0, 0, 255]));
            }
        }
        let out = gaussian_blur(&img, 2.0);
        let edge = out.get_pixel(10, 10).0;
        assert!(
            edge[3] > 0 && edge[3] < 255 && edge[1] < 10,
            "red fades out, no white: {edge:?}"
        );
    }
}
