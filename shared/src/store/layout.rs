//! The table's item layout: the only place that knows attribute names and key formats.
//!
//! See `docs/data-model.md` for the access patterns this layout serves.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Application, Position, Session, SessionStatus};
use crate::time::{self, Timestamp};

pub type Item = HashMap<String, AttributeValue>;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const CREATED_KEY: &str = "createdKey";
pub const CONNECTED_KEY: &str = "connectedKey";
pub const STATUS: &str = "status";
pub const CONNECTED_AT: &str = "connectedAt";
pub const CREATED_AT: &str = "createdAt";
pub const LAST_ACTIVE_AT: &str = "lastActiveAt";
pub const DISCONNECTED_AT: &str = "disconnectedAt";
pub const DISCONNECTED_BY: &str = "disconnectedBy";
pub const REVOKED_BEFORE: &str = "revokedBefore";
/// On the application item while a revoke-all's sweep is unfinished (a boolean).
pub const SWEEP_PENDING: &str = "sweepPending";
/// The table's TTL attribute (epoch seconds): set when a session is disconnected.
pub const EXPIRES_AT_TTL: &str = "expiresAtTtl";

/// LSI over every item of an application, sorted by `createdKey`: the list of all sessions.
pub const INDEX_BY_CREATED: &str = "byCreated";
/// Sparse LSI: only sessions whose stored status is `active` carry `connectedKey`.
pub const INDEX_CONNECTED: &str = "connected";

/// Sort key of the application item within its partition.
pub const APP_SK: &str = "APP";
const SESSION_SK_PREFIX: &str = "SESSION#";
/// The application item's index sort key: `~` sorts after every digit, so a newest-first query
/// of either index returns the application (its organization and revocation watermark) first.
pub const APP_INDEX_KEY: &str = "~";
const DIRECTORY_SK: &str = "APPID";

/// One partition per application, under its organization: a key can only be formed from the
/// caller's verified organization, so no request parameter can reach another tenant's items.
pub fn partition_key(organization_id: Uuid, application_id: Uuid) -> String {
    format!("ORG#{organization_id}#APP#{application_id}")
}

pub fn session_sk(session_id: Uuid) -> String {
    format!("{SESSION_SK_PREFIX}{session_id}")
}

pub fn is_session_sk(sk: &str) -> bool {
    sk.starts_with(SESSION_SK_PREFIX)
}

/// Newest first is descending `createdKey`: zero-padded epoch milliseconds, then the id.
pub fn created_key(position: Position) -> String {
    format!("{:013}#{}", position.created_at_ms.max(0), position.id)
}

/// Where to look an application up by id alone (the admin CLI, the connection gateway).
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

pub fn session_key(organization_id: Uuid, application_id: Uuid, session_id: Uuid) -> Item {
    key(
        partition_key(organization_id, application_id),
        session_sk(session_id),
    )
}

/// The key to resume a query of either index after `position`.
pub fn index_start_key(
    organization_id: Uuid,
    application_id: Uuid,
    index: &str,
    position: Position,
) -> Item {
    let mut item = session_key(organization_id, application_id, position.id);
    let attr = if index == INDEX_CONNECTED {
        CONNECTED_KEY
    } else {
        CREATED_KEY
    };
    item.insert(attr.into(), AttributeValue::S(created_key(position)));
    item
}

/// The position an index item stands at (its `createdKey` or `connectedKey`), if it is a
/// session's.
pub fn index_position(item: &Item, index: &str) -> Option<Position> {
    let attr = if index == INDEX_CONNECTED {
        CONNECTED_KEY
    } else {
        CREATED_KEY
    };
    let (ms, id) = string_attr(item, attr)?.split_once('#')?;
    Some(Position {
        created_at_ms: ms.parse().ok()?,
        id: Uuid::try_parse(id).ok()?,
    })
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
    created_key: String,
    connected_key: String,
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
    created_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    connected_key: Option<String>,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_info: Option<serde_json::Value>,
}

/// Items that do not decode are data corruption, reported as such rather than skipped.
#[derive(Debug, thiserror::Error)]
#[error("item does not decode: {0}")]
pub struct DecodeError(String);

pub fn application_to_item(app: &Application) -> Result<Item, DecodeError> {
    serde_dynamo::to_item(ApplicationItem {
        pk: partition_key(app.organization_id, app.id),
        sk: APP_SK.into(),
        created_key: APP_INDEX_KEY.into(),
        connected_key: APP_INDEX_KEY.into(),
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

pub fn session_to_item(session: &Session) -> Result<Item, DecodeError> {
    let index_key = created_key(session.position());
    serde_dynamo::to_item(SessionItem {
        pk: partition_key(session.organization_id, session.application_id),
        sk: session_sk(session.id),
        connected_key: (session.status == SessionStatus::Active).then(|| index_key.clone()),
        created_key: index_key,
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
        client_info: session.client_info.clone(),
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
        client_info: s.client_info,
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
        }
    }

    #[test]
    fn session_round_trips_through_an_item() {
        let item = session_to_item(&session()).expect("encode");
        assert_eq!(session_from_item(item).expect("decode"), session());
    }

    #[test]
    fn only_active_sessions_are_in_the_connected_index() {
        let item = session_to_item(&session()).expect("encode");
        assert!(item.contains_key(CONNECTED_KEY));
        let mut s = session();
        s.status = SessionStatus::Disconnected;
        let item = session_to_item(&s).expect("encode");
        assert!(!item.contains_key(CONNECTED_KEY));
        assert!(item.contains_key(CREATED_KEY));
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
        assert!(c.as_str() < APP_INDEX_KEY);
    }

    #[test]
    fn keys_are_scoped_by_organization() {
        let a = partition_key(Uuid::from_u128(1), Uuid::from_u128(2));
        let b = partition_key(Uuid::from_u128(3), Uuid::from_u128(2));
        assert_ne!(a, b);
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
