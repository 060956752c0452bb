//! Peak memory of a 4096×4096 edit, measured by `make bench` with `/usr/bin/time -v`: the path
//! the edit-image function takes — decode the upload (bounded), inpaint the mask's transparent
//! area with the local provider, encode PNG and the thumbnail.

use image::{Rgba, RgbaImage};
use imaging::Format;
use imaging::procedural;

fn main() {
    const EDGE: u32 = 4096;
    let hole = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512u32);
    // Inputs as a client would send them: encoded PNGs.
    let base = procedural::render("a harbour at night with a red boat", 1, 0, EDGE, EDGE);
    let base_png = imaging::encode(&base, Format::Png, None).expect("encode base");
    let lo = (EDGE - hole) / 2;
    let mask = RgbaImage::from_fn(EDGE, EDGE, |x, y| {
        let inside = (lo..lo + hole).contains(&x) && (lo..lo + hole).contains(&y);
        Rgba([0, 0, 0, if inside { 0 } else { 255 }])
    });
    let mask_png = imaging::encode(&mask, Format::Png, None).expect("encode mask");
    drop((base, mask));

    let started = std::time::Instant::now();
    let image = imaging::decode_rgba(&base_png).expect("decode");
    let mask = imaging::decode_rgba(&mask_png).expect("decode");
    let edited = procedural::edit(&[&image], Some(&mask), 0);
    let out = imaging::encode(&edited, Format::Png, None).expect("encode result");
    let thumb = imaging::thumbnail(&edited).expect("thumbnail");
    println!(
        "edited {EDGE}x{EDGE} with a {hole}x{hole} hole in {:.2} s: input {} KB, output {} KB, thumbnail {} KB",
        started.elapsed().as_secs_f64(),
        base_png.len() / 1024,
        out.len() / 1024,
        thumb.len() / 1024
    );
}
