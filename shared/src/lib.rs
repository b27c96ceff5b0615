//! The Sessions API's shared crate: the session model and its rules, the DynamoDB store, and
//! the HTTP entrypoints the Lambda functions wire up.
//!
//! - [`model`], [`params`], [`cursor`], [`auth`], [`error`], [`time`]: rules, no I/O.
//! - [`store`]: the table, and the only place that knows its item layout.
//! - [`api`]: API Gateway requests in, contract-shaped responses out.

pub mod api;
pub mod auth;
pub mod config;
pub mod cursor;
pub mod error;
pub mod metrics;
pub mod model;
pub mod params;
pub mod store;
pub mod telemetry;
pub mod time;
