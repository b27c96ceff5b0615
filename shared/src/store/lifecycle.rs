//! A session's own writes: created when a client connects, kept alive by heartbeats,
//! disconnected when its transport closes, it is revoked, or its heartbeats stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem,
};
use uuid::Uuid;

use super::layout::*;
use super::{classify, Budget, DynamoStore, StoreError};
use crate::model::{Application, DisconnectReason, Position, Session, SessionStatus};
use crate::time::{self, Timestamp};

/// Attempts at a session create while its transaction conflicts or is throttled.
const CREATE_ATTEMPTS: u32 = 5;
/// How long an idempotency key answers with the session it created.
const IDEMPOTENCY_WINDOW: chrono::Duration = chrono::Duration::hours(24);
/// How long a heartbeat trusts an application (its watermark) it read before.
const APPLICATION_CACHE_TTL: Duration = Duration::from_secs(1);
/// Applications a function instance remembers at once.
const APPLICATION_CACHE_ENTRIES: usize = 1024;

/// A session to open, as the connection side reports it (already validated).
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub organization_id: Uuid,
    pub application_id: Uuid,
    pub name: String,
    pub hostname: Option<String>,
    pub user_agent: Option<String>,
    pub client_info: Option<serde_json::Value>,
    pub token_expires_at: Option<Timestamp>,
}

/// An `Idempotency-Key` and the fingerprint (SHA-256) of the request that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: [u8; 32],
}

/// What a connect did.
#[derive(Debug, Clone, PartialEq)]
pub enum Connected {
    /// A new session.
    Created(Session),
    /// The session an earlier request with the same idempotency key created.
    Replayed(Session),
}

/// What a heartbeat reports besides liveness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heartbeat {
    /// The last MCP activity seen (taken as now when in the future; never moves back).
    pub last_active_at: Option<Timestamp>,
    /// The client's refreshed token expiry.
    pub token_expires_at: Option<Timestamp>,
}

/// What a disconnect of one session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnected {
    /// This call moved it from `active` to `disconnected`.
    Now,
    /// It was disconnected already; nothing was written.
    Already,
}

/// The outcome of the one conditional transition `active` -> `disconnected`. The positions
/// name the session's connected marker, to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transition {
    Done(Position),
    NotActive(Position),
    /// Still active: it connected after the cutoff, or showed life since.
    Spared,
    Missing,
}

/// The guard of a disconnect, besides `status = active`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Only {
    /// Only a session that connected at or before this (revoke-all).
    pub connected_by: Option<Timestamp>,
    /// Only a session whose last sign of life is still exactly this (heartbeat timeout).
    pub last_seen: Option<Timestamp>,
}

/// Applications recently read, shared by a store's clones: a heartbeat checks the watermark
/// without a read of the (hot) application item each time.
#[derive(Debug, Clone, Default)]
pub(super) struct ApplicationCache(Arc<Mutex<CachedApplications>>);

/// Applications by (organization, application), with when each was read.
type CachedApplications = HashMap<(Uuid, Uuid), (Application, Instant)>;

impl ApplicationCache {
    fn get(&self, organization_id: Uuid, application_id: Uuid) -> Option<Application> {
        let map = self.0.lock().ok()?;
        map.get(&(organization_id, application_id))
            .filter(|(_, at)| at.elapsed() < APPLICATION_CACHE_TTL)
            .map(|(app, _)| app.clone())
    }

    fn put(&self, app: &Application) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= APPLICATION_CACHE_ENTRIES {
                map.clear();
            }
            map.insert((app.organization_id, app.id), (app.clone(), Instant::now()));
        }
    }
}

/// What one heartbeat write did.
enum Beat {
    Recorded(Box<Session>),
    /// Refused only because the session already saw later activity.
    NewerActivity,
}

/// Why a new session's transaction was refused.
enum Refused {
    Store(StoreError),
    /// The idempotency key was used before: the session it made and that request's fingerprint.
    KeyUsed {
        session_id: Option<Uuid>,
        fingerprint: Option<Vec<u8>>,
    },
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

impl DynamoStore {
    /// Records a session as given (the admin CLI, tests): any status, back-dated times. Its
    /// last sign of life is the moment it is written, unless it carries one.
    ///
    /// An active session is only written if the application exists and was not revoked at or
    /// after the session connected: the transaction checks the watermark on the session's
    /// shard head, so a connect racing a revoke-all is either swept by it or refused here.
    pub async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut session = session.clone();
        session.last_seen_at = Some(session.last_seen_at.unwrap_or_else(time::now));
        match self.write_new_session(&session, None).await {
            Ok(()) => Ok(()),
            Err(Refused::Store(e)) => Err(e),
            Err(Refused::KeyUsed { .. }) => Err(StoreError::Internal(
                "idempotency record without an idempotency key".into(),
            )),
        }
    }

    /// Opens a session as of `now` (`createdAt` = `connectedAt` = `lastActiveAt` = `now`),
    /// one transaction: the shard head's watermark checked, the session and its two markers
    /// written, and the idempotency record when a key is given. The same key again answers the
    /// session it made ([`Connected::Replayed`]), or [`StoreError::IdempotencyConflict`] when
    /// the request differs.
    pub async fn connect(
        &self,
        new: &NewSession,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Connected, StoreError> {
        let mut session = Session {
            id: Uuid::new_v4(),
            application_id: new.application_id,
            organization_id: new.organization_id,
            name: new.name.clone(),
            status: SessionStatus::Active,
            token_expires_at: new.token_expires_at,
            last_active_at: Some(now),
            connected_at: Some(now),
            disconnected_at: None,
            created_at: now,
            hostname: new.hostname.clone(),
            user_agent: new.user_agent.clone(),
            client_info: new.client_info.clone(),
            last_seen_at: Some(now),
            disconnect_reason: None,
        };
        let idem = idempotency.map(|i| (i, now));
        let mut result = self.write_new_session(&session, idem).await;
        if let Err(Refused::Store(StoreError::RevokedAfterConnect)) = result {
            // A revoke-all stamped this very millisecond (or a clock ahead of ours): the client
            // connects after it.
            let watermark = self
                .get_application(new.organization_id, new.application_id)
                .await?
                .revoked_before;
            if let Some(after) = watermark.map(|w| w + chrono::Duration::milliseconds(1)) {
                let later = after.max(now);
                session.created_at = later;
                session.connected_at = Some(later);
                session.last_active_at = Some(later);
                session.last_seen_at = Some(later);
                result = self.write_new_session(&session, idem).await;
            }
        }
        match result {
            Ok(()) => Ok(Connected::Created(session)),
            // The id is new, so an item under it can only be this call's own earlier attempt,
            // which succeeded after all (its answer was lost): the session is created once.
            Err(Refused::Store(StoreError::AlreadyExists(_))) => Ok(Connected::Created(session)),
            Err(Refused::Store(e)) => Err(e),
            Err(Refused::KeyUsed {
                session_id,
                fingerprint,
            }) => {
                let same = idempotency
                    .is_some_and(|i| fingerprint.as_deref() == Some(i.fingerprint.as_slice()));
                match session_id {
                    Some(id) if same => {
                        let (_, session) = self
                            .get_session(new.organization_id, new.application_id, id)
                            .await?;
                        Ok(Connected::Replayed(session))
                    }
                    _ => Err(StoreError::IdempotencyConflict),
                }
            }
        }
    }

    /// The one transaction that writes a new session, retried while it conflicts with a
    /// revoke-all or is throttled (it wrote nothing then).
    async fn write_new_session(
        &self,
        session: &Session,
        idempotency: Option<(&Idempotency, Timestamp)>,
    ) -> Result<(), Refused> {
        let outcome = Budget::unbounded()
            .retrying("TransactWriteItems", CREATE_ATTEMPTS, || async {
                match self.try_write_new_session(session, idempotency).await {
                    Err(Refused::Store(StoreError::Unavailable(detail))) => {
                        Err(StoreError::Unavailable(detail))
                    }
                    other => Ok(other),
                }
            })
            .await;
        outcome.unwrap_or_else(|e| Err(Refused::Store(e)))
    }

    async fn try_write_new_session(
        &self,
        session: &Session,
        idempotency: Option<(&Idempotency, Timestamp)>,
    ) -> Result<(), Refused> {
        let internal = |e: aws_sdk_dynamodb::error::BuildError| {
            Refused::Store(StoreError::Internal(e.to_string()))
        };
        let active = session.status == SessionStatus::Active;
        let mut check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(head_key(
                session.organization_id,
                session.application_id,
                shard_of(session.id),
            )))
            .expression_attribute_names("#pk", PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        check = if active {
            check
                .condition_expression(
                    "attribute_exists(#pk) AND (attribute_not_exists(#rb) OR #rb < :since)",
                )
                .expression_attribute_names("#rb", REVOKED_BEFORE)
                .expression_attribute_values(":since", ts(&session.connected_since()))
        } else {
            check.condition_expression("attribute_exists(#pk)")
        };
        let put = |item: Item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .build()
        };
        let mut item = session_to_item(session).map_err(StoreError::from)?;
        if let Some(expiry) = session.disconnected_at.and_then(|at| self.expiry_of(at)) {
            item.insert(EXPIRES_AT_TTL.into(), AttributeValue::N(expiry.to_string()));
        }
        let mut items = vec![
            TransactWriteItem::builder()
                .condition_check(check.build().map_err(internal)?)
                .build(),
            TransactWriteItem::builder()
                .put(put(item).map_err(internal)?)
                .build(),
            TransactWriteItem::builder()
                .put(put(marker_key(session, Markers::All)).map_err(internal)?)
                .build(),
        ];
        if active {
            items.push(
                TransactWriteItem::builder()
                    .put(put(marker_key(session, Markers::Connected)).map_err(internal)?)
                    .build(),
            );
        }
        let idem_index = items.len();
        if let Some((idem, now)) = idempotency {
            let mut record =
                idempotency_key(session.organization_id, session.application_id, &idem.key);
            record.insert(SESSION_ID.into(), s(session.id.to_string()));
            record.insert(
                FINGERPRINT.into(),
                AttributeValue::B(idem.fingerprint.to_vec().into()),
            );
            let expires = (now + IDEMPOTENCY_WINDOW).timestamp();
            record.insert(
                EXPIRES_AT_TTL.into(),
                AttributeValue::N(expires.to_string()),
            );
            // A record past its window counts as absent (the table's TTL deletes lazily).
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(record))
                .condition_expression("attribute_not_exists(#pk) OR #ttl < :now")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#ttl", EXPIRES_AT_TTL)
                .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(internal)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let Err(e) = result else {
            return Ok(());
        };
        let reasons = match e.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                c.cancellation_reasons().to_vec()
            }
            _ => return Err(classify("TransactWriteItems", e).into()),
        };
        let failed = |i: usize| {
            reasons
                .get(i)
                .and_then(|r| r.code())
                .is_some_and(|c| c == "ConditionalCheckFailed")
        };
        let old = |i: usize| {
            reasons
                .get(i)
                .and_then(|r| r.item())
                .filter(|item| !item.is_empty())
        };
        if idempotency.is_some() && failed(idem_index) {
            let record = old(idem_index);
            return Err(Refused::KeyUsed {
                session_id: record
                    .and_then(|r| string_attr(r, SESSION_ID))
                    .and_then(|id| Uuid::try_parse(id).ok()),
                fingerprint: record
                    .and_then(|r| r.get(FINGERPRINT))
                    .and_then(|v| v.as_b().ok())
                    .map(|b| b.as_ref().to_vec()),
            });
        }
        if failed(0) {
            return Err(Refused::Store(if old(0).is_some() {
                StoreError::RevokedAfterConnect
            } else {
                StoreError::ApplicationNotFound
            }));
        }
        if failed(1) {
            return Err(Refused::Store(StoreError::AlreadyExists("session")));
        }
        let retryable = reasons.iter().any(|r| {
            matches!(
                r.code(),
                Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
            )
        });
        Err(Refused::Store(if retryable {
            // A revoke-all writing the watermark, or throttling: retryable.
            StoreError::Unavailable(format!(
                "TransactWriteItems: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            ))
        } else {
            classify("TransactWriteItems", e)
        }))
    }

    /// The application, from this instance's cache when it was read within the last second:
    /// heartbeats check the watermark on every call without a read of the application item
    /// each time. A revocation is never missed for long: the sweep stores every session it
    /// covers as disconnected, which a heartbeat checks on the session itself.
    async fn application_for_heartbeat(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
    ) -> Result<Application, StoreError> {
        if let Some(app) = self.applications.get(organization_id, application_id) {
            return Ok(app);
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(app_key(organization_id, application_id)))
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let app = application_from_item(out.item.ok_or(StoreError::ApplicationNotFound)?)?;
        self.applications.put(&app);
        Ok(app)
    }

    /// A heartbeat: the session is alive as of `now`. One conditional write (the application
    /// comes from the cache): refused with [`StoreError::SessionDisconnected`] when the session
    /// is disconnected for any reason: stored so, under the application's watermark, or
    /// silent past `timeout`. `lastActiveAt` only moves forward (a future value is `now`).
    pub async fn heartbeat(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
        beat: &Heartbeat,
        now: Timestamp,
        timeout: Option<chrono::Duration>,
    ) -> Result<(Application, Session), StoreError> {
        let app = self
            .application_for_heartbeat(organization_id, application_id)
            .await?;
        let active_at = beat.last_active_at.map(|at| at.min(now));
        let beat_once =
            |active_at| self.try_heartbeat(&app, session_id, beat, active_at, now, timeout);
        let session = match beat_once(active_at).await? {
            Beat::Recorded(session) => session,
            // Alive, but it already saw later activity: record the heartbeat alone.
            Beat::NewerActivity => match beat_once(None).await? {
                Beat::Recorded(session) => session,
                Beat::NewerActivity => {
                    return Err(StoreError::Internal("heartbeat refused twice".into()))
                }
            },
        };
        Ok((app, *session))
    }

    /// One heartbeat write.
    async fn try_heartbeat(
        &self,
        app: &Application,
        session_id: Uuid,
        beat: &Heartbeat,
        active_at: Option<Timestamp>,
        now: Timestamp,
        timeout: Option<chrono::Duration>,
    ) -> Result<Beat, StoreError> {
        let mut set = vec!["#ls = :now", "#lsk = :lsk"];
        let mut condition = vec!["attribute_exists(#pk)", "#st = :active"];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(app.organization_id, app.id, session_id)))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_names("#ls", LAST_SEEN_AT)
            .expression_attribute_names("#lsk", LAST_SEEN_KEY)
            .expression_attribute_values(":active", s(SessionStatus::Active.as_str()))
            .expression_attribute_values(":now", ts(&now))
            .expression_attribute_values(":lsk", s(last_seen_key(now, session_id)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(timeout) = timeout {
            condition.push("#ls >= :cutoff");
            update = update.expression_attribute_values(":cutoff", ts(&(now - timeout)));
        }
        if let Some(watermark) = app.revoked_before {
            condition.push("(#ca > :wm OR (attribute_not_exists(#ca) AND #cr > :wm))");
            update = update
                .expression_attribute_names("#ca", CONNECTED_AT)
                .expression_attribute_names("#cr", CREATED_AT)
                .expression_attribute_values(":wm", ts(&watermark));
        }
        if let Some(at) = active_at {
            set.push("#la = :la");
            condition.push("(attribute_not_exists(#la) OR #la <= :la)");
            update = update
                .expression_attribute_names("#la", LAST_ACTIVE_AT)
                .expression_attribute_values(":la", ts(&at));
        }
        if let Some(expiry) = beat.token_expires_at {
            set.push("#te = :te");
            update = update
                .expression_attribute_names("#te", TOKEN_EXPIRES_AT)
                .expression_attribute_values(":te", ts(&expiry));
        }
        let result = update
            .update_expression(format!("SET {}", set.join(", ")))
            .condition_expression(condition.join(" AND "))
            .send()
            .await;
        match result {
            Ok(out) => Ok(Beat::Recorded(Box::new(session_from_item(
                out.attributes.unwrap_or_default(),
            )?))),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    let Some(old) = c.item().filter(|old| !old.is_empty()) else {
                        return Err(StoreError::SessionNotFound);
                    };
                    let old = session_from_item(old.clone())?;
                    let alive = old.status == SessionStatus::Active
                        && timeout.is_none_or(|t| old.last_seen() >= now - t)
                        && app.revoked_before.is_none_or(|w| old.connected_since() > w);
                    if alive {
                        Ok(Beat::NewerActivity)
                    } else {
                        Err(StoreError::SessionDisconnected)
                    }
                }
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    /// Marks one session disconnected (transport closed, or revoke-one). Idempotent: a session
    /// disconnected already is [`Disconnected::Already`].
    pub async fn disconnect_session(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
        at: Timestamp,
        reason: DisconnectReason,
    ) -> Result<Disconnected, StoreError> {
        let transition = self
            .disconnect(
                organization_id,
                application_id,
                session_id,
                at,
                Uuid::new_v4(),
                Only::default(),
                reason,
            )
            .await?;
        match transition {
            Transition::Done(_) => Ok(Disconnected::Now),
            Transition::NotActive(_) | Transition::Spared => Ok(Disconnected::Already),
            // Tell a missing application from a missing session, as a read does.
            Transition::Missing => {
                self.get_application(organization_id, application_id)
                    .await?;
                Err(StoreError::SessionNotFound)
            }
        }
    }

    /// The one conditional transition `active` -> `disconnected`, then the removal of the
    /// session's connected marker. `call` marks the write, so a retry whose first attempt
    /// succeeded unseen is recognised as this call's.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn disconnect(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
        at: Timestamp,
        call: Uuid,
        only: Only,
        reason: DisconnectReason,
    ) -> Result<Transition, StoreError> {
        let transition = self
            .try_disconnect(
                organization_id,
                application_id,
                session_id,
                at,
                call,
                only,
                reason,
            )
            .await?;
        if let Transition::Done(position) | Transition::NotActive(position) = transition {
            self.remove_connected_marker(organization_id, application_id, position)
                .await;
        }
        Ok(transition)
    }

    #[allow(clippy::too_many_arguments)]
    async fn try_disconnect(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
        at: Timestamp,
        call: Uuid,
        only: Only,
        reason: DisconnectReason,
    ) -> Result<Transition, StoreError> {
        let mut set = "SET #st = :disconnected, #da = :at, #db = :call, #dr = :reason".to_string();
        let mut condition = "attribute_exists(#pk) AND #st = :active".to_string();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(
                organization_id,
                application_id,
                session_id,
            )))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_names("#da", DISCONNECTED_AT)
            .expression_attribute_names("#db", DISCONNECTED_BY)
            .expression_attribute_names("#dr", DISCONNECT_REASON)
            .expression_attribute_names("#lk", LIVE_KEY)
            .expression_attribute_names("#lsk", LAST_SEEN_KEY)
            .expression_attribute_values(":active", s(SessionStatus::Active.as_str()))
            .expression_attribute_values(":disconnected", s(SessionStatus::Disconnected.as_str()))
            .expression_attribute_values(":at", ts(&at))
            .expression_attribute_values(":call", s(call.to_string()))
            .expression_attribute_values(":reason", s(reason.as_str()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(expiry) = self.expiry_of(at) {
            set.push_str(", #ttl = :ttl");
            update = update
                .expression_attribute_names("#ttl", EXPIRES_AT_TTL)
                .expression_attribute_values(":ttl", AttributeValue::N(expiry.to_string()));
        }
        if let Some(by) = only.connected_by {
            condition.push_str(" AND (#ca <= :by OR (attribute_not_exists(#ca) AND #cr <= :by))");
            update = update
                .expression_attribute_names("#ca", CONNECTED_AT)
                .expression_attribute_names("#cr", CREATED_AT)
                .expression_attribute_values(":by", ts(&by));
        }
        if let Some(seen) = only.last_seen {
            condition.push_str(" AND #ls = :seen");
            update = update
                .expression_attribute_names("#ls", LAST_SEEN_AT)
                .expression_attribute_values(":seen", ts(&seen));
        }
        let position = |item: &Item| session_from_item(item.clone()).map(|s| s.position());
        let result = update
            .update_expression(format!("{set} REMOVE #lk, #lsk"))
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Transition::Done(position(
                &out.attributes.unwrap_or_default(),
            )?)),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    match c.item().filter(|old| !old.is_empty()) {
                        None => Ok(Transition::Missing),
                        // Our own earlier attempt succeeded but its answer was lost.
                        Some(old)
                            if string_attr(old, DISCONNECTED_BY)
                                == Some(call.to_string().as_str()) =>
                        {
                            Ok(Transition::Done(position(old)?))
                        }
                        Some(old)
                            if string_attr(old, STATUS) == Some(SessionStatus::Active.as_str()) =>
                        {
                            Ok(Transition::Spared)
                        }
                        Some(old) => Ok(Transition::NotActive(position(old)?)),
                    }
                }
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    /// Removes a disconnected session's connected marker. Best effort: a marker left behind
    /// only costs a read (lists filter by the session itself) and the next revoke-all's sweep
    /// removes it.
    async fn remove_connected_marker(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        position: Position,
    ) {
        let key = key(
            shard_pk(organization_id, application_id, shard_of(position.id)),
            marker_sk(Markers::Connected, position),
        );
        if let Err(e) = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
        {
            tracing::warn!(error = %classify("DeleteItem", e), "a connected marker was left behind");
        }
    }
}
