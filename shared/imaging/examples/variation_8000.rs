//! Peak memory of the largest variation the API accepts (a 40-megapixel input, 8000×5000),
//! measured by `make bench` with `/usr/bin/time -v`: the path image-variation takes with the
//! local provider — decode the upload (bounded), one seeded variation of the same size, encode
//! PNG and the thumbnail. `--prepare` writes the input first, in a process of its own, so the
//! measured run holds only what the function would.

use imaging::{Format, procedural};
use std::path::PathBuf;

fn main() {
    let (w, h) = (8000, 5000);
    let input =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/input-8000x5000.png");
    if std::env::args().any(|a| a == "--prepare") {
        let img = procedural::render("a harbour at night with a red boat", 1, 0, w, h);
        let png = imaging::encode(&img, Format::Png, None).expect("encode input");
        std::fs::create_dir_all(input.parent().unwrap()).expect("target/bench");
        std::fs::write(&input, png).expect("write input");
        return;
    }
    let png = std::fs::read(&input).expect("run with --prepare first");
    let started = std::time::Instant::now();
    let decoded = imaging::decode_rgba(&png).expect("decode");
    let varied = procedural::variation(&decoded, 7, 0);
    let out = imaging::encode(&varied, Format::Png, None).expect("encode result");
    let thumb = imaging::thumbnail(&varied).expect("thumbnail");
    println!(
        "varied {w}x{h} in {:.2} s: input {} KB, output {} KB, thumbnail {} KB",
        started.elapsed().as_secs_f64(),
        png.len() / 1024,
        out.len() / 1024,
        thumb.len() / 1024
    );
}
