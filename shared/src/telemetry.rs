//! Logging: one JSON object per line on stdout, which CloudWatch Logs indexes field by field.
//!
//! Each line carries `timestamp` (RFC 3339) and `level`, the keys Lambda's JSON log format
//! reads, so the template's `LogFormat: JSON` keeps them as they are beside Lambda's own
//! records. Every request logs exactly one `request` line (see `api::Exchange::finish`): request
//! id, route, status, error code, latency, organization, application and count; never a header,
//! a token, a cursor or a key. Metrics go beside it as embedded-metric-format lines
//! ([`crate::metrics`]).

use tracing::Level;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The runtime crates log whole events (the Authorization header, the query with its cursor)
/// at debug and trace: they stay at `info` at most, whatever `RUST_LOG` says.
const RUNTIME_CRATES: [&str; 3] = ["lambda_runtime", "lambda_runtime_api_client", "lambda_http"];

/// The filter for a `RUST_LOG` value: comma-separated `target=level` directives and a bare
/// default level (`info` when unset or unreadable), with [`RUNTIME_CRATES`] capped at `info`.
/// (A `Targets` filter, not `EnvFilter`: no span or field matching, and no regex engine in the
/// binary.)
pub fn filter(rust_log: Option<&str>) -> Targets {
    let mut targets = rust_log
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    for name in RUNTIME_CRATES {
        let level = most_verbose(&targets, name);
        targets = targets.with_target(name, level.min(LevelFilter::INFO));
    }
    targets
}

/// The most verbose level `targets` lets through for `target` (`OFF` when none).
fn most_verbose(targets: &Targets, target: &str) -> LevelFilter {
    [
        Level::TRACE,
        Level::DEBUG,
        Level::INFO,
        Level::WARN,
        Level::ERROR,
    ]
    .into_iter()
    .find(|level| targets.would_enable(target, level))
    .map_or(LevelFilter::OFF, LevelFilter::from_level)
}

/// Installs the JSON log subscriber, filtered by `RUST_LOG` ([`filter`]). Safe to call twice.
pub fn init() {
    let rust_log = crate::config::env("RUST_LOG");
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_target(false)
                .with_current_span(false)
                .flatten_event(true)
                .with_writer(std::io::stdout),
        )
        .with(filter(rust_log.as_deref()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(rust_log: Option<&str>, target: &str) -> Option<LevelFilter> {
        Some(most_verbose(&filter(rust_log), target)).filter(|l| *l != LevelFilter::OFF)
    }

    #[test]
    fn info_by_default_and_when_unreadable() {
        for value in [None, Some("info"), Some("not a level=at all=")] {
            assert_eq!(
                level(value, "sessions"),
                Some(LevelFilter::INFO),
                "{value:?}"
            );
        }
    }

    #[test]
    fn directives_apply_per_target() {
        let v = Some("warn,sessions=debug");
        assert_eq!(level(v, "sessions"), Some(LevelFilter::DEBUG));
        assert_eq!(level(v, "sessions::store"), Some(LevelFilter::DEBUG));
        assert_eq!(level(v, "aws_smithy_runtime"), Some(LevelFilter::WARN));
    }

    #[test]
    fn the_runtime_crates_never_go_below_info() {
        for value in [
            Some("trace"),
            Some("lambda_runtime=trace,lambda_http=debug,debug"),
        ] {
            for name in RUNTIME_CRATES {
                assert_eq!(
                    level(value, name),
                    Some(LevelFilter::INFO),
                    "{value:?} {name}"
                );
            }
        }
        // Quieter stays quieter, and off stays off.
        assert_eq!(
            level(Some("error"), "lambda_http"),
            Some(LevelFilter::ERROR)
        );
        assert_eq!(level(Some("off"), "lambda_runtime"), None);
    }
}
