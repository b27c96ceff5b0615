//! The summary: every key with its value, unit, goal and whether the goal holds, written to
//! `summary.json` and printed as a table. A missed goal is reported like a met one; a figure
//! that could not be measured is `null` with the reason in its notes, and holds no goal.

use serde::Serialize;
use serde_json::{json, Map, Value};

/// What a figure is held to.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// Reported, not judged.
    Report,
    AtMost(f64),
    Equals(f64),
}

impl Goal {
    fn text(self) -> String {
        match self {
            Goal::Report => "report".into(),
            Goal::AtMost(x) => format!("<= {}", trim(x)),
            Goal::Equals(x) => format!("== {}", trim(x)),
        }
    }

    fn holds(self, value: Option<f64>) -> Option<bool> {
        let v = value.filter(|v| v.is_finite());
        match self {
            Goal::Report => None,
            Goal::AtMost(x) => Some(v.is_some_and(|v| v <= x)),
            Goal::Equals(x) => Some(v.is_some_and(|v| (v - x).abs() < f64::EPSILON)),
        }
    }
}

/// The summary's keys, in order, with their units and goals: the one place a goal
/// is written down.
pub const KEYS: [(&str, &str, Goal); 24] = [
    ("zip_bytes_max", "B", Goal::AtMost(2_500_000.0)),
    ("init_ms_median", "ms", Goal::Report),
    ("init_ratio_vs_hello", "", Goal::AtMost(1.5)),
    ("peak_rss_mb_max", "MB", Goal::AtMost(32.0)),
    ("get_overhead_ratio", "", Goal::AtMost(1.3)),
    ("list_overhead_ratio", "", Goal::AtMost(1.3)),
    ("heartbeat_overhead_ratio", "", Goal::AtMost(1.3)),
    ("connect_overhead_ratio", "", Goal::AtMost(1.3)),
    ("ddb_calls_get", "", Goal::Equals(1.0)),
    ("ddb_calls_list_page", "", Goal::Report),
    ("ddb_calls_heartbeat", "", Goal::Equals(1.0)),
    ("ddb_calls_connect", "", Goal::Equals(1.0)),
    ("ddb_round_trips_get", "", Goal::Equals(1.0)),
    ("ddb_round_trips_list_page", "", Goal::AtMost(2.0)),
    (
        "peak_wcu_per_key_heartbeats",
        "WCU/s",
        Goal::AtMost(1_000.0),
    ),
    (
        "peak_rcu_per_key_heartbeats",
        "RCU/s",
        Goal::AtMost(3_000.0),
    ),
    ("peak_wcu_per_key_reconnect", "WCU/s", Goal::AtMost(1_000.0)),
    ("revoke_10k_seconds", "s", Goal::AtMost(5.0)),
    ("revoke_speedup_vs_sequential", "x", Goal::Report),
    ("gateway_overhead_ratio", "", Goal::AtMost(1.2)),
    // Judged against the run's heartbeat interval (docs/benchmarks.md), which a flag sets.
    ("cutoff_seconds_p50", "s", Goal::Report),
    ("cutoff_seconds_p99", "s", Goal::Report),
    // The same cut-off when the revocation is pushed to the gateway as a Shared Signals event.
    ("cutoff_event_seconds_p50", "s", Goal::Report),
    ("cutoff_event_seconds_p99", "s", Goal::AtMost(1.0)),
];

/// The unit and goal of `key` (unknown keys are reported, unitless).
pub fn spec(key: &str) -> (&'static str, Goal) {
    KEYS.iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, unit, goal)| (*unit, *goal))
        .unwrap_or(("", Goal::Report))
}

/// One key of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub value: Option<f64>,
    pub unit: &'static str,
    pub goal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds: Option<bool>,
    pub notes: String,
}

/// The keys in the order the issue lists them, then everything measured along the way.
#[derive(Debug, Default)]
pub struct Summary {
    figures: Vec<(String, Figure)>,
    extra: Map<String, Value>,
}

impl Summary {
    pub fn figure(&mut self, key: &str, value: Option<f64>, notes: impl Into<String>) {
        let (unit, goal) = spec(key);
        let value = value.filter(|v| v.is_finite());
        self.figures.push((
            key.to_string(),
            Figure {
                value,
                unit,
                goal: goal.text(),
                holds: goal.holds(value),
                notes: notes.into(),
            },
        ));
    }

    /// A measured figure, or `null` with the error that prevented it.
    pub fn figure_or_error(
        &mut self,
        key: &str,
        value: Result<f64, String>,
        notes: impl Into<String>,
    ) {
        match value {
            Ok(v) => self.figure(key, Some(v), notes),
            Err(e) => self.figure(key, None, format!("not measured: {e}")),
        }
    }

    /// Adds every key of [`KEYS`] that was not measured as such, so the summary always has
    /// them all, and puts them in the order.
    pub fn ensure_every_key(&mut self) {
        for (key, _, _) in KEYS {
            if !self.figures.iter().any(|(k, _)| k == key) {
                self.figure_or_error(key, Err("see errors".into()), "");
            }
        }
        let rank = |k: &str| {
            KEYS.iter()
                .position(|(key, _, _)| *key == k)
                .unwrap_or(KEYS.len())
        };
        self.figures.sort_by_key(|(k, _)| rank(k));
    }

    /// Anything else worth keeping: details, context, secondary measurements.
    pub fn extra(&mut self, key: &str, value: Value) {
        self.extra.insert(key.to_string(), value);
    }

    pub fn failed_goals(&self) -> Vec<&str> {
        self.figures
            .iter()
            .filter(|(_, f)| f.holds == Some(false))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        for (key, figure) in &self.figures {
            out.insert(key.clone(), json!(figure));
        }
        let held: Vec<&str> = self
            .figures
            .iter()
            .filter(|(_, f)| f.holds == Some(true))
            .map(|(k, _)| k.as_str())
            .collect();
        let failed = self.failed_goals();
        out.insert(
            "goals".into(),
            json!({"all_hold": failed.is_empty(), "held": held, "failed": failed}),
        );
        for (k, v) in &self.extra {
            out.insert(k.clone(), v.clone());
        }
        Value::Object(out)
    }

    /// The human table: key, value, goal, verdict.
    pub fn table(&self) -> String {
        let mut lines = vec![format!(
            "{:<30} {:>18}  {:<14} {}",
            "key", "value", "goal", "holds"
        )];
        lines.push("-".repeat(72));
        for (key, f) in &self.figures {
            let value = match f.value {
                Some(v) => format!("{} {}", trim(v), f.unit).trim_end().to_string(),
                None => "not measured".into(),
            };
            let verdict = match f.holds {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "-",
            };
            lines.push(format!("{key:<30} {value:>18}  {:<14} {verdict}", f.goal));
        }
        let failed = self.failed_goals();
        lines.push(String::new());
        lines.push(if failed.is_empty() {
            "every goal holds".to_string()
        } else {
            format!("goals missed: {}", failed.join(", "))
        });
        lines.join("\n")
    }
}

/// Up to three decimals, without trailing zeros.
fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_goal_is_reported_not_hidden() {
        let mut s = Summary::default();
        s.figure("init_ratio_vs_hello", Some(1.7), "");
        s.figure("zip_bytes_max", Some(1.0), "");
        s.figure("ddb_calls_get", Some(1.0), "");
        s.figure("init_ms_median", Some(3.0), "");
        let json = s.to_json();
        assert_eq!(json["init_ratio_vs_hello"]["holds"], false);
        assert_eq!(json["zip_bytes_max"]["holds"], true);
        assert_eq!(json["ddb_calls_get"]["holds"], true);
        assert!(json["init_ms_median"].get("holds").is_none());
        assert_eq!(json["goals"]["failed"], json!(["init_ratio_vs_hello"]));
        assert_eq!(json["goals"]["all_hold"], false);
        assert!(s.table().contains("goals missed: init_ratio_vs_hello"));
    }

    #[test]
    fn an_unmeasured_figure_holds_no_goal() {
        let mut s = Summary::default();
        s.figure_or_error("zip_bytes_max", Err("build failed".into()), "");
        let json = s.to_json();
        assert_eq!(json["zip_bytes_max"]["value"], Value::Null);
        assert_eq!(json["zip_bytes_max"]["holds"], false);
        assert!(json["zip_bytes_max"]["notes"]
            .as_str()
            .is_some_and(|n| n.contains("build failed")));
    }

    #[test]
    fn every_key_is_in_the_summary_even_when_a_phase_failed() {
        let mut s = Summary::default();
        s.figure("revoke_10k_seconds", Some(4.0), "");
        s.ensure_every_key();
        let json = s.to_json();
        for (key, _, _) in KEYS {
            assert!(json.get(key).is_some(), "{key} missing");
        }
        assert_eq!(json["revoke_10k_seconds"]["holds"], true);
        assert_eq!(json["peak_rss_mb_max"]["holds"], false);
    }

    #[test]
    fn numbers_print_without_noise() {
        assert_eq!(trim(1.5), "1.5");
        assert_eq!(trim(2_500_000.0), "2500000");
        assert_eq!(trim(0.12345), "0.123");
    }
}
