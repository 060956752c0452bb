//! `PATCH /v1/images/{id}`: changes title and tags, and/or makes a new version — an edit of this
//! image from a `prompt` (with an optional `mask_id`), or the content of another asset
//! (`image_id`). The previous version stays retrievable; the new one records it as its parent.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Principal;
use shared::domain::accounts::Scope;
use shared::domain::catalog::Size;
use shared::domain::generation::{CreateImageRequest, Operation};
use shared::http::{Ctx, json, json_body, path_param};
use shared::wire::UpdateImageRequest;

use shared::domain::assets::ImageRecord;
use shared::ports::{Blobs, Store};
use shared::providers::EditInputs;
use shared::usecases::edit_inputs::{self, ImageSource, check_edit};
use shared::usecases::generation::edit;
use shared::usecases::library::{image_info, new_version_from, next_version, owned_image};
use shared::{ApiError, Deps};

pub const MAX_TITLE: usize = 200;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG: usize = 40;

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "update-image");
    ctx.run(update(deps, &ctx, &req)).await
}

fn clean_title(title: Option<Option<String>>) -> Result<Option<Option<String>>, ApiError> {
    match title {
        Some(Some(t)) => {
            let t = t.trim().to_string();
            if t.chars().count() > MAX_TITLE || t.chars().any(char::is_control) {
                return Err(ApiError::invalid(
                    "title",
                    format!("title must be at most {MAX_TITLE} printable characters"),
                ));
            }
            Ok(Some(Some(t).filter(|t| !t.is_empty())))
        }
        other => Ok(other),
    }
}

fn clean_tags(tags: Option<Vec<String>>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(tags) = tags else { return Ok(None) };
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tags.into_iter().enumerate() {
        let t = t.trim().to_lowercase();
        if t.is_empty() || t.chars().count() > MAX_TAG || t.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                format!("tags[{i}]"),
                format!("a tag is 1 to {MAX_TAG} printable characters"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(Some(out))
}

// Long: PATCH does three things (metadata, a version from a prompt, one from an asset).
async fn update<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryWrite).await?;
    let id = path_param(req, "id")?;
    let body: UpdateImageRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let title = clean_title(body.title)?;
    let tags = clean_tags(body.tags)?;
    if body.prompt.is_some() && body.image_id.is_some() {
        return Err(ApiError::invalid(
            "image_id",
            "send either prompt (an edit) or image_id (a replacement), not both",
        ));
    }
    if body.mask_id.is_some() && body.prompt.is_none() {
        return Err(ApiError::invalid("mask_id", "mask_id needs a prompt"));
    }
    if body.model.is_some() && body.prompt.is_none() {
        return Err(ApiError::invalid("model", "model needs a prompt"));
    }
    // A version from a prompt is an edit: paid work.
    if body.prompt.is_some() {
        who.require(Scope::Generate)?;
    }
    let current = owned_image(deps, &who.user_id, &id).await?;
    let mut lineage = next_version(deps, &current).await?;
    if let Some(t) = &title {
        lineage.title = t.clone();
    }
    if let Some(t) = &tags {
        lineage.tags = t.clone();
    }

    if let Some(prompt) = body.prompt {
        let mut sources = vec![("id".to_string(), ImageSource::Asset(id.clone()))];
        let has_mask = body.mask_id.is_some();
        sources.extend(
            body.mask_id
                .map(|m| ("mask_id".to_string(), ImageSource::Asset(m))),
        );
        let mut loaded = edit_inputs::load_all(deps, &who.user_id, sources).await?;
        let mask = if has_mask { loaded.pop() } else { None };
        let image = loaded.remove(0);
        let (w, h) = image.rgba.dimensions();
        let fields = CreateImageRequest {
            prompt,
            model: body.model,
            output_format: Some(current.format.as_str().to_string()),
            response_format: Some("url".into()),
            ..Default::default()
        };
        let plan = fields.plan_for(
            Operation::Edit {
                images: 1,
                input: Size::new(w, h),
            },
            deps.providers.default_model(),
            |k| deps.providers.serves(k),
        )?;
        let inputs = EditInputs {
            images: vec![image],
            mask,
        };
        check_edit(&plan, &inputs, "mask_id")?;
        let answer_by = ctx.answer_by(&deps.config);
        let result = edit(
            deps,
            &who,
            plan,
            inputs,
            Some(lineage),
            None,
            answer_by.into(),
        )
        .await?;
        return created(deps, &who, &result.data[0].id).await;
    }

    if let Some(other) = body.image_id {
        let version = new_version_from(deps, &who, &current, lineage, &other).await?;
        return json(StatusCode::CREATED, &version);
    }

    if title.is_none() && tags.is_none() {
        return Err(ApiError::InvalidRequest {
            message: "nothing to update: send title, tags, prompt or image_id".into(),
            param: None,
            code: "missing_required_parameter",
        });
    }
    let updated = deps
        .store
        .update_image_meta(&who.user_id, &id, title, tags)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no image with id '{id}'")))?;
    json(StatusCode::OK, &image_info(deps, &updated).await?)
}

async fn created<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let record: ImageRecord = deps
        .store
        .image(&who.user_id, id)
        .await?
        .ok_or_else(|| ApiError::internal("the new version vanished"))?;
    json(StatusCode::CREATED, &image_info(deps, &record).await?)
}
