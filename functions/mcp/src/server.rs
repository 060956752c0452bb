//! The MCP server: tools (only those the credential's scopes allow are listed), the library as
//! resources, and prompt ideas as a prompt.

use crate::SharedDeps;
use crate::api::{self, Answer, Call, Route};
use crate::tools::{self, TOOLS};
use base64::Engine;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;
use shared::domain::accounts::{Principal, Scope};
use shared::http::Admitted;

/// Over this, a resource is read as a preview: Lambda answers at most 6 MB, in base64.
const MAX_READ_BYTES: usize = 4_000_000;
const IDEAS: &str = "image_ideas";

#[derive(Clone)]
pub struct ImageMcp {
    deps: SharedDeps,
    /// When the request came: previews are made only while the answer is not yet due.
    started: std::time::Instant,
}

impl ImageMcp {
    pub fn new(deps: SharedDeps, started: std::time::Instant) -> Self {
        Self { deps, started }
    }

    /// Whether there is still time for previews: the route took its own share (it answers by
    /// `SYNC_ANSWER_SECONDS`); past that, what was made is answered with links only, so the
    /// call never times out after it was charged.
    fn time_for_previews(&self) -> bool {
        self.started.elapsed() < self.deps.config.vendors.sync_answer_within
    }
}

fn parts(cx: &RequestContext<RoleServer>) -> Result<&http::request::Parts, ErrorData> {
    cx.extensions
        .get::<http::request::Parts>()
        .ok_or_else(|| ErrorData::internal_error("the HTTP request is missing", None))
}

/// Whether the client speaks a revision whose lists say how they may be cached (2026-07-28):
/// ours depend on the credential, so they are private and never fresh for long.
fn cache_hints(cx: &RequestContext<RoleServer>) -> bool {
    cx.protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

fn principal(parts: &http::request::Parts) -> Option<&Principal> {
    parts.extensions.get::<Admitted>().map(|a| &a.0)
}

fn may(parts: &http::request::Parts, scope: Option<Scope>) -> bool {
    scope.is_none_or(|s| principal(parts).is_some_and(|p| p.require(s).is_ok()))
}

impl ImageMcp {
    /// A tool's answer as content: previews and links for what it made or found.
    async fn content(
        &self,
        parts: &http::request::Parts,
        route: Route,
        answer: Answer,
    ) -> CallToolResult {
        if answer.status >= 400 {
            return api::refusal(&answer);
        }
        let j = &answer.json;
        let mut out = Vec::new();
        match route {
            _ if answer.status == 202 || j["object"] == "job" || j["object"] == "video" => {
                let id = j["id"].as_str().unwrap_or_default();
                let status = j["status"].as_str().unwrap_or("queued");
                let progress = j["progress"].as_u64().unwrap_or(0);
                let next = match status {
                    "succeeded" | "completed" => "Its result follows.".to_string(),
                    "failed" | "canceled" => format!(
                        "{} What it was charged has been refunded.",
                        j["error"]["message"].as_str().unwrap_or("")
                    ),
                    _ if may(parts, Some(Scope::Jobs)) => format!(
                        "{progress}% done. Call get_job with id \"{id}\" to follow it; its credits are held, and refunded if it fails."
                    ),
                    _ => format!(
                        "{progress}% done. This key may not follow jobs (it lacks the 'jobs' scope): what it makes will be in the library; its credits are held, and refunded if it fails."
                    ),
                };
                out.push(ContentBlock::text(format!("Job {id} is {status}. {next}")));
                out.push(api::text(j));
                if status == "succeeded" || status == "completed" {
                    self.made(parts, &j["result"], &mut out).await;
                }
            }
            Route::Generate | Route::Edit | Route::Variation if j["object"] != "quote" => {
                let data = j["data"].as_array().cloned().unwrap_or_default();
                let charged = answer.charged.unwrap_or(0);
                let left = answer
                    .remaining
                    .map(|r| format!(", {r} left"))
                    .unwrap_or_default();
                out.push(ContentBlock::text(format!(
                    "Made {} image(s) with {} via {}; {charged} credits charged{left}. Stored in the library: {}.",
                    data.len(),
                    j["model"].as_str().unwrap_or("?"),
                    j["provider"].as_str().unwrap_or("?"),
                    data.iter()
                        .filter_map(|d| d["id"].as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
                self.made(parts, j, &mut out).await;
            }
            // A transform answers the new asset itself (and what it skipped).
            Route::Transform | Route::GetImage => {
                out.push(api::text(j));
                self.stored(parts, j, &mut out).await;
            }
            Route::ListImages => {
                out.push(api::text(j));
                for item in j["data"].as_array().into_iter().flatten() {
                    out.push(api::link(item));
                }
            }
            _ => out.push(api::text(j)),
        }
        CallToolResult::success(out)
    }

    /// A stored asset: its preview (images) and its link.
    async fn stored(
        &self,
        parts: &http::request::Parts,
        info: &Value,
        out: &mut Vec<ContentBlock>,
    ) {
        if let Some(id) = info["id"].as_str()
            && info["kind"] != "video"
            && let Some(bytes) = api::asset(&self.deps, parts, id).await
            && let Some(p) = api::preview(&bytes)
        {
            out.push(p);
        }
        out.push(api::link(info));
    }

    /// What an ImagesResponse made (a synchronous answer, or a finished job's result: images,
    /// or a video), linked and previewed.
    async fn made(
        &self,
        parts: &http::request::Parts,
        response: &Value,
        out: &mut Vec<ContentBlock>,
    ) {
        let data = response["data"].as_array().cloned().unwrap_or_default();
        let format = response["output_format"].as_str().unwrap_or("png");
        let previews = self.time_for_previews();
        api::images(&self.deps, parts, &data, format, previews, out).await;
    }
}

impl ServerHandler for ImageMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("image-api", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Makes, edits and finds images and videos in the user's library, paid with their credits. \
             list_models says what each model costs; every paid tool takes dry_run: true for a quote. \
             Results come back as previews with library:// links; read a link for the full file. \
             Long work answers with a job: follow it with get_job.",
        )
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let parts = parts(&cx)?;
        let tools = TOOLS
            .iter()
            .filter(|t| may(parts, t.scope))
            .map(|t| t.tool())
            .collect();
        // The list depends on the credential's scopes: no shared cache may keep it.
        let mut result = ListToolsResult::with_all_items(tools);
        if cache_hints(&cx) {
            result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Private);
        }
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::find(name).map(|t| t.tool())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let parts = parts(&cx)?;
        let Some(spec) = tools::find(&request.name) else {
            return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "There is no tool '{}'; tools/list names them.",
                request.name
            ))])
            .into());
        };
        let call = match (spec.call)(request.arguments.unwrap_or_default()) {
            Ok(call) => call,
            Err(why) => return Ok(api::bad_arguments(spec.name, &why).into()),
        };
        let route = call.route;
        let answer = api::send(&self.deps, parts, call).await;
        tracing::info!(tool = spec.name, status = answer.status, "mcp tool called");
        Ok(self.content(parts, route, answer).await.into())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        cx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let parts = parts(&cx)?;
        let mut call = Call::get(Route::ListImages, "/v1/images").query("limit", "50".into());
        if let Some(cursor) = request.and_then(|r| r.cursor) {
            call = call.query("cursor", cursor);
        }
        let answer = api::send(&self.deps, parts, call).await;
        if answer.status >= 400 {
            return Err(protocol_error(&answer));
        }
        let items = answer.json["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| match api::link(item) {
                ContentBlock::ResourceLink(r) => Some(r),
                _ => None,
            })
            .collect();
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = answer.json["next_cursor"].as_str().map(Into::into);
        if cache_hints(&cx) {
            result = result.with_ttl_ms(0).with_cache_scope(CacheScope::Private);
        }
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let parts = parts(&cx)?;
        let not_found = || {
            ErrorData::resource_not_found(
                format!("no asset at '{}'", request.uri),
                Some(serde_json::json!({ "uri": request.uri })),
            )
        };
        let id = api::id_of(&request.uri).ok_or_else(not_found)?;
        // The library:read scope, as GET /v1/images/{id} asks; another user's id is not found.
        let who = principal(parts).ok_or_else(not_found)?;
        who.require(Scope::LibraryRead)
            .map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        let (record, bytes) =
            shared::usecases::library::asset_bytes(&self.deps, &who.user_id, id, "uri")
                .await
                .map_err(|e| match e {
                    shared::ApiError::Internal(_) => {
                        ErrorData::internal_error("the asset could not be read", None)
                    }
                    _ => not_found(),
                })?;
        let mime = api::mime_of(record.format.as_str());
        let b64 = base64::engine::general_purpose::STANDARD;
        let contents = if bytes.len() <= MAX_READ_BYTES {
            vec![
                ResourceContents::blob(b64.encode(&bytes), request.uri.clone())
                    .with_mime_type(mime),
            ]
        } else {
            // Too large for one Lambda answer: a preview, and where the whole file is.
            let mut v = Vec::new();
            if let Some(ContentBlock::Image(img)) = api::preview(&bytes) {
                v.push(
                    ResourceContents::blob(img.data.clone(), request.uri.clone())
                        .with_mime_type(img.mime_type.clone()),
                );
            }
            v.push(ResourceContents::text(
                format!(
                    "The file is {} bytes, more than one answer carries; this is a preview. The whole file is in the library (the web pages' asset page).",
                    bytes.len()
                ),
                request.uri.clone(),
            ));
            v
        };
        Ok(ReadResourceResult::new(contents).into())
    }

    async fn list_prompts(
        &self,
        _: Option<PaginatedRequestParams>,
        _cx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            IDEAS,
            Some("Random ideas for images to make, from the API's prompt grammar"),
            Some(vec![
                PromptArgument::new("theme")
                    .with_description("A theme for the ideas (optional)")
                    .with_required(false),
                PromptArgument::new("n")
                    .with_description("How many ideas, 1 to 10 (default 3)")
                    .with_required(false),
            ]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        cx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let parts = parts(&cx)?;
        if request.name != IDEAS {
            return Err(ErrorData::invalid_params(
                format!("no prompt '{}'; prompts/list names them", request.name),
                None,
            ));
        }
        let args = request.arguments.unwrap_or_default();
        let mut call = Call::get(Route::Prompts, "/v1/prompts/random");
        for name in ["theme", "n"] {
            if let Some(v) = args.get(name) {
                let v = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                call = call.query(name, v);
            }
        }
        let answer = api::send(&self.deps, parts, call).await;
        if answer.status >= 400 {
            return Err(protocol_error(&answer));
        }
        let ideas: Vec<String> = answer.json["prompts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(|s| format!("- {s}")))
            .collect();
        Ok(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Here are ideas for images:\n{}\nPick the one I would like best, say why in a sentence, and make it with generate_image.",
                ideas.join("\n")
            ),
        )])
        .with_description("Random image ideas")
        .into())
    }
}

/// A refused read or list as the protocol error its method allows (these have no tool result).
fn protocol_error(answer: &Answer) -> ErrorData {
    let message = answer.json["error"]["message"]
        .as_str()
        .unwrap_or("the request failed")
        .to_string();
    ErrorData::invalid_params(
        format!("HTTP {}: {message}", answer.status),
        Some(answer.json["error"].clone()),
    )
}
