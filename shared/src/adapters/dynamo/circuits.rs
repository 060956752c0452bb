//! Vendor circuits (`CIRCUIT#<vendor>` / `CIRCUIT`): a failure count and an open-until time,
//! forgotten by TTL. See `providers::circuits` for how they are used.

use super::*;
use crate::domain::catalog::ProviderKind;
use crate::domain::circuits::{Circuit, FORGET_SECS, OPEN_SECS, THRESHOLD};
use crate::ports::Circuits;
use futures::future::BoxFuture;

fn circuit_key(vendor: ProviderKind) -> Item {
    key(format!("CIRCUIT#{}", vendor.as_str()), "CIRCUIT")
}

impl DynamoStore {
    async fn read_circuit(&self, vendor: ProviderKind) -> Result<Circuit, ApiError> {
        let now = crate::domain::now_epoch();
        Ok(match self.get(circuit_key(vendor)).await? {
            // TTL deletion lags: an expired item is no circuit.
            Some(it) if opt_n(&it, "expires_at").is_some_and(|t| t > now) => Circuit {
                failures: opt_n(&it, "failures").unwrap_or(0),
                open_until: opt_n(&it, "open_until").map(|t| t as u64),
            },
            _ => Circuit::default(),
        })
    }

    async fn count_failure(&self, vendor: ProviderKind, now: u64) -> Result<bool, ApiError> {
        let now_n = n(now as i64);
        // An expired count starts again at one.
        let out = self
            .update_item(circuit_key(vendor))
            .await
            .update_expression(
                "SET failures = if_not_exists(failures, :zero) + :one, expires_at = :forget",
            )
            .condition_expression("attribute_not_exists(expires_at) OR expires_at > :now")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", now_n.clone())
            .expression_attribute_values(":forget", n((now + FORGET_SECS) as i64))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let failures = match out {
            Ok(o) => o
                .attributes
                .as_ref()
                .and_then(|a| opt_n(a, "failures"))
                .unwrap_or(1),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // Expired: start again at one, unless a racing failure just did.
                let restarted = self
                    .client
                    .get()
                    .await
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(circuit_key(vendor)))
                    .item("failures", n(1))
                    .item("expires_at", n((now + FORGET_SECS) as i64))
                    .condition_expression("attribute_not_exists(expires_at) OR expires_at <= :now")
                    .expression_attribute_values(":now", now_n.clone())
                    .send()
                    .await;
                match restarted {
                    Ok(_) => 1,
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        return Box::pin(self.count_failure(vendor, now)).await;
                    }
                    Err(e) => return Err(sdk_error(e)),
                }
            }
            Err(e) => return Err(sdk_error(e)),
        };
        if failures < THRESHOLD {
            return Ok(false);
        }
        // Only the failure that finds it closed opens it (and says so, once).
        let opened = self
            .update_item(circuit_key(vendor))
            .await
            .update_expression("SET open_until = :until")
            .condition_expression("attribute_not_exists(open_until) OR open_until <= :now")
            .expression_attribute_values(":until", n((now + OPEN_SECS) as i64))
            .expression_attribute_values(":now", now_n)
            .send()
            .await;
        match opened {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}

impl Circuits for DynamoStore {
    fn read(&self, vendor: ProviderKind) -> BoxFuture<'_, Circuit> {
        Box::pin(async move {
            self.read_circuit(vendor).await.unwrap_or_else(|e| {
                tracing::warn!(vendor = vendor.as_str(), error = %e, "circuit unreadable: treated as closed");
                Circuit::default()
            })
        })
    }

    fn failed(&self, vendor: ProviderKind, now: u64) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.count_failure(vendor, now).await.unwrap_or_else(|e| {
                tracing::warn!(vendor = vendor.as_str(), error = %e, "circuit failure not counted");
                false
            })
        })
    }

    fn succeeded(&self, vendor: ProviderKind) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if let Err(e) = self.delete_item(circuit_key(vendor)).await.send().await {
                tracing::warn!(vendor = vendor.as_str(), error = %sdk_error(e), "circuit not closed");
            }
        })
    }
}
