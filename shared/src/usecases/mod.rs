//! The flows a handler calls: parse → one of these → respond.

pub mod admin;
pub mod auth;
pub mod charges;
#[cfg(any(feature = "delivery", feature = "images"))]
pub mod deliveries;
pub mod idempotency;
pub mod jobs;
pub mod library;
#[cfg(feature = "prompts")]
pub mod prompts;
pub mod referrals;
#[cfg(feature = "oidc")]
pub mod signin;
pub mod videos;
pub mod webhooks;

#[cfg(feature = "images")]
pub mod edit_inputs;
#[cfg(feature = "images")]
pub mod generation;
#[cfg(feature = "images")]
pub mod job_runs;
#[cfg(feature = "images")]
pub mod transforms;
#[cfg(feature = "images")]
pub mod uploads;
