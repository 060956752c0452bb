//! The post-processing pipeline, single-threaded: decode a 1024×1024 PNG → white→alpha →
//! Lanczos3 to 256×256 → encode PNG. `make bench` runs the same pipeline in Pillow and pyvips
//! on the input written here (target/bench/input-1024.png) and prints the ratios.

use criterion::{Criterion, criterion_group, criterion_main};
use imaging::Format;

use imaging::procedural::render;
use std::hint::black_box;
use std::path::PathBuf;

fn bench_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    dir
}

fn input_png() -> Vec<u8> {
    // A subject on a white backdrop, as the transparent-background feature expects.
    let img = render("a red fox curled up in fresh snow", 7, 0, 1024, 1024);
    let png = imaging::encode(&img, Format::Png, None).expect("encode input");
    std::fs::write(bench_dir().join("input-1024.png"), &png).expect("write input");
    png
}

fn pipeline(c: &mut Criterion) {
    let png = input_png();
    let out = imaging::transparent_thumbnail_png(&png).expect("pipeline");
    let check = imaging::decode(&out).expect("output decodes").into_rgba8();
    assert_eq!(check.dimensions(), (256, 256));
    assert_eq!(
        check.get_pixel(0, 0).0[3],
        0,
        "the white corner became transparent"
    );

    let mut group = c.benchmark_group("pipeline");
    group.sample_size(30);
    group.bench_function("rust", |b| {
        b.iter(|| imaging::transparent_thumbnail_png(black_box(&png)).expect("pipeline"))
    });
    group.finish();

    // The stages, to see where the time goes.
    let mut group = c.benchmark_group("stages");
    group.sample_size(30);
    group.bench_function("decode", |b| {
        b.iter(|| imaging::decode(black_box(&png)).expect("decode"))
    });
    let rgba = imaging::decode(&png).expect("decode").into_rgba8();
    group.bench_function("white_to_alpha", |b| {
        b.iter_batched(
            || rgba.clone(),
            |mut img| imaging::white_to_alpha(&mut img, imaging::WHITE_TOLERANCE),
            criterion::BatchSize::LargeInput,
        )
    });
    let mut alpha = rgba.clone();
    imaging::white_to_alpha(&mut alpha, imaging::WHITE_TOLERANCE);
    group.bench_function("lanczos3_1024_to_256", |b| {
        b.iter(|| imaging::resize(black_box(&alpha), 256, 256))
    });
    let small = imaging::resize(&alpha, 256, 256);
    group.bench_function("encode_png_256", |b| {
        b.iter(|| imaging::encode(black_box(&small), Format::Png, None).expect("encode"))
    });
    group.finish();
}

/// The transform operations, named as in infra/bench/transforms.py (which runs Pillow and pyvips).
/// Operations that take the image by value get a fresh copy outside the timing.
fn transforms(c: &mut Criterion) {
    use imaging::transform::apply;
    let png = input_png();
    let rgba = imaging::decode(&png).expect("decode").into_rgba8();
    let mut group = c.benchmark_group("transforms");
    group.sample_size(30);
    for (name, edge) in [
        ("resize_lanczos3_1024_to_512", 512),
        ("resize_lanczos3_1024_to_256", 256),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| imaging::resize(black_box(&rgba), edge, edge))
        });
    }
    // The cost of a blur stops growing with sigma: 4 (the largest sampled kernel), then three
    // boxes at 10 and 50 (sigma 2, the table's, is among the transforms below).
    for sigma in [4, 10, 50] {
        group.bench_function(format!("blur_sigma_{sigma}"), |b| {
            b.iter_batched(
                || rgba.clone(),
                |mut img| imaging::gaussian_blur_in_place(&mut img, sigma as f32),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    for (name, ops) in imaging::transform::BENCHMARKED {
        group.bench_function(*name, |b| {
            b.iter_batched(
                || rgba.clone(),
                |img| apply(img, ops).expect(name),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.bench_function("encode_png", |b| {
        b.iter(|| imaging::encode(black_box(&rgba), Format::Png, None).expect("png"))
    });
    group.bench_function("encode_webp_q80", |b| {
        b.iter(|| imaging::encode(black_box(&rgba), Format::Webp, Some(80)).expect("webp"))
    });
    let jpeg = imaging::encode(&rgba, Format::Jpeg, Some(80)).expect("jpeg");
    // infra/bench/transforms.py compares its size and PSNR with libjpeg-turbo's (Pillow's).
    std::fs::write(bench_dir().join("rust-q80.jpg"), &jpeg).expect("write jpeg");
    group.bench_function("encode_jpeg_q80", |b| {
        b.iter(|| imaging::encode(black_box(&rgba), Format::Jpeg, Some(80)).expect("jpeg"))
    });
    // The pure-Rust encoder used before (jpeg-encoder with its SIMD), in the same run.
    group.bench_function("encode_jpeg_q80_jpeg_encoder", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            let mut e = jpeg_encoder::Encoder::new(&mut out, 80);
            e.set_sampling_factor(jpeg_encoder::SamplingFactor::F_2_2);
            e.encode(
                black_box(rgba.as_raw()),
                1024,
                1024,
                jpeg_encoder::ColorType::Rgba,
            )
            .expect("jpeg");
            out
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline, transforms);
criterion_main!(benches);
