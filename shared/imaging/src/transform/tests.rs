use super::*;
use serde_json::{Value, json};

fn param(body: Value) -> String {
    match Transform::parse(&body) {
        Err(Invalid { param, .. }) => param,
        other => panic!("{body}: {other:?}"),
    }
}

#[test]
fn bad_operations_name_their_field() {
    assert_eq!(
        param(json!({"operations": [{"op": "explode"}]})),
        "operations[0].op"
    );
    assert_eq!(
        param(json!({"operations": [{"op": "flip"}, {"op": "blur", "sigma": 500}]})),
        "operations[1].sigma"
    );
    assert_eq!(
        param(json!({"operations": [{"op": "resize"}]})),
        "operations[0].width"
    );
    assert_eq!(
        param(json!({"operations": [{"op": "resize", "width": 0}]})),
        "operations[0].width"
    );
    assert_eq!(
        param(json!({"operations": [{"op": "resize", "width": 10, "fit": "squash"}]})),
        "operations[0].fit"
    );
    assert_eq!(
        param(json!({"operations": [{"op": "crop", "width": 10}]})),
        "operations[0].height"
    );
    assert_eq!(
        param(json!({"operations": [{"op": "rotate", "degrees": 45, "background": "red"}]})),
        "operations[0].background"
    );
    assert_eq!(
        param(json!({"operations": [{"op": "gamma", "value": 1, "extra": 1}]})),
        "operations[0].extra"
    );
    assert_eq!(param(json!({"operations": []})), "operations");
    assert_eq!(
        param(json!({"operations": [{"op": "flip"}], "quality": 0})),
        "quality"
    );
    assert_eq!(
        param(json!({"operations": [{"op": "flip"}], "output_format": "gif"})),
        "output_format"
    );
    assert_eq!(param(json!({"ops": []})), "ops");
}

#[test]
fn resize_fits() {
    assert_eq!(
        resize_dims((400, 200), Some(100), Some(100), Fit::Contain, false),
        ((100, 50), (100, 50))
    );
    assert_eq!(
        resize_dims((400, 200), Some(100), Some(100), Fit::Cover, false),
        ((200, 100), (100, 100))
    );
    assert_eq!(
        resize_dims((400, 200), Some(100), Some(100), Fit::Fill, false),
        ((100, 100), (100, 100))
    );
    assert_eq!(
        resize_dims((400, 200), Some(800), None, Fit::Contain, false),
        ((400, 200), (400, 200)),
        "no upscale"
    );
    assert_eq!(
        resize_dims((400, 200), Some(800), None, Fit::Contain, true),
        ((800, 400), (800, 400))
    );
    assert_eq!(
        resize_dims((400, 200), None, Some(50), Fit::Contain, false),
        ((100, 50), (100, 50))
    );
}

#[test]
fn chains_give_exact_dimensions() {
    let img = RgbaImage::from_pixel(300, 200, Rgba([200, 100, 50, 255]));
    let t = Transform::parse(&json!({"operations": [
        {"op": "resize", "width": 150, "height": 150, "fit": "cover"},
        {"op": "crop", "x": 10, "y": 20, "width": 100, "height": 80},
        {"op": "rotate", "degrees": 90},
        {"op": "grayscale"}, {"op": "blur", "sigma": 1.5}, {"op": "sharpen"},
        {"op": "brightness", "factor": 1.1}, {"op": "contrast", "factor": 1.2},
        {"op": "saturation", "factor": 0.5}, {"op": "hue", "degrees": 30}, {"op": "gamma", "value": 2.2},
        {"op": "flip"}, {"op": "flop"}
    ]}))
    .unwrap();
    let out = apply(img, &t.ops).unwrap().image;
    assert_eq!(out.dimensions(), (80, 100));
    let p = out.get_pixel(40, 50).0;
    assert!(
        p[0] == p[1] && p[1] == p[2],
        "grayscale stays gray through hue: {p:?}"
    );
}

#[test]
fn arbitrary_rotation_grows_the_canvas_with_the_background() {
    let img = RgbaImage::from_pixel(100, 50, Rgba([0, 0, 255, 255]));
    let out = rotate(&img, 45.0, Rgba([255, 0, 0, 255]));
    assert_eq!(out.dimensions(), (107, 107));
    assert_eq!(out.get_pixel(0, 0).0, [255, 0, 0, 255]);
    assert_eq!(out.get_pixel(53, 53).0, [0, 0, 255, 255]);
}

#[test]
fn arbitrary_rotation_samples_where_the_inverse_mapping_says() {
    // A gradient rotated by 17 degrees: every pixel inside the rotated picture is the bilinear
    // sample of the source at its exact (floating-point) inverse position, within rounding.
    let img = RgbaImage::from_fn(120, 80, |x, y| {
        Rgba([(x * 2) as u8, (y * 3) as u8, ((x + y) % 256) as u8, 255])
    });
    let out = rotate(&img, 17.0, Rgba([255, 255, 255, 255]));
    let (w, h) = (120.0f32, 80.0f32);
    let (sin, cos) = 17f32.to_radians().sin_cos();
    let (ncx, ncy) = (out.width() as f32 / 2.0, out.height() as f32 / 2.0);
    let mut checked = 0;
    for (x, y, p) in out.enumerate_pixels() {
        let (dx, dy) = (x as f32 + 0.5 - ncx, y as f32 + 0.5 - ncy);
        let sx = cos * dx + sin * dy + w / 2.0 - 0.5;
        let sy = -sin * dx + cos * dy + h / 2.0 - 0.5;
        if sx < 1.0 || sy < 1.0 || sx > w - 2.0 || sy > h - 2.0 {
            continue;
        }
        let want = image::imageops::sample_bilinear(&img, (sx + 0.5) / w, (sy + 0.5) / h).unwrap();
        for c in 0..4 {
            assert!(
                (p.0[c] as i32 - want.0[c] as i32).abs() <= 1,
                "({x}, {y}) channel {c}: {:?} vs {:?}",
                p.0,
                want.0
            );
        }
        checked += 1;
    }
    assert!(checked > 5000, "{checked} pixels checked");
    assert_eq!(
        out.get_pixel(0, 0).0,
        [255, 255, 255, 255],
        "the corner is background"
    );
}

#[test]
fn oversized_intermediates_are_refused_before_allocating() {
    let img = RgbaImage::from_pixel(10, 10, Rgba([0, 0, 0, 255]));
    let ops = [
        Op::Resize {
            width: Some(1),
            height: Some(8192),
            fit: Fit::Fill,
            upscale: true,
        },
        Op::Resize {
            width: Some(8192),
            height: None,
            fit: Fit::Contain,
            upscale: true,
        },
    ];
    let e = apply(img.clone(), &ops).unwrap_err();
    assert!(e.param.starts_with("operations["), "{e:?}");
    let big = [
        Op::Resize {
            width: Some(8192),
            height: Some(8192),
            fit: Fit::Fill,
            upscale: true,
        },
        Op::Rotate {
            degrees: 45.0,
            background: Rgba([0, 0, 0, 0]),
        },
    ];
    let e = apply(img, &big).unwrap_err();
    assert_eq!(e.param, "operations[0]");
}

#[test]
fn crop_outside_the_image_is_refused() {
    let img = RgbaImage::from_pixel(10, 10, Rgba([0, 0, 0, 255]));
    let e = apply(
        img,
        &[Op::Crop {
            x: 5,
            y: 5,
            width: 10,
            height: 2,
        }],
    )
    .unwrap_err();
    assert_eq!(e.param, "operations[0]");
}

#[test]
fn a_run_of_tone_curves_gives_what_each_curve_in_turn_gives() {
    let img = RgbaImage::from_fn(64, 4, |x, y| {
        Rgba([
            (x * 4) as u8,
            255 - (x * 4) as u8,
            (x * y * 3) as u8,
            100 + y as u8,
        ])
    });
    let run = [
        Op::Brightness { factor: 1.3 },
        Op::Gamma { value: 0.7 },
        Op::Contrast { factor: 1.6 },
        Op::Saturation { factor: 0.5 },
        Op::Contrast { factor: 0.8 },
    ];
    let one_by_one = run.iter().fold(img.clone(), |im, op| {
        apply(im, std::slice::from_ref(op)).unwrap().image
    });
    let fused = apply(img.clone(), &run).unwrap().image;
    assert_eq!(fused, one_by_one);
    assert_ne!(fused, img);
    // Alpha is not a colour: the curves leave it alone.
    assert!(
        fused
            .pixels()
            .zip(img.pixels())
            .all(|(a, b)| a.0[3] == b.0[3])
    );
    // Each curve on its own: brightness 2 doubles, up to white.
    let b = apply(img.clone(), &[Op::Brightness { factor: 2.0 }])
        .unwrap()
        .image;
    assert_eq!(b.get_pixel(10, 0).0[0], 80);
    assert_eq!(b.get_pixel(40, 0).0[0], 255);
}

fn run(img: &RgbaImage, op: Op) -> RgbaImage {
    apply(img.clone(), &[op]).unwrap().image
}

/// Every pixel different: (x, y) is encoded in red and green.
fn coordinates(w: u32, h: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| Rgba([x as u8 * 10, y as u8 * 10, 77, 255]))
}

#[test]
fn right_angle_rotations_are_exact_and_clockwise_and_flip_is_top_to_bottom() {
    let (w, h) = (5, 3);
    let img = coordinates(w, h);
    let rotate = |degrees| Op::Rotate {
        degrees,
        background: Rgba([0, 0, 0, 0]),
    };
    let quarter = run(&img, rotate(90.0));
    assert_eq!(quarter.dimensions(), (h, w));
    for (x, y, p) in img.enumerate_pixels() {
        // Clockwise: the top row becomes the right column.
        assert_eq!(quarter.get_pixel(h - 1 - y, x), p, "90° of ({x}, {y})");
    }
    assert_eq!(run(&img, rotate(-90.0)), run(&img, rotate(270.0)));
    let half = run(&img, rotate(180.0));
    let flipped = run(&img, Op::Flip);
    let flopped = run(&img, Op::Flop);
    for (x, y, p) in img.enumerate_pixels() {
        assert_eq!(half.get_pixel(w - 1 - x, h - 1 - y), p);
        assert_eq!(
            flipped.get_pixel(x, h - 1 - y),
            p,
            "flip mirrors top to bottom"
        );
        assert_eq!(
            flopped.get_pixel(w - 1 - x, y),
            p,
            "flop mirrors left to right"
        );
    }
    let four = apply(
        img.clone(),
        &[rotate(90.0), rotate(90.0), rotate(90.0), rotate(90.0)],
    );
    assert_eq!(
        four.unwrap().image,
        img,
        "four quarter turns are the identity"
    );

    // Any other angle turns the same way: a mark at the top moves right.
    let mut marked = RgbaImage::from_pixel(41, 41, Rgba([255, 255, 255, 255]));
    for y in 2..6 {
        for x in 18..23 {
            marked.put_pixel(x, y, Rgba([0, 0, 0, 255]));
        }
    }
    let turned = run(&marked, rotate(30.0));
    let dark: Vec<(u32, u32)> = turned
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0[3] == 255 && p.0[0] < 128)
        .map(|(x, y, _)| (x, y))
        .collect();
    let mean_x = dark.iter().map(|(x, _)| *x as f32).sum::<f32>() / dark.len() as f32;
    assert!(
        mean_x > turned.width() as f32 / 2.0 + 5.0,
        "the mark moved right: {mean_x} in {}",
        turned.width()
    );
}

#[test]
fn colour_operations_change_the_pixels_as_named() {
    let px = |img: &RgbaImage| img.get_pixel(0, 0).0;
    let one = |rgb: [u8; 3]| RgbaImage::from_pixel(1, 1, Rgba([rgb[0], rgb[1], rgb[2], 255]));

    // Hue turns red towards green at 120° and to cyan at 180°, keeping alpha.
    let red = one([220, 20, 20]);
    let [r, g, b, a] = px(&run(&red, Op::Hue { degrees: 120.0 }));
    assert!(g > r + 100 && g > b + 100 && a == 255, "{r} {g} {b}");
    let [r, g, b, _] = px(&run(&red, Op::Hue { degrees: 180.0 }));
    assert!(g > r + 60 && b > r + 60, "{r} {g} {b}");

    // Saturation 0 is grey at the colour's luma; 2 moves each channel away from it.
    let muted = one([150, 100, 90]);
    let [r, g, b, _] = px(&run(&muted, Op::Saturation { factor: 0.0 }));
    assert!(r == g && g == b && (105..=115).contains(&r), "{r} {g} {b}");
    let [r, g, b, _] = px(&run(&muted, Op::Saturation { factor: 2.0 }));
    assert!(r > 150 && g < 100 && b < 90, "{r} {g} {b}");

    // Contrast pushes away from mid-grey (or towards it below 1); 128 stays.
    let greys = RgbaImage::from_fn(3, 1, |x, _| {
        let v = [64, 128, 192][x as usize];
        Rgba([v, v, v, 255])
    });
    let more = run(&greys, Op::Contrast { factor: 2.0 });
    assert_eq!([0, 1, 2].map(|x| more.get_pixel(x, 0).0[0]), [0, 128, 255]);
    let less = run(&greys, Op::Contrast { factor: 0.5 });
    assert_eq!([0, 1, 2].map(|x| less.get_pixel(x, 0).0[0]), [96, 128, 160]);
    let bright = run(&greys, Op::Brightness { factor: 1.5 });
    assert_eq!(
        [0, 1, 2].map(|x| bright.get_pixel(x, 0).0[0]),
        [96, 192, 255]
    );
    let gamma = run(&greys, Op::Gamma { value: 2.0 });
    assert_eq!(gamma.get_pixel(1, 0).0[0], 181, "255·(128/255)^(1/2)");

    // Sharpen overshoots on both sides of an edge and leaves flat areas alone; a threshold
    // above the edge's contrast leaves it alone too.
    let step = RgbaImage::from_fn(40, 8, |x, _| {
        let v = if x < 20 { 100 } else { 150 };
        Rgba([v, v, v, 255])
    });
    let sharp = run(
        &step,
        Op::Sharpen {
            sigma: 1.5,
            threshold: 0,
        },
    );
    let at = |x| sharp.get_pixel(x, 4).0[0];
    assert!(at(19) < 100 && at(20) > 150, "{} {}", at(19), at(20));
    assert_eq!((at(2), at(37)), (100, 150));
    let gentle = Op::Sharpen {
        sigma: 1.5,
        threshold: 60,
    };
    assert_eq!(run(&step, gentle), step);

    // remove_background clears the white around an object and keeps the object opaque.
    let mut object = RgbaImage::from_pixel(20, 20, Rgba([255, 255, 255, 255]));
    for y in 6..14 {
        for x in 6..14 {
            object.put_pixel(x, y, Rgba([200, 40, 40, 255]));
        }
    }
    let cut = run(&object, Op::RemoveBackground { tolerance: 24 });
    assert_eq!(cut.get_pixel(0, 0).0[3], 0);
    assert_eq!(cut.get_pixel(19, 10).0[3], 0);
    assert_eq!(cut.get_pixel(10, 10).0, [200, 40, 40, 255]);
}

fn unsharp(img: &RgbaImage, sigma: f32, threshold: i32) -> RgbaImage {
    run(img, Op::Sharpen { sigma, threshold })
}

#[test]
fn sharpening_steepens_edges_keeps_flat_areas_and_alpha() {
    let img = RgbaImage::from_fn(40, 10, |x, _| {
        let v = if x < 20 { 60 } else { 200 };
        Rgba([v, v, v, 255])
    });
    // The sampled kernel (in place, a row at a time) and three boxes (a blurred copy).
    for sigma in [1.0, 5.0] {
        let out = unsharp(&img, sigma, 0);
        // Away from the edge nothing changes; beside it, the dark side darkens and the light
        // side lightens (an overshoot).
        assert_eq!(out.get_pixel(1, 5).0, [60, 60, 60, 255]);
        assert_eq!(out.get_pixel(38, 5).0, [200, 200, 200, 255]);
        let (dark, light) = (out.get_pixel(19, 5).0, out.get_pixel(20, 5).0);
        assert!(
            dark[0] < 60 && light[0] > 200,
            "sigma {sigma}: {dark:?} {light:?}"
        );
        // With a threshold above the differences, nothing changes.
        assert_eq!(unsharp(&img, sigma, 255), img);
        // Alpha is the picture's own.
        let translucent = RgbaImage::from_fn(40, 10, |x, _| Rgba([90, 90, 90, (x * 6) as u8]));
        let out = unsharp(&translucent, sigma, 0);
        assert!(
            out.pixels()
                .zip(translucent.pixels())
                .all(|(a, b)| a.0[3] == b.0[3])
        );
    }
}
