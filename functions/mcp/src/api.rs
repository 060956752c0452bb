//! A tool's REST call, made in-process through the route's own handler with the caller's
//! request context, and its answer as MCP content: previews sized for a conversation, links to
//! the stored assets, and errors an agent can act on.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use lambda_http::{Body, Request, RequestExt};
use rmcp::model::{CallToolResult, ContentBlock, Resource};
use serde_json::{Value, json};
use shared::Deps;
use shared::http::Admitted;
use std::collections::HashMap;

/// The longest side of an image shown in a tool answer: enough to judge it, small enough for a
/// conversation. The stored asset is linked beside it.
pub const PREVIEW_EDGE: u32 = 768;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Models,
    Credit,
    Generate,
    Edit,
    Variation,
    Transform,
    ListImages,
    GetImage,
    Video,
    GetJob,
    CancelJob,
    Prompts,
}

pub struct Call {
    pub route: Route,
    method: http::Method,
    path: &'static str,
    id: Option<String>,
    query: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

impl Call {
    pub fn get(route: Route, path: &'static str) -> Self {
        Self {
            route,
            method: http::Method::GET,
            path,
            id: None,
            query: Vec::new(),
            body: None,
        }
    }

    pub fn json(route: Route, path: &'static str, body: Value) -> Self {
        Self {
            method: http::Method::POST,
            body: Some(("application/json".into(), body.to_string().into_bytes())),
            ..Self::get(route, path)
        }
    }

    pub fn with_id(mut self, id: String) -> Self {
        self.id = Some(id);
        self
    }

    pub fn query(mut self, name: &str, value: String) -> Self {
        self.query.push((name.to_string(), value));
        self
    }

    /// An edit or variation: JSON naming library assets, or a multipart form carrying the
    /// images the agent was given (as the OpenAI SDKs send them).
    pub fn inputs(
        route: Route,
        path: &'static str,
        fields: &[(&str, Option<String>)],
        files: Vec<(&str, &str, Input)>,
    ) -> Result<Self, String> {
        let inline = files
            .iter()
            .filter(|(_, _, i)| matches!(i, Input::Inline(_)))
            .count();
        if inline > 0 && inline < files.len() {
            return Err(
                "images and mask: give library ids or data URLs, not both kinds in one call".into(),
            );
        }
        if inline == 0 {
            let mut body = serde_json::Map::new();
            for (k, v) in fields {
                if let Some(v) = v {
                    let value = match *k {
                        "n" => json!(v.parse::<u8>().unwrap_or(1)),
                        "dry_run" => json!(v == "true"),
                        _ => json!(v),
                    };
                    body.insert(k.to_string(), value);
                }
            }
            let mut images = Vec::new();
            for (_, field, i) in files {
                let Input::Asset(id) = i else { continue };
                match field {
                    "image[]" => images.push(json!({ "file_id": id })),
                    "image" => {
                        body.insert("image".into(), json!({ "file_id": id }));
                    }
                    _ => {
                        body.insert(field.into(), json!({ "file_id": id }));
                    }
                }
            }
            if !images.is_empty() {
                body.insert("images".into(), Value::Array(images));
            }
            return Ok(Self::json(route, path, Value::Object(body)));
        }
        let boundary = shared::domain::new_id("mcp-form");
        let mut out = Vec::new();
        for (k, v) in fields {
            if let Some(v) = v {
                out.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                    )
                    .as_bytes(),
                );
            }
        }
        for (i, (param, field, source)) in files.into_iter().enumerate() {
            let Input::Inline(url) = source else { continue };
            let (mime, bytes) = data_url(&url).map_err(|e| format!("{param}: {e}"))?;
            let ext = mime.rsplit('/').next().unwrap_or("png");
            out.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"input-{i}.{ext}\"\r\nContent-Type: {mime}\r\n\r\n"
                )
                .as_bytes(),
            );
            out.extend_from_slice(&bytes);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        Ok(Self {
            method: http::Method::POST,
            body: Some((format!("multipart/form-data; boundary={boundary}"), out)),
            ..Self::get(route, path)
        })
    }
}

/// `data:<mime>;base64,<bytes>`.
fn data_url(url: &str) -> Result<(String, Vec<u8>), String> {
    let rest = url.trim().strip_prefix("data:").ok_or("not a data URL")?;
    let (meta, data) = rest
        .split_once(',')
        .ok_or("a data URL needs a comma before its data")?;
    let mime = meta
        .strip_suffix(";base64")
        .ok_or("only base64 data URLs are taken (data:image/png;base64,...)")?;
    // It becomes a part's Content-Type: a media type's characters only.
    let plain = mime
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/.+-".contains(&b));
    if !mime.starts_with("image/") || !plain {
        return Err(format!(
            "'{}' is not an image type",
            mime.chars().take(40).collect::<String>()
        ));
    }
    let bytes = B64
        .decode(data.trim())
        .map_err(|e| format!("the data is not valid base64: {e}"))?;
    Ok((mime.to_string(), bytes))
}

/// Where an image argument's bytes are.
pub enum Input {
    Asset(String),
    Inline(String),
}

/// An image argument: a library id, the `library://` link a tool answered with, or a data URL.
pub fn input(raw: &str) -> Input {
    let raw = raw.trim();
    if raw.starts_with("data:") {
        Input::Inline(raw.to_string())
    } else {
        Input::Asset(id_of(raw).unwrap_or(raw).to_string())
    }
}

/// A route's answer, with what it charged (the `x-credits-*` headers).
pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub charged: Option<i64>,
    pub remaining: Option<i64>,
}

/// Makes `call` as the request in `parts` would have: the same credential (admitted once at
/// `/mcp`), address and request id.
pub async fn send(deps: &Deps, parts: &http::request::Parts, call: Call) -> Answer {
    let mut uri = match &call.id {
        Some(id) => call.path.replace(
            "{id}",
            &form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>(),
        ),
        None => call.path.to_string(),
    };
    if !call.query.is_empty() {
        uri.push('?');
        uri.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&call.query)
                .finish(),
        );
    }
    let mut builder = http::Request::builder()
        .method(call.method.clone())
        .uri(uri);
    for name in ["authorization", "host", "user-agent"] {
        if let Some(v) = parts.headers.get(name) {
            builder = builder.header(name, v);
        }
    }
    let body = match call.body {
        Some((content_type, bytes)) => {
            builder = builder.header("content-type", content_type);
            match String::from_utf8(bytes) {
                Ok(text) => Body::Text(text),
                Err(e) => Body::Binary(e.into_bytes()),
            }
        }
        None => Body::Empty,
    };
    let Ok(mut req) = builder.body(body) else {
        return Answer {
            status: 400,
            json: json!({"error": {"message": "the arguments do not make a valid request"}}),
            charged: None,
            remaining: None,
        };
    };
    *req.extensions_mut() = parts.extensions.clone();
    let params: HashMap<String, String> = call
        .id
        .iter()
        .map(|id| ("id".to_string(), id.clone()))
        .collect();
    let query: HashMap<String, String> = call.query.into_iter().collect();
    let req: Request = req
        .with_path_parameters(params)
        .with_query_string_parameters(query);
    let response = match call.route {
        Route::Models => models::handler(&deps.config, req).await,
        Route::Credit => Box::pin(credit::handler(deps, req)).await,
        Route::Generate => Box::pin(generate_image::handler(deps, req)).await,
        Route::Edit => Box::pin(edit_image::handler(deps, req)).await,
        Route::Variation => Box::pin(image_variation::handler(deps, req)).await,
        Route::Transform => Box::pin(transform_image::handler(deps, req)).await,
        Route::ListImages => Box::pin(list_images::handler(deps, req)).await,
        Route::GetImage => Box::pin(get_image::handler(deps, req)).await,
        Route::Video => Box::pin(create_video::handler(deps, req)).await,
        Route::GetJob => Box::pin(get_job::handler(deps, req)).await,
        Route::CancelJob => Box::pin(cancel_job::handler(deps, req)).await,
        Route::Prompts => Box::pin(random_prompts::handler(deps, req)).await,
    };
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    };
    Answer {
        status: response.status().as_u16(),
        json: serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null),
        charged: header("x-credits-charged"),
        remaining: header("x-credits-remaining"),
    }
}

/// An error of the route as a tool error: the message, and the argument to change.
pub fn refusal(answer: &Answer) -> CallToolResult {
    let e = &answer.json["error"];
    let message = e["message"].as_str().unwrap_or("the request failed");
    let mut text = format!("Refused (HTTP {}): {message}", answer.status);
    if let Some(param) = e["param"].as_str() {
        text.push_str(&format!("\nArgument: {param}"));
    }
    if let Some(code) = e["code"].as_str() {
        text.push_str(&format!("\nCode: {code}"));
    }
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// A tool error for arguments that do not fit the tool's schema.
pub fn bad_arguments(tool: &str, why: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "Invalid arguments for {tool}: {why}"
    ))])
}

pub fn uri_of(id: &str) -> String {
    format!("library://{id}")
}

pub fn id_of(uri: &str) -> Option<&str> {
    uri.strip_prefix("library://").filter(|id| !id.is_empty())
}

pub fn mime_of(format: &str) -> String {
    match format {
        "jpg" | "jpeg" => "image/jpeg".into(),
        "svg" => "image/svg+xml".into(),
        "mp4" => "video/mp4".into(),
        other => format!("image/{other}"),
    }
}

/// A link to a stored asset, as its library entry describes it.
pub fn link(info: &Value) -> ContentBlock {
    let id = info["id"].as_str().unwrap_or_default();
    let format = info["format"].as_str().unwrap_or("png");
    let mut r = Resource::new(uri_of(id), id).with_mime_type(mime_of(format));
    if let Some(title) = info["title"].as_str().or(info["prompt"].as_str()) {
        r = r.with_description(title.chars().take(200).collect::<String>());
    }
    if let Some(bytes) = info["bytes"].as_u64() {
        r = r.with_size(bytes);
    }
    ContentBlock::resource_link(r)
}

/// A picture for the conversation: at most `PREVIEW_EDGE` a side, JPEG (PNG when it has
/// transparency). `None` for what does not decode to pixels (an SVG, a video).
pub fn preview(bytes: &[u8]) -> Option<ContentBlock> {
    let img = imaging::decode_rgba(bytes).ok()?;
    let (w, h) = imaging::fit_within(img.width(), img.height(), PREVIEW_EDGE);
    let small = if (w, h) == img.dimensions() {
        img
    } else {
        imaging::resize(&img, w, h)
    };
    let (format, mime) = if imaging::has_transparency(&small) {
        (imaging::Format::Png, "image/png")
    } else {
        (imaging::Format::Jpeg, "image/jpeg")
    };
    let encoded = imaging::encode(&small, format, Some(85)).ok()?;
    Some(ContentBlock::image(B64.encode(encoded), mime))
}

/// The asset's bytes, for a preview or a read: another user's id is not found.
pub async fn asset(deps: &Deps, parts: &http::request::Parts, id: &str) -> Option<Vec<u8>> {
    let who = &parts.extensions.get::<Admitted>()?.0;
    shared::usecases::library::asset_bytes(deps, &who.user_id, id, "id")
        .await
        .ok()
        .map(|(_, bytes)| bytes)
}

/// What an answer made (`data`, all in `format`), each linked and (with `previews`) previewed;
/// `b64_json` is used where the answer carries it, else the stored asset is read. A video is
/// linked only.
pub async fn images(
    deps: &Deps,
    parts: &http::request::Parts,
    data: &[Value],
    format: &str,
    previews: bool,
    out: &mut Vec<ContentBlock>,
) {
    for item in data {
        let Some(id) = item["id"].as_str() else {
            continue;
        };
        let bytes = match item["b64_json"].as_str() {
            _ if !previews => None,
            Some(b64) => B64.decode(b64).ok(),
            None if format == "mp4" => None,
            None => asset(deps, parts, id).await,
        };
        if let Some(p) = bytes.as_deref().and_then(preview) {
            out.push(p);
        }
        out.push(link(&json!({"id": id, "format": format})));
    }
}

/// A JSON answer as text for the agent, without the long presigned URLs and base64 it cannot
/// use (the links and previews stand for them).
pub fn text(value: &Value) -> ContentBlock {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| {
                        !matches!(
                            k.as_str(),
                            "b64_json" | "url" | "thumbnail_url" | "variants" | "partials"
                        )
                    })
                    .map(|(k, v)| (k.clone(), strip(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    ContentBlock::text(serde_json::to_string_pretty(&strip(value)).unwrap_or_default())
}
