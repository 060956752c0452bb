//! Answers shared by the paid routes: `Prefer` (`respond-async`, `wait`), and 200 with the images
//! or 202 with the job.

use super::{event_stream, json};
use crate::domain::jobs::{JobStatus, Prefer};
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::usecases::idempotency::Submitted;
use crate::usecases::jobs::view;
use http::StatusCode;
use lambda_http::{Body, Request, Response};

/// The `Prefer` header of a request.
pub fn prefer(req: &Request) -> Prefer {
    Prefer::parse(
        req.headers()
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// How often `Prefer: wait` looks at the job.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The answer to a paid request: 200 with the images, or for a job 202 with it and
/// `Location: /v1/jobs/{id}`. With `wait`, the request stays open up to that many seconds and
/// answers as the synchronous call would have if the job ends in time (`wait` counts from
/// `started`, when the request arrived).
pub async fn respond<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    submitted: Submitted,
    wait: Option<u32>,
    started: tokio::time::Instant,
    stream: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let mut job = match submitted {
        Submitted::Images(images) => {
            let mut response = match stream {
                Some(prefix) => event_stream(&images, prefix)?,
                None => json(StatusCode::OK, &images)?,
            };
            for (name, value) in images.charge.iter().flat_map(|c| c.headers()) {
                response
                    .headers_mut()
                    .insert(name, value.parse().map_err(ApiError::internal)?);
            }
            return Ok(response);
        }
        Submitted::Quote(quote) => return json(StatusCode::OK, &quote),
        Submitted::Job(job) => job,
    };
    if let Some(secs) = wait {
        // Counted from the request's start: the whole answer stays within API Gateway's 29 s.
        let deadline = started + std::time::Duration::from_secs(secs.into());
        while !job.status.is_terminal() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(WAIT_POLL).await;
            if let Some(now) = deps.store.job(&job.user_id, &job.id).await? {
                job = now;
            }
        }
        match (&job.status, &job.failure) {
            (JobStatus::Succeeded, _) => {
                if let Some(result) = view(deps, &job).await?.result {
                    return json(StatusCode::OK, &result);
                }
            }
            (JobStatus::Failed, Some(f)) => {
                let status = StatusCode::from_u16(f.status).map_err(ApiError::internal)?;
                return json(status, &serde_json::json!({ "error": f.error }));
            }
            _ => {}
        }
    }
    let mut response = json(StatusCode::ACCEPTED, &view(deps, &job).await?)?;
    let location = format!("/v1/jobs/{}", job.id);
    response.headers_mut().insert(
        http::header::LOCATION,
        location.parse().map_err(ApiError::internal)?,
    );
    Ok(response)
}
