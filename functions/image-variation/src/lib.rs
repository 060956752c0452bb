//! `POST /v1/images/variations`: OpenAI's image variation (multipart `image`, `n`, `size`,
//! `model`, `response_format`, `user`), or JSON naming a stored asset (`image: {"file_id"}`).

use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::catalog::Size;
use shared::domain::generation::Operation;
use shared::domain::jobs::JobOperation;
use shared::http::Ctx;
use shared::http::answers;
use shared::http::idempotency_key;
use shared::ports::{Blobs, Store};
use shared::usecases::edit_inputs;
use shared::usecases::generation::variation;
use shared::usecases::jobs::{Submission, Work, answering, now_or_queued};
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "image-variation");
    ctx.run(make_variation(deps, &ctx, &req)).await
}

async fn make_variation<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let started = tokio::time::Instant::now();
    let who = ctx.authenticate(deps, req, Scope::Generate).await?;
    let mut parsed =
        shared::http::forms::edit(req, false, deps.config.limits.max_json_body_bytes).await?;
    let key = idempotency_key(req)?;
    let input = edit_inputs::load_all(deps, &who.user_id, parsed.images.drain(..1).collect())
        .await?
        .remove(0);
    let (w, h) = input.rgba.dimensions();
    let prefer = answers::prefer(req);
    let fields = parsed.fields.clone();
    let plan = parsed.fields.plan_for(
        Operation::Variation {
            input: Size::new(w, h),
        },
        deps.providers.default_model(),
        |k| deps.providers.serves(k),
    )?;
    let sub = Submission {
        operation: JobOperation::Variation,
        fields,
        work: Work::Images(plan),
        images: vec![input],
        mask: None,
    };
    // Variations are not streamed (the plan refuses `stream`): the prefix is never used.
    let how = answering(deps, prefer, &sub, "image_variation")?;
    let who = &who;
    let submitted = now_or_queued(
        deps,
        who,
        key.as_deref(),
        &parsed.canonical,
        how.queued,
        sub,
        |s, claim| async move {
            let input = s
                .images
                .into_iter()
                .next()
                .ok_or_else(|| ApiError::internal("a variation without its image"))?;
            variation(deps, who, s.plan, input, claim, ctx.answer_by(&deps.config)).await
        },
    )
    .await?;
    answers::respond(deps, submitted, prefer.wait, started, how.stream).await
}
