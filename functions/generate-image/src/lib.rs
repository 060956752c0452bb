//! `POST /v1/images/generations` (alias `/v1/generate-image`): OpenAI's CreateImageRequest in,
//! ImagesResponse out. Credits are debited before the provider is called and refunded if it
//! fails; an `Idempotency-Key` replays the first answer without charging again. With
//! `Prefer: respond-async` (or `wait=N`) the work becomes a job of the generation queue.

use lambda_http::{Body, Request, Response};
use shared::domain::generation::CreateImageRequest;
use shared::domain::jobs::JobOperation;
use shared::http::idempotency_key;
use shared::http::{Ctx, json_body};
use shared::ports::{Blobs, Store};
use shared::usecases::generation::generate;
use shared::usecases::idempotency::{Submitted, canonical_json, claimed};
use shared::usecases::job_runs::{Submission, submit, webhook_of};
use shared::usecases::jobs;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "generate-image");
    ctx.run(generate_image(deps, &ctx, &req)).await
}

async fn generate_image<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let started = tokio::time::Instant::now();
    let who = ctx.authenticate(deps, req).await?;
    let body: CreateImageRequest = json_body(req, deps.config.max_json_body_bytes)?;
    let key = idempotency_key(req)?;
    let canonical = canonical_json(req.body().as_ref())?;
    let prefer = jobs::prefer(req);
    let plan = body.clone().plan(deps.providers.default_model(), |m| {
        deps.providers.serves(m.provider)
    })?;
    let queued = prefer.queued() || plan.model.async_only;
    if plan.stream && queued {
        return Err(ApiError::invalid(
            "stream",
            "a job is not streamed: leave stream out, or leave out the Prefer header",
        ));
    }
    let stream = plan.stream.then_some("image_generation");
    webhook_of(&body, queued, deps.config.allow_private_webhook_targets)?;
    let submitted = claimed(deps, &who, key.as_deref(), &canonical, |claim| async {
        if queued {
            let job = Submission {
                operation: JobOperation::Generation,
                fields: body,
                plan,
                images: Vec::new(),
                mask: None,
            };
            submit(deps, &who, job, claim).await.map(Submitted::Job)
        } else {
            generate(deps, &who, plan, claim)
                .await
                .map(Submitted::Images)
        }
    })
    .await?;
    jobs::respond(deps, submitted, prefer.wait, started, stream).await
}
