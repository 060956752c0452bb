//! What a use case is given: the configuration and the ports, built once per cold start (by
//! `app`, the composition root) and borrowed by every invocation.

use crate::config::Config;
use crate::ports::{Events, Queue};
use crate::usecases::auth::{FailedAuth, KnownKeys};
use std::sync::Arc;

pub struct Deps<S, B> {
    pub config: Config,
    pub store: S,
    pub blobs: B,
    #[cfg(feature = "images")]
    pub providers: crate::providers::Providers,
    /// The Content Credentials signer, made on first use.
    #[cfg(feature = "provenance")]
    pub credentials: crate::usecases::provenance::Credentials,
    /// Addresses over the failed-authentication limit, as this instance has seen them.
    pub failed_auth: FailedAuth,
    /// API keys this instance has looked up (liveness is checked on every request).
    pub api_keys: KnownKeys,
    /// Where changes are announced to other systems.
    pub events: Arc<dyn Events>,
    /// The generation queue (jobs) and the webhook queue (deliveries).
    pub queues: Arc<dyn Queue>,
}
