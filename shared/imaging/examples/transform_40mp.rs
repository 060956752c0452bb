//! One operation of the transform benchmark on a 40-megapixel picture (8000×5000), for its peak
//! memory: `infra/bench/transforms.py --memory` runs it once per operation and reads the
//! process's maximum resident set. `decode` alone is the floor every operation starts from. The input is
//! written by `variation_8000 --prepare`.

use imaging::Format;
use imaging::transform::{BENCHMARKED, apply};
use std::path::PathBuf;

fn main() {
    let op = std::env::args()
        .nth(1)
        .expect("usage: transform_40mp <operation>");
    let input =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/input-8000x5000.png");
    let png = std::fs::read(&input).expect("run variation_8000 --prepare first");
    let img = imaging::decode_rgba(&png).expect("decode");
    drop(png);
    let (w, h) = img.dimensions();
    let size = |i: &imaging::RgbaImage| format!("{}x{}", i.width(), i.height());
    let done = match op.as_str() {
        "decode" => size(&img),
        "resize_lanczos3_half" => size(&imaging::resize(&img, w / 2, h / 2)),
        "encode_png" => bytes(imaging::encode(&img, Format::Png, None)),
        "encode_webp_q80" => bytes(imaging::encode(&img, Format::Webp, Some(80))),
        "encode_jpeg_q80" => bytes(imaging::encode(&img, Format::Jpeg, Some(80))),
        name => {
            let (_, ops) = BENCHMARKED
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("no operation {name}"));
            match apply(img, ops) {
                Ok(done) => size(&done.image),
                // Refused by the API's limits before any pixel is touched (exit code 3).
                Err(e) => {
                    println!("{op}: refused: {e}");
                    std::process::exit(3);
                }
            }
        }
    };
    println!("{op}: {done}");
}

fn bytes(encoded: Result<Vec<u8>, imaging::ImagingError>) -> String {
    format!("{} bytes", encoded.expect("encode").len())
}
