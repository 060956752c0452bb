//! Telea's fast marching inpainting ("An Image Inpainting Technique Based on the Fast Marching
//! Method", 2004): the unknown region is filled from its border inwards, in order of distance,
//! each pixel from a weighted average of known pixels nearby — weighted towards close pixels,
//! pixels along the normal of the advancing front, and pixels on the same level set.

use image::RgbaImage;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

const KNOWN: u8 = 0;
const BAND: u8 = 1;
const INSIDE: u8 = 2;
const FAR: f32 = 1.0e6;

#[derive(PartialEq)]
struct Entry(f32, usize);

impl Eq for Entry {}

impl Ord for Entry {
    // Min-heap on arrival time.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .total_cmp(&self.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Fills every pixel where `unknown` is true; all other pixels are left exactly as they were.
/// `radius` is the neighbourhood (in pixels) each filled pixel is computed from.
// Long: one pass of a tight pixel loop, kept whole so the compiler sees it whole.
pub fn inpaint(img: &mut RgbaImage, unknown: &[bool], radius: u32) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    assert_eq!(unknown.len(), w * h, "mask matches the image");
    if !unknown.iter().any(|u| *u) {
        return;
    }
    let mut flag = vec![KNOWN; w * h];
    let mut t = vec![0.0f32; w * h];
    let mut heap = BinaryHeap::new();
    for i in 0..w * h {
        if unknown[i] {
            flag[i] = INSIDE;
            t[i] = FAR;
        }
    }
    // The band: known pixels touching the unknown region, at time 0.
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if flag[i] != KNOWN {
                continue;
            }
            let touches = neighbours(x, y, w, h).any(|(nx, ny)| flag[ny * w + nx] == INSIDE);
            if touches {
                flag[i] = BAND;
                heap.push(Entry(0.0, i));
            }
        }
    }
    let r = radius.max(1) as i64;
    let data = img.as_mut();
    while let Some(Entry(time, i)) = heap.pop() {
        if flag[i] != BAND || time > t[i] {
            continue; // a stale heap entry
        }
        flag[i] = KNOWN;
        let (x, y) = (i % w, i / w);
        for (nx, ny) in neighbours(x, y, w, h) {
            let j = ny * w + nx;
            if flag[j] != INSIDE {
                continue;
            }
            let arrival = [
                solve(
                    &flag,
                    &t,
                    w,
                    h,
                    nx as i64 - 1,
                    ny as i64,
                    nx as i64,
                    ny as i64 - 1,
                ),
                solve(
                    &flag,
                    &t,
                    w,
                    h,
                    nx as i64 + 1,
                    ny as i64,
                    nx as i64,
                    ny as i64 - 1,
                ),
                solve(
                    &flag,
                    &t,
                    w,
                    h,
                    nx as i64 - 1,
                    ny as i64,
                    nx as i64,
                    ny as i64 + 1,
                ),
                solve(
                    &flag,
                    &t,
                    w,
                    h,
                    nx as i64 + 1,
                    ny as i64,
                    nx as i64,
                    ny as i64 + 1,
                ),
            ]
            .into_iter()
            .fold(FAR, f32::min);
            t[j] = arrival;
            fill_pixel(data, &flag, &t, w, h, nx, ny, r);
            flag[j] = BAND;
            heap.push(Entry(arrival, j));
        }
    }
}

fn neighbours(x: usize, y: usize, w: usize, h: usize) -> impl Iterator<Item = (usize, usize)> {
    let (x, y) = (x as i64, y as i64);
    [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
        .into_iter()
        .filter(move |(nx, ny)| *nx >= 0 && *ny >= 0 && *nx < w as i64 && *ny < h as i64)
        .map(|(nx, ny)| (nx as usize, ny as usize))
}

/// The eikonal update |∇T| = 1 from two orthogonal neighbours.
#[allow(clippy::too_many_arguments)]
fn solve(flag: &[u8], t: &[f32], w: usize, h: usize, x1: i64, y1: i64, x2: i64, y2: i64) -> f32 {
    let at = |x: i64, y: i64| -> Option<f32> {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
            return None;
        }
        let i = y as usize * w + x as usize;
        (flag[i] == KNOWN).then_some(t[i])
    };
    match (at(x1, y1), at(x2, y2)) {
        (Some(t1), Some(t2)) => {
            let diff = t1 - t2;
            let r = (2.0 - diff * diff).max(0.0).sqrt();
            let s = (t1 + t2 - r) / 2.0;
            if s >= t1 && s >= t2 {
                s
            } else {
                let s = s + r;
                if s >= t1 && s >= t2 { s } else { FAR }
            }
        }
        (Some(t1), None) => 1.0 + t1,
        (None, Some(t2)) => 1.0 + t2,
        (None, None) => FAR,
    }
}

#[allow(clippy::too_many_arguments)]
fn fill_pixel(
    data: &mut [u8],
    flag: &[u8],
    t: &[f32],
    w: usize,
    h: usize,
    x: usize,
    y: usize,
    r: i64,
) {
    let i = y * w + x;
    let known_t = |xx: i64, yy: i64| -> Option<f32> {
        if xx < 0 || yy < 0 || xx >= w as i64 || yy >= h as i64 {
            return None;
        }
        let k = yy as usize * w + xx as usize;
        (flag[k] != INSIDE).then_some(t[k])
    };
    // Gradient of the arrival time: the direction the front moves in.
    let (xi, yi) = (x as i64, y as i64);
    let grad = |a: Option<f32>, b: Option<f32>, centre: f32| match (a, b) {
        (Some(a), Some(b)) => (b - a) / 2.0,
        (Some(a), None) => centre - a,
        (None, Some(b)) => b - centre,
        (None, None) => 0.0,
    };
    let ti = t[i];
    let gx = grad(known_t(xi - 1, yi), known_t(xi + 1, yi), ti);
    let gy = grad(known_t(xi, yi - 1), known_t(xi, yi + 1), ti);
    let mut acc = [0.0f32; 4];
    let mut total = 0.0f32;
    for dy in -r..=r {
        for dx in -r..=r {
            let d2 = (dx * dx + dy * dy) as f32;
            if d2 == 0.0 || d2 > (r * r) as f32 {
                continue;
            }
            let Some(tq) = known_t(xi + dx, yi + dy) else {
                continue;
            };
            let q = (yi + dy) as usize * w + (xi + dx) as usize;
            // r = q - p: direction, distance and level-set weights.
            let (rx, ry) = (dx as f32, dy as f32);
            let dir = {
                let d = (rx * gx + ry * gy).abs() / d2.sqrt();
                if d <= 0.01 { 0.01 } else { d }
            };
            let dst = 1.0 / d2;
            let lev = 1.0 / (1.0 + (tq - ti).abs());
            let weight = dir * dst * lev;
            for c in 0..4 {
                acc[c] += weight * data[q * 4 + c] as f32;
            }
            total += weight;
        }
    }
    if total > 0.0 {
        for c in 0..4 {
            data[i * 4 + c] = (acc[c] / total).round().clamp(0.0, 255.0) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgba;

    #[test]
    fn a_masked_object_on_a_plain_background_disappears() {
        let sky = Rgba([40, 110, 220, 255]);
        let mut img = RgbaImage::from_pixel(96, 64, sky);
        let mut unknown = vec![false; 96 * 64];
        for y in 20..44 {
            for x in 30..60 {
                img.put_pixel(x, y, Rgba([220, 20, 20, 255]));
                unknown[y as usize * 96 + x as usize] = true;
            }
        }
        let before = img.clone();
        inpaint(&mut img, &unknown, 5);
        for (i, (a, b)) in before.pixels().zip(img.pixels()).enumerate() {
            if unknown[i] {
                for c in 0..3 {
                    assert!(
                        (b.0[c] as i32 - sky.0[c] as i32).abs() <= 2,
                        "filled pixel {i}: {b:?}"
                    );
                }
            } else {
                assert_eq!(a, b, "pixel {i} outside the mask changed");
            }
        }
    }

    #[test]
    fn gradients_are_continued_across_the_hole() {
        // A horizontal ramp: the fill should interpolate, not smear one colour.
        let mut img = RgbaImage::from_fn(64, 32, |x, _| Rgba([(x * 4) as u8, 0, 0, 255]));
        let mut unknown = vec![false; 64 * 32];
        for y in 8..24 {
            for x in 24..40 {
                img.put_pixel(x, y, Rgba([0, 255, 0, 255]));
                unknown[y as usize * 64 + x as usize] = true;
            }
        }
        inpaint(&mut img, &unknown, 4);
        let left = img.get_pixel(26, 16).0[0] as i32;
        let right = img.get_pixel(37, 16).0[0] as i32;
        assert!(left < right, "ramp continues: {left} < {right}");
        assert!(img.get_pixel(32, 16).0[1] < 10, "no green left");
    }
}
