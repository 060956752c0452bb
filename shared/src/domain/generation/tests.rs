use super::*;

fn req(v: serde_json::Value) -> CreateImageRequest {
    serde_json::from_value(v).unwrap()
}

fn plan(v: serde_json::Value) -> Result<GenerationPlan, ApiError> {
    req(v).plan("local-procedural", |_| true)
}

fn param(v: serde_json::Value) -> String {
    match plan(v.clone()) {
        Err(ApiError::InvalidRequest { param: Some(p), .. }) => p,
        other => panic!("{v}: expected a 400 with param, got {other:?}"),
    }
}

#[test]
fn a_stream_is_base64_with_up_to_three_partial_images() {
    let p = plan(serde_json::json!({"prompt": "x", "stream": true, "partial_images": 3})).unwrap();
    assert_eq!((p.stream, p.partial_images), (true, 3));
    assert_eq!(p.response_format, ResponseFormat::B64Json);
    let p = plan(serde_json::json!({"prompt": "x", "stream": false})).unwrap();
    assert!(!p.stream);
}

#[test]
fn defaults() {
    let p = plan(serde_json::json!({"prompt": "a red fox"})).unwrap();
    assert_eq!(p.model.id, "local-procedural");
    assert_eq!(
        (p.n, p.size, p.quality),
        (1, Size::new(1024, 1024), "medium")
    );
    assert_eq!(p.response_format, ResponseFormat::Url);
    assert_eq!(p.output_format, OutputFormat::Png);
    assert_eq!(p.background, Background::Opaque);
    assert_eq!(p.cost, 3);
}

#[test]
fn nulls_mean_absent() {
    let p =
        plan(serde_json::json!({"prompt": "x", "n": null, "size": null, "style": null})).unwrap();
    assert_eq!(p.n, 1);
}

/// No model of today's catalog reaches the cap (10 × 1792x1024 is 18 MP); models with larger
/// sizes will, and must be refused before anything is charged.
#[test]
fn the_outputs_of_one_request_are_capped_at_40_megapixels() {
    let big = Size::new(4096, 2048);
    assert!(within_output_cap(big, 4).is_ok(), "33.5 MP");
    match within_output_cap(big, 5) {
        Err(ApiError::InvalidRequest { param, message, .. }) => {
            assert_eq!(param.as_deref(), Some("n"));
            assert!(message.contains("fewer or a smaller size"), "{message}");
        }
        other => panic!("41.9 MP must be refused: {other:?}"),
    }
}

#[test]
fn every_bad_value_names_its_param() {
    use serde_json::json;
    let cases = [
        (json!({"prompt": ""}), "prompt"),
        (json!({"prompt": "   "}), "prompt"),
        (json!({"prompt": "x".repeat(4001)}), "prompt"),
        (json!({"prompt": "x", "n": 0}), "n"),
        (json!({"prompt": "x", "n": 11}), "n"),
        (json!({"prompt": "x", "size": "4000x1000"}), "size"),
        (json!({"prompt": "x", "size": "8x8"}), "size"),
        (json!({"prompt": "x", "size": "big"}), "size"),
        (
            json!({"prompt": "x", "size": "1000x1000", "model": "gpt-image-2"}),
            "size",
        ),
        (
            json!({"prompt": "x", "size": "1536x864", "model": "gpt-image-1.5"}),
            "size",
        ),
        (
            json!({"prompt": "x", "size": "4096x2304", "model": "gpt-image-2"}),
            "size",
        ),
        (json!({"prompt": "x", "quality": "ultra"}), "quality"),
        (json!({"prompt": "x", "quality": "standard"}), "quality"),
        (
            json!({"prompt": "x", "quality": "hd", "model": "gpt-image-1.5"}),
            "quality",
        ),
        (
            json!({"prompt": "x", "quality": "max", "model": "gpt-image-2"}),
            "quality",
        ),
        (json!({"prompt": "x", "style": "vivid"}), "style"),
        (json!({"prompt": "x", "model": "nope-1"}), "model"),
        (json!({"prompt": "x", "model": "dall-e-3"}), "model"),
        (
            json!({"prompt": "x", "response_format": "png"}),
            "response_format",
        ),
        (
            json!({"prompt": "x", "response_format": "url", "model": "gpt-image-1-mini"}),
            "response_format",
        ),
        (
            json!({"prompt": "x", "output_format": "gif", "model": "gpt-image-2"}),
            "output_format",
        ),
        (json!({"prompt": "x", "output_format": "svg", "n": 2}), "n"),
        (
            json!({"prompt": "x", "output_format": "svg", "svg": {"model": "m"}}),
            "svg",
        ),
        (
            json!({"prompt": "x", "output_format": "gif", "frame_count": 17}),
            "frame_count",
        ),
        (
            json!({"prompt": "x", "output_format": "gif", "frame_duration_ms": 0}),
            "frame_duration_ms",
        ),
        (
            json!({"prompt": "x", "output_format": "gif", "output_compression": 50}),
            "output_compression",
        ),
        (
            json!({"prompt": "x", "output_format": "tiff"}),
            "output_format",
        ),
        (json!({"prompt": "x", "frame_count": 4}), "frame_count"),
        (
            json!({"prompt": "x", "frame_duration_ms": 100}),
            "frame_duration_ms",
        ),
        (json!({"prompt": "x", "svg": {"model": "m"}}), "svg"),
        (
            json!({"prompt": "x", "output_format": "jpeg", "output_compression": 101}),
            "output_compression",
        ),
        (
            json!({"prompt": "x", "output_compression": 50}),
            "output_compression",
        ),
        (json!({"prompt": "x", "background": "green"}), "background"),
        (
            json!({"prompt": "x", "background": "transparent", "output_format": "jpeg"}),
            "background",
        ),
        (json!({"prompt": "x", "moderation": "low"}), "moderation"),
        (
            json!({"prompt": "x", "complexity": "extreme"}),
            "complexity",
        ),
        (
            json!({"prompt": "x", "complexity": "low", "model": "gpt-image-1.5"}),
            "complexity",
        ),
        (
            json!({"prompt": "x", "input_fidelity": "high"}),
            "input_fidelity",
        ),
        (
            json!({"prompt": "x", "stream": true, "output_format": "svg"}),
            "stream",
        ),
        (
            json!({"prompt": "x", "stream": true, "response_format": "url"}),
            "response_format",
        ),
        (
            json!({"prompt": "x", "stream": true, "partial_images": 4}),
            "partial_images",
        ),
        (
            json!({"prompt": "x", "partial_images": 2}),
            "partial_images",
        ),
        (
            json!({"prompt": "x", "seed": 1, "model": "gpt-image-1-mini"}),
            "seed",
        ),
        (json!({"prompt": "x", "user": "u".repeat(300)}), "user"),
        (
            json!({"prompt": "x", "safety_identifier": "u".repeat(300)}),
            "safety_identifier",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(param(body.clone()), expected, "{body}");
    }
}

#[test]
fn todays_parameters_are_understood() {
    let p = plan(serde_json::json!({
        "prompt": "x", "quality": "high", "complexity": "low", "size": "640x360",
        "safety_identifier": "hashed-user", "user": "legacy"
    }))
    .unwrap();
    assert_eq!((p.quality, p.complexity), ("high", Some("low")));
    assert_eq!(p.size, Size::new(640, 360), "any WxH within the local rule");
    assert_eq!(
        p.user.as_deref(),
        Some("hashed-user"),
        "safety_identifier wins"
    );
    assert_eq!(
        plan(serde_json::json!({"prompt": "x", "quality": "auto", "size": "auto"}))
            .unwrap()
            .quality,
        "medium"
    );
    let g = plan(serde_json::json!({"prompt": "x", "model": "gpt-image-2.5-flare", "size": "1536x864", "quality": "max"})).unwrap();
    assert_eq!((g.size, g.quality), (Size::new(1536, 864), "max"));
    assert_eq!(
        g.response_format,
        ResponseFormat::B64Json,
        "GPT image models answer base64"
    );
}

#[test]
fn gif_and_svg_are_the_local_renderers() {
    let g = plan(serde_json::json!({"prompt": "x", "output_format": "gif", "frame_count": 4, "frame_duration_ms": 123})).unwrap();
    assert_eq!(
        (g.output_format, g.frames),
        (OutputFormat::Gif, Some((4, 120)))
    );
    let d = plan(serde_json::json!({"prompt": "x", "output_format": "gif"})).unwrap();
    assert_eq!(d.frames, Some((9, 200)), "OpenAI's defaults");
    let v = plan(
        serde_json::json!({"prompt": "x", "output_format": "svg", "background": "transparent"}),
    )
    .unwrap();
    assert_eq!((v.output_format, v.frames), (OutputFormat::Svg, None));
    let edit = req(serde_json::json!({"prompt": "x", "output_format": "svg"})).plan_for(
        Operation::Edit {
            images: 1,
            input: Size::new(64, 64),
        },
        "local-procedural",
        |_| true,
    );
    assert!(
        matches!(edit, Err(ApiError::InvalidRequest { param: Some(p), .. }) if p == "output_format")
    );
}

#[test]
fn retired_models_name_their_replacement() {
    for (id, replacement) in [
        ("dall-e-2", "gpt-image-1-mini"),
        ("dall-e-3", "gpt-image-2.5-flare"),
        ("gpt-image-1", "gpt-image-2.5-sunburst"),
    ] {
        match plan(serde_json::json!({"prompt": "x", "model": id})) {
            Err(ApiError::InvalidRequest { param, message, .. }) => {
                assert_eq!(param.as_deref(), Some("model"));
                assert!(
                    message.contains("retired") && message.contains(replacement),
                    "{message}"
                );
            }
            other => panic!("{id}: {other:?}"),
        }
    }
}

#[test]
fn unavailable_models_are_refused() {
    let r = req(serde_json::json!({"prompt": "x", "model": "gpt-image-2"}))
        .plan("local-procedural", |k| k == catalog::ProviderKind::Local);
    assert!(matches!(r, Err(ApiError::InvalidRequest { param: Some(p), .. }) if p == "model"));
}

#[test]
fn edits_and_variations_follow_model_capabilities() {
    let input = Size::new(300, 200);
    let edit = |v: serde_json::Value, images| {
        req(v).plan_for(
            Operation::Edit { images, input },
            "local-procedural",
            |_| true,
        )
    };
    let p = edit(serde_json::json!({"prompt": "x"}), 2).unwrap();
    assert_eq!(p.size, input, "the offline model keeps the input size");
    let p = edit(
        serde_json::json!({"prompt": "x", "model": "gpt-image-1.5", "input_fidelity": "high"}),
        1,
    )
    .unwrap();
    assert_eq!(
        (p.size, p.input_fidelity),
        (Size::new(1024, 1024), Some("high"))
    );
    for (body, images, param) in [
        (serde_json::json!({"prompt": "x"}), 17, "image"),
        (serde_json::json!({"prompt": ""}), 1, "prompt"),
        (
            serde_json::json!({"prompt": "x", "model": "gpt-image-1.5", "size": "512x512"}),
            1,
            "size",
        ),
        (
            serde_json::json!({"prompt": "x", "model": "gpt-image-1-mini", "input_fidelity": "high"}),
            1,
            "input_fidelity",
        ),
        (
            serde_json::json!({"prompt": "x", "model": "gpt-image-2", "input_fidelity": "low"}),
            1,
            "input_fidelity",
        ),
    ] {
        match edit(body.clone(), images) {
            Err(ApiError::InvalidRequest { param: Some(p), .. }) => {
                assert_eq!(p, param, "{body}")
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    let var = |v: serde_json::Value| {
        req(v).plan_for(Operation::Variation { input }, "local-procedural", |_| true)
    };
    assert!(
        var(serde_json::json!({"prompt": ""})).is_ok(),
        "variations take no prompt"
    );
    assert!(var(serde_json::json!({"prompt": "", "model": "gpt-image-1.5"})).is_err());
}

#[test]
fn cost_is_per_image() {
    let p = plan(serde_json::json!({"prompt": "x", "n": 4, "size": "256x256"})).unwrap();
    assert_eq!(p.cost, 4);
}

#[test]
fn refused_terms_match_whole_words() {
    let terms = vec!["gore".to_string(), "blood bath".to_string()];
    assert_eq!(refused_term("Some GORE here", &terms), Some("gore"));
    assert_eq!(refused_term("a gorgeous sunset", &terms), None);
    assert_eq!(refused_term("a blood  bath", &terms), Some("blood bath"));
    assert_eq!(refused_term("blood orange bath", &terms), None);
    let terms = vec!["x-rated".to_string()];
    assert_eq!(refused_term("an X-Rated scene", &terms), Some("x-rated"));
    assert_eq!(refused_term("x rated, too", &terms), Some("x-rated"));
    assert_eq!(refused_term("rated x", &terms), None);
}
