//! The Security Event Tokens (RFC 8417) the transmitter sends: CAEP 1.0 `session-revoked` for a
//! revocation, SSF 1.0's verification event on a receiver's request.

use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{SESSION_REVOKED, VERIFICATION};
use crate::events::{EventKind, SessionEvent};
use crate::time::Timestamp;

/// The claims of one SET.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    /// Unique per SET: a retried push of the same SET keeps it, another SET never has it.
    pub jti: String,
    /// The published event's id: every SET of one change carries it, duplicates included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txn: Option<String>,
    pub sub_id: Value,
    pub events: Value,
}

/// An opaque subject identifier (RFC 9493).
fn opaque(id: impl ToString) -> Value {
    json!({"format": "opaque", "id": id.to_string()})
}

/// The CAEP `session-revoked` SET of a revocation event for one stream, or `None` for an event
/// that is not a revocation ([`SessionEvent::is_revocation`]).
///
/// The subject is complex: the session (absent for an application's revoke-all, which applies to
/// every session of the application connected at or before `event_timestamp`), the application
/// and the organization (as `tenant`).
pub fn session_revoked(
    event: &SessionEvent,
    issuer: &str,
    aud: &str,
    now: Timestamp,
) -> Option<SetClaims> {
    if !event.is_revocation() {
        return None;
    }
    let mut subject = serde_json::Map::new();
    subject.insert("format".into(), "complex".into());
    if let (EventKind::SessionDisconnected, Some(session)) = (event.kind, event.session_id) {
        subject.insert("session".into(), opaque(session));
    }
    subject.insert("application".into(), opaque(event.application_id));
    subject.insert("tenant".into(), opaque(event.organization_id));
    Some(SetClaims {
        iss: issuer.to_string(),
        aud: aud.to_string(),
        iat: now.timestamp(),
        jti: Uuid::new_v4().simple().to_string(),
        txn: Some(event.event_id.to_string()),
        sub_id: Value::Object(subject),
        events: json!({
            SESSION_REVOKED: {
                "event_timestamp": numeric_date(event.occurred_at),
                "initiating_entity": "admin",
            }
        }),
    })
}

/// A NumericDate (RFC 7519): seconds since the epoch, with the milliseconds as a fraction when
/// the time has them. A revoke-all covers the sessions connected at or before its time, so a
/// receiver comparing connection times needs more than whole seconds: a session that connected
/// within the same second, after the revocation, is not covered.
pub fn numeric_date(t: Timestamp) -> Value {
    let ms = t.timestamp_millis();
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

/// SSF 1.0's verification SET for `stream_id`, echoing the receiver's `state`.
pub fn verification(
    stream_id: Uuid,
    state: Option<&str>,
    issuer: &str,
    aud: &str,
    now: Timestamp,
) -> SetClaims {
    let body = match state {
        Some(state) => json!({ "state": state }),
        None => json!({}),
    };
    SetClaims {
        iss: issuer.to_string(),
        aud: aud.to_string(),
        iat: now.timestamp(),
        jti: Uuid::new_v4().simple().to_string(),
        txn: None,
        sub_id: opaque(stream_id),
        events: json!({ VERIFICATION: body }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::DETAIL_VERSION;
    use crate::model::DisconnectReason;

    fn event(kind: EventKind, reason: Option<DisconnectReason>) -> SessionEvent {
        SessionEvent {
            version: DETAIL_VERSION.into(),
            event_id: Uuid::new_v4(),
            kind,
            organization_id: Uuid::new_v4(),
            application_id: Uuid::new_v4(),
            session_id: (kind != EventKind::ApplicationSessionsRevoked).then(Uuid::new_v4),
            occurred_at: crate::time::now(),
            reason,
        }
    }

    #[test]
    fn a_revoked_session_is_a_complex_subject_with_its_session() {
        let e = event(
            EventKind::SessionDisconnected,
            Some(DisconnectReason::Revoked),
        );
        let set = session_revoked(&e, "https://iss", "rx", crate::time::now()).expect("a SET");
        let session = e.session_id.expect("a session").to_string();
        assert_eq!(
            set.sub_id,
            json!({"format": "complex",
                "session": {"format": "opaque", "id": session},
                "application": {"format": "opaque", "id": e.application_id.to_string()},
                "tenant": {"format": "opaque", "id": e.organization_id.to_string()}})
        );
        assert_eq!(
            set.events[SESSION_REVOKED]["event_timestamp"],
            numeric_date(e.occurred_at)
        );
        assert_eq!(set.events[SESSION_REVOKED]["initiating_entity"], "admin");
        assert_eq!(set.txn, Some(e.event_id.to_string()));
        let again = session_revoked(&e, "https://iss", "rx", crate::time::now()).expect("a SET");
        assert_ne!(set.jti, again.jti, "one jti per SET");
        assert_eq!(set.txn, again.txn, "one txn per change");
    }

    #[test]
    fn a_revoke_all_names_the_application_and_no_session() {
        let e = event(EventKind::ApplicationSessionsRevoked, None);
        let set = session_revoked(&e, "https://iss", "rx", crate::time::now()).expect("a SET");
        assert!(set.sub_id.get("session").is_none());
        assert_eq!(
            set.sub_id["application"]["id"],
            e.application_id.to_string()
        );
    }

    #[test]
    fn closes_timeouts_and_connects_are_no_sets() {
        for (kind, reason) in [
            (
                EventKind::SessionDisconnected,
                Some(DisconnectReason::Closed),
            ),
            (
                EventKind::SessionDisconnected,
                Some(DisconnectReason::TimedOut),
            ),
            (
                EventKind::SessionDisconnected,
                Some(DisconnectReason::RevokedAll),
            ),
            (EventKind::SessionConnected, None),
        ] {
            let e = event(kind, reason);
            assert!(
                session_revoked(&e, "i", "a", crate::time::now()).is_none(),
                "{kind:?} {reason:?}"
            );
        }
    }

    #[test]
    fn verification_echoes_the_state() {
        let id = Uuid::new_v4();
        let set = verification(id, Some("s-1"), "https://iss", "rx", crate::time::now());
        assert_eq!(set.events, json!({VERIFICATION: {"state": "s-1"}}));
        assert_eq!(
            set.sub_id,
            json!({"format": "opaque", "id": id.to_string()})
        );
        assert!(serde_json::to_value(&set)
            .expect("json")
            .get("txn")
            .is_none());
    }
}
