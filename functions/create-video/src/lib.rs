//! `POST /v1/videos`: OpenAI's Videos API create, as multipart (the SDK's way) or JSON. A video
//! is always a job: charged at once, made by the queue worker, polled with `GET /v1/videos/{id}`.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::http::{Ctx, idempotency_key, json};
use shared::ports::{Blobs, Store};
use shared::usecases::videos;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "create-video");
    ctx.run(create(deps, &ctx, &req)).await
}

async fn create<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::Generate).await?;
    let key = idempotency_key(req)?;
    let parsed = shared::http::forms::video(req, deps.config.limits.max_json_body_bytes).await?;
    let job = match videos::create(deps, &who, key.as_deref(), parsed).await? {
        videos::Created::Video(job) => job,
        videos::Created::Quote(quote) => return json(StatusCode::OK, &quote),
    };
    // OpenAI answers 200 with the queued video; Location says where to poll.
    let mut response = json(StatusCode::OK, &videos::object(&job)?)?;
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/videos/{}", job.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
