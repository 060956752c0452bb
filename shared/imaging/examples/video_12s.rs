//! `make bench`: time and peak memory (run under `/usr/bin/time -v`) of the local video model's
//! largest landscape clip at 720p: 12 s of 1280x720 at 24 fps over a procedural picture.

use imaging::procedural::render;
use imaging::video::{ClipEncoder, FPS};
use std::time::Instant;

fn main() {
    let (w, h, seconds) = (1280, 720, 12);
    let picture = render("a harbour at dusk with boats", 7, 0, w * 5 / 4, h * 5 / 4);
    let started = Instant::now();
    let clip = ClipEncoder::new(&picture, (w, h), seconds, 7)
        .expect("encoder")
        .finish()
        .expect("clip");
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(clip.frames, seconds * FPS);
    println!(
        "video {w}x{h} {seconds} s: {:.2} s to make ({:.0} frames/s), {:.2} MB MP4, poster {} KB, spritesheet {} KB",
        elapsed,
        clip.frames as f64 / elapsed,
        clip.mp4.len() as f64 / 1e6,
        clip.thumbnail.len() / 1000,
        clip.spritesheet.len() / 1000,
    );
}
