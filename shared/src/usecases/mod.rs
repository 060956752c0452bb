//! The flows a handler calls: parse (`http`) → one of these → answer (`http`). Use cases see
//! the world through `Deps`: the configuration and the ports.

mod deps;

pub use deps::Deps;

pub mod admin;
pub mod announcements;
pub mod api_keys;
pub mod auth;
pub mod billing;
#[cfg(any(feature = "delivery", feature = "images"))]
pub mod deliveries;
pub mod idempotency;
pub mod jobs;
pub mod library;
pub mod oauth;
#[cfg(feature = "prompts")]
pub mod prompts;
#[cfg(feature = "provenance")]
pub mod provenance;
pub mod referrals;
#[cfg(feature = "oidc")]
pub mod signin;
pub mod usage;
#[cfg(feature = "variants")]
pub mod variants;
pub mod videos;
pub mod webhooks;

#[cfg(feature = "images")]
pub mod edit_inputs;
#[cfg(feature = "images")]
pub mod generation;
#[cfg(feature = "images")]
pub mod transforms;
#[cfg(feature = "images")]
pub mod uploads;
