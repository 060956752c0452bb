//! Random prompt ideas: the offline grammar (deterministic with a seed, themed, never
//! repeating), and an OpenAI text model on a local fake when a key is set, with its answer
//! checked and refused terms kept out, and the grammar when the vendor fails.

use e2e_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn prompts(r: &Reply) -> Vec<String> {
    r.body["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_grammar_is_deterministic_themed_never_repeats_and_costs_no_credits() {
    let t = start().await;
    let (_, s) = t.new_user().await;
    let credits = t.credits(&s.access).await;
    let a = t
        .get(
            "/v1/prompts/random?n=10&seed=7&theme=nature",
            Some(&s.access),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.body["source"], "grammar", "honest: not a model");
    assert_eq!(
        (a.body["seed"].as_u64(), a.body["theme"].as_str()),
        (Some(7), Some("nature"))
    );
    let ideas = prompts(&a);
    assert_eq!(ideas.len(), 10);
    let mut unique = ideas.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10, "no repeats within a call");
    let b = t
        .get(
            "/v1/prompts/random?n=10&seed=7&theme=nature",
            Some(&s.access),
        )
        .await;
    assert_eq!(prompts(&b), ideas, "the same seed, the same prompts");
    // Without a seed the answer names the one it drew: asking with it gives them again.
    let c = t.get("/v1/prompts/random?n=3", Some(&s.access)).await;
    let seed = c.body["seed"].as_u64().unwrap();
    let again = t
        .get(
            &format!("/v1/prompts/random?n=3&seed={seed}"),
            Some(&s.access),
        )
        .await;
    assert_eq!(prompts(&again), prompts(&c));
    assert_eq!(t.credits(&s.access).await, credits, "ideas cost no credits");
    let left: i64 = c.headers["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let next = t.get("/v1/prompts/random", Some(&s.access)).await;
    let now: i64 = next.headers["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(now < left, "counted against the rate limit");

    for (query, param) in [
        ("n=0", "n"),
        ("n=11", "n"),
        ("n=three", "n"),
        ("theme=westerns", "theme"),
        ("theme=", "theme"),
        ("theme=Nature", "theme"),
        ("seed=-1", "seed"),
        ("seed=9223372036854775808", "seed"),
        ("count=2", "count"),
    ] {
        let r = t
            .get(&format!("/v1/prompts/random?{query}"), Some(&s.access))
            .await;
        assert_eq!(
            (r.status, r.param()),
            (StatusCode::BAD_REQUEST, Some(param)),
            "{query}: {}",
            r.text
        );
    }
    let anonymous = t.get("/v1/prompts/random", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

/// OpenAI's Responses API answering `text` as the model's output.
fn responses_answer(text: &str) -> Value {
    json!({"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5.4-mini",
           "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]}]})
}

#[tokio::test]
async fn with_a_key_a_text_model_writes_them_checked_and_the_grammar_covers_for_it() {
    let openai = MockServer::start().await;
    let written = json!({"prompts": [
        "A paper boat on a flooded street at dawn, watercolour",
        "A gore-spattered battlefield, oil painting",
        "A greenhouse full of orchids in morning mist, photograph"
    ]})
    .to_string();
    Mock::given(method("POST"))
        .and(path("/responses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(responses_answer(&written)))
        .mount(&openai)
        .await;
    let t = start_with(&[
        ("OpenAiApiKey", "sk-text"),
        ("OpenAiBaseUrl", &openai.uri()),
        ("RefusedTerms", "gore"),
    ])
    .await;
    let (_, s) = t.new_user().await;
    let r = t
        .get("/v1/prompts/random?n=3&theme=city", Some(&s.access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (r.body["source"].as_str(), r.body["model"].as_str()),
        (Some("openai"), Some("gpt-5.4-mini"))
    );
    let ideas = prompts(&r);
    assert_eq!(ideas.len(), 3);
    assert!(ideas.contains(&"A paper boat on a flooded street at dawn, watercolour".to_string()));
    assert!(
        ideas.iter().all(|p| !p.to_lowercase().contains("gore")),
        "refused terms stay out: {ideas:?}"
    );
    let sent = openai.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].headers["authorization"], "Bearer sk-text");
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["model"], "gpt-5.4-mini");
    let format = &body["text"]["format"];
    assert_eq!(
        (format["type"].as_str(), format["strict"].as_bool()),
        (Some("json_schema"), Some(true))
    );
    assert_eq!(format["schema"]["properties"]["prompts"]["minItems"], 3);
    assert!(body["input"].as_str().unwrap().contains("city"));

    // A seed asks for the grammar's determinism: the vendor is not asked.
    let seeded = t
        .get("/v1/prompts/random?n=2&seed=5", Some(&s.access))
        .await;
    assert_eq!(seeded.body["source"], "grammar");
    assert_eq!(openai.received_requests().await.unwrap().len(), 1);

    // A vendor that fails, or answers the wrong count: the grammar answers, never an error.
    for answer in [
        ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "boom"}})),
        ResponseTemplate::new(200).set_body_json(responses_answer(r#"{"prompts": ["only one"]}"#)),
    ] {
        openai.reset().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&openai)
            .await;
        let fallback = t.get("/v1/prompts/random?n=2", Some(&s.access)).await;
        assert_eq!(fallback.status, StatusCode::OK, "{}", fallback.text);
        assert_eq!(fallback.body["source"], "grammar", "{}", fallback.text);
        assert_eq!(prompts(&fallback).len(), 2);
    }
}
