//! AVIF encoding of the 1024² bench input on one thread, as infra/bench/avif.py times avifenc
//! (libaom) and libvips beside it: `avif_time <speed> <quality> <iterations> [out.avif]` prints
//! the median milliseconds and the file's bytes. `avif_time --thumbnails` prints the bytes of
//! the 256-px thumbnail in PNG, WebP (q80, what the API stores) and AVIF (the variant).

use imaging::Format;
use imaging::avif::encode_avif;
use imaging::variants::{AVIF_QUALITY, AVIF_SPEED};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let input = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/input-1024.png");
    let png = std::fs::read(&input).expect("run the criterion bench first: it writes the input");
    let img = imaging::decode_rgba(&png).expect("decode");
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--thumbnails") {
        let (w, h) = imaging::fit_within(img.width(), img.height(), imaging::THUMBNAIL_EDGE);
        let small = imaging::resize(&img, w, h);
        let png = imaging::encode(&small, Format::Png, None).unwrap().len();
        let webp = imaging::thumbnail(&img).unwrap().len();
        let avif = encode_avif(&small, AVIF_QUALITY, AVIF_SPEED).unwrap().len();
        println!("{w}x{h} png {png} webp {webp} avif {avif}");
        return;
    }
    let speed: u8 = args[0].parse().expect("speed 1-10");
    let quality: u8 = args[1].parse().expect("quality 1-100");
    let iterations: usize = args[2].parse().expect("iterations");
    let mut bytes = Vec::new();
    let mut times: Vec<f64> = (0..iterations + 1)
        .map(|_| {
            let t = Instant::now();
            bytes = encode_avif(&img, quality, speed).expect("avif");
            t.elapsed().as_secs_f64()
        })
        .skip(1)
        .collect();
    times.sort_by(f64::total_cmp);
    if let Some(out) = args.get(3) {
        std::fs::write(out, &bytes).expect("write");
    }
    println!("{:.2} {}", times[iterations / 2] * 1e3, bytes.len());
}
