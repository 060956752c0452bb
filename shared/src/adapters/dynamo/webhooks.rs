//! Webhook signing secrets: one item per user, created once, rotated conditionally.

use super::*;
use crate::domain::webhooks::WebhookSecrets;

fn secrets_from(it: &Item) -> Result<WebhookSecrets, ApiError> {
    Ok(WebhookSecrets {
        current: get_s(it, "secret")?,
        previous: opt_s(it, "previous").zip(opt_n(it, "previous_until")),
    })
}

impl WebhookSecretStore for DynamoStore {
    async fn webhook_secrets(&self, user_id: &str) -> Result<Option<WebhookSecrets>, ApiError> {
        self.get(keys::webhook_secret(user_id))
            .await?
            .map(|it| secrets_from(&it))
            .transpose()
    }

    async fn create_webhook_secret(
        &self,
        user_id: &str,
        secret: &str,
    ) -> Result<WebhookSecrets, ApiError> {
        let result = self
            .update_item(keys::webhook_secret(user_id))
            .await
            .update_expression("SET secret = :s")
            .condition_expression("attribute_not_exists(secret)")
            .expression_attribute_values(":s", s(secret))
            .send()
            .await;
        if applied(result)? {
            return Ok(WebhookSecrets {
                current: secret.to_string(),
                previous: None,
            });
        }
        self.webhook_secrets(user_id)
            .await?
            .ok_or_else(|| ApiError::internal("webhook secret vanished after a conflict"))
    }

    async fn rotate_webhook_secret(
        &self,
        user_id: &str,
        expected: &str,
        secret: &str,
        until: i64,
    ) -> Result<Option<WebhookSecrets>, ApiError> {
        let result = self
            .update_item(keys::webhook_secret(user_id))
            .await
            .update_expression("SET secret = :new, previous = :old, previous_until = :until")
            .condition_expression("secret = :old")
            .expression_attribute_values(":new", s(secret))
            .expression_attribute_values(":old", s(expected))
            .expression_attribute_values(":until", n(until))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => secrets_from(&out.attributes.unwrap_or_default()).map(Some),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }
}
