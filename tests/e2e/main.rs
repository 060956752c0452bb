//! Every end-to-end test in one binary: each linked test binary carries the whole AWS SDK, so one
//! binary instead of thirteen saves minutes of linking and gigabytes of disk. `no_secrets_in_logs`
//! stays apart because it installs a process-wide log subscriber.

mod admin;
mod announcements;
mod assets;
mod auth_flow;
mod bad_input;
mod browser;
mod bus_events;
mod charges;
mod credentials;
mod defects;
mod delivery;
mod edits;
mod events;
mod generation;
mod jobs;
mod keys;
mod layers;
mod library;
mod mcp;
mod openai_sdk;
mod openapi_fuzz;
mod prism_conformance;
mod promises;
mod prompts;
mod provenance;
mod providers;
mod quotes;
mod rate_limit;
mod referrals;
mod signin;
mod stack_shape;
mod streaming;
mod usage;
mod vendors;
mod videos;
mod web;
mod webhooks;
