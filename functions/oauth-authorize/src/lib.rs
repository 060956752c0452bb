//! `POST /v1/oauth/authorize`: what the consent page (`/app/authorize`) sends for a signed-in
//! person. `decision: preview` checks the client's request and says what it asks for;
//! `allow` makes the code and `deny` the refusal, each as the URL to send the browser to.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::now_epoch;
use shared::http::{Ctx, json, json_body, public_origin};
use shared::ports::Store;
use shared::usecases::oauth::{AuthorizeRequest, authorize};
use shared::{ApiError, Deps};

pub async fn handler<S: Store, B>(deps: &Deps<S, B>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "oauth-authorize");
    ctx.run(decide(deps, &ctx, &req)).await
}

async fn decide<S: Store, B>(
    deps: &Deps<S, B>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    // A signed-in person, not a key: a key must not mint other keys.
    let who = ctx
        .authenticate_session(deps, req, "authorize an MCP client")
        .await?;
    let body: AuthorizeRequest = json_body(req, deps.config.limits.max_json_body_bytes)?;
    let answer = authorize(
        &deps.config,
        &public_origin(&deps.config, req),
        &who,
        body,
        now_epoch(),
    )
    .await?;
    json(StatusCode::OK, &answer)
}
