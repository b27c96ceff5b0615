//! The template's EventBridge rule sends the push worker exactly the revocations: every kind of
//! published event, as its envelope, matches `SsfRevocationsRule`'s pattern exactly when the
//! code calls it a revocation (`SessionEvent::is_revocation`).

use serde_json::{json, Value};
use sessions::events::{Envelope, EventKind};
use sessions::model::DisconnectReason;
use uuid::Uuid;

use super::rig::session_event;
use crate::spec_files::template;

/// EventBridge's matching for the part of its pattern language the rule uses: a list of exact
/// values, nested objects, and `$or` of sub-patterns.
fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        panic!("a pattern is an object: {pattern}");
    };
    fields
        .iter()
        .all(|(name, want)| match (name.as_str(), want) {
            ("$or", Value::Array(alternatives)) => alternatives.iter().any(|p| matches(p, event)),
            (_, Value::Array(values)) => values.contains(&event[name]),
            (_, Value::Object(_)) => event[name].is_object() && matches(want, &event[name]),
            _ => panic!("unsupported pattern member {name}: {want}"),
        })
}

#[test]
fn the_rule_routes_exactly_the_revocations_to_the_delivery_queue() {
    let t = template();
    let rule = &t["Resources"]["SsfRevocationsRule"]["Properties"];
    assert_eq!(rule["EventBusName"], json!({"Ref": "SessionEventBus"}));
    assert_eq!(
        rule["Targets"][0]["Arn"],
        json!({"Fn::GetAtt": ["SsfDeliveryQueue", "Arn"]})
    );
    let pattern = &rule["EventPattern"];
    let (org, app) = (Uuid::new_v4(), Uuid::new_v4());
    let mut revocations = 0;
    for kind in EventKind::ALL {
        let reasons: Vec<Option<DisconnectReason>> = match kind {
            EventKind::SessionDisconnected => [
                DisconnectReason::Closed,
                DisconnectReason::Revoked,
                DisconnectReason::RevokedAll,
                DisconnectReason::TimedOut,
            ]
            .into_iter()
            .map(Some)
            .collect(),
            _ => vec![None],
        };
        for reason in reasons {
            let session = (kind != EventKind::ApplicationSessionsRevoked).then(Uuid::new_v4);
            let event = session_event(org, app, kind, session, reason);
            let envelope = serde_json::to_value(Envelope::of(event.clone())).expect("json");
            assert_eq!(
                matches(pattern, &envelope),
                event.is_revocation(),
                "{kind:?} {reason:?}"
            );
            revocations += usize::from(event.is_revocation());
        }
    }
    assert_eq!(revocations, 2, "revoke-one and revoke-all");
}
