//! A session's own writes: created when a client connects, touched while it is active,
//! disconnected when its transport closes or it is revoked.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use uuid::Uuid;

use super::layout::*;
use super::{classify, Budget, DynamoStore, StoreError};
use crate::model::{Session, SessionStatus};
use crate::time::Timestamp;

/// Attempts at a session create while its transaction conflicts or is throttled.
const CREATE_ATTEMPTS: u32 = 5;

/// What a touch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touched {
    /// The activity was recorded.
    Recorded,
    /// The session is disconnected; nothing was written.
    NotConnected,
}

/// What a disconnect of one session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnected {
    /// This call moved it from `active` to `disconnected`.
    Now,
    /// It was disconnected already; nothing was written.
    Already,
}

/// The outcome of the one conditional transition `active` -> `disconnected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transition {
    Done,
    NotActive,
    Missing,
}

impl DynamoStore {
    /// Records a new session, as the connection gateway does when a client initializes.
    ///
    /// An active session is only written if the application exists and was not revoked at or
    /// after the session connected: a transaction checks the application's watermark, so a
    /// connect racing a revoke-all is either swept by it or refused here.
    pub async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        // A transaction conflict (a revoke-all raising the watermark) or throttling: the
        // transaction wrote nothing, so trying again is safe.
        Budget::unbounded()
            .retrying("TransactWriteItems", CREATE_ATTEMPTS, || {
                self.try_create_session(session)
            })
            .await
    }

    async fn try_create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(app_key(
                session.organization_id,
                session.application_id,
            )))
            .expression_attribute_names("#pk", PK);
        check = if session.status == SessionStatus::Active {
            check
                .condition_expression(
                    "attribute_exists(#pk) AND (attribute_not_exists(#rb) OR #rb < :since)",
                )
                .expression_attribute_names("#rb", REVOKED_BEFORE)
                .expression_attribute_values(":since", ts(&session.connected_since()))
        } else {
            check.condition_expression("attribute_exists(#pk)")
        };
        let mut item = session_to_item(session)?;
        if let Some(expiry) = session.disconnected_at.and_then(|at| self.expiry_of(at)) {
            item.insert(EXPIRES_AT_TTL.into(), AttributeValue::N(expiry.to_string()));
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(
                        check
                            .return_values_on_condition_check_failure(
                                ReturnValuesOnConditionCheckFailure::AllOld,
                            )
                            .build()
                            .map_err(|e| StoreError::Internal(e.to_string()))?,
                    )
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let reasons = e
                    .as_service_error()
                    .and_then(|se| match se {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                            Some(c.cancellation_reasons().to_vec())
                        }
                        _ => None,
                    });
                match reasons {
                    Some(reasons) => {
                        let failed = |i: usize| {
                            reasons
                                .get(i)
                                .and_then(|r| r.code())
                                .is_some_and(|c| c == "ConditionalCheckFailed")
                        };
                        if failed(0) {
                            let app_exists = reasons
                                .first()
                                .and_then(|r| r.item())
                                .is_some_and(|item| !item.is_empty());
                            if app_exists {
                                Err(StoreError::RevokedAfterConnect)
                            } else {
                                Err(StoreError::ApplicationNotFound)
                            }
                        } else if failed(1) {
                            Err(StoreError::AlreadyExists("session"))
                        } else if reasons.iter().any(|r| {
                            matches!(
                                r.code(),
                                Some(
                                    "TransactionConflict"
                                        | "ThrottlingError"
                                        | "ProvisionedThroughputExceeded"
                                )
                            )
                        }) {
                            // A revoke-all writing the watermark, or throttling: retryable.
                            Err(StoreError::Unavailable(format!(
                                "TransactWriteItems: {}",
                                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                            )))
                        } else {
                            Err(classify("TransactWriteItems", e))
                        }
                    }
                    None => Err(classify("TransactWriteItems", e)),
                }
            }
        }
    }

    /// Records activity on a connected session. Writes nothing on a disconnected session (a
    /// touch never brings a session back) and says so.
    pub async fn touch_session(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
        at: Timestamp,
    ) -> Result<Touched, StoreError> {
        // A session under the application's revocation watermark is revoked, even before the
        // sweep reaches it: a touch must not report it alive.
        let watermark = self
            .get_application(organization_id, application_id)
            .await?
            .revoked_before;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(
                organization_id,
                application_id,
                session_id,
            )))
            .update_expression("SET #la = :at")
            .expression_attribute_names("#la", LAST_ACTIVE_AT)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_values(":at", ts(&at))
            .expression_attribute_values(":active", s(SessionStatus::Active.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let mut condition = "attribute_exists(#pk) AND #st = :active".to_string();
        if let Some(watermark) = watermark {
            condition.push_str(" AND (#ca > :wm OR (attribute_not_exists(#ca) AND #cr > :wm))");
            update = update
                .expression_attribute_names("#ca", CONNECTED_AT)
                .expression_attribute_names("#cr", CREATED_AT)
                .expression_attribute_values(":wm", ts(&watermark));
        }
        let result = update.condition_expression(condition).send().await;
        match result {
            Ok(_) => Ok(Touched::Recorded),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    match c.item().filter(|old| !old.is_empty()) {
                        Some(_) => Ok(Touched::NotConnected),
                        None => Err(StoreError::SessionNotFound),
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
    ) -> Result<Disconnected, StoreError> {
        let key = session_key(organization_id, application_id, session_id);
        match self.disconnect(key, at, Uuid::new_v4(), None).await? {
            Transition::Done => Ok(Disconnected::Now),
            Transition::NotActive => Ok(Disconnected::Already),
            // Tell a missing application from a missing session, as a read does.
            Transition::Missing => {
                self.get_application(organization_id, application_id)
                    .await?;
                Err(StoreError::SessionNotFound)
            }
        }
    }

    /// The one conditional transition `active` -> `disconnected`.
    /// With `connected_by`, only a session that connected at or before it is changed.
    pub(super) async fn disconnect(
        &self,
        key: Item,
        at: Timestamp,
        revocation: Uuid,
        connected_by: Option<Timestamp>,
    ) -> Result<Transition, StoreError> {
        let mut condition = "attribute_exists(#pk) AND #st = :active".to_string();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(match self.expiry_of(at) {
                Some(_) => "SET #st = :disconnected, #da = :at, #db = :rev, #ttl = :ttl REMOVE #ck",
                None => "SET #st = :disconnected, #da = :at, #db = :rev REMOVE #ck",
            })
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_names("#da", DISCONNECTED_AT)
            .expression_attribute_names("#db", DISCONNECTED_BY)
            .expression_attribute_names("#ck", CONNECTED_KEY)
            .expression_attribute_values(":active", s(SessionStatus::Active.as_str()))
            .expression_attribute_values(":disconnected", s(SessionStatus::Disconnected.as_str()))
            .expression_attribute_values(":at", ts(&at))
            .expression_attribute_values(":rev", s(revocation.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(expiry) = self.expiry_of(at) {
            update = update
                .expression_attribute_names("#ttl", EXPIRES_AT_TTL)
                .expression_attribute_values(":ttl", AttributeValue::N(expiry.to_string()));
        }
        if let Some(by) = connected_by {
            condition.push_str(" AND (#ca <= :by OR (attribute_not_exists(#ca) AND #cr <= :by))");
            update = update
                .expression_attribute_names("#ca", CONNECTED_AT)
                .expression_attribute_names("#cr", CREATED_AT)
                .expression_attribute_values(":by", ts(&by));
        }
        match update.condition_expression(condition).send().await {
            Ok(_) => Ok(Transition::Done),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    match c.item() {
                        None => Ok(Transition::Missing),
                        Some(old) if old.is_empty() => Ok(Transition::Missing),
                        // Our own earlier attempt succeeded but its answer was lost.
                        Some(old)
                            if string_attr(old, DISCONNECTED_BY)
                                == Some(revocation.to_string().as_str()) =>
                        {
                            Ok(Transition::Done)
                        }
                        Some(_) => Ok(Transition::NotActive),
                    }
                }
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }
}
