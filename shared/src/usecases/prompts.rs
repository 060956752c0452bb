//! `GET /v1/prompts/random`: prompt ideas. With a seed, or without an OpenAI key, the offline
//! grammar writes them (deterministic, and answered as `source: "grammar"`). Otherwise an
//! OpenAI text model writes them through the Responses API with a strict JSON schema; what it
//! answers is checked (count, length, no repeats), prompts with a refused term are replaced by
//! the grammar's, and any failure of the vendor falls back to the grammar.

use crate::domain::generation::refused_term;
use crate::domain::prompts;
use crate::usecases::Deps;
use crate::wire::RandomPrompts;
use serde_json::{Value, json};
use std::time::Duration;

/// The longest the vendor is waited for before the grammar answers instead.
const VENDOR_BUDGET: Duration = Duration::from_secs(10);
const MAX_PROMPT_CHARS: usize = 1000;

pub async fn random<S, B>(
    deps: &Deps<S, B>,
    n: u32,
    theme: Option<&'static str>,
    seed: Option<u64>,
) -> RandomPrompts {
    let grammar = |seed: u64| RandomPrompts {
        prompts: prompts::generate(n, theme, seed),
        theme: theme.map(str::to_string),
        seed: Some(seed),
        source: "grammar".into(),
        model: None,
    };
    let Some(key) = deps
        .config
        .vendors
        .openai_api_key
        .as_ref()
        .filter(|_| seed.is_none())
    else {
        return grammar(seed.unwrap_or_else(new_seed));
    };
    let model = deps.config.vendors.prompt_model.clone();
    let written = match key.text().await {
        Ok(key) => ask(&deps.config.vendors.openai_base_url, key, &model, n, theme).await,
        Err(e) => Err(format!("the OpenAI key could not be read: {e}")),
    };
    let mut from_vendor = match written {
        Ok(p) => p,
        Err(why) => {
            tracing::warn!(error = %why, "prompt ideas from the grammar instead of OpenAI");
            return grammar(new_seed());
        }
    };
    // Refused terms are kept out of ideas as out of prompts: the grammar fills their places.
    let terms = &deps.config.limits.refused_terms;
    from_vendor.retain(|p| refused_term(p, terms).is_none());
    let missing = n as usize - from_vendor.len();
    if missing > 0 {
        // More candidates than places: some may be refused, or repeat the vendor's.
        let extra = prompts::generate(prompts::MAX_PROMPTS * 3, theme, new_seed());
        let extra: Vec<String> = extra
            .into_iter()
            .filter(|p| refused_term(p, terms).is_none() && !from_vendor.contains(p))
            .take(missing)
            .collect();
        from_vendor.extend(extra);
    }
    RandomPrompts {
        prompts: from_vendor,
        theme: theme.map(str::to_string),
        seed: None,
        source: "openai".into(),
        model: Some(model),
    }
}

/// The answer's JSON, refused past a megabyte (ten prompts are a few kilobytes).
async fn capped(mut resp: reqwest::Response) -> Result<Value, String> {
    const MAX: usize = 1 << 20;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX {
            return Err("the answer is larger than a megabyte".into());
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| e.to_string())
}

/// A seed a client can send back (the document's integers end at 2^63 - 1).
fn new_seed() -> u64 {
    rand::random::<u64>() >> 1
}

/// The Responses API call, and what it answered, checked.
async fn ask(
    base_url: &str,
    key: &str,
    model: &str,
    n: u32,
    theme: Option<&str>,
) -> Result<Vec<String>, String> {
    let about = theme.map_or(String::new(), |t| format!(" on the theme \"{t}\""));
    let body = json!({
        "model": model,
        "instructions": "You write prompts for an image generation model: one vivid sentence each, \
            naming a subject, a setting, a style and the light. Nothing unsafe, no real people.",
        "input": format!("Write {n} different image prompts{about}."),
        // Room for a reasoning model's own tokens besides the prompts.
        "max_output_tokens": 2000 + 200 * n,
        "text": {"format": {
            "type": "json_schema",
            "name": "image_prompts",
            "strict": true,
            "schema": {
                "type": "object",
                "properties": {"prompts": {
                    "type": "array", "items": {"type": "string"},
                    "minItems": n, "maxItems": n
                }},
                "required": ["prompts"],
                "additionalProperties": false
            }
        }}
    });
    let resp = reqwest::Client::new()
        .post(format!("{}/responses", base_url.trim_end_matches('/')))
        .bearer_auth(key)
        .timeout(VENDOR_BUDGET)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let answer = capped(resp).await?;
    if !status.is_success() {
        return Err(format!("OpenAI answered {status}"));
    }
    let text = answer["output"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["type"] == "message")
        .flat_map(|o| o["content"].as_array().cloned().unwrap_or_default())
        .find_map(|c| match c["type"].as_str() {
            Some("output_text") => c["text"].as_str().map(str::to_string),
            _ => None,
        })
        .ok_or("no output_text (a refusal, or an incomplete answer)")?;
    let parsed: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut out: Vec<String> = Vec::new();
    for p in parsed["prompts"].as_array().ok_or("no prompts array")? {
        let p = p.as_str().ok_or("a prompt is not text")?.trim().to_string();
        if p.is_empty() || p.chars().count() > MAX_PROMPT_CHARS || out.contains(&p) {
            return Err("an empty, overlong or repeated prompt".into());
        }
        out.push(p);
    }
    if out.len() != n as usize {
        return Err(format!("{} prompts for {n}", out.len()));
    }
    Ok(out)
}
