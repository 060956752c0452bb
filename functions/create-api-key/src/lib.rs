//! `POST /v1/api-keys`: a new `sk-` key, returned once and stored only as a hash, with the
//! limits asked for (scopes, models, budget, hourly limit, expiry).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::domain::accounts::ApiKeyRecord;
use shared::domain::accounts::validate_api_key_name;
use shared::domain::{new_id, now_epoch};
use shared::http::{Ctx, json, optional_json_body};
use shared::ports::Store;
use shared::usecases::api_keys::policy_of;
use shared::usecases::auth::{api_key_display_prefix, new_api_key, token_hash};
use shared::wire::{ApiKeyCreated, CreateApiKeyRequest};
use shared::{ApiError, Deps};

pub async fn handler<S: Store>(deps: &Deps<S>, req: Request) -> Response<Body> {
    let ctx = Ctx::new(&req, "create-api-key");
    ctx.run(create(deps, &ctx, &req)).await
}

async fn create<S: Store>(
    deps: &Deps<S>,
    ctx: &Ctx,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let who = ctx
        .authenticate_session(deps, req, "manage API keys")
        .await?;
    let body: CreateApiKeyRequest =
        optional_json_body(req, deps.config.limits.max_json_body_bytes)?.unwrap_or_default();
    let name = validate_api_key_name(body.name.as_deref())?;
    let policy = policy_of(deps, &body)?;
    let key = new_api_key();
    let record = ApiKeyRecord {
        id: new_id("key"),
        user_id: who.user_id.clone(),
        role: who.role,
        name,
        prefix: api_key_display_prefix(&key),
        hash: token_hash(&key),
        created_at: now_epoch(),
        last_used_at: None,
        policy,
        version: 0,
        spent_day: 0,
        spent_month: 0,
    };
    deps.store.create_key(&record).await?;
    tracing::info!(user_id = %who.user_id, key_id = %record.id, "api key created");
    json(
        StatusCode::CREATED,
        &ApiKeyCreated {
            id: record.id,
            object: "api_key".into(),
            name: record.name,
            key,
            prefix: record.prefix,
            created_at: record.created_at,
            limits: (&record.policy).into(),
        },
    )
}
