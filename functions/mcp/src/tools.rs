//! The tools: what each takes (a JSON Schema from the argument type), which scope it needs,
//! and the REST call it stands for.

use crate::api::{Call, Input, Route, input};
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::domain::accounts::Scope;
use std::sync::Arc;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// What the image should show, in words. Up to 32,000 characters.
    pub prompt: String,
    /// A model id from list_models (default: the deployment's default image model).
    pub model: Option<String>,
    /// WIDTHxHEIGHT, e.g. 1024x1024, 1536x1024, or auto. Each model lists the sizes it takes.
    pub size: Option<String>,
    /// low, medium, high or auto, where the model has qualities.
    pub quality: Option<String>,
    /// How many images, 1 to 10 (each is charged).
    pub n: Option<u8>,
    /// transparent, opaque or auto, where the model supports it.
    pub background: Option<String>,
    /// png, jpeg, webp (and svg or gif for some local models).
    pub output_format: Option<String>,
    /// true: only say what it would cost and whether it can be paid; nothing is charged or made.
    pub dry_run: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// What to change, in words.
    pub prompt: String,
    /// The images to edit, 1 to 16: ids from the library (img_…) or base64 data URLs
    /// (data:image/png;base64,…) of images the user gave you. Not both kinds in one call.
    pub images: Vec<String>,
    /// Optional PNG mask (library id or data URL): transparent pixels mark where to edit.
    pub mask: Option<String>,
    pub model: Option<String>,
    pub size: Option<String>,
    pub quality: Option<String>,
    /// How many results, 1 to 10 (each is charged).
    pub n: Option<u8>,
    pub output_format: Option<String>,
    /// true: only the price; nothing is charged or made.
    pub dry_run: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variation {
    /// The image to vary: a library id (img_…) or a base64 data URL.
    pub image: String,
    pub model: Option<String>,
    /// How many variations, 1 to 10 (each is charged).
    pub n: Option<u8>,
    pub size: Option<String>,
    /// true: only the price; nothing is charged or made.
    pub dry_run: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transform {
    /// The library image to transform (img_… or its library:// link); the result is a new
    /// image in the library.
    pub image_id: String,
    /// Applied in order, 1 to 20, each an object naming its `op`: resize {width, height, fit:
    /// contain|cover|fill}, crop {x, y, width, height}, rotate {degrees}, flip, flop,
    /// grayscale, blur {sigma}, sharpen {sigma}, brightness {factor}, contrast {factor},
    /// saturation {factor}, hue {degrees}, gamma {value}, remove_background {tolerance}; e.g.
    /// [{"op": "resize", "width": 512}, {"op": "grayscale"}].
    pub operations: Vec<JsonObject>,
    /// png, jpeg or webp (default: the source's format).
    pub output_format: Option<String>,
    /// 1 to 100, for jpeg and webp.
    pub quality: Option<u8>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListImages {
    /// 1 to 100 (default 20).
    pub limit: Option<u8>,
    /// next_cursor of the previous page.
    pub cursor: Option<String>,
    /// image, video or all (default).
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ById {
    /// The id, as another tool gave it.
    pub id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Video {
    /// What should happen in the video.
    pub prompt: String,
    /// A video model id from list_models (default: the deployment's default video model).
    pub model: Option<String>,
    /// Length in seconds, as the model lists them (e.g. "4", "8", "12").
    pub seconds: Option<String>,
    /// WIDTHxHEIGHT, e.g. 1280x720.
    pub size: Option<String>,
    /// A first frame: a library id (img_…) or a base64 data URL.
    pub image: Option<String>,
    /// true: only the price; nothing is charged or queued.
    pub dry_run: Option<bool>,
}

/// One tool: its listing, the scope it needs, and how its arguments become a REST call.
pub struct Spec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub scope: Option<Scope>,
    pub read_only: bool,
    pub schema: fn() -> Arc<JsonObject>,
    pub call: fn(JsonObject) -> Result<Call, String>,
}

impl Spec {
    pub fn tool(&self) -> Tool {
        // Cancelling is the one tool that undoes work (a job's result never comes).
        let annotations = ToolAnnotations::with_title(self.title)
            .read_only(self.read_only)
            .destructive(self.name == "cancel_job");
        Tool::new(self.name, self.description, (self.schema)())
            .with_title(self.title)
            .with_annotations(annotations)
    }
}

fn schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    rmcp::handler::server::common::schema_for_type::<T>()
}

/// The arguments as `T`, or what is wrong with them, naming the argument.
fn args<T: DeserializeOwned>(raw: JsonObject) -> Result<T, String> {
    serde_path_to_error::deserialize(Value::Object(raw)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        if path == "." {
            inner
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// `value` as JSON, without the arguments left out.
fn body(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn edit(e: Edit) -> Result<Call, String> {
    let fields = [
        ("prompt", Some(e.prompt)),
        ("model", e.model),
        ("size", e.size),
        ("quality", e.quality),
        ("n", e.n.map(|n| n.to_string())),
        ("output_format", e.output_format),
        ("dry_run", e.dry_run.map(|d| d.to_string())),
    ];
    let mut files = Vec::new();
    files.extend(e.images.iter().map(|i| ("images", "image[]", input(i))));
    files.extend(e.mask.as_deref().map(|m| ("mask", "mask", input(m))));
    Call::inputs(Route::Edit, "/v1/images/edits", &fields, files)
}

fn variation(v: Variation) -> Result<Call, String> {
    let fields = [
        ("model", v.model),
        ("size", v.size),
        ("n", v.n.map(|n| n.to_string())),
        ("dry_run", v.dry_run.map(|d| d.to_string())),
    ];
    Call::inputs(
        Route::Variation,
        "/v1/images/variations",
        &fields,
        vec![("image", "image", input(&v.image))],
    )
}

fn video(v: Video) -> Result<Call, String> {
    let reference = match v.image.as_deref().map(input) {
        None => Value::Null,
        Some(Input::Asset(id)) => json!({ "file_id": id }),
        Some(Input::Inline(url)) => json!({ "image_url": url }),
    };
    let mut body = serde_json::Map::new();
    for (k, val) in [
        ("prompt", json!(v.prompt)),
        ("model", json!(v.model)),
        ("seconds", json!(v.seconds)),
        ("size", json!(v.size)),
        ("input_reference", reference),
        ("dry_run", json!(v.dry_run)),
    ] {
        if !val.is_null() {
            body.insert(k.into(), val);
        }
    }
    Ok(Call::json(Route::Video, "/v1/videos", Value::Object(body)))
}

pub const TOOLS: &[Spec] = &[
    Spec {
        name: "list_models",
        title: "List models",
        description: "The image and video models this deployment serves: what each is for, the sizes and options it takes, and its price in credits. Call it first to pick a model and see costs.",
        scope: None,
        read_only: true,
        schema: schema::<NoArgs>,
        call: |a| {
            args::<NoArgs>(a)?;
            Ok(Call::get(Route::Models, "/v1/models"))
        },
    },
    Spec {
        name: "get_credits",
        title: "Credits",
        description: "The user's available, earned and spent credits and the latest ledger lines (each names the API key or MCP client that spent).",
        scope: Some(Scope::Account),
        read_only: true,
        schema: schema::<NoArgs>,
        call: |a| {
            args::<NoArgs>(a)?;
            Ok(Call::get(Route::Credit, "/v1/credit"))
        },
    },
    Spec {
        name: "generate_image",
        title: "Generate an image",
        description: "Makes images from a prompt and stores them in the user's library; answers with a preview and a link to each stored image. Costs credits (dry_run: true says how many first). Slow models answer with a job: follow it with get_job.",
        scope: Some(Scope::Generate),
        read_only: false,
        schema: schema::<Generate>,
        call: |a| {
            let g: Generate = args(a)?;
            Ok(Call::json(
                Route::Generate,
                "/v1/images/generations",
                body(&[
                    ("prompt", json!(g.prompt)),
                    ("model", json!(g.model)),
                    ("size", json!(g.size)),
                    ("quality", json!(g.quality)),
                    ("n", json!(g.n)),
                    ("background", json!(g.background)),
                    ("output_format", json!(g.output_format)),
                    ("dry_run", json!(g.dry_run)),
                ]),
            ))
        },
    },
    Spec {
        name: "edit_image",
        title: "Edit images",
        description: "Edits one or more images by a prompt (optionally only where a mask is transparent): library ids or images the user gave you as data URLs. The result is stored in the library, linked to its inputs. Costs credits (dry_run: true says how many).",
        scope: Some(Scope::Generate),
        read_only: false,
        schema: schema::<Edit>,
        call: |a| {
            let e: Edit = args(a)?;
            edit(e)
        },
    },
    Spec {
        name: "create_variation",
        title: "Vary an image",
        description: "Makes variations of an image (a library id or a data URL) and stores them. Costs credits (dry_run: true says how many).",
        scope: Some(Scope::Generate),
        read_only: false,
        schema: schema::<Variation>,
        call: |a| {
            let v: Variation = args(a)?;
            variation(v)
        },
    },
    Spec {
        name: "transform_image",
        title: "Transform an image",
        description: "Resizes, crops, rotates, recolours or removes the background of a library image, deterministically and for free; the result is a new library image.",
        scope: Some(Scope::Generate),
        read_only: false,
        schema: schema::<Transform>,
        call: |a| {
            let t: Transform = args(a)?;
            let Input::Asset(id) = input(&t.image_id) else {
                return Err("image_id: a library id, not a data URL".into());
            };
            Ok(Call::json(
                Route::Transform,
                "/v1/images/{id}/transform",
                body(&[
                    ("operations", json!(t.operations)),
                    ("output_format", json!(t.output_format)),
                    ("quality", json!(t.quality)),
                ]),
            )
            .with_id(id))
        },
    },
    Spec {
        name: "list_images",
        title: "List the library",
        description: "The user's images and videos, newest first, a page at a time (pass next_cursor back as cursor).",
        scope: Some(Scope::LibraryRead),
        read_only: true,
        schema: schema::<ListImages>,
        call: |a| {
            let l: ListImages = args(a)?;
            let mut call = Call::get(Route::ListImages, "/v1/images");
            if let Some(n) = l.limit {
                call = call.query("limit", n.to_string());
            }
            if let Some(c) = l.cursor {
                call = call.query("cursor", c);
            }
            if let Some(k) = l.kind {
                call = call.query("type", k);
            }
            Ok(call)
        },
    },
    Spec {
        name: "get_image",
        title: "Get a library image",
        description: "One image of the library: its prompt, model, size, versions and a preview.",
        scope: Some(Scope::LibraryRead),
        read_only: true,
        schema: schema::<ById>,
        call: |a| {
            let b: ById = args(a)?;
            let id = crate::api::id_of(&b.id).unwrap_or(&b.id).to_string();
            Ok(Call::get(Route::GetImage, "/v1/images/{id}").with_id(id))
        },
    },
    Spec {
        name: "create_video",
        title: "Make a video",
        description: "Starts a video from a prompt and optionally a first frame. Videos take a while: this answers with the job at once; follow it with get_job until it has succeeded. Costs credits (dry_run: true says how many).",
        scope: Some(Scope::Generate),
        read_only: false,
        schema: schema::<Video>,
        call: |a| {
            let v: Video = args(a)?;
            video(v)
        },
    },
    Spec {
        name: "get_job",
        title: "Follow a job",
        description: "A job (or video) by id: its status and progress; once it has succeeded, its result with previews and links.",
        scope: Some(Scope::Jobs),
        read_only: true,
        schema: schema::<ById>,
        call: |a| {
            let b: ById = args(a)?;
            Ok(Call::get(Route::GetJob, "/v1/jobs/{id}").with_id(b.id))
        },
    },
    Spec {
        name: "cancel_job",
        title: "Cancel a job",
        description: "Cancels a queued or running job; what was charged for work not done is refunded.",
        scope: Some(Scope::Jobs),
        read_only: false,
        schema: schema::<ById>,
        call: |a| {
            let b: ById = args(a)?;
            Ok(Call::json(Route::CancelJob, "/v1/jobs/{id}/cancel", json!({})).with_id(b.id))
        },
    },
];

pub fn find(name: &str) -> Option<&'static Spec> {
    TOOLS.iter().find(|t| t.name == name)
}
