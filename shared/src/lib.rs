//! The Sessions API: the session model and its rules, the DynamoDB store, and the HTTP
//! entrypoints the Lambda functions wire up.
//!
//! Layout, from the bottom of the stack up (each module uses only those above it in this list):
//! - [`time`], [`config`]: the clock and its formats; every environment variable, read once.
//! - [`model`], [`params`], [`body`], [`error`], [`cursor`]: the rules (derived status, list
//!   parameters, the connection side's request bodies, the error shape, signed cursors); no I/O.
//! - [`auth`]: who is calling (API Gateway's verified claims, or a development token).
//! - [`route`]: the API's routes, one home for their names, paths and scopes.
//! - [`events`]: the published events (EventBridge, Shared Signals), independent of the layout.
//! - [`ssf`]: the Shared Signals transmitter: streams, SETs, signing and push (its rules sit
//!   here; [`ssf::transmitter`] and the workers above it also read streams through the store).
//! - [`store`]: the table, and the only place that knows its item layout.
//! - [`metrics`], [`telemetry`]: per-request metrics and logs.
//! - [`api`]: API Gateway requests in, contract-shaped responses out.

pub mod api;
pub mod auth;
pub mod body;
pub mod config;
pub mod cursor;
pub mod error;
pub mod events;
pub mod metrics;
pub mod model;
pub mod params;
pub mod route;
pub mod ssf;
pub mod store;
pub mod telemetry;
pub mod time;
