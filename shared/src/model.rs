//! The session model: what a session is, how its status is derived, and its JSON form.
//!
//! Nothing here knows about HTTP or DynamoDB; every rule about a session lives here once.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::time::{self, Timestamp};

/// The stored status: what the component holding the connection last said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    Active,
    Disconnected,
}

impl SessionStatus {
    /// The wire (and stored) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Disconnected => "disconnected",
        }
    }
}

/// Why a session was disconnected: kept with it, for its disconnect event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectReason {
    /// The transport closed (the connection side reported it).
    Closed,
    /// Revoked alone (revoke-one).
    Revoked,
    /// Revoked with every session of its application (revoke-all).
    RevokedAll,
    /// No heartbeat within the heartbeat timeout.
    TimedOut,
}

impl DisconnectReason {
    /// The stored (and event) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::Closed => "closed",
            DisconnectReason::Revoked => "revoked",
            DisconnectReason::RevokedAll => "revoked_all",
            DisconnectReason::TimedOut => "timed_out",
        }
    }
}

/// The status a caller sees, computed at request time from the stored facts and one `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DerivedStatus {
    Active,
    Idle,
    Expired,
    Disconnected,
}

impl DerivedStatus {
    /// `active` and `idle` sessions still hold a connection; the filter `status=active` keeps them.
    pub fn is_connected(self) -> bool {
        matches!(self, DerivedStatus::Active | DerivedStatus::Idle)
    }
}

/// An application (an agent) of one organization. Sessions live under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
    /// The time of the last revoke-all: every session connected at or before it reads as
    /// disconnected, even one the sweep has not reached (yet).
    pub revoked_before: Option<Timestamp>,
}

/// One MCP client connection to an application.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: Uuid,
    pub application_id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub status: SessionStatus,
    pub token_expires_at: Option<Timestamp>,
    pub last_active_at: Option<Timestamp>,
    pub connected_at: Option<Timestamp>,
    pub disconnected_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub hostname: Option<String>,
    pub user_agent: Option<String>,
    /// The MCP client's `Implementation` object (`name`, `version`, …) exactly as reported.
    pub client_info: Option<serde_json::Value>,
    /// The last connect or heartbeat (not activity): what the heartbeat timeout measures. Not
    /// part of the API's Session object.
    pub last_seen_at: Option<Timestamp>,
    /// Why it was disconnected, once it is.
    pub disconnect_reason: Option<DisconnectReason>,
}

/// A place in an application's newest-first order (`createdAt` descending, then `id`
/// descending): where the next page starts after the last session returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at_ms: i64,
    pub id: Uuid,
}

/// What the derived status needs besides the session itself; one per request.
#[derive(Debug, Clone, Copy)]
pub struct StatusContext {
    pub now: Timestamp,
    pub idle_window: Duration,
    pub revoked_before: Option<Timestamp>,
    /// How long a connected session may go without a connect or heartbeat; `None`: forever.
    pub heartbeat_timeout: Option<Duration>,
}

impl Session {
    /// Where this session stands in the newest-first order.
    pub fn position(&self) -> Position {
        Position {
            created_at_ms: self.created_at.timestamp_millis(),
            id: self.id,
        }
    }

    /// When the session connected: `connectedAt`, else `createdAt`. Revocation compares against it.
    pub fn connected_since(&self) -> Timestamp {
        self.connected_at.unwrap_or(self.created_at)
    }

    /// The last sign of life: `lastActiveAt`, else `connectedAt`, else `createdAt`.
    pub fn last_activity(&self) -> Timestamp {
        self.last_active_at
            .or(self.connected_at)
            .unwrap_or(self.created_at)
    }

    /// The last connect or heartbeat: `lastSeenAt`, else when it connected.
    pub fn last_seen(&self) -> Timestamp {
        self.last_seen_at.unwrap_or_else(|| self.connected_since())
    }

    /// When a stored-active session's heartbeat timed out (last sign of life + timeout), if it
    /// has by `ctx.now`.
    pub fn timed_out_at(&self, ctx: &StatusContext) -> Option<Timestamp> {
        let timeout = ctx.heartbeat_timeout?;
        let deadline = self.last_seen() + timeout;
        (self.status == SessionStatus::Active && deadline < ctx.now).then_some(deadline)
    }

    /// The contract's four rules, in order: disconnected (stored, revoked by a revoke-all, or
    /// timed out), expired, idle, active.
    pub fn derived_status(&self, ctx: &StatusContext) -> DerivedStatus {
        let revoked = ctx
            .revoked_before
            .is_some_and(|watermark| self.connected_since() <= watermark);
        if self.status == SessionStatus::Disconnected || revoked || self.timed_out_at(ctx).is_some()
        {
            return DerivedStatus::Disconnected;
        }
        if self.token_expires_at.is_some_and(|exp| exp <= ctx.now) {
            return DerivedStatus::Expired;
        }
        if ctx.now - self.last_activity() > ctx.idle_window {
            return DerivedStatus::Idle;
        }
        DerivedStatus::Active
    }

    /// The session as the API returns it.
    pub fn view(&self, ctx: &StatusContext) -> SessionView<'_> {
        SessionView {
            id: self.id,
            name: &self.name,
            status: self.status,
            derived_status: self.derived_status(ctx),
            token_expires_at: self.token_expires_at,
            last_active_at: self.last_active_at,
            connected_at: self.connected_at,
            disconnected_at: self.disconnected_at.or_else(|| self.timed_out_at(ctx)),
            created_at: self.created_at,
            agent_id: self.application_id,
            organization_id: self.organization_id,
            hostname: self.hostname.as_deref(),
            user_agent: self.user_agent.as_deref(),
            client_info: self.client_info.as_ref(),
        }
    }
}

/// The reference's Session object: `string?` fields are omitted when unset, `… | null` fields
/// are always present.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub status: SessionStatus,
    pub derived_status: DerivedStatus,
    #[serde(with = "time::serde_opt_ts", skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<Timestamp>,
    #[serde(with = "time::serde_opt_ts", skip_serializing_if = "Option::is_none")]
    pub last_active_at: Option<Timestamp>,
    #[serde(with = "time::serde_opt_ts", skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Timestamp>,
    #[serde(with = "time::serde_opt_ts", skip_serializing_if = "Option::is_none")]
    pub disconnected_at: Option<Timestamp>,
    #[serde(with = "time::serde_ts")]
    pub created_at: Timestamp,
    pub agent_id: Uuid,
    pub organization_id: Uuid,
    pub hostname: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub client_info: Option<&'a serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        time::parse(s).expect("test timestamp")
    }

    fn session() -> Session {
        Session {
            id: Uuid::nil(),
            application_id: Uuid::nil(),
            organization_id: Uuid::nil(),
            name: "s".into(),
            status: SessionStatus::Active,
            token_expires_at: None,
            last_active_at: None,
            connected_at: None,
            disconnected_at: None,
            created_at: at("2026-12-01T10:00:00Z"),
            hostname: None,
            user_agent: None,
            client_info: None,
            last_seen_at: None,
            disconnect_reason: None,
        }
    }

    fn ctx(now: &str) -> StatusContext {
        StatusContext {
            now: at(now),
            idle_window: Duration::seconds(300),
            revoked_before: None,
            heartbeat_timeout: None,
        }
    }

    #[test]
    fn fresh_session_is_active() {
        assert_eq!(
            session().derived_status(&ctx("2026-12-01T10:00:01Z")),
            DerivedStatus::Active
        );
    }

    #[test]
    fn idle_starts_strictly_after_the_window() {
        let s = session();
        assert_eq!(
            s.derived_status(&ctx("2026-12-01T10:05:00Z")),
            DerivedStatus::Active
        );
        assert_eq!(
            s.derived_status(&ctx("2026-12-01T10:05:00.001Z")),
            DerivedStatus::Idle
        );
    }

    #[test]
    fn last_activity_prefers_last_active_then_connected_then_created() {
        let mut s = session();
        s.connected_at = Some(at("2026-12-01T10:04:00Z"));
        assert_eq!(
            s.derived_status(&ctx("2026-12-01T10:08:00Z")),
            DerivedStatus::Active
        );
        s.last_active_at = Some(at("2026-12-01T10:02:00Z"));
        assert_eq!(
            s.derived_status(&ctx("2026-12-01T10:08:00Z")),
            DerivedStatus::Idle
        );
    }

    #[test]
    fn expiry_is_inclusive_of_now() {
        let mut s = session();
        s.token_expires_at = Some(at("2026-12-01T10:01:00Z"));
        assert_eq!(
            s.derived_status(&ctx("2026-12-01T10:00:59.999Z")),
            DerivedStatus::Active
        );
        assert_eq!(
            s.derived_status(&ctx("2026-12-01T10:01:00Z")),
            DerivedStatus::Expired
        );
    }

    #[test]
    fn expired_wins_over_idle() {
        let mut s = session();
        s.token_expires_at = Some(at("2026-12-01T10:01:00Z"));
        assert_eq!(
            s.derived_status(&ctx("2026-12-01T11:00:00Z")),
            DerivedStatus::Expired
        );
    }

    #[test]
    fn disconnected_wins_over_everything() {
        let mut s = session();
        s.status = SessionStatus::Disconnected;
        s.token_expires_at = Some(at("2026-12-01T10:01:00Z"));
        assert_eq!(
            s.derived_status(&ctx("2026-12-01T11:00:00Z")),
            DerivedStatus::Disconnected
        );
    }

    #[test]
    fn revocation_watermark_disconnects_sessions_connected_at_or_before_it() {
        let mut s = session();
        s.connected_at = Some(at("2026-12-01T10:00:05Z"));
        let mut c = ctx("2026-12-01T10:00:10Z");
        c.revoked_before = Some(at("2026-12-01T10:00:05Z"));
        assert_eq!(s.derived_status(&c), DerivedStatus::Disconnected);
        c.revoked_before = Some(at("2026-12-01T10:00:04.999Z"));
        assert_eq!(s.derived_status(&c), DerivedStatus::Active);
    }

    #[test]
    fn configurable_idle_window() {
        let s = session();
        let mut c = ctx("2026-12-01T10:00:31Z");
        c.idle_window = Duration::seconds(30);
        assert_eq!(s.derived_status(&c), DerivedStatus::Idle);
    }

    #[test]
    fn view_omits_unset_optional_timestamps_and_keeps_nullable_fields() {
        let s = session();
        let json = serde_json::to_value(s.view(&ctx("2026-12-01T10:00:01Z"))).expect("json");
        let obj = json.as_object().expect("object");
        for absent in [
            "tokenExpiresAt",
            "lastActiveAt",
            "connectedAt",
            "disconnectedAt",
        ] {
            assert!(!obj.contains_key(absent), "{absent} should be omitted");
        }
        for null in ["hostname", "userAgent", "clientInfo"] {
            assert_eq!(obj.get(null), Some(&serde_json::Value::Null), "{null}");
        }
        assert_eq!(obj["createdAt"], "2026-12-01T10:00:00.000Z");
        assert_eq!(obj["derivedStatus"], "active");
        assert_eq!(obj["status"], "active");
        assert_eq!(obj["agentId"], "00000000-0000-0000-0000-000000000000");
        let mut keys: Vec<_> = obj.keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "agentId",
                "clientInfo",
                "createdAt",
                "derivedStatus",
                "hostname",
                "id",
                "name",
                "organizationId",
                "status",
                "userAgent"
            ]
        );
    }
}
