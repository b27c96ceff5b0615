//! Per-request CloudWatch metrics in the embedded metric format (EMF): one JSON line on stdout
//! per request, which Lambda ships to CloudWatch Logs and CloudWatch turns into metrics. No API
//! call on the request path, no `cloudwatch:PutMetricData` permission.
//!
//! Written with serde_json rather than a crate: `metrics_cloudwatch_embedded`, the maintained EMF
//! backend, plugs the `metrics` facade into a global recorder and flushes through a layer around
//! the Lambda runtime. These functions emit one fixed document per request with five values, so
//! a page of code keeps its whole shape visible here and checked by the tests below.
//!
//! Metrics (namespace `SESSIONS_METRICS_NAMESPACE`, default `SessionsApi`):
//! - by `Route`: `Requests`, `Latency` (ms), `ClientErrors` (4xx), `ServerErrors` (5xx) and, for
//!   the revoke routes, `SessionsRevoked` (sessions this request disconnected) and, for a list
//!   that left unreadable items out, `SkippedItems`;
//! - by `Route` + `ErrorCode` and by `ErrorCode` alone, for failed requests: `Errors`, so each
//!   class of error (`invalid_request`, `not_found`, `unavailable`, …) has its own series.
//!
//! Nothing from the request but its id, route and outcome goes into the document: no token, no
//! caller, no parameter.

use serde_json::{json, Map, Value};

use crate::config::MetricsConfig;
use crate::route::Route;

/// What one request did, as far as metrics are concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestMetrics<'a> {
    pub route: Route,
    pub status: u16,
    /// The error's stable code when the request failed.
    pub error_code: Option<&'a str>,
    pub latency_ms: f64,
    /// Sessions the request disconnected; `None` for the read routes.
    pub sessions_revoked: Option<u64>,
    /// Items left out of a list because they did not decode (`SkippedItems` when not 0).
    pub skipped_items: u32,
    pub request_id: &'a str,
}

impl RequestMetrics<'_> {
    /// The EMF document: `_aws` metadata naming the metrics, then the values as top-level members.
    pub fn to_emf(&self, namespace: &str, timestamp_ms: i64) -> Value {
        let mut per_route = vec![
            json!({"Name": "Requests", "Unit": "Count"}),
            json!({"Name": "Latency", "Unit": "Milliseconds"}),
            json!({"Name": "ClientErrors", "Unit": "Count"}),
            json!({"Name": "ServerErrors", "Unit": "Count"}),
        ];
        let mut doc = Map::new();
        doc.insert("Route".into(), self.route.name().into());
        doc.insert("requestId".into(), self.request_id.into());
        doc.insert("statusCode".into(), self.status.into());
        doc.insert("Requests".into(), 1.into());
        doc.insert("Latency".into(), json!(self.latency_ms));
        doc.insert(
            "ClientErrors".into(),
            u8::from((400..500).contains(&self.status)).into(),
        );
        doc.insert("ServerErrors".into(), u8::from(self.status >= 500).into());
        if let Some(revoked) = self.sessions_revoked {
            per_route.push(json!({"Name": "SessionsRevoked", "Unit": "Count"}));
            doc.insert("SessionsRevoked".into(), revoked.into());
        }
        if self.skipped_items > 0 {
            per_route.push(json!({"Name": "SkippedItems", "Unit": "Count"}));
            doc.insert("SkippedItems".into(), self.skipped_items.into());
        }
        let mut directives = vec![json!({
            "Namespace": namespace,
            "Dimensions": [["Route"]],
            "Metrics": per_route,
        })];
        if let Some(code) = self.error_code {
            directives.push(json!({
                "Namespace": namespace,
                "Dimensions": [["Route", "ErrorCode"], ["ErrorCode"]],
                "Metrics": [{"Name": "Errors", "Unit": "Count"}],
            }));
            doc.insert("ErrorCode".into(), code.into());
            doc.insert("Errors".into(), 1.into());
        }
        doc.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
        );
        Value::Object(doc)
    }
}

/// Writes the request's EMF line to stdout, where Lambda collects it with the logs.
pub fn emit(sink: &MetricsConfig, metrics: &RequestMetrics<'_>) {
    if let Some(line) = line(sink, metrics, chrono::Utc::now().timestamp_millis()) {
        // One `println!` is one write of one line under stdout's lock: lines never interleave.
        println!("{line}");
    }
}

/// The line [`emit`] writes, if metrics are on: CloudWatch reads one document per log line.
fn line(sink: &MetricsConfig, metrics: &RequestMetrics<'_>, timestamp_ms: i64) -> Option<String> {
    sink.enabled
        .then(|| metrics.to_emf(&sink.namespace, timestamp_ms).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        status: u16,
        code: Option<&'static str>,
        revoked: Option<u64>,
    ) -> RequestMetrics<'static> {
        RequestMetrics {
            route: if revoked.is_some() {
                Route::RevokeSessions
            } else {
                Route::ListSessions
            },
            status,
            error_code: code,
            latency_ms: 12.5,
            sessions_revoked: revoked,
            skipped_items: 0,
            request_id: "req-1",
        }
    }

    /// The rules of the EMF specification a CloudWatch ingestion would reject a document for.
    fn assert_valid_emf(doc: &Value) {
        let aws = doc["_aws"].as_object().expect("_aws is an object");
        assert!(aws["Timestamp"].is_i64(), "Timestamp is epoch milliseconds");
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics is an array");
        assert!(!directives.is_empty());
        for directive in directives {
            let ns = directive["Namespace"].as_str().expect("Namespace");
            assert!(!ns.is_empty() && ns.len() <= 256);
            let dimension_sets = directive["Dimensions"].as_array().expect("Dimensions");
            for set in dimension_sets {
                let set = set.as_array().expect("a dimension set is an array");
                assert!(set.len() <= 30);
                for name in set {
                    let name = name.as_str().expect("dimension names are strings");
                    assert!(
                        doc[name].is_string(),
                        "dimension {name} is a top-level string member"
                    );
                }
            }
            let metrics = directive["Metrics"].as_array().expect("Metrics");
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for metric in metrics {
                let name = metric["Name"].as_str().expect("metric Name");
                assert!(
                    doc[name].is_number(),
                    "metric {name} is a top-level number member"
                );
                assert!(metric["Unit"].is_string());
            }
        }
    }

    #[test]
    fn a_success_has_the_required_aws_structure_and_no_error_series() {
        let doc = sample(200, None, None).to_emf("SessionsApi/test", 1_796_083_500_000);
        assert_valid_emf(&doc);
        assert_eq!(doc["_aws"]["Timestamp"], 1_796_083_500_000_i64);
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().expect("array");
        assert_eq!(directives.len(), 1);
        assert_eq!(directives[0]["Namespace"], "SessionsApi/test");
        assert_eq!(directives[0]["Dimensions"], json!([["Route"]]));
        assert_eq!(doc["Route"], "list-sessions");
        assert_eq!(doc["Requests"], 1);
        assert_eq!(doc["Latency"], 12.5);
        assert_eq!(doc["ClientErrors"], 0);
        assert_eq!(doc["ServerErrors"], 0);
        assert!(doc.get("Errors").is_none() && doc.get("ErrorCode").is_none());
        assert!(doc.get("SessionsRevoked").is_none(), "reads revoke nothing");
    }

    #[test]
    fn errors_are_counted_by_class_and_by_code() {
        let doc = sample(404, Some("not_found"), None).to_emf("SessionsApi", 1);
        assert_valid_emf(&doc);
        assert_eq!(doc["ClientErrors"], 1);
        assert_eq!(doc["ServerErrors"], 0);
        assert_eq!(doc["ErrorCode"], "not_found");
        assert_eq!(doc["Errors"], 1);
        let errors = &doc["_aws"]["CloudWatchMetrics"][1];
        assert_eq!(
            errors["Dimensions"],
            json!([["Route", "ErrorCode"], ["ErrorCode"]])
        );

        let doc = sample(503, Some("unavailable"), None).to_emf("SessionsApi", 1);
        assert_valid_emf(&doc);
        assert_eq!(doc["ClientErrors"], 0);
        assert_eq!(doc["ServerErrors"], 1);
    }

    #[test]
    fn revokes_report_how_many_sessions_they_disconnected() {
        let doc = sample(200, None, Some(7)).to_emf("SessionsApi", 1);
        assert_valid_emf(&doc);
        assert_eq!(doc["SessionsRevoked"], 7);
        let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        assert!(names.contains(&"SessionsRevoked"));
    }

    #[test]
    fn unreadable_items_left_out_of_a_list_are_counted() {
        let mut metrics = sample(200, None, None);
        assert!(metrics
            .to_emf("SessionsApi", 1)
            .get("SkippedItems")
            .is_none());
        metrics.skipped_items = 2;
        let doc = metrics.to_emf("SessionsApi", 1);
        assert_valid_emf(&doc);
        assert_eq!(doc["SkippedItems"], 2);
    }

    #[test]
    fn what_emit_writes_is_one_line_and_only_when_switched_on() {
        let on = MetricsConfig {
            namespace: "SessionsApi".into(),
            enabled: true,
        };
        let mut metrics = sample(400, Some("invalid_request"), None);
        // A request id with line breaks in it still makes exactly one line.
        metrics.request_id = "a\nb\r\nc";
        let written = line(&on, &metrics, 1).expect("metrics are on");
        assert_eq!(written.lines().count(), 1, "{written}");
        let doc: Value = serde_json::from_str(&written).expect("the line is the document");
        assert_eq!(doc["requestId"], "a\nb\r\nc");
        assert_valid_emf(&doc);
        let off = MetricsConfig {
            enabled: false,
            ..on
        };
        assert_eq!(line(&off, &metrics, 1), None);
    }
}
