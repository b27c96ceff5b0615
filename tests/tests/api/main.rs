//! The black-box tests, as one test binary (one link, one process; the layout of zero2prod's
//! `tests/api/main.rs`). Every test builds its own world (`sessions_tests::World`): its own
//! engine, table and API, so they run in parallel in this one process. The few that change
//! something process-wide (environment variables, a log subscriber) run in a process of their
//! own (`sessions_tests::process::alone`).
//!
//! `cargo test -p sessions-tests <filter>` picks tests by path, e.g. `routes::list`,
//! `security::`, or `e2e` for the end-to-end run through `cargo lambda watch`.

/// Each route, clause by clause: the management routes, then the connection side (connect,
/// heartbeat and the heartbeat timeout, disconnect).
mod routes {
    mod adversity;
    mod connect;
    mod disconnect;
    mod get;
    mod heartbeat;
    mod list;
    mod revoke_all;
    mod revoke_at_scale;
    mod revoke_one;
    mod sweep;
}

/// The published events: the stream consumer over the real engine's stream (every kind of
/// change, stable ids, skipped records), its EventBridge publishing when it refuses, and the
/// local runner forwarding to a receiver.
mod events {
    mod delivery;
    mod kinds;
    mod runner;
    mod support;
    mod template;
}

/// Attacks: tokens, tenants, cursors, hostile input, what the logs hold, parser properties and
/// the deployed authorization.
mod security {
    mod cursors;
    mod inputs;
    mod logs;
    mod properties;
    mod template;
    mod tenants;
    mod tokens;
}

/// The declared contract held to the code: `openapi.yaml`, `template.yaml` and the DynamoDB
/// requests per API request.
mod contract {
    mod openapi;
    mod round_trips;
    mod template;
}

/// Out of process: real HTTP through `cargo lambda watch`, and real TLS to the table.
mod end_to_end {
    mod e2e_watch;
    mod tls_roots;
}

/// The session gateway with the official MCP SDK's client and an SDK-built server.
mod gateway;
/// The Shared Signals transmitter: discovery, keys and stream management; signed CAEP
/// `session-revoked` SETs pushed to receivers, verified by joserfc; tenants, retries, dead
/// letters.
mod ssf {
    mod delivery;
    mod kms;
    mod rig;
    mod rule;
    mod streams;
}

/// The documentation held to the API description (`docs/api.md` vs `openapi.yaml`).
mod docs;

/// Who may call (401, 403) and how a failing dependency looks (503, 500), on every route.
mod failures;

/// The project's declarative files (`template.yaml`, `openapi.yaml`, the watch router) as data.
mod spec_files;
