//! The gateway's own metrics, served in the Prometheus text format at `/gateway/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Every metric the gateway keeps; cheap to clone (the counters are shared).
#[derive(Clone, Default)]
pub struct Metrics {
    /// MCP sessions the gateway holds now.
    pub sessions_open: Gauge,
    /// MCP sessions opened (an `initialize` the upstream answered with a session id).
    pub sessions_opened: Counter,
    /// Connects reported to the Sessions API.
    pub connects: Counter,
    /// Connect calls that failed and were (or will be) tried again.
    pub connect_failures: Counter,
    /// Heartbeats reported.
    pub heartbeats: Counter,
    /// Heartbeat calls that failed for a reason other than the session being disconnected.
    pub heartbeat_failures: Counter,
    /// Disconnects reported (client DELETE, upstream ended the session, shutdown).
    pub disconnects: Counter,
    /// Disconnect calls that failed and were tried again.
    pub disconnect_failures: Counter,
    /// Sessions cut off because the Sessions API said they were disconnected.
    pub cutoffs: Counter,
    /// Sessions cut off by a pushed revocation (a CAEP session-revoked SET).
    pub event_cutoffs: Counter,
    /// Requests refused with 401 because their token's session was cut off.
    pub refused_tokens: Counter,
    /// Requests the upstream MCP server could not be reached for.
    pub upstream_failures: Counter,
}

impl Metrics {
    /// The Prometheus exposition of every metric.
    pub fn render(&self) -> String {
        let mut registry = Registry::with_prefix("gateway");
        let gauges = [(
            "sessions_open",
            "MCP sessions held now",
            &self.sessions_open,
        )];
        let counters = [
            (
                "sessions_opened",
                "MCP sessions opened",
                &self.sessions_opened,
            ),
            ("connects", "Connects reported", &self.connects),
            (
                "connect_failures",
                "Connect calls that failed",
                &self.connect_failures,
            ),
            ("heartbeats", "Heartbeats reported", &self.heartbeats),
            (
                "heartbeat_failures",
                "Heartbeat calls that failed",
                &self.heartbeat_failures,
            ),
            ("disconnects", "Disconnects reported", &self.disconnects),
            (
                "disconnect_failures",
                "Disconnect calls that failed",
                &self.disconnect_failures,
            ),
            (
                "cutoffs",
                "Sessions cut off after the Sessions API disconnected them",
                &self.cutoffs,
            ),
            (
                "event_cutoffs",
                "Sessions cut off by a pushed revocation",
                &self.event_cutoffs,
            ),
            (
                "refused_tokens",
                "Requests refused because their token's session was cut off",
                &self.refused_tokens,
            ),
            (
                "upstream_failures",
                "Requests the upstream MCP server could not be reached for",
                &self.upstream_failures,
            ),
        ];
        for (name, help, gauge) in gauges {
            registry.register(name, help, gauge.clone());
        }
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_rendered_with_its_value() {
        let metrics = Metrics::default();
        metrics.sessions_open.set(3);
        metrics.cutoffs.inc();
        let text = metrics.render();
        assert!(text.contains("gateway_sessions_open 3"), "{text}");
        assert!(text.contains("gateway_cutoffs_total 1"), "{text}");
        assert!(
            text.contains("gateway_heartbeat_failures_total 0"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
