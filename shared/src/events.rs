//! Published events: what the Sessions API tells other software about sessions, in a shape of
//! its own that does not change when the table's item layout does.
//!
//! One [`SessionEvent`] per change that matters to a consumer: a session connected, a session
//! disconnected (with its reason), an application's sessions revoked (its watermark raised).
//! Each carries a stable [`SessionEvent::event_id`], so a change delivered twice (a retried
//! batch) reaches a receiver with the same id and can be dropped there. On EventBridge the
//! event is the `detail` of an entry with [`SOURCE`] and [`EventKind::detail_type`];
//! [`Envelope`] is that entry as EventBridge hands it to its targets.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::DisconnectReason;
use crate::time::Timestamp;

/// The EventBridge `source` of every event.
pub const SOURCE: &str = "sessions.api";

/// The version of the `detail` shape; a consumer may route on it.
pub const DETAIL_VERSION: &str = "1";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A session was connected (it is new and active).
    SessionConnected,
    /// A session was disconnected, for [`SessionEvent::reason`].
    SessionDisconnected,
    /// Every session of an application that connected at or before
    /// [`SessionEvent::occurred_at`] was revoked at once (revoke-all).
    ApplicationSessionsRevoked,
}

impl EventKind {
    pub const ALL: [EventKind; 3] = [
        EventKind::SessionConnected,
        EventKind::SessionDisconnected,
        EventKind::ApplicationSessionsRevoked,
    ];

    /// The EventBridge `detail-type`.
    pub fn detail_type(self) -> &'static str {
        match self {
            EventKind::SessionConnected => "Session Connected",
            EventKind::SessionDisconnected => "Session Disconnected",
            EventKind::ApplicationSessionsRevoked => "Application Sessions Revoked",
        }
    }

    pub fn from_detail_type(detail_type: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.detail_type() == detail_type)
    }
}

/// One published event (EventBridge's `detail`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEvent {
    /// [`DETAIL_VERSION`].
    pub version: String,
    /// Stable for one change: the same change published twice carries the same id.
    pub event_id: Uuid,
    pub kind: EventKind,
    pub organization_id: Uuid,
    pub application_id: Uuid,
    /// The session, for the two session kinds; absent for an application's revoke-all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    /// When it happened: the session's connect, its disconnect, or the revoke-all's watermark.
    #[serde(with = "crate::time::serde_ts")]
    pub occurred_at: Timestamp,
    /// Why the session was disconnected; only on [`EventKind::SessionDisconnected`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DisconnectReason>,
}

impl SessionEvent {
    /// True for the revocations a Shared Signals receiver hears about: a session revoked on
    /// its own, or an application's sessions revoked at once. Closes and timeouts are not
    /// revocations, and the per-session disconnects a revoke-all's sweep stores are covered by
    /// the application's one event.
    pub fn is_revocation(&self) -> bool {
        match self.kind {
            EventKind::ApplicationSessionsRevoked => true,
            EventKind::SessionDisconnected => self.reason == Some(DisconnectReason::Revoked),
            EventKind::SessionConnected => false,
        }
    }
}

/// An EventBridge event as its targets (an SQS queue, a Lambda function) receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// EventBridge's own id of this delivery (not stable across publishes; use
    /// `detail.eventId` to drop duplicates).
    #[serde(default)]
    pub id: String,
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: SessionEvent,
}

impl Envelope {
    /// The entry for `event`, before EventBridge gives it an id.
    pub fn of(event: SessionEvent) -> Envelope {
        Envelope {
            id: String::new(),
            source: SOURCE.to_string(),
            detail_type: event.kind.detail_type().to_string(),
            detail: event,
        }
    }
}
