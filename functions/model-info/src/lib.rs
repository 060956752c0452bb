//! `GET /v1/models/{id}`: one model of the catalog; unknown or unavailable models are 404.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::{catalog, videos};
use shared::http::{Ctx, json, path_param};
use shared::wire::ModelInfo;
use shared::{ApiError, Config};

pub async fn handler(config: &Config, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "model-info");
    ctx.run(async {
        let id = path_param(&req, "id")?;
        // An alias names its model (the answer says which).
        let model = catalog::find(&id)
            .filter(|m| m.vendors.iter().any(|r| config.vendors.serves(r.vendor)))
            .map(|m| ModelInfo::of(m, |k| config.vendors.serves(k)))
            .or_else(|| {
                videos::find(&id)
                    .filter(|m| m.vendors.iter().any(|r| config.vendors.serves(r.vendor)))
                    .map(|m| ModelInfo::of_video(m, |k| config.vendors.serves(k)))
            })
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "The model '{id}' does not exist or is not available here"
                ))
            })?;
        json(StatusCode::OK, &model)
    })
    .await
}

/// The Lambda's entry point: only the configuration is needed (which vendors have keys decides
/// which models exist).
pub async fn serve() -> Result<(), lambda_http::Error> {
    shared::bootstrap::serve_http_with(Config::from_env()?, handler).await
}
