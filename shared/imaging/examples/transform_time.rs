//! Times one operation of the transform benchmark on the 1024² input, as infra/bench/transforms.py
//! times Pillow and pyvips (3 warm-up runs, then the median of `iterations`), so that the three
//! are measured back to back: on a noisy machine that keeps their ratios honest. Prints the
//! median in milliseconds. Operations that take the image by value get their copy untimed.

use imaging::Format;
use imaging::transform::{BENCHMARKED, apply};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args
        .next()
        .expect("usage: transform_time <operation> [iterations]");
    let iterations: usize = args.next().map_or(30, |n| n.parse().expect("iterations"));
    let input = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/input-1024.png");
    let png = std::fs::read(&input).expect("run the criterion bench first: it writes the input");
    let img = imaging::decode_rgba(&png).expect("decode");
    let (w, h) = img.dimensions();
    let run: Box<dyn Fn() -> f64> = match op.as_str() {
        // Every reduction from x2 to x8 (1024 → 512, 341, 256, 204, 170, 128); with
        // RESIZE_OUT set, the result is written there once, for the script's quality check.
        name if name.starts_with("resize_lanczos3_1024_to_") => {
            let to: u32 = name.rsplit('_').next().unwrap().parse().expect("a size");
            let (tw, th) = (to, (h as u64 * to as u64 / w as u64) as u32);
            if let Ok(out) = std::env::var("RESIZE_OUT") {
                let small = imaging::resize(&img, tw, th);
                std::fs::write(out, imaging::encode(&small, Format::Png, None).unwrap()).unwrap();
            }
            timed(move || imaging::resize(&img, tw, th))
        }
        "encode_png" => timed(move || imaging::encode(&img, Format::Png, None).expect("png")),
        "encode_webp_q80" => {
            timed(move || imaging::encode(&img, Format::Webp, Some(80)).expect("webp"))
        }
        "encode_jpeg_q80" => {
            timed(move || imaging::encode(&img, Format::Jpeg, Some(80)).expect("jpeg"))
        }
        // The pure-Rust encoder used before libjpeg-turbo.
        "encode_jpeg_q80_jpeg_encoder" => timed(move || {
            let mut out = Vec::new();
            let mut e = jpeg_encoder::Encoder::new(&mut out, 80);
            e.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            e.encode(
                img.as_raw(),
                w as u16,
                h as u16,
                jpeg_encoder::ColorType::Rgba,
            )
            .expect("jpeg");
            out
        }),
        name => {
            let (_, ops) = BENCHMARKED
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("no operation {name}"));
            Box::new(move || {
                let copy = img.clone();
                let t = Instant::now();
                black_box(apply(copy, ops).expect("apply"));
                t.elapsed().as_secs_f64()
            })
        }
    };
    for _ in 0..3 {
        run();
    }
    let mut times: Vec<f64> = (0..iterations).map(|_| run()).collect();
    times.sort_by(f64::total_cmp);
    let median = if iterations % 2 == 1 {
        times[iterations / 2]
    } else {
        (times[iterations / 2 - 1] + times[iterations / 2]) / 2.0
    };
    println!("{:.4}", median * 1e3);
}

/// Seconds one call of `f` takes.
fn timed<T>(f: impl Fn() -> T + 'static) -> Box<dyn Fn() -> f64> {
    Box::new(move || {
        let t = Instant::now();
        black_box(f());
        t.elapsed().as_secs_f64()
    })
}
