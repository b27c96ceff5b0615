//! Logging: one JSON object per line, which CloudWatch Logs indexes field by field.

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber, filtered by `RUST_LOG` (default `info`). Safe to call twice.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .flatten_event(true)
        .try_init();
}
