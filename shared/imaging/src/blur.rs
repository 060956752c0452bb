//! Gaussian blur. Up to sigma 4 the sampled Gaussian itself (8-bit weights), a row at a time:
//! each output row's vertical sums, then its horizontal sums straight from the interleaved
//! pixels. Beyond, where that kernel would pass 25 taps, three box blurs per direction (the
//! cost stops growing with sigma), a strip of rows at a time: the strip's columns (running sums
//! across whole rows, which vectorise), then its rows (transposed so that they too are blurred
//! as columns, and transposed back). Either way every intermediate stays in cache: the picture
//! crosses memory once each way.

use crate::has_transparency;
use image::RgbaImage;

/// Gaussian blur: the sampled kernel up to sigma 4, three box blurs per direction beyond (the
/// classic "boxes for Gauss" construction, as Pillow does). Images with transparency are
/// blurred premultiplied, so transparent pixels do not bleed colour. `sigma` is capped at
/// [`MAX_BLUR_SIGMA`].
pub fn gaussian_blur(img: &RgbaImage, sigma: f32) -> RgbaImage {
    let mut out = img.clone();
    gaussian_blur_in_place(&mut out, sigma);
    out
}

/// [`gaussian_blur`] over the picture itself: up to sigma 4 it holds only a few rows besides.
pub fn gaussian_blur_in_place(img: &mut RgbaImage, sigma: f32) {
    filter_in_place(img, sigma, STRIP_BUDGET, &mut |blurred, row| {
        row.copy_from_slice(blurred)
    });
}

/// Unsharp mask over the picture itself: each colour pushed away from its Gaussian blur by
/// their difference, where that exceeds `threshold` (alpha as it was). Like
/// [`gaussian_blur_in_place`], up to sigma 4 it holds only a few rows besides.
pub fn unsharp_in_place(img: &mut RgbaImage, sigma: f32, threshold: u8) {
    let threshold = threshold as i16;
    // `move`: the threshold copied into the closure, not read through a reference that the
    // compiler must assume the row's writes may change (which kept the loop scalar).
    filter_in_place(img, sigma, STRIP_BUDGET, &mut move |blurred, row| {
        // Sixteen bytes (four pixels) at a time, without branches, so that it vectorises.
        let (rows, rest) = row.as_chunks_mut::<16>();
        let (blurs, tail) = blurred.as_chunks::<16>();
        for (p, b) in rows.iter_mut().zip(blurs) {
            for j in 0..16 {
                p[j] = sharpened(p[j], b[j], threshold, j % 4 == 3);
            }
        }
        for (j, (p, &b)) in rest.iter_mut().zip(tail).enumerate() {
            *p = sharpened(*p, b, threshold, j % 4 == 3);
        }
    });
}

/// One byte of [`unsharp_in_place`]: alpha and small differences stay as they were.
#[inline(always)]
fn sharpened(p: u8, blurred: u8, threshold: i16, alpha: bool) -> u8 {
    let diff = p as i16 - blurred as i16;
    if alpha || diff.abs() <= threshold {
        p
    } else {
        (p as i16 + diff).clamp(0, 255) as u8
    }
}

/// Blurs `img` and hands each blurred row (straight, never premultiplied) to `combine`, with
/// the picture's own row to overwrite. Strip buffers take at most `budget` bytes.
fn filter_in_place(
    img: &mut RgbaImage,
    sigma: f32,
    budget: usize,
    combine: &mut dyn FnMut(&[u8], &mut [u8]),
) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 || sigma <= 0.0 {
        return;
    }
    let alpha = has_transparency(img);
    let stride = w * 4;
    match Plan::for_sigma(sigma.min(MAX_BLUR_SIGMA)) {
        Plan::Kernel(weights) => kernel_blur(img, w, h, &weights, alpha, combine),
        Plan::Boxes(radii) => {
            let premultiplied = alpha.then(|| {
                let mut p = img.as_raw().clone();
                p.chunks_exact_mut(stride).for_each(premultiply);
                p
            });
            let src = premultiplied.as_deref().unwrap_or(img.as_raw());
            let mut out = vec![0u8; stride * h];
            let halo = radii.iter().sum::<usize>();
            // A strip's columns need `halo` rows above and below it: strips are made tall
            // enough that recomputing them costs at most half again, unless their buffers
            // would pass the budget.
            let strip = STRIP.max(halo * 4).min(h);
            if (strip + 2 * halo) * stride <= budget {
                blur_strips(src, &mut out, w, h, &radii, strip);
            } else {
                // A wide picture and a large sigma: rows over the whole picture, then columns
                // a tile at a time over its whole height (no halo, at the price of a second
                // trip through memory).
                let mut t = [vec![0; TILE * w], vec![0; TILE * w]];
                blur_rows(src, &mut out, w, h, &radii, &mut t);
                blur_columns(&mut out, stride, h, &radii);
            }
            drop(premultiplied);
            for (blurred, row) in out
                .chunks_exact_mut(stride)
                .zip(img.chunks_exact_mut(stride))
            {
                if alpha {
                    unpremultiply(blurred);
                }
                combine(blurred, row);
            }
        }
    }
}

/// Colours scaled by their alpha, in place.
fn premultiply(row: &mut [u8]) {
    for px in row.chunks_exact_mut(4) {
        let al = px[3] as u32;
        for c in &mut px[..3] {
            *c = ((*c as u32 * al + 127) / 255) as u8;
        }
    }
}

/// [`premultiply`] undone, rounded (fully transparent pixels as they are).
fn unpremultiply(row: &mut [u8]) {
    for p in row.chunks_exact_mut(4) {
        let al = p[3] as u32;
        if al == 0 {
            continue;
        }
        for c in &mut p[..3] {
            *c = ((*c as u32 * 255 + al / 2) / al).min(255) as u8;
        }
    }
}

/// Bytes a strip's buffer may take.
const STRIP_BUDGET: usize = 8 << 20;

/// Strips of `strip` rows: their columns, then their rows, each strip's work in cache.
fn blur_strips(src: &[u8], out: &mut [u8], w: usize, h: usize, radii: &[usize; 3], strip: usize) {
    let stride = w * 4;
    let halo = radii.iter().sum::<usize>();
    let mut scratch = Scratch::new(w, strip + 2 * halo);
    for y0 in (0..h).step_by(strip) {
        let rows = strip.min(h - y0);
        let n = rows + 2 * halo;
        let first = y0 as isize - halo as isize;
        let a = &mut scratch.a[..n * stride];
        boxes_pass(src, stride, h, first, a, stride, stride, n, radii);
        let centre = &scratch.a[halo * stride..(halo + rows) * stride];
        let dst = &mut out[y0 * stride..(y0 + rows) * stride];
        blur_rows(centre, dst, w, rows, radii, &mut scratch.t);
    }
}

/// The three vertical boxes over the whole height, a tile of columns at a time, in place.
fn blur_columns(img: &mut [u8], stride: usize, h: usize, radii: &[usize; 3]) {
    let mut tile = vec![0u8; TILE * h];
    for x0 in (0..stride).step_by(TILE) {
        let tw = TILE.min(stride - x0);
        boxes_pass(&img[x0..], stride, h, 0, &mut tile, tw, tw, h, radii);
        for (y, row) in tile.chunks_exact(tw).take(h).enumerate() {
            img[y * stride + x0..][..tw].copy_from_slice(row);
        }
    }
}

enum Plan {
    /// Radii of three box passes per direction.
    Boxes([usize; 3]),
    /// A sampled Gaussian in 8-bit fixed point (weights sum to 256), from -reach to reach
    /// (3 sigma, at most [`MAX_REACH`]).
    Kernel(Vec<u16>),
}

impl Plan {
    fn for_sigma(sigma: f32) -> Self {
        let reach = (3.0 * sigma).ceil() as i32;
        if reach as usize > MAX_REACH {
            return Self::Boxes(box_radii(sigma));
        }
        let exact: Vec<f32> = (-reach..=reach)
            .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f32 = exact.iter().sum();
        let mut weights: Vec<u16> = exact
            .iter()
            .map(|v| (v / total * 256.0).round() as u16)
            .collect();
        // The centre takes the rounding, so that flat areas stay exactly as they are.
        let rest: u16 = weights.iter().sum::<u16>() - weights[reach as usize];
        weights[reach as usize] = 256 - rest;
        Self::Kernel(weights)
    }
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

/// The largest box radius: a window's sum plus half a window still fits in 16 bits.
const MAX_RADIUS: usize = 127;

/// The largest sigma [`gaussian_blur`] takes; its box radii stay within [`MAX_RADIUS`].
pub const MAX_BLUR_SIGMA: f32 = 100.0;

/// The rounded mean of a window of `n` values from its sum (plus `n / 2`), as one high-half
/// multiply by `⌈2¹⁶/n⌉`: the rounded mean, or rarely one above it (hence the clamp).
#[inline(always)]
fn mean(sum_and_half: u16, inv: u16) -> u8 {
    // u16 × u16, high half: one instruction per lane (pmulhuw, umull2).
    (((sum_and_half as u32 * inv as u32) >> 16) as u16).min(255) as u8
}

fn reciprocal(r: usize) -> (u16, u16) {
    let n = 2 * r as u32 + 1;
    ((n / 2) as u16, (1u32 << 16).div_ceil(n) as u16)
}

/// Rows per strip at least; also the rows a transposed strip holds at a time.
const STRIP: usize = TILE / 4;

/// Buffers of one blur: a strip blurred down its columns, and a transposed strip.
struct Scratch {
    a: Vec<u8>,
    t: [Vec<u8>; 2],
}

impl Scratch {
    fn new(w: usize, rows: usize) -> Self {
        Self {
            a: vec![0; rows * w * 4],
            t: [vec![0; TILE * w], vec![0; TILE * w]],
        }
    }
}

/// `dst[c][r] = src[r][c]` for `rows`×`cols` pixels (row strides `ss` and `ds`), by 4×4 blocks
/// (SSE2 shuffles on x86-64).
fn transpose(src: &[[u8; 4]], ss: usize, dst: &mut [[u8; 4]], ds: usize, rows: usize, cols: usize) {
    assert!(rows == 0 || cols == 0 || (src.len() >= (rows - 1) * ss + cols));
    assert!(rows == 0 || cols == 0 || (dst.len() >= (cols - 1) * ds + rows));
    let (r4, c4) = (rows / 4 * 4, cols / 4 * 4);
    for r0 in (0..r4).step_by(4) {
        for c0 in (0..c4).step_by(4) {
            block4(src, ss, dst, ds, r0, c0);
        }
        for c in c4..cols {
            for r in r0..r0 + 4 {
                dst[c * ds + r] = src[r * ss + c];
            }
        }
    }
    for r in r4..rows {
        for c in 0..cols {
            dst[c * ds + r] = src[r * ss + c];
        }
    }
}

/// One 4×4 block of [`transpose`], at row `r0` and column `c0` of `src` (in bounds: checked
/// by the caller's asserts).
#[inline(always)]
fn block4(src: &[[u8; 4]], ss: usize, dst: &mut [[u8; 4]], ds: usize, r0: usize, c0: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rows r0..r0+4 hold columns c0..c0+4 of `src`, and rows c0..c0+4 of `dst` hold
    // columns r0..r0+4 (transpose's asserts); unaligned loads and stores of 16 bytes.
    unsafe {
        use std::arch::x86_64::*;
        let s = |i: usize| _mm_loadu_si128(src.as_ptr().add((r0 + i) * ss + c0) as *const __m128i);
        let (a, b, c, d) = (s(0), s(1), s(2), s(3));
        let (ab_lo, cd_lo) = (_mm_unpacklo_epi32(a, b), _mm_unpacklo_epi32(c, d));
        let (ab_hi, cd_hi) = (_mm_unpackhi_epi32(a, b), _mm_unpackhi_epi32(c, d));
        let out = [
            _mm_unpacklo_epi64(ab_lo, cd_lo),
            _mm_unpackhi_epi64(ab_lo, cd_lo),
            _mm_unpacklo_epi64(ab_hi, cd_hi),
            _mm_unpackhi_epi64(ab_hi, cd_hi),
        ];
        for (k, v) in out.into_iter().enumerate() {
            _mm_storeu_si128(dst.as_mut_ptr().add((c0 + k) * ds + r0) as *mut __m128i, v);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let m: [[[u8; 4]; 4]; 4] =
            std::array::from_fn(|i| src[(r0 + i) * ss + c0..][..4].try_into().expect("4"));
        for k in 0..4 {
            dst[(c0 + k) * ds + r0..][..4].copy_from_slice(&[m[0][k], m[1][k], m[2][k], m[3][k]]);
        }
    }
}

/// The horizontal passes over `h` rows, [`STRIP`] rows at a time: transposed so that the rows
/// become columns, blurred as columns, transposed back.
fn blur_rows(
    src: &[u8],
    dst: &mut [u8],
    w: usize,
    h: usize,
    radii: &[usize; 3],
    t: &mut [Vec<u8>; 2],
) {
    let [a, b] = t;
    for y0 in (0..h).step_by(STRIP) {
        let rows = STRIP.min(h - y0);
        let tw = rows * 4;
        let strip = &src.as_chunks::<4>().0[y0 * w..(y0 + rows) * w];
        transpose(strip, w, a.as_chunks_mut::<4>().0, rows, rows, w);
        let (a, b) = (&mut a[..tw * w], &mut b[..tw * w]);
        boxes_pass(a, tw, w, 0, b, tw, tw, w, radii);
        let strip = &mut dst.as_chunks_mut::<4>().0[y0 * w..(y0 + rows) * w];
        transpose(b.as_chunks::<4>().0, rows, strip, w, w, rows);
    }
}

/// Bytes of a column tile: a pass works through the rows one tile-wide band at a time.
const TILE: usize = 256;

/// A dispatcher `$name` that runs `$any` compiled with AVX2 where the CPU has it (the same
/// code, wider vectors), and as it is elsewhere.
macro_rules! vectorised {
    ($(#[$doc:meta])* $name:ident $(<const $g:ident: usize>)?, $any:ident, $avx2:ident,
     ($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        fn $name $(<const $g: usize>)? ($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                unsafe { $avx2 $(::<$g>)? ($($arg),*) };
                return;
            }
            $any $(::<$g>)? ($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(clippy::too_many_arguments)]
        fn $avx2 $(<const $g: usize>)? ($($arg: $ty),*) {
            $any $(::<$g>)? ($($arg),*)
        }
    };
}

/// `half` plus the sum of `rows`, per byte column: where a running sum starts (the half makes
/// the truncating mean round).
#[inline(always)]
fn window_sum<'a>(half: u16, width: usize, rows: impl Iterator<Item = &'a [u8]>) -> Vec<u16> {
    let mut acc = vec![half; width];
    for row in rows {
        for (a, v) in acc.iter_mut().zip(row) {
            *a += *v as u16;
        }
    }
    acc
}

/// Writes the mean of each running sum to `out`, then slides the window: adds `enter`, drops
/// `leave` (equal-length slices: no bounds checks, so it vectorises).
#[inline(always)]
fn slide(acc: &mut [u16], out: &mut [u8], enter: &[u8], leave: &[u8], inv: u16) {
    for (((o, a), p), m) in out.iter_mut().zip(acc.iter_mut()).zip(enter).zip(leave) {
        *o = mean(*a, inv);
        // The window's true sum stays within 16 bits; only the order of the steps wraps.
        *a = a.wrapping_add(*p as u16).wrapping_sub(*m as u16);
    }
}

vectorised!(
    /// The three box passes of one direction in one sweep: like three single box passes (the first
    /// over source rows `first + i`, each later one over the previous one's `n` rows, edges
    /// repeated), but the rows between stages wait in rings just long enough for the next stage's
    /// window instead of in whole buffers, so the sweep stays in L1. Radii of at least 1.
    boxes_pass, boxes_pass_any, boxes_pass_avx2, (src: &[u8], src_stride: usize, src_rows: usize, first: isize, dst: &mut [u8], dst_stride: usize, width: usize, n: usize, radii: &[usize; 3]));

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn boxes_pass_any(
    src: &[u8],
    src_stride: usize,
    src_rows: usize,
    first: isize,
    dst: &mut [u8],
    dst_stride: usize,
    width: usize,
    n: usize,
    radii: &[usize; 3],
) {
    let [r1, r2, r3] = radii.map(|r| r as isize);
    debug_assert!(r1 >= 1 && r2 >= 1 && r3 >= 1 && n >= 1);
    debug_assert!(radii.iter().all(|&r| r <= MAX_RADIUS), "radii {radii:?}");
    let (h1, i1) = reciprocal(r1 as usize);
    let (h2, i2) = reciprocal(r2 as usize);
    let (h3, i3) = reciprocal(r3 as usize);
    let last = n as isize - 1;
    let x = |j: isize| {
        let y = (first + j).clamp(0, src_rows as isize - 1) as usize;
        &src[y * src_stride..][..width]
    };
    // Ring slots: a stage's row j sits at j % slots, and is read until the next stage's window
    // has passed it (at most 2r + 2 rows are live).
    let (m1, m2) = (2 * r2 as usize + 2, 2 * r3 as usize + 2);
    let mut ring1 = vec![0u8; m1 * width];
    let mut ring2 = vec![0u8; m2 * width];
    let slot1 = |j: isize| j.clamp(0, last) as usize % m1 * width;
    let slot2 = |j: isize| j.clamp(0, last) as usize % m2 * width;
    let mut acc1 = window_sum(h1, width, (-r1..=r1).map(x));
    let (mut made1, mut made2) = (0isize, 0isize);
    // Makes stage-1 rows up to `upto`.
    macro_rules! make1 {
        ($upto:expr) => {
            while made1 <= $upto {
                let s = slot1(made1);
                slide(
                    &mut acc1,
                    &mut ring1[s..s + width],
                    x(made1 + r1 + 1),
                    x(made1 - r1),
                    i1,
                );
                made1 += 1;
            }
        };
    }
    make1!(r2.min(last));
    let mut acc2 = window_sum(h2, width, (-r2..=r2).map(|k| &ring1[slot1(k)..][..width]));
    // Makes stage-2 rows up to `upto`.
    macro_rules! make2 {
        ($upto:expr) => {
            while made2 <= $upto {
                make1!((made2 + r2 + 1).min(last));
                let (e, l, s) = (slot1(made2 + r2 + 1), slot1(made2 - r2), slot2(made2));
                slide(
                    &mut acc2,
                    &mut ring2[s..s + width],
                    &ring1[e..e + width],
                    &ring1[l..l + width],
                    i2,
                );
                made2 += 1;
            }
        };
    }
    make2!(r3.min(last));
    let mut acc3 = window_sum(h3, width, (-r3..=r3).map(|k| &ring2[slot2(k)..][..width]));
    for i in 0..n as isize {
        make2!((i + r3 + 1).min(last));
        let (e, l) = (slot2(i + r3 + 1), slot2(i - r3));
        let out = &mut dst[i as usize * dst_stride..][..width];
        slide(
            &mut acc3,
            out,
            &ring2[e..e + width],
            &ring2[l..l + width],
            i3,
        );
    }
}

/// The blur by a small symmetric kernel (weights summing to 256), a row at a time and in place:
/// the row's vertical sums go to a 16-bit row with its edge pixels repeated beyond both ends,
/// and its horizontal sums from that row's neighbours (4 bytes apart, so the channels never
/// mix) to the blurred row handed to `combine`. The vertical sums read a ring of the `2 × reach
/// + 1` source rows around the row (premultiplied there when `alpha`), taken from the picture
/// before `combine` overwrites them. No transposes, and a row's work stays in cache.
fn kernel_blur(
    img: &mut [u8],
    w: usize,
    h: usize,
    weights: &[u16],
    alpha: bool,
    combine: &mut dyn FnMut(&[u8], &mut [u8]),
) {
    // A kernel's reach is a constant of its code: its taps unroll, and their rows' addresses
    // stay in registers.
    macro_rules! by_reach {
        ($($r:literal)*) => {
            match weights.len() / 2 {
                $($r => kernel_blur_by::<$r>(img, w, h, weights, alpha, combine),)*
                r => unreachable!("kernel reach {r}"),
            }
        };
    }
    by_reach!(1 2 3 4 5 6 7 8 9 10 11 12)
}

/// The largest reach of a kernel (see [`kernel_blur`]): beyond it three boxes cost less (on
/// 1024², 25 taps took 6.5 ms and the boxes 7.8 at any sigma).
const MAX_REACH: usize = 12;

fn kernel_blur_by<const R: usize>(
    img: &mut [u8],
    w: usize,
    h: usize,
    weights: &[u16],
    alpha: bool,
    combine: &mut dyn FnMut(&[u8], &mut [u8]),
) {
    let centre = weights[R];
    let sides: [u16; R] = std::array::from_fn(|k| weights[R + 1 + k]);
    let stride = w * 4;
    let pad = R * 4;
    // Source row j sits in slot j % (2R + 1): the rows of one window never share a slot.
    let slots = 2 * R + 1;
    let mut ring = vec![0u8; slots * stride];
    let load = |ring: &mut [u8], img: &[u8], j: usize| {
        let slot = &mut ring[j % slots * stride..][..stride];
        slot.copy_from_slice(&img[j * stride..][..stride]);
        if alpha {
            premultiply(slot);
        }
    };
    for j in 0..R.min(h) {
        load(&mut ring, img, j);
    }
    let mut sums = vec![0u16; stride + 2 * pad];
    let mut blurred = vec![0u8; stride];
    for y in 0..h {
        if y + R < h {
            load(&mut ring, img, y + R);
        }
        let at = |d: isize| {
            let j = (y as isize + d).clamp(0, h as isize - 1) as usize;
            &ring[j % slots * stride..][..stride]
        };
        let pairs: [(&[u8], &[u8]); R] =
            std::array::from_fn(|k| (at(-(k as isize) - 1), at(k as isize + 1)));
        kernel_step::<R>(at(0), &pairs, centre, &sides, &mut sums, &mut blurred);
        if alpha {
            unpremultiply(&mut blurred);
        }
        combine(&blurred, &mut img[y * stride..][..stride]);
    }
}

vectorised!(
    /// One row of [`kernel_blur`]: its vertical sums into `sums` (between `4R` values on each
    /// side, the edge pixels repeated), then its horizontal sums into `out`.
    kernel_step<const R: usize>, kernel_step_any, kernel_step_avx2, (mid: &[u8], pairs: &[(&[u8], &[u8]); R], centre: u16, sides: &[u16; R], sums: &mut [u16], out: &mut [u8]));

#[inline(always)]
fn kernel_step_any<const R: usize>(
    mid: &[u8],
    pairs: &[(&[u8], &[u8]); R],
    centre: u16,
    sides: &[u16; R],
    sums: &mut [u16],
    out: &mut [u8],
) {
    let (pad, stride) = (R * 4, out.len());
    kernel_column(mid, pairs, centre, sides, &mut sums[pad..pad + stride]);
    let (first, last) = (pad, pad + stride - 4);
    for p in (0..pad).step_by(4) {
        sums.copy_within(first..first + 4, p);
        sums.copy_within(last..last + 4, last + 4 + p);
    }
    kernel_row(sums, centre, sides, out);
}

/// Lanes a kernel step works on at once: two AVX2 registers of 16-bit sums.
const LANES: usize = 32;

/// `out[i]` = `centre × mid[i]` + `sides[k] × (pairs[k].0[i] + pairs[k].1[i])`, rounded, in
/// 16 bits (the rows `k + 1` above and below). Side weights are at most 85 (the centre is the
/// largest of three summing to at most 256), so a weight times a pair's sum (at most 510)
/// fits, and so does the whole sum (at most 255 × 256 + 128).
#[inline(always)]
fn kernel_column<const R: usize>(
    mid: &[u8],
    pairs: &[(&[u8], &[u8]); R],
    centre: u16,
    sides: &[u16; R],
    out: &mut [u16],
) {
    let n = out.len();
    let lanes =
        |row: &[u8], i: usize| -> [u8; LANES] { row[i..i + LANES].try_into().expect("lanes") };
    for i in (0..n - n % LANES).step_by(LANES) {
        let m = lanes(mid, i);
        let mut acc = [0u16; LANES];
        for j in 0..LANES {
            acc[j] = 128 + centre * m[j] as u16;
        }
        for (&(above, below), &wk) in pairs.iter().zip(sides) {
            let (a, b) = (lanes(above, i), lanes(below, i));
            for j in 0..LANES {
                acc[j] += wk * (a[j] as u16 + b[j] as u16);
            }
        }
        let o: &mut [u16; LANES] = (&mut out[i..i + LANES]).try_into().expect("lanes");
        for j in 0..LANES {
            o[j] = acc[j] >> 8;
        }
    }
    for i in n - n % LANES..n {
        let mut acc = 128 + centre * mid[i] as u16;
        for (&(above, below), &wk) in pairs.iter().zip(sides) {
            acc += wk * (above[i] as u16 + below[i] as u16);
        }
        out[i] = acc >> 8;
    }
}

/// `out[i]` = the weighted sum of `row[4R + i + 4k]` for k from `-R` to `R` (`row` holds
/// `4R` values beyond each end), rounded, as in [`kernel_column`].
#[inline(always)]
fn kernel_row<const R: usize>(row: &[u16], centre: u16, sides: &[u16; R], out: &mut [u8]) {
    let pad = R * 4;
    let n = out.len();
    let lanes = |i: usize| -> [u16; LANES] { row[i..i + LANES].try_into().expect("lanes") };
    for i in (0..n - n % LANES).step_by(LANES) {
        let m = lanes(pad + i);
        let mut acc = [0u16; LANES];
        for j in 0..LANES {
            acc[j] = 128 + centre * m[j];
        }
        for (k, &wk) in (1..=R).zip(sides) {
            let (a, b) = (lanes(pad + i - 4 * k), lanes(pad + i + 4 * k));
            for j in 0..LANES {
                acc[j] += wk * (a[j] + b[j]);
            }
        }
        let o: &mut [u8; LANES] = (&mut out[i..i + LANES]).try_into().expect("lanes");
        for j in 0..LANES {
            o[j] = (acc[j] >> 8) as u8;
        }
    }
    for i in n - n % LANES..n {
        let mut acc = 128 + centre * row[pad + i];
        for (k, &wk) in (1..=R).zip(sides) {
            acc += wk * (row[pad + i - 4 * k] + row[pad + i + 4 * k]);
        }
        out[i] = (acc >> 8) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`gaussian_blur`] with strip buffers of at most `budget` bytes.
    fn blur_within(img: &RgbaImage, sigma: f32, budget: usize) -> RgbaImage {
        let mut out = img.clone();
        filter_in_place(&mut out, sigma, budget, &mut |b, row| {
            row.copy_from_slice(b)
        });
        out
    }

    /// Deterministic noise bytes (xorshift32).
    fn noise(mut seed: u32, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                (seed >> 24) as u8
            })
            .collect()
    }

    /// One box pass of radius `r` at a time: the reference the one-sweep cascade must equal.
    #[allow(clippy::too_many_arguments)]
    fn box_pass(
        src: &[u8],
        src_stride: usize,
        src_rows: usize,
        first: isize,
        dst: &mut [u8],
        dst_stride: usize,
        width: usize,
        n: usize,
        r: usize,
    ) {
        debug_assert!(r <= MAX_RADIUS, "radius {r}");
        let (half, inv) = reciprocal(r);
        // Whole rows at a time: each step streams through contiguous memory.
        let row = |y: isize| {
            let y = y.clamp(0, src_rows as isize - 1) as usize;
            &src[y * src_stride..][..width]
        };
        if r == 0 {
            for i in 0..n {
                dst[i * dst_stride..][..width].copy_from_slice(row(first + i as isize));
            }
            return;
        }
        // Each sum starts at half a window, so that the truncating multiply rounds.
        let mut acc = vec![half; width];
        for y in first - r as isize..=first + r as isize {
            for (a, v) in acc.iter_mut().zip(row(y)) {
                *a += *v as u16;
            }
        }
        for i in 0..n {
            let y = first + i as isize;
            let (add, sub) = (row(y + r as isize + 1), row(y - r as isize));
            let out = &mut dst[i * dst_stride..][..width];
            // One pass over equal-length slices: no bounds checks, so it vectorises.
            for (((o, a), p), m) in out.iter_mut().zip(acc.iter_mut()).zip(add).zip(sub) {
                *o = mean(*a, inv);
                // The window's true sum stays within 16 bits; only the order of the steps wraps.
                *a = a.wrapping_add(*p as u16).wrapping_sub(*m as u16);
            }
        }
    }

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
        // Rows and columns are blurred differently: a mix-up of width and height would move or
        // stretch the spot.
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
    }

    /// A float Gaussian of `sigma` (kernel to 4 sigma, edges repeated), rows then columns.
    fn reference_gaussian(img: &RgbaImage, sigma: f64) -> Vec<f64> {
        let (w, h) = (img.width() as isize, img.height() as isize);
        let reach = (4.0 * sigma).ceil() as isize;
        let weights: Vec<f64> = (-reach..=reach)
            .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let at = |v: &[f64], x: isize, y: isize, c: usize| {
            v[((y.clamp(0, h - 1) * w + x.clamp(0, w - 1)) * 4) as usize + c]
        };
        let src: Vec<f64> = img.as_raw().iter().map(|&b| b as f64).collect();
        let mut rows = vec![0.0; src.len()];
        let mut out = vec![0.0; src.len()];
        for y in 0..h {
            for x in 0..w {
                for c in 0..4 {
                    rows[((y * w + x) * 4) as usize + c] = (-reach..=reach)
                        .zip(&weights)
                        .map(|(i, k)| k * at(&src, x + i, y, c))
                        .sum::<f64>()
                        / total;
                }
            }
        }
        for y in 0..h {
            for x in 0..w {
                for c in 0..4 {
                    out[((y * w + x) * 4) as usize + c] = (-reach..=reach)
                        .zip(&weights)
                        .map(|(i, k)| k * at(&rows, x, y + i, c))
                        .sum::<f64>()
                        / total;
                }
            }
        }
        out
    }

    /// Mean and largest absolute difference from a float Gaussian, over every channel.
    fn errors(img: &RgbaImage, sigma: f32) -> (f64, f64) {
        let ours = gaussian_blur(img, sigma);
        let exact = reference_gaussian(img, sigma as f64);
        let errors: Vec<f64> = ours
            .as_raw()
            .iter()
            .zip(&exact)
            .map(|(&o, &e)| (o as f64 - e).abs())
            .collect();
        let max = errors.iter().cloned().fold(0.0, f64::max);
        (errors.iter().sum::<f64>() / errors.len() as f64, max)
    }

    #[test]
    fn the_blur_is_close_to_a_true_gaussian_at_every_sigma() {
        // Hard edges, a thin line and a dot (235 levels of contrast): where box cascades differ
        // most from a Gaussian.
        let shapes = RgbaImage::from_fn(240, 90, |x, y| {
            let v = if x == 150 || (x == 200 && y == 45) {
                255
            } else if (x / 30 + y / 30) % 2 == 0 {
                235
            } else {
                20
            };
            Rgba([v, 255 - v, (x % 256) as u8, 255])
        });
        // Noise: every frequency at once.
        let bytes = noise(0x9e37_79b9, 120 * 60 * 3);
        let noise = RgbaImage::from_fn(120, 60, |x, y| {
            let i = (y * 120 + x) as usize * 3;
            Rgba([bytes[i], bytes[i + 1], bytes[i + 2], 255])
        });
        for sigma in [0.5f32, 0.8, 1.2, 1.5, 2.0, 3.0, 4.0, 4.5, 5.0, 12.0] {
            let (mean, max) = errors(&shapes, sigma);
            // Up to sigma 4 the sampled kernel is exact but for its 8-bit weights; three boxes
            // have a Gaussian's variance only as nearly as odd widths allow, and its shape
            // within a few levels.
            let kernel = matches!(Plan::for_sigma(sigma), Plan::Kernel(_));
            let (mean_limit, max_limit) = if kernel { (0.2, 2.0) } else { (0.6, 8.0) };
            assert!(
                mean < mean_limit,
                "sigma {sigma}: mean error {mean:.3} on shapes"
            );
            assert!(
                max <= max_limit,
                "sigma {sigma}: largest error {max:.2} on shapes"
            );
            let (mean, _) = errors(&noise, sigma);
            assert!(mean < 0.5, "sigma {sigma}: mean error {mean:.3} on noise");
        }
        assert!(matches!(Plan::for_sigma(4.0), Plan::Kernel(_)));
        assert!(matches!(Plan::for_sigma(4.5), Plan::Boxes(_)));
    }

    #[test]
    fn strips_and_whole_columns_blur_alike() {
        // Large sigmas on wide pictures go through whole columns instead of strips (their
        // halo would not fit the budget): the two must agree.
        let green = noise(0x0bad_cafe, 300 * 200);
        let img = RgbaImage::from_fn(300, 200, |x, y| {
            let v = if (x / 25 + y / 25) % 2 == 0 { 220 } else { 30 };
            Rgba([v, green[(y * 300 + x) as usize], (x % 256) as u8, 255])
        });
        for sigma in [4.5, 9.0] {
            let strips = blur_within(&img, sigma, usize::MAX);
            let columns = blur_within(&img, sigma, 0);
            let halo = box_radii(sigma).iter().sum::<usize>() as u32;
            for (x, y, p) in strips.enumerate_pixels() {
                let q = columns.get_pixel(x, y);
                // Away from the top and bottom, where the two repeat edges at different stages.
                if y >= halo && y < 200 - halo {
                    for c in 0..4 {
                        assert!(
                            (p.0[c] as i32 - q.0[c] as i32).abs() <= 1,
                            "sigma {sigma} at ({x}, {y}): {:?} vs {:?}",
                            p.0,
                            q.0
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn one_sweep_of_three_boxes_equals_three_passes() {
        let (w, h) = (40usize, 57usize);
        let src = noise(0x5eed_1234, w * 4 * h);
        let stride = w * 4;
        for radii in [[1, 1, 2], [2, 2, 2], [3, 4, 4], [9, 9, 10], [40, 40, 41]] {
            for (first, n) in [(0isize, h), (-5, 20), (30, 27), (50, 3)] {
                let mut a = vec![0u8; n * stride];
                let mut b = vec![0u8; n * stride];
                box_pass(&src, stride, h, first, &mut a, stride, stride, n, radii[0]);
                box_pass(&a, stride, n, 0, &mut b, stride, stride, n, radii[1]);
                box_pass(&b, stride, n, 0, &mut a, stride, stride, n, radii[2]);
                let mut fused = vec![0u8; n * stride];
                boxes_pass(
                    &src, stride, h, first, &mut fused, stride, stride, n, &radii,
                );
                assert!(fused == a, "radii {radii:?}, rows {first}+{n}");
            }
        }
    }

    #[test]
    fn bright_areas_stay_bright_at_the_largest_radius() {
        let img = RgbaImage::from_pixel(300, 300, Rgba([255, 255, 255, 255]));
        assert_eq!(gaussian_blur(&img, MAX_BLUR_SIGMA), img);
    }

    #[test]
    fn column_box_means_stay_within_one_of_the_exact_mean() {
        let (w, h) = (9, 300);
        let src = noise(0x2545_f491, w * h * 4);
        for r in [1, 2, 7, 40, MAX_RADIUS] {
            let mut fast = vec![0u8; src.len()];
            box_pass(&src, w * 4, h, 0, &mut fast, w * 4, w * 4, h, r);
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
        let mut img = RgbaImage::from_pixel(20, 40, Rgba([255, 255, 255, 0]));
        for y in 0..40 {
            for x in 0..10 {
                img.put_pixel(x, y, Rgba([200, 0, 0, 255]));
            }
        }
        // The kernel, with its ring of premultiplied rows, and three boxes.
        for sigma in [2.0, 6.0] {
            let out = gaussian_blur(&img, sigma);
            for y in [0, 20, 39] {
                let edge = out.get_pixel(10, y).0;
                assert!(
                    edge[3] > 0 && edge[3] < 255 && edge[1] < 10,
                    "sigma {sigma}, row {y}: red fades out, no white: {edge:?}"
                );
            }
        }
    }
}
