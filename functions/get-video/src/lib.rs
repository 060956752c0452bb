//! `GET /v1/videos/{id}`: one of the caller's videos as OpenAI's Video object; while it runs,
//! `openai-poll-after-ms` tells the SDK's poll helper when to ask again.

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::Scope;
use shared::domain::jobs::JobStatus;
use shared::http::{Ctx, json, path_param};
use shared::ports::{Blobs, Store};
use shared::usecases::videos;
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B: Blobs>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "get-video");
    ctx.run(get(deps, &ctx, &req)).await
}

async fn get<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx.authenticate(deps, req, Scope::LibraryRead).await?;
    let id = path_param(req, "id")?;
    let job = videos::get(deps, &who.user_id, &id).await?;
    let mut response = json(StatusCode::OK, &videos::object(&job)?)?;
    if matches!(job.status, JobStatus::Queued | JobStatus::Processing) {
        response.headers_mut().insert(
            "openai-poll-after-ms",
            HeaderValue::from(videos::POLL_AFTER_MS),
        );
    }
    Ok(response)
}
