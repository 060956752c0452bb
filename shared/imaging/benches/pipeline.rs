//! The post-processing pipeline, single-threaded: decode a 1024×1024 PNG → white→alpha →
//! Lanczos3 to 256×256 → encode PNG. `make bench` runs the same pipeline in Pillow and pyvips
//! on the input written here (target/bench/input-1024.png) and prints the ratios.

use criterion::{Criterion, criterion_group, criterion_main};
use imaging::Format;

use imaging::procedural::render;
use std::hint::black_box;
use std::path::PathBuf;

fn input_png() -> Vec<u8> {
    // A subject on a white backdrop, as the transparent-background feature expects.
    let img = render("a red fox curled up in fresh snow", 7, 0, 1024, 1024);
    let png = imaging::encode(&img, Format::Png, None).expect("encode input");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    std::fs::write(dir.join("input-1024.png"), &png).expect("write input");
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

/// The transform operations, named as in bench/transforms.py (which runs Pillow and pyvips).
fn transforms(c: &mut Criterion) {
    use imaging::transform::{Op, apply};
    let png = input_png();
    let rgba = imaging::decode(&png).expect("decode").into_rgba8();
    let mut group = c.benchmark_group("transforms");
    group.sample_size(30);
    group.bench_function("resize_lanczos3_1024_to_512", |b| {
        b.iter(|| imaging::resize(black_box(&rgba), 512, 512))
    });
    // The cost of a blur does not grow with sigma: 2 (the table's), 10 and 50.
    for sigma in [2, 10, 50] {
        group.bench_function(format!("gaussian_blur_sigma_{sigma}"), |b| {
            b.iter(|| imaging::gaussian_blur(black_box(&rgba), sigma as f32))
        });
    }
    let colour = [
        Op::Brightness { factor: 1.1 },
        Op::Contrast { factor: 1.2 },
        Op::Saturation { factor: 0.8 },
    ];
    group.bench_function("colour_adjust", |b| {
        b.iter(|| apply(black_box(rgba.clone()), &colour).expect("colour"))
    });
    group.bench_function("encode_png", |b| {
        b.iter(|| imaging::encode(black_box(&rgba), Format::Png, None).expect("png"))
    });
    group.bench_function("encode_webp_q80", |b| {
        b.iter(|| imaging::encode(black_box(&rgba), Format::Webp, Some(80)).expect("webp"))
    });
    group.bench_function("encode_jpeg_q80", |b| {
        b.iter(|| imaging::encode(black_box(&rgba), Format::Jpeg, Some(80)).expect("jpeg"))
    });
    group.finish();
}

criterion_group!(benches, pipeline, transforms);
criterion_main!(benches);
