//! `POST /v1/images/edits` (alias `/v1/edit-image`): OpenAI's image edit. Multipart with `image`
//! or repeated `image[]` (up to 16) and an optional `mask` whose transparent pixels mark where to
//! edit, or JSON naming stored assets (`images: [{"file_id"}]`, `mask: {"file_id"}`).

use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::catalog::Size;
use shared::domain::generation::Operation;
use shared::domain::jobs::JobOperation;
use shared::http::Ctx;
use shared::http::answers;
use shared::http::idempotency_key;
use shared::http::streaming::{self, Reply};
use shared::ports::{Blobs, Store};
use shared::providers::{EditInputs, Partials};
use shared::usecases::edit_inputs::{self, check_edit};
use shared::usecases::generation::Waiting;
use shared::usecases::generation::edit;
use shared::usecases::jobs::{Submission, Work, answering, now_or_queued};
use shared::{ApiError, Deps};
use std::ops::Deref;

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "edit-image");
    ctx.run(edit_image(deps, &ctx, &req, None)).await
}

/// `handler` on any transport: where it streams, partial images go out as they come.
pub async fn streaming_handler<S, B, D>(deps: D, req: Request) -> Reply
where
    S: Store,
    B: Blobs,
    D: Deref<Target = Deps<S, B>> + Send + Sync + 'static,
{
    streaming::serve(
        deps,
        req,
        "edit-image",
        "image_edit",
        |deps, req, ctx, sink| async move {
            ctx.run(edit_image(&deps, &ctx, &req, sink.as_ref())).await
        },
    )
    .await
}

async fn edit_image<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
    partials: Option<&Partials>,
) -> Result<Response<Body>, ApiError> {
    let started = tokio::time::Instant::now();
    let who = ctx.authenticate(deps, req, Scope::Generate).await?;
    let parsed =
        shared::http::forms::edit(req, true, deps.config.limits.max_json_body_bytes).await?;
    let key = idempotency_key(req)?;
    let has_mask = parsed.mask.is_some();
    let mut sources = parsed.images;
    sources.extend(parsed.mask);
    let mut images = edit_inputs::load_all(deps, &who.user_id, sources).await?;
    let mask = if has_mask { images.pop() } else { None };
    let (w, h) = images[0].rgba.dimensions();
    let prefer = answers::prefer(req);
    let fields = parsed.fields.clone();
    let plan = parsed.fields.plan_for(
        Operation::Edit {
            images: images.len(),
            input: Size::new(w, h),
        },
        deps.providers.default_model(),
        |k| deps.providers.serves(k),
    )?;
    let inputs = EditInputs { images, mask };
    check_edit(&plan, &inputs, "mask")?;
    let sub = Submission {
        operation: JobOperation::Edit,
        fields,
        work: Work::Images(plan),
        images: inputs.images,
        mask: inputs.mask,
    };
    let how = answering(deps, prefer, &sub, "image_edit")?;
    let submitted = now_or_queued(
        deps,
        &who,
        key.as_deref(),
        &parsed.canonical,
        how.queued,
        sub,
        |s, claim| {
            let inputs = EditInputs {
                images: s.images,
                mask: s.mask,
            };
            edit(
                deps,
                &who,
                s.plan,
                inputs,
                None,
                claim,
                Waiting {
                    by: ctx.answer_by(&deps.config),
                    partials,
                },
            )
        },
    )
    .await?;
    answers::respond(deps, submitted, prefer.wait, started, how.stream).await
}
