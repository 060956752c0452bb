//! `make bench`: what signing Content Credentials costs against making the same output: a
//! 1024² PNG and JPEG (encoding them), an edit of a signed parent (its credentials read and
//! embedded), and a 12 s 720p MP4 (encoding it). Goal: signing under 10 % of the encoding.

use imaging::procedural::render;
use imaging::video::ClipEncoder;
use provenance::{Agent, Claim, Ingredient, Made, Signer, generate_chain};
use std::time::Instant;

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn claim<'a>(parent: Option<Ingredient<'a>>) -> Claim<'a> {
    Claim {
        title: "img_bench.png".into(),
        made: Made::ByModel {
            agent: Agent {
                model: "gpt-image-2".into(),
                vendor: "openai".into(),
            },
            trained: true,
        },
        when: "2026-12-06T00:00:00Z".into(),
        parent,
        components: vec![],
        vendor_output: None,
        disclosed: vec![],
    }
}

fn report(what: &str, bytes: usize, encode_ms: f64, sign_ms: f64) {
    let share = sign_ms / encode_ms * 100.0;
    let verdict = if share < 10.0 { "met" } else { "MISSED" };
    println!(
        "{what:<40} {:>8.1} KB  encode {encode_ms:>8.2} ms  sign {sign_ms:>6.2} ms  {share:>5.1} % of encoding (goal < 10 %: {verdict})",
        bytes as f64 / 1e3
    );
}

fn main() {
    let chain = generate_chain("Bench", false).unwrap();
    let signer = Signer::from_pem(chain.chain_pem.as_bytes(), chain.key_pem.as_bytes()).unwrap();
    let flat = render("a harbour at dusk with boats", 7, 0, 1024, 1024);
    // A vendor's picture is photographic: the same scene with grain, as hard to compress.
    let mut grain = flat.clone();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for p in grain.pixels_mut() {
        for c in &mut p.0[..3] {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *c = c.saturating_add((state % 24) as u8).saturating_sub(12);
        }
    }
    let runs = 15;
    println!("median of {runs} runs, one thread:");
    let png = imaging::Format::Png;
    let jpeg = imaging::Format::Jpeg;
    for (name, picture, format, quality) in [
        ("1024x1024 PNG, flat", &flat, png, None),
        ("1024x1024 PNG, photographic", &grain, png, None),
        ("1024x1024 JPEG q90, flat", &flat, jpeg, Some(90)),
        ("1024x1024 JPEG q90, photographic", &grain, jpeg, Some(90)),
    ] {
        let mime = if format == png {
            "image/png"
        } else {
            "image/jpeg"
        };
        let mut encoded = Vec::new();
        let encode = median_ms(runs, || {
            encoded = imaging::encode(picture, format, quality).unwrap()
        });
        let sign = median_ms(runs, || {
            signer.sign(&encoded, mime, &claim(None)).unwrap();
        });
        report(name, encoded.len(), encode, sign);
        // An edit: the parent's credentials are read, validated and carried along.
        let parent = signer.sign(&encoded, mime, &claim(None)).unwrap();
        let sign = median_ms(runs, || {
            let parent = Ingredient {
                title: "img_parent".into(),
                bytes: &parent,
                mime,
            };
            signer.sign(&encoded, mime, &claim(Some(parent))).unwrap();
        });
        report(
            "  as an edit of a signed parent",
            encoded.len(),
            encode,
            sign,
        );
    }
    let wide = render("a harbour at dusk with boats", 7, 0, 1600, 900);
    let started = Instant::now();
    let clip = ClipEncoder::new(&wide, (1280, 720), 12, 7)
        .unwrap()
        .finish()
        .unwrap();
    let encode = started.elapsed().as_secs_f64() * 1e3;
    let sign = median_ms(5, || {
        signer.sign(&clip.mp4, "video/mp4", &claim(None)).unwrap();
    });
    report(
        "12 s 1280x720 MP4 (median of 5)",
        clip.mp4.len(),
        encode,
        sign,
    );
}
