//! The table's change stream read as published events: one stream record in, at most one
//! [`SessionEvent`] out. The item layout stays here, in the store; the stream consumer
//! (`functions/session-events`) and the local runner see [`Change`] and the event only.
//!
//! The rules, per item:
//! - a session item inserted `active` (a connect): [`EventKind::SessionConnected`] at its
//!   `connectedAt`;
//! - a session item modified from `active` to `disconnected` (a close, a revoke, a revoke-all's
//!   sweep, a timeout's sweep): [`EventKind::SessionDisconnected`] with its reason, at its
//!   `disconnectedAt`;
//! - an application item whose watermark (`revokedBefore`) was raised or first set (a
//!   revoke-all): [`EventKind::ApplicationSessionsRevoked`] at the new watermark;
//! - anything else, nothing: heartbeats, the shard heads' copies of the watermark, markers,
//!   idempotency records, directory entries, deletes (the TTL's among them), and a session
//!   written already disconnected (only tools do that; it never connected, so there is
//!   nothing to end).
//!
//! The event id is a UUIDv5 of what the event says (kind, ids, time, reason), so the same
//! change yields the same id however often and by whichever path it is delivered.

use uuid::Uuid;

use super::layout::{
    self, application_from_item, session_from_item, string_attr, Item, APP_SK, SESSION_SK, SK,
};
use crate::events::{EventKind, SessionEvent, DETAIL_VERSION};
use crate::model::{DisconnectReason, Session, SessionStatus};
use crate::time::{self, Timestamp};

/// The namespace of event ids (a fixed, random UUID): ids of this API's events never collide
/// with other UUIDv5 names.
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_0b7e_93a4_4d52_8e0f_5b2a_71c3_d9e4);

/// What a stream record says was done to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

impl ChangeKind {
    /// The stream's `eventName`: `INSERT`, `MODIFY` or `REMOVE`.
    pub fn from_event_name(name: &str) -> Option<ChangeKind> {
        match name {
            "INSERT" => Some(ChangeKind::Insert),
            "MODIFY" => Some(ChangeKind::Modify),
            "REMOVE" => Some(ChangeKind::Remove),
            _ => None,
        }
    }
}

/// One stream record of the table (view type `NEW_AND_OLD_IMAGES`).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    /// The item's key (`pk`, `sk`).
    pub keys: Item,
    /// The item before the change; absent on an insert.
    pub old_image: Option<Item>,
    /// The item after the change; absent on a remove.
    pub new_image: Option<Item>,
}

/// A record that says something should have happened but cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    #[error("the {0} image is missing")]
    MissingImage(&'static str),
    #[error("the {0} image does not decode: {1}")]
    Undecodable(&'static str, String),
    #[error("{0}")]
    Incomplete(String),
}

impl Change {
    /// The published event this change makes, if any.
    pub fn event(&self) -> Result<Option<SessionEvent>, ChangeError> {
        let sort_key = string_attr(&self.keys, SK)
            .or_else(|| self.new_image.as_ref().and_then(|i| string_attr(i, SK)))
            .or_else(|| self.old_image.as_ref().and_then(|i| string_attr(i, SK)));
        match (self.kind, sort_key) {
            (ChangeKind::Remove, _) => Ok(None),
            (_, Some(SESSION_SK)) => self.session_event(),
            (_, Some(APP_SK)) => self.application_event(),
            _ => Ok(None),
        }
    }

    fn session_event(&self) -> Result<Option<SessionEvent>, ChangeError> {
        let new = session(self.new_image.as_ref(), "new")?;
        match self.kind {
            ChangeKind::Insert if new.status == SessionStatus::Active => {
                let at = new.connected_at.unwrap_or(new.created_at);
                Ok(Some(event(EventKind::SessionConnected, &new, at, None)))
            }
            ChangeKind::Modify if new.status == SessionStatus::Disconnected => {
                let old = session(self.old_image.as_ref(), "old")?;
                if old.status != SessionStatus::Active {
                    return Ok(None);
                }
                let reason = new.disconnect_reason.ok_or_else(|| {
                    ChangeError::Incomplete(format!("session {} has no disconnectReason", new.id))
                })?;
                let at = new.disconnected_at.ok_or_else(|| {
                    ChangeError::Incomplete(format!("session {} has no disconnectedAt", new.id))
                })?;
                Ok(Some(event(
                    EventKind::SessionDisconnected,
                    &new,
                    at,
                    Some(reason),
                )))
            }
            _ => Ok(None),
        }
    }

    fn application_event(&self) -> Result<Option<SessionEvent>, ChangeError> {
        let new = decode(self.new_image.as_ref(), "new", application_from_item)?;
        let Some(watermark) = new.revoked_before else {
            return Ok(None);
        };
        let before = match self.kind {
            ChangeKind::Insert => None,
            _ => decode(self.old_image.as_ref(), "old", application_from_item)?.revoked_before,
        };
        if before.is_some_and(|b| b >= watermark) {
            return Ok(None);
        }
        let kind = EventKind::ApplicationSessionsRevoked;
        Ok(Some(SessionEvent {
            version: DETAIL_VERSION.to_string(),
            event_id: event_id(kind, new.organization_id, new.id, None, watermark, None),
            kind,
            organization_id: new.organization_id,
            application_id: new.id,
            session_id: None,
            occurred_at: watermark,
            reason: None,
        }))
    }
}

fn decode<T>(
    image: Option<&Item>,
    which: &'static str,
    from_item: impl FnOnce(Item) -> Result<T, layout::DecodeError>,
) -> Result<T, ChangeError> {
    let item = image.ok_or(ChangeError::MissingImage(which))?;
    from_item(item.clone()).map_err(|e| ChangeError::Undecodable(which, e.to_string()))
}

fn session(image: Option<&Item>, which: &'static str) -> Result<Session, ChangeError> {
    decode(image, which, session_from_item)
}

fn event(
    kind: EventKind,
    session: &Session,
    at: Timestamp,
    reason: Option<DisconnectReason>,
) -> SessionEvent {
    SessionEvent {
        version: DETAIL_VERSION.to_string(),
        event_id: event_id(
            kind,
            session.organization_id,
            session.application_id,
            Some(session.id),
            at,
            reason,
        ),
        kind,
        organization_id: session.organization_id,
        application_id: session.application_id,
        session_id: Some(session.id),
        occurred_at: at,
        reason,
    }
}

/// The stable id of an event: a UUIDv5 of everything it says, in its wire spellings.
fn event_id(
    kind: EventKind,
    organization_id: Uuid,
    application_id: Uuid,
    session_id: Option<Uuid>,
    at: Timestamp,
    reason: Option<DisconnectReason>,
) -> Uuid {
    let name = format!(
        "{}|{organization_id}|{application_id}|{}|{}|{}",
        kind.detail_type(),
        session_id.map(|s| s.to_string()).unwrap_or_default(),
        time::format(&at),
        reason.map(DisconnectReason::as_str).unwrap_or_default(),
    );
    Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Application;
    use crate::store::layout::{
        application_to_item, head_item, key, marker_key, session_key, session_to_item, Markers,
        LAST_SEEN_AT, REVOKED_BEFORE,
    };
    use aws_sdk_dynamodb::types::AttributeValue;

    fn at(s: &str) -> Timestamp {
        time::parse(s).expect("timestamp")
    }

    fn active() -> Session {
        Session {
            id: Uuid::from_u128(7),
            application_id: Uuid::from_u128(2),
            organization_id: Uuid::from_u128(1),
            name: "claude-desktop".into(),
            status: SessionStatus::Active,
            token_expires_at: None,
            last_active_at: None,
            connected_at: Some(at("2026-12-01T10:00:00.500Z")),
            disconnected_at: None,
            created_at: at("2026-12-01T10:00:00.500Z"),
            hostname: None,
            user_agent: None,
            client_info: None,
            last_seen_at: Some(at("2026-12-01T10:00:00.500Z")),
            disconnect_reason: None,
        }
    }

    fn disconnected(reason: DisconnectReason) -> Session {
        Session {
            status: SessionStatus::Disconnected,
            disconnected_at: Some(at("2026-12-01T10:05:00Z")),
            disconnect_reason: Some(reason),
            ..active()
        }
    }

    const REASONS: [DisconnectReason; 4] = [
        DisconnectReason::Closed,
        DisconnectReason::Revoked,
        DisconnectReason::RevokedAll,
        DisconnectReason::TimedOut,
    ];

    /// The record of an active session disconnected for `reason`.
    fn disconnect(reason: DisconnectReason) -> Change {
        change(
            ChangeKind::Modify,
            Some(item(&active())),
            Some(item(&disconnected(reason))),
        )
    }

    fn item(s: &Session) -> Item {
        session_to_item(s).expect("encode")
    }

    fn app(revoked_before: Option<&str>) -> Application {
        Application {
            id: Uuid::from_u128(2),
            organization_id: Uuid::from_u128(1),
            name: "agent".into(),
            created_at: at("2026-12-01T09:00:00Z"),
            revoked_before: revoked_before.map(at),
        }
    }

    fn change(kind: ChangeKind, old: Option<Item>, new: Option<Item>) -> Change {
        let any = new.as_ref().or(old.as_ref()).expect("an image");
        let keys = key(
            string_attr(any, "pk").expect("pk").to_string(),
            string_attr(any, SK).expect("sk").to_string(),
        );
        Change {
            kind,
            keys,
            old_image: old,
            new_image: new,
        }
    }

    fn event_of(c: Change) -> Option<SessionEvent> {
        c.event().expect("decodes")
    }

    #[test]
    fn a_connect_is_session_connected_at_connected_at() {
        let e = event_of(change(ChangeKind::Insert, None, Some(item(&active())))).expect("one");
        assert_eq!(e.kind, EventKind::SessionConnected);
        assert_eq!(e.session_id, Some(active().id));
        assert_eq!(
            (e.organization_id, e.application_id),
            (active().organization_id, active().application_id)
        );
        assert_eq!(e.occurred_at, at("2026-12-01T10:00:00.500Z"));
        assert_eq!((e.reason, e.version.as_str()), (None, DETAIL_VERSION));
    }

    #[test]
    fn each_disconnect_carries_its_reason_and_time() {
        for reason in REASONS {
            let c = disconnect(reason);
            let e = event_of(c).expect("one");
            assert_eq!(e.kind, EventKind::SessionDisconnected);
            assert_eq!(e.reason, Some(reason));
            assert_eq!(e.occurred_at, at("2026-12-01T10:05:00Z"));
            assert_eq!(e.session_id, Some(active().id));
        }
    }

    #[test]
    fn a_disconnect_without_its_reason_is_an_error_not_a_guess() {
        let mut gone = item(&disconnected(DisconnectReason::Closed));
        gone.remove(layout::DISCONNECT_REASON);
        let c = change(ChangeKind::Modify, Some(item(&active())), Some(gone));
        assert!(matches!(c.event(), Err(ChangeError::Incomplete(_))));
        let c = change(
            ChangeKind::Modify,
            None,
            Some(item(&disconnected(DisconnectReason::Closed))),
        );
        assert_eq!(c.event(), Err(ChangeError::MissingImage("old")));
    }

    #[test]
    fn heartbeats_and_later_writes_of_a_disconnected_session_are_nothing() {
        let mut beat = active();
        beat.last_seen_at = Some(at("2026-12-01T10:00:30Z"));
        let c = change(ChangeKind::Modify, Some(item(&active())), Some(item(&beat)));
        assert_eq!(event_of(c), None);
        let gone = item(&disconnected(DisconnectReason::Closed));
        let mut touched = gone.clone();
        touched.insert(
            LAST_SEEN_AT.into(),
            AttributeValue::S("2026-12-01T10:06:00Z".into()),
        );
        assert_eq!(
            event_of(change(
                ChangeKind::Modify,
                Some(gone.clone()),
                Some(touched)
            )),
            None
        );
        // Written already disconnected (tools): it never connected.
        assert_eq!(
            event_of(change(ChangeKind::Insert, None, Some(gone.clone()))),
            None
        );
        // The TTL's delete.
        assert_eq!(event_of(change(ChangeKind::Remove, Some(gone), None)), None);
    }

    #[test]
    fn markers_heads_and_other_items_are_nothing() {
        let s = active();
        for markers in [Markers::All, Markers::Connected] {
            let k = marker_key(&s, markers);
            assert_eq!(
                event_of(change(ChangeKind::Insert, None, Some(k.clone()))),
                None
            );
            assert_eq!(event_of(change(ChangeKind::Remove, Some(k), None)), None);
        }
        let revoked = app(Some("2026-12-01T11:00:00Z"));
        let head = head_item(&revoked, 3);
        assert_eq!(
            event_of(change(
                ChangeKind::Modify,
                Some(head_item(&app(None), 3)),
                Some(head)
            )),
            None
        );
        let idem = layout::idempotency_key(s.organization_id, s.application_id, "k");
        assert_eq!(event_of(change(ChangeKind::Insert, None, Some(idem))), None);
        let dir = layout::directory_item(&app(None)).expect("encode");
        assert_eq!(event_of(change(ChangeKind::Insert, None, Some(dir))), None);
    }

    #[test]
    fn a_raised_watermark_is_application_sessions_revoked_at_it() {
        let before = application_to_item(&app(None)).expect("encode");
        let after = application_to_item(&app(Some("2026-12-01T11:00:00.250Z"))).expect("encode");
        let e = event_of(change(
            ChangeKind::Modify,
            Some(before),
            Some(after.clone()),
        ))
        .expect("one");
        assert_eq!(e.kind, EventKind::ApplicationSessionsRevoked);
        assert_eq!(e.occurred_at, at("2026-12-01T11:00:00.250Z"));
        assert_eq!((e.session_id, e.reason), (None, None));
        assert_eq!(e.application_id, app(None).id);
        // Raised again later: another revocation.
        let later = application_to_item(&app(Some("2026-12-01T12:00:00Z"))).expect("encode");
        let again =
            event_of(change(ChangeKind::Modify, Some(after.clone()), Some(later))).expect("one");
        assert_ne!(again.event_id, e.event_id);
        // An application registered with a watermark already set.
        assert!(event_of(change(ChangeKind::Insert, None, Some(after.clone()))).is_some());
    }

    #[test]
    fn an_unchanged_watermark_is_nothing() {
        let revoked = application_to_item(&app(Some("2026-12-01T11:00:00Z"))).expect("encode");
        // The sweep's end (sweepPending cleared), or a second revoke-all taking up a pending one.
        let mut swept = revoked.clone();
        swept.insert("sweepPending".into(), AttributeValue::Bool(false));
        assert_eq!(
            event_of(change(
                ChangeKind::Modify,
                Some(revoked.clone()),
                Some(swept)
            )),
            None
        );
        let plain = application_to_item(&app(None)).expect("encode");
        assert_eq!(
            event_of(change(ChangeKind::Insert, None, Some(plain))),
            None
        );
        let mut lowered = revoked.clone();
        lowered.insert(
            REVOKED_BEFORE.into(),
            AttributeValue::S("2026-12-01T10:00:00.000Z".into()),
        );
        assert_eq!(
            event_of(change(ChangeKind::Modify, Some(revoked), Some(lowered))),
            None
        );
    }

    #[test]
    fn the_same_change_always_has_the_same_id_and_different_ones_differ() {
        let connect = || change(ChangeKind::Insert, None, Some(item(&active())));
        let a = event_of(connect()).expect("one");
        assert_eq!(a, event_of(connect()).expect("one"));
        let mut ids = std::collections::HashSet::from([a.event_id]);
        for reason in REASONS {
            let c = disconnect(reason);
            assert!(ids.insert(event_of(c).expect("one").event_id), "{reason:?}");
        }
        let mut other = active();
        other.id = Uuid::from_u128(8);
        let b = event_of(change(ChangeKind::Insert, None, Some(item(&other)))).expect("one");
        assert!(ids.insert(b.event_id));
    }

    #[test]
    fn a_session_item_that_does_not_decode_is_an_error() {
        let mut broken = item(&active());
        broken.insert("status".into(), AttributeValue::S("sleeping".into()));
        let c = change(ChangeKind::Insert, None, Some(broken));
        assert!(matches!(c.event(), Err(ChangeError::Undecodable("new", _))));
        let keys = session_key(Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(7));
        let c = Change {
            kind: ChangeKind::Insert,
            keys,
            old_image: None,
            new_image: None,
        };
        assert_eq!(c.event(), Err(ChangeError::MissingImage("new")));
    }
}
