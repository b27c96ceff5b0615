//! Logging: one JSON object per line on stdout, which CloudWatch Logs indexes field by field.
//!
//! Each line carries `timestamp` (RFC 3339) and `level`, the keys Lambda's JSON log format
//! reads, so the template's `LogFormat: JSON` keeps them as they are beside Lambda's own
//! records. Every request logs exactly one `request` line (see `api::Exchange::finish`): request
//! id, route, status, error code, latency, organization, application and count; never a header,
//! a token, a cursor or a key. Metrics go beside it as embedded-metric-format lines
//! ([`crate::metrics`]).

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber, filtered by `RUST_LOG` (default `info`), with the Lambda
/// runtime crates capped at `info`. Safe to call twice.
pub fn init() {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The runtime logs whole events (the Authorization header, the query with its cursor) at
    // debug and trace: keep those crates at info whatever RUST_LOG says.
    for directive in [
        "lambda_runtime=info",
        "lambda_runtime_api_client=info",
        "lambda_http=info",
    ] {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .flatten_event(true)
        .with_writer(std::io::stdout)
        .try_init();
}
