//! The heartbeat timeout's sweep: stores as disconnected (reason `timed_out`,
//! `disconnectedAt` = last sign of life + timeout) every connected session whose last connect
//! or heartbeat is older than `SESSIONS_HEARTBEAT_TIMEOUT_SECONDS`.
//!
//! The API already reads such a session as `disconnected` the moment it times out; storing it
//! so is what puts its disconnect event on the table's stream, for the component that holds
//! the connections. EventBridge Scheduler invokes this function every minute with an empty
//! event, so a session is stored disconnected within one more minute (the contract allows one
//! more timeout). The whole job is [`DynamoStore::sweep_timed_out`]: it reads the sparse `live`
//! index, oldest sign of life first, and never scans.
//!
//! Each invocation logs one JSON line (`"sweep"`: disconnected, complete, latency) and, in
//! Lambda, one embedded-metric-format line (`SessionsTimedOut`, `SweepIncomplete`). A sweep that
//! runs short of time, or finds DynamoDB unavailable, ends normally and leaves the rest to the
//! next minute's; only a defect (an item that does not decode, a misconfiguration) fails the
//! invocation, which the `FunctionErrorsAlarm` reports.

use std::time::Instant;

use chrono::Duration;
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::{json, Value};
use sessions::config::{Config, ConfigError, MetricsConfig};
use sessions::store::{Budget, DynamoStore, StoreError, SweepOutcome};
use sessions::time::{self, Timestamp};

/// The function's name in logs and metrics (its folder under `functions/`).
pub const NAME: &str = "sweep-sessions";

/// What the function needs, built once per Lambda instance.
#[derive(Debug, Clone)]
pub struct Sweeper {
    store: DynamoStore,
    /// `None`: the timeout is off (`SESSIONS_HEARTBEAT_TIMEOUT_SECONDS=0`), nothing to sweep.
    timeout: Option<Duration>,
    metrics: MetricsConfig,
}

impl Sweeper {
    /// Reads the configuration (the functions' own, `sessions::config::Config`) and builds the
    /// SDK client. Fails on a bad configuration.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        let store = DynamoStore::from_env(config.table.clone(), config.tls_roots).await?;
        Ok(Sweeper::new(&config, store))
    }

    /// A sweeper over `store`, configured as `config` says (the heartbeat timeout, the
    /// retention of what it disconnects, metrics).
    pub fn new(config: &Config, store: DynamoStore) -> Self {
        Sweeper {
            store: store.with_retention(config.retention),
            timeout: config.heartbeat_timeout,
            metrics: config.metrics.clone(),
        }
    }

    /// One scheduled invocation. The event (Scheduler sends `{}`) carries nothing the sweep
    /// needs; the context gives the request id and the deadline every call is bounded by.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let context = event.context;
        self.sweep(
            time::now(),
            Budget::new(deadline(&context)),
            &context.request_id,
        )
        .await
    }

    /// The sweep itself at `now`, within `budget`: what [`Sweeper::handle`] does with the
    /// invocation's clock and deadline. Answers what it logs.
    pub async fn sweep(
        &self,
        now: Timestamp,
        budget: Budget,
        request_id: &str,
    ) -> Result<Value, Error> {
        let Some(timeout) = self.timeout else {
            tracing::info!(
                request_id,
                function = NAME,
                "sweep skipped: the heartbeat timeout is off (SESSIONS_HEARTBEAT_TIMEOUT_SECONDS=0)"
            );
            return Ok(json!({ "skipped": "heartbeat timeout off" }));
        };
        let started = Instant::now();
        let result = self.store.sweep_timed_out(now, timeout, &budget).await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(SweepOutcome {
                disconnected,
                complete,
            }) => {
                tracing::info!(
                    request_id,
                    function = NAME,
                    disconnected,
                    complete,
                    timeout_seconds = timeout.num_seconds(),
                    latency_ms,
                    "sweep"
                );
                self.emit_metrics(disconnected, complete);
                Ok(json!({ "disconnected": disconnected, "complete": complete }))
            }
            // Throttled, timed out or failing: the next minute's sweep tries again. Nothing is
            // lost (the sessions still read disconnected) and this is no defect.
            Err(StoreError::Unavailable(detail)) => {
                tracing::warn!(
                    request_id,
                    function = NAME,
                    error = %detail,
                    latency_ms,
                    "sweep: DynamoDB unavailable; the next sweep continues"
                );
                self.emit_metrics(0, false);
                Ok(json!({ "disconnected": 0, "complete": false, "error": "unavailable" }))
            }
            Err(e) => {
                tracing::error!(
                    request_id,
                    function = NAME,
                    error = %e,
                    latency_ms,
                    "sweep failed"
                );
                Err(e.into())
            }
        }
    }

    /// One EMF line (namespace `SESSIONS_METRICS_NAMESPACE`, dimension `Function`):
    /// `SessionsTimedOut`, the sessions this sweep stored as disconnected, and
    /// `SweepIncomplete`, 1 when it left work to the next sweep.
    fn emit_metrics(&self, disconnected: u64, complete: bool) {
        if let Some(line) = metrics_line(
            &self.metrics,
            disconnected,
            complete,
            chrono::Utc::now().timestamp_millis(),
        ) {
            println!("{line}");
        }
    }
}

fn metrics_line(
    sink: &MetricsConfig,
    disconnected: u64,
    complete: bool,
    timestamp_ms: i64,
) -> Option<String> {
    sink.enabled.then(|| {
        json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": sink.namespace,
                    "Dimensions": [["Function"]],
                    "Metrics": [
                        {"Name": "SessionsTimedOut", "Unit": "Count"},
                        {"Name": "SweepIncomplete", "Unit": "Count"},
                    ],
                }],
            },
            "Function": NAME,
            "SessionsTimedOut": disconnected,
            "SweepIncomplete": u8::from(!complete),
        })
        .to_string()
    })
}

/// 2001-09-09 in epoch milliseconds: anything smaller is not a wall-clock deadline.
const PLAUSIBLE_EPOCH_MS: u64 = 1_000_000_000_000;

/// The invocation's deadline (epoch milliseconds in the Lambda context) as an `Instant`. Local
/// runners send a bare duration or nothing; only a plausible epoch counts.
pub fn deadline(context: &Context) -> Option<Instant> {
    deadline_at(context.deadline, chrono::Utc::now().timestamp_millis())
}

fn deadline_at(deadline_ms: u64, now_ms: i64) -> Option<Instant> {
    let now_ms = u64::try_from(now_ms).ok()?;
    (deadline_ms > PLAUSIBLE_EPOCH_MS).then(|| {
        Instant::now() + std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_wall_clock_deadline_counts() {
        let now_ms = 1_800_000_000_000i64;
        let left = deadline_at(now_ms as u64 + 29_000, now_ms)
            .expect("a deadline")
            .saturating_duration_since(Instant::now());
        assert!(left > std::time::Duration::from_secs(28), "{left:?}");
        assert!(left <= std::time::Duration::from_secs(29), "{left:?}");
        // cargo lambda watch's bare 600000, an unset context, a deadline already past.
        assert!(deadline_at(600_000, now_ms).is_none());
        assert!(deadline_at(0, now_ms).is_none());
        let past = deadline_at(now_ms as u64 - 5_000, now_ms).expect("a deadline");
        assert!(past <= Instant::now());
    }

    #[test]
    fn metrics_are_one_emf_line_when_on() {
        let on = MetricsConfig {
            namespace: "SessionsApi/test".into(),
            enabled: true,
        };
        let line = metrics_line(&on, 7, false, 1_800_000_000_000).expect("on");
        let doc: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(doc["Function"], NAME);
        assert_eq!(doc["SessionsTimedOut"], 7);
        assert_eq!(doc["SweepIncomplete"], 1);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "SessionsApi/test");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(doc["_aws"]["Timestamp"], 1_800_000_000_000i64);
        assert!(!line.contains('\n'));

        let off = MetricsConfig {
            enabled: false,
            ..on
        };
        assert_eq!(metrics_line(&off, 7, true, 0), None);
    }
}
