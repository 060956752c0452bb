//! `POST /v1/images/generations` (alias `/v1/generate-image`): OpenAI's CreateImageRequest in,
//! ImagesResponse out. Credits are debited before the provider is called and refunded if it
//! fails; an `Idempotency-Key` replays the first answer without charging again. With
//! `Prefer: respond-async` (or `wait=N`) the work becomes a job of the generation queue.

use lambda_http::{Body, Request, Response};
use shared::ApiError;
use shared::Deps;
use shared::domain::accounts::Scope;
use shared::domain::generation::CreateImageRequest;
use shared::domain::jobs::JobOperation;
use shared::http::answers;
use shared::http::idempotency_key;
use shared::http::streaming::{self, Reply};
use shared::http::{Ctx, json_body};
use shared::ports::{Blobs, Store};
use shared::providers::Partials;
use shared::usecases::generation::{Waiting, generate};
use shared::usecases::idempotency::canonical_json;
use shared::usecases::jobs::{Submission, Work, answering, now_or_queued};
use std::ops::Deref;

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "generate-image");
    ctx.run(generate_image(deps, &ctx, &req, None)).await
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
        "generate-image",
        "image_generation",
        |deps, req, ctx, sink| async move {
            ctx.run(generate_image(&deps, &ctx, &req, sink.as_ref()))
                .await
        },
    )
    .await
}

async fn generate_image<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
    partials: Option<&Partials>,
) -> Result<Response<Body>, ApiError> {
    let started = tokio::time::Instant::now();
    let who = ctx.authenticate(deps, req, Scope::Generate).await?;
    let body: CreateImageRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let key = idempotency_key(req)?;
    let canonical = canonical_json(req.body().as_ref())?;
    let prefer = answers::prefer(req);
    let plan = body
        .clone()
        .plan(deps.providers.default_model(), |k| deps.providers.serves(k))?;
    let sub = Submission {
        operation: JobOperation::Generation,
        fields: body,
        work: Work::Images(plan),
        images: Vec::new(),
        mask: None,
    };
    let how = answering(deps, prefer, &sub, "image_generation")?;
    let submitted = now_or_queued(
        deps,
        &who,
        key.as_deref(),
        &canonical,
        how.queued,
        sub,
        |s, claim| {
            let waiting = Waiting {
                by: ctx.answer_by(&deps.config),
                partials,
            };
            generate(deps, &who, s.plan, claim, waiting)
        },
    )
    .await?;
    answers::respond(deps, submitted, prefer.wait, started, how.stream).await
}
