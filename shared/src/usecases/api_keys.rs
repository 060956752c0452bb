//! API keys with limits: created with a policy, changed by the signed-in owner, listed with
//! their spend.

use crate::domain::accounts::{ApiKeyRecord, Principal, validate_api_key_name};
use crate::domain::catalog;
use crate::domain::key_policy::{KeyPolicy, distinct_scopes, hourly_limit};
use crate::domain::now_epoch;
use crate::error::ApiError;
use crate::ports::{Blobs, Store};
use crate::usecases::Deps;
use crate::wire::{CreateApiKeyRequest, UpdateApiKeyRequest};

/// Model ids or aliases, as catalog ids, in the order given and without repeats; an unknown
/// one is refused by name.
pub fn resolve_models(models: Vec<String>) -> Result<Vec<String>, ApiError> {
    let mut ids: Vec<String> = Vec::new();
    for name in &models {
        let model = catalog::find(name.trim()).ok_or_else(|| {
            ApiError::invalid(
                "models",
                format!(
                    "unknown model '{}': see GET /v1/models for the ids",
                    crate::usecases::library::shown(name)
                ),
            )
        })?;
        if !ids.iter().any(|id| id == model.id) {
            ids.push(model.id.to_string());
        }
    }
    Ok(ids)
}

/// The policy a new key asks for, checked against the account's limits.
pub fn policy_of<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    body: &CreateApiKeyRequest,
) -> Result<KeyPolicy, ApiError> {
    let policy = KeyPolicy {
        scopes: body.scopes.clone().map(distinct_scopes),
        models: body.models.clone().map(resolve_models).transpose()?,
        budget: body.budget,
        rate_limit_per_hour: body.rate_limit_per_hour.map(hourly_limit).transpose()?,
        expires_at: body.expires_at.map(|w| w.0),
        resource: None,
    };
    policy.validate(deps.config.limits.rate_limit_per_hour, now_epoch())?;
    Ok(policy)
}

/// Applies a PATCH to one of `who`'s keys: the fields sent replace the key's (`null` removes
/// a limit). `None` when `who` has no key with that id.
pub async fn update<S: Store, B: Blobs>(
    deps: &Deps<S, B>,
    who: &Principal,
    key_id: &str,
    body: UpdateApiKeyRequest,
) -> Result<Option<ApiKeyRecord>, ApiError> {
    let keys = deps.store.list_keys(&who.user_id).await?;
    let Some(key) = keys.into_iter().find(|k| k.id == key_id) else {
        return Ok(None);
    };
    let mut policy = key.policy.clone();
    if let Some(scopes) = body.scopes {
        policy.scopes = scopes.map(distinct_scopes);
    }
    if let Some(models) = body.models {
        policy.models = models.map(resolve_models).transpose()?;
    }
    if let Some(budget) = body.budget {
        policy.budget = budget;
    }
    if let Some(limit) = body.rate_limit_per_hour {
        policy.rate_limit_per_hour = limit.map(hourly_limit).transpose()?;
    }
    if let Some(at) = body.expires_at {
        policy.expires_at = at.map(|w| w.0);
    }
    // An expiry already past is kept if it was not sent: the key stays expired until extended.
    let checked = KeyPolicy {
        expires_at: policy.expires_at.filter(|_| body.expires_at.is_some()),
        ..policy.clone()
    };
    checked.validate(deps.config.limits.rate_limit_per_hour, now_epoch())?;
    let name = match body.name {
        Some(name) => validate_api_key_name(Some(&name))?,
        None => key.name.clone(),
    };
    let updated = deps.store.update_key(&key, &name, &policy).await?;
    Ok(updated.map(|k| ApiKeyRecord {
        last_used_at: key.last_used_at,
        spent_day: key.spent_day,
        spent_month: key.spent_month,
        ..k
    }))
}
