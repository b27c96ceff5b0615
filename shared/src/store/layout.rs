//! The table's item layout: the only place that knows attribute names and key formats.
//!
//! See `docs/data-model.md` for the access patterns this layout serves and its arithmetic.
//! Every partition key of tenant data starts with `ORG#<organization>#APP#<application>`, built
//! from the caller's verified organization: no request parameter can reach another tenant.
//!
//! - application: `ORG#o#APP#a` / `APP` (name, revocation watermark);
//! - shard `k` of the application (`SHARDS` of them): `ORG#o#APP#a#SHARD#kk` holding `HEAD`
//!   (a copy of the watermark every connect checks), `ALL#<createdKey>` for every session and
//!   `CONN#<createdKey>` for every connected one, newest first by key;
//! - session: `ORG#o#APP#a#SESSION#<id>` / `SESSION`, alone in its partition, so heartbeats
//!   spread over as many partitions as there are sessions;
//! - idempotency record: `ORG#o#APP#a#IDEM#<sha-256 of the key>` / `IDEM`;
//! - directory: `APPID#a` / `APPID` (the admin CLI's lookup by id).
//!
//! The sparse global index `live` (`LIVE#nn`, last sign of life) holds connected sessions only,
//! for the heartbeat-timeout sweep.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::{Application, DisconnectReason, Position, Session, SessionStatus};
use crate::time::{self, Timestamp};

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const STATUS: &str = "status";
pub const CONNECTED_AT: &str = "connectedAt";
pub const CREATED_AT: &str = "createdAt";
pub const LAST_ACTIVE_AT: &str = "lastActiveAt";
pub const LAST_SEEN_AT: &str = "lastSeenAt";
pub const TOKEN_EXPIRES_AT: &str = "tokenExpiresAt";
pub const DISCONNECTED_AT: &str = "disconnectedAt";
pub const DISCONNECTED_BY: &str = "disconnectedBy";
pub const DISCONNECT_REASON: &str = "disconnectReason";
pub const REVOKED_BEFORE: &str = "revokedBefore";
/// On the application item while a revoke-all's sweep is unfinished (a boolean).
pub const SWEEP_PENDING: &str = "sweepPending";
/// The table's TTL attribute (epoch seconds): set when a session is disconnected, and on
/// idempotency records.
pub const EXPIRES_AT_TTL: &str = "expiresAtTtl";
/// Idempotency record: the session it created and the fingerprint of the request.
pub const SESSION_ID: &str = "sessionId";
pub const FINGERPRINT: &str = "fingerprint";

/// The sparse global index of connected sessions by last sign of life.
pub const INDEX_LIVE: &str = "live";
pub const LIVE_KEY: &str = "liveKey";
pub const LAST_SEEN_KEY: &str = "lastSeenKey";
/// Partitions of the `live` index: a heartbeat rewrites its session's entry, so the index's
/// write load is every heartbeat of the table, spread over this many keys.
pub const LIVE_SHARDS: u32 = 32;

/// Shards per application: connects and revocations spread over this many partitions.
pub const SHARDS: u32 = 16;

pub const APP_SK: &str = "APP";
pub const HEAD_SK: &str = "HEAD";
pub const SESSION_SK: &str = "SESSION";
const IDEM_SK: &str = "IDEM";
const DIRECTORY_SK: &str = "APPID";
/// Sort-key prefixes of the two markers in a shard.
pub const ALL_PREFIX: &str = "ALL#";
pub const CONN_PREFIX: &str = "CONN#";

/// Which set of markers a read walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markers {
    /// Every session.
    All,
    /// Sessions whose stored status is `active`.
    Connected,
}

impl Markers {
    pub fn prefix(self) -> &'static str {
        match self {
            Markers::All => ALL_PREFIX,
            Markers::Connected => CONN_PREFIX,
        }
    }
}

/// The application's own partition.
pub fn partition_key(organization_id: Uuid, application_id: Uuid) -> String {
    format!("ORG#{organization_id}#APP#{application_id}")
}

/// The shard a session's markers live in: from its id, so every writer agrees.
pub fn shard_of(session_id: Uuid) -> u32 {
    (session_id.as_u128() % u128::from(SHARDS)) as u32
}

/// The `live` index partition a session's entry lives in.
pub fn live_shard_of(session_id: Uuid) -> u32 {
    ((session_id.as_u128() >> 64) % u128::from(LIVE_SHARDS)) as u32
}

pub fn shard_pk(organization_id: Uuid, application_id: Uuid, shard: u32) -> String {
    format!(
        "{}#SHARD#{shard:02}",
        partition_key(organization_id, application_id)
    )
}

pub fn session_pk(organization_id: Uuid, application_id: Uuid, session_id: Uuid) -> String {
    format!(
        "{}#SESSION#{session_id}",
        partition_key(organization_id, application_id)
    )
}

/// Organization, application and session of a session item's partition key.
pub fn parse_session_pk(pk: &str) -> Option<(Uuid, Uuid, Uuid)> {
    let rest = pk.strip_prefix("ORG#")?;
    let (org, rest) = rest.split_once("#APP#")?;
    let (app, session) = rest.split_once("#SESSION#")?;
    Some((
        Uuid::try_parse(org).ok()?,
        Uuid::try_parse(app).ok()?,
        Uuid::try_parse(session).ok()?,
    ))
}

/// Newest first is descending `createdKey`: zero-padded epoch milliseconds, then the id.
pub fn created_key(position: Position) -> String {
    format!("{:013}#{}", position.created_at_ms.max(0), position.id)
}

/// The position a marker's sort key stands for.
pub fn marker_position(sk: &str) -> Option<Position> {
    let key = sk
        .strip_prefix(ALL_PREFIX)
        .or_else(|| sk.strip_prefix(CONN_PREFIX))?;
    let (ms, id) = key.split_once('#')?;
    Some(Position {
        created_at_ms: ms.parse().ok()?,
        id: Uuid::try_parse(id).ok()?,
    })
}

pub fn marker_sk(markers: Markers, position: Position) -> String {
    format!("{}{}", markers.prefix(), created_key(position))
}

/// The key of a session's marker.
pub fn marker_key(session: &Session, markers: Markers) -> Item {
    key(
        shard_pk(
            session.organization_id,
            session.application_id,
            shard_of(session.id),
        ),
        marker_sk(markers, session.position()),
    )
}

/// The `live` index sort key: the last sign of life (epoch milliseconds), then the id.
pub fn last_seen_key(at: Timestamp, session_id: Uuid) -> String {
    format!("{:013}#{session_id}", at.timestamp_millis().max(0))
}

/// Epoch milliseconds, zero-padded as every key that sorts by time starts: a bound for them.
pub fn millis_key(at: Timestamp) -> String {
    format!("{:013}", at.timestamp_millis().max(0))
}

pub fn live_key(session_id: Uuid) -> String {
    live_partition(live_shard_of(session_id))
}

pub fn live_partition(shard: u32) -> String {
    format!("LIVE#{shard:02}")
}

/// Where to look an application up by id alone (the admin CLI).
fn directory_key(application_id: Uuid) -> Item {
    key(format!("APPID#{application_id}"), DIRECTORY_SK.into())
}

pub fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (PK.to_string(), AttributeValue::S(pk)),
        (SK.to_string(), AttributeValue::S(sk)),
    ])
}

pub fn app_key(organization_id: Uuid, application_id: Uuid) -> Item {
    key(
        partition_key(organization_id, application_id),
        APP_SK.into(),
    )
}

pub fn head_key(organization_id: Uuid, application_id: Uuid, shard: u32) -> Item {
    key(
        shard_pk(organization_id, application_id, shard),
        HEAD_SK.into(),
    )
}

pub fn session_key(organization_id: Uuid, application_id: Uuid, session_id: Uuid) -> Item {
    key(
        session_pk(organization_id, application_id, session_id),
        SESSION_SK.into(),
    )
}

/// The idempotency record of `idempotency_key`: the key itself is hashed, so any visible ASCII
/// fits in a partition key and the record says nothing about it.
pub fn idempotency_key(organization_id: Uuid, application_id: Uuid, idempotency_key: &str) -> Item {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    key(
        format!(
            "{}#IDEM#{hex}",
            partition_key(organization_id, application_id)
        ),
        IDEM_SK.into(),
    )
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn ts(t: &Timestamp) -> AttributeValue {
    AttributeValue::S(time::format(t))
}

pub fn string_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationItem {
    pk: String,
    sk: String,
    id: Uuid,
    organization_id: Uuid,
    name: String,
    #[serde(with = "time::serde_ts")]
    created_at: Timestamp,
    #[serde(
        default,
        with = "time::serde_opt_ts",
        skip_serializing_if = "Option::is_none"
    )]
    revoked_before: Option<Timestamp>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DirectoryItem {
    pk: String,
    sk: String,
    organization_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    live_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seen_key: Option<String>,
    id: Uuid,
    application_id: Uuid,
    organization_id: Uuid,
    name: String,
    status: SessionStatus,
    #[serde(with = "time::serde_ts")]
    created_at: Timestamp,
    #[serde(
        default,
        with = "time::serde_opt_ts",
        skip_serializing_if = "Option::is_none"
    )]
    token_expires_at: Option<Timestamp>,
    #[serde(
        default,
        with = "time::serde_opt_ts",
        skip_serializing_if = "Option::is_none"
    )]
    last_active_at: Option<Timestamp>,
    #[serde(
        default,
        with = "time::serde_opt_ts",
        skip_serializing_if = "Option::is_none"
    )]
    connected_at: Option<Timestamp>,
    #[serde(
        default,
        with = "time::serde_opt_ts",
        skip_serializing_if = "Option::is_none"
    )]
    disconnected_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    /// The MCP client's `Implementation` object as JSON text: any member name the client sent
    /// (an empty one too, which a DynamoDB map cannot hold) is kept exactly, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_info: Option<String>,
    #[serde(
        default,
        with = "time::serde_opt_ts",
        skip_serializing_if = "Option::is_none"
    )]
    last_seen_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disconnect_reason: Option<DisconnectReason>,
}

/// Items that do not decode are data corruption, reported as such rather than skipped.
#[derive(Debug, thiserror::Error)]
#[error("item does not decode: {0}")]
pub struct DecodeError(String);

pub fn application_to_item(app: &Application) -> Result<Item, DecodeError> {
    serde_dynamo::to_item(ApplicationItem {
        pk: partition_key(app.organization_id, app.id),
        sk: APP_SK.into(),
        id: app.id,
        organization_id: app.organization_id,
        name: app.name.clone(),
        created_at: app.created_at,
        revoked_before: app.revoked_before,
    })
    .map_err(|e| DecodeError(e.to_string()))
}

pub fn application_from_item(item: Item) -> Result<Application, DecodeError> {
    let a: ApplicationItem =
        serde_dynamo::from_item(item).map_err(|e| DecodeError(e.to_string()))?;
    Ok(Application {
        id: a.id,
        organization_id: a.organization_id,
        name: a.name,
        created_at: a.created_at,
        revoked_before: a.revoked_before,
    })
}

/// A shard's head, carrying the application's watermark as it was at creation.
pub fn head_item(app: &Application, shard: u32) -> Item {
    let mut item = head_key(app.organization_id, app.id, shard);
    if let Some(watermark) = app.revoked_before {
        item.insert(REVOKED_BEFORE.into(), ts(&watermark));
    }
    item
}

pub fn directory_item(app: &Application) -> Result<Item, DecodeError> {
    let mut item: Item = serde_dynamo::to_item(DirectoryItem {
        pk: String::new(),
        sk: String::new(),
        organization_id: app.organization_id,
    })
    .map_err(|e| DecodeError(e.to_string()))?;
    item.extend(directory_key(app.id));
    Ok(item)
}

pub fn directory_lookup_key(application_id: Uuid) -> Item {
    directory_key(application_id)
}

pub fn organization_from_directory(item: Item) -> Result<Uuid, DecodeError> {
    let d: DirectoryItem = serde_dynamo::from_item(item).map_err(|e| DecodeError(e.to_string()))?;
    Ok(d.organization_id)
}

/// The session item. A connected session carries its `live` index entry.
pub fn session_to_item(session: &Session) -> Result<Item, DecodeError> {
    let connected = session.status == SessionStatus::Active;
    serde_dynamo::to_item(SessionItem {
        pk: session_pk(session.organization_id, session.application_id, session.id),
        sk: SESSION_SK.into(),
        live_key: connected.then(|| live_key(session.id)),
        last_seen_key: connected.then(|| last_seen_key(session.last_seen(), session.id)),
        id: session.id,
        application_id: session.application_id,
        organization_id: session.organization_id,
        name: session.name.clone(),
        status: session.status,
        created_at: session.created_at,
        token_expires_at: session.token_expires_at,
        last_active_at: session.last_active_at,
        connected_at: session.connected_at,
        disconnected_at: session.disconnected_at,
        hostname: session.hostname.clone(),
        user_agent: session.user_agent.clone(),
        client_info: session
            .client_info
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| DecodeError(e.to_string()))?,
        last_seen_at: session.last_seen_at,
        disconnect_reason: session.disconnect_reason,
    })
    .map_err(|e| DecodeError(e.to_string()))
}

pub fn session_from_item(item: Item) -> Result<Session, DecodeError> {
    let s: SessionItem = serde_dynamo::from_item(item).map_err(|e| DecodeError(e.to_string()))?;
    Ok(Session {
        id: s.id,
        application_id: s.application_id,
        organization_id: s.organization_id,
        name: s.name,
        status: s.status,
        token_expires_at: s.token_expires_at,
        last_active_at: s.last_active_at,
        connected_at: s.connected_at,
        disconnected_at: s.disconnected_at,
        created_at: s.created_at,
        hostname: s.hostname,
        user_agent: s.user_agent,
        client_info: s
            .client_info
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| DecodeError(format!("clientInfo: {e}")))?,
        last_seen_at: s.last_seen_at,
        disconnect_reason: s.disconnect_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            id: Uuid::from_u128(7),
            application_id: Uuid::from_u128(2),
            organization_id: Uuid::from_u128(1),
            name: "claude-desktop".into(),
            status: SessionStatus::Active,
            token_expires_at: Some(time::parse("2026-12-01T12:00:00Z").expect("ts")),
            last_active_at: None,
            connected_at: Some(time::parse("2026-12-01T10:00:00.5Z").expect("ts")),
            disconnected_at: None,
            created_at: time::parse("2026-12-01T10:00:00.5Z").expect("ts"),
            hostname: Some("laptop".into()),
            user_agent: None,
            client_info: Some(serde_json::json!({"name": "claude-ai", "version": "0.1.0"})),
            last_seen_at: Some(time::parse("2026-12-01T10:00:30Z").expect("ts")),
            disconnect_reason: None,
        }
    }

    #[test]
    fn session_round_trips_through_an_item() {
        let item = session_to_item(&session()).expect("encode");
        assert_eq!(session_from_item(item).expect("decode"), session());
        let mut gone = session();
        gone.status = SessionStatus::Disconnected;
        gone.disconnect_reason = Some(DisconnectReason::RevokedAll);
        let item = session_to_item(&gone).expect("encode");
        assert_eq!(string_attr(&item, DISCONNECT_REASON), Some("revoked_all"));
        assert_eq!(session_from_item(item).expect("decode"), gone);
    }

    #[test]
    fn only_connected_sessions_are_in_the_live_index() {
        let item = session_to_item(&session()).expect("encode");
        assert_eq!(
            string_attr(&item, LIVE_KEY),
            Some(live_key(session().id).as_str())
        );
        let seen = session().last_seen_at.expect("set");
        assert_eq!(
            string_attr(&item, LAST_SEEN_KEY),
            Some(last_seen_key(seen, session().id).as_str())
        );
        let mut s = session();
        s.status = SessionStatus::Disconnected;
        let item = session_to_item(&s).expect("encode");
        assert!(!item.contains_key(LIVE_KEY) && !item.contains_key(LAST_SEEN_KEY));
    }

    #[test]
    fn created_key_orders_newest_first_then_id() {
        let a = created_key(Position {
            created_at_ms: 999,
            id: Uuid::from_u128(9),
        });
        let b = created_key(Position {
            created_at_ms: 1000,
            id: Uuid::from_u128(1),
        });
        let c = created_key(Position {
            created_at_ms: 1000,
            id: Uuid::from_u128(2),
        });
        assert!(a < b && b < c);
    }

    #[test]
    fn markers_name_their_position() {
        let p = session().position();
        for markers in [Markers::All, Markers::Connected] {
            assert_eq!(marker_position(&marker_sk(markers, p)), Some(p));
        }
        assert_eq!(marker_position(HEAD_SK), None);
    }

    #[test]
    fn keys_are_scoped_by_organization_and_parse_back() {
        let a = partition_key(Uuid::from_u128(1), Uuid::from_u128(2));
        let b = partition_key(Uuid::from_u128(3), Uuid::from_u128(2));
        assert_ne!(a, b);
        let (org, app, id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            parse_session_pk(&session_pk(org, app, id)),
            Some((org, app, id))
        );
        assert_eq!(parse_session_pk(&shard_pk(org, app, 3)), None);
        for pk in [session_pk(org, app, id), shard_pk(org, app, 15)] {
            assert!(pk.starts_with(&partition_key(org, app)));
        }
    }

    #[test]
    fn sessions_spread_over_every_shard() {
        let mut seen = std::collections::HashSet::new();
        let mut live = std::collections::HashSet::new();
        for _ in 0..2_000 {
            let id = Uuid::new_v4();
            seen.insert(shard_of(id));
            live.insert(live_shard_of(id));
        }
        assert_eq!(seen.len(), SHARDS as usize);
        assert_eq!(live.len(), LIVE_SHARDS as usize);
    }

    #[test]
    fn idempotency_records_hash_the_key() {
        let (org, app) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let a = idempotency_key(org, app, "retry-1");
        assert_eq!(a, idempotency_key(org, app, "retry-1"));
        assert_ne!(a, idempotency_key(org, app, "retry-2"));
        assert!(!string_attr(&a, PK).unwrap_or_default().contains("retry-1"));
    }

    #[test]
    fn client_info_keeps_any_member_name() {
        let mut s = session();
        s.client_info = Some(serde_json::json!({"name": "x", "version": "1", "": {"": []}}));
        let item = session_to_item(&s).expect("encode");
        assert_eq!(session_from_item(item).expect("decode"), s);
    }

    #[test]
    fn timestamps_are_stored_in_the_wire_format() {
        let item = session_to_item(&session()).expect("encode");
        assert_eq!(
            string_attr(&item, CREATED_AT),
            Some("2026-12-01T10:00:00.500Z")
        );
    }
}
