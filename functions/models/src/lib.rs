//! `GET /v1/models`: the catalog, limited to the models this deployment can serve.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::Config;
use shared::domain::{catalog, videos};
use shared::http::{Ctx, json};
use shared::wire::{ModelInfo, ModelList};

pub async fn handler(config: &Config, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "models");
    ctx.run(async {
        let data = catalog::usable(|k| config.vendors.serves(k))
            .map(|m| ModelInfo::of(m, |k| config.vendors.serves(k)))
            .chain(
                videos::usable(|k| config.vendors.serves(k))
                    .map(|m| ModelInfo::of_video(m, |k| config.vendors.serves(k))),
            )
            .collect();
        json(
            StatusCode::OK,
            &ModelList {
                object: "list".into(),
                data,
            },
        )
    })
    .await
}

/// The Lambda's entry point: only the configuration is needed (which vendors have keys decides
/// which models exist).
pub async fn serve() -> Result<(), lambda_http::Error> {
    shared::bootstrap::serve_http_with(Config::from_env()?, handler).await
}
