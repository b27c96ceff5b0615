//! Revoke-all: raise the application's watermark, then sweep its connected sessions.
//!
//! A revocation is recorded on the application item: its watermark (`revokedBefore`) and
//! whether its sweep is still pending. A call that finds a pending sweep finishes *that*
//! revocation (up to its watermark) instead of starting a new one, so clients that
//! re-authenticated after it, as they were told to, are never revoked by a retry.

use std::time::Instant;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use futures::stream::{self, StreamExt};
use uuid::Uuid;

use super::layout::*;
use super::lifecycle::Transition;
use super::{classify, Budget, DynamoStore, StoreError};
use crate::time::{self, Timestamp};

/// How many conditional updates a revoke keeps in flight at once.
pub const REVOKE_CONCURRENCY: usize = 32;
/// Attempts per session while the table throttles (each attempt has the SDK's own retries).
const REVOKE_ITEM_ATTEMPTS: u32 = 5;
/// Attempts at the watermark while transactions on the application item (connects) conflict.
const WATERMARK_ATTEMPTS: u32 = 12;
/// Page size of the revoke sweep over the connected index.
const REVOKE_PAGE: i32 = 1000;

/// What a revoke-all did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokeOutcome {
    /// Sessions this call moved from `active` to `disconnected`.
    pub disconnected: u64,
    /// `false` when time ran out, writes stayed throttled or a read failed after some
    /// progress: some connected sessions were not moved (they read as disconnected through the
    /// watermark; another call moves them).
    pub complete: bool,
}

impl DynamoStore {
    /// Revoke-all: raises the application's revocation watermark (or takes up the revocation
    /// whose sweep a previous call left pending), then disconnects every session that connected
    /// at or before it, found through the sparse `connected` index.
    ///
    /// The count is exact under concurrency and retries: each session changes state through a
    /// conditional write that only one caller can win, and a write that succeeded on an attempt
    /// whose answer was lost is recognised by the call's id it left behind.
    ///
    /// With a `deadline`, each call to DynamoDB is bounded by the time left, and no new write
    /// starts within [`super::budget::DEADLINE_MARGIN`] of it; writes that stay throttled are left too.
    /// After any progress a failing read ends the sweep early instead of failing the call, so
    /// what was moved is always reported. The outcome then says `complete: false`, and the
    /// watermark already makes every session not reached read as disconnected; calling again
    /// finishes the same revocation and counts the rest.
    pub async fn revoke_all(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        now: Timestamp,
        deadline: Option<Instant>,
    ) -> Result<RevokeOutcome, StoreError> {
        let budget = Budget::new(deadline);
        let watermark = self
            .begin_revocation(organization_id, application_id, now, &budget)
            .await?;
        let mut outcome = self
            .sweep(organization_id, application_id, watermark, &budget)
            .await?;
        if outcome.complete {
            if let Err(e) = budget
                .bound(
                    "UpdateItem",
                    self.end_revocation(organization_id, application_id, watermark),
                )
                .await
            {
                // The sweep stays pending: the next call finds nothing left and closes it.
                tracing::warn!(error = %e, "revocation swept but not closed");
                outcome.complete = false;
            }
        }
        Ok(outcome)
    }

    /// Disconnects every stored-active session that connected at or before `watermark`.
    /// Fails only when nothing was moved yet.
    async fn sweep(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        watermark: Timestamp,
        budget: &Budget,
    ) -> Result<RevokeOutcome, StoreError> {
        let call = Uuid::new_v4();
        let pk = partition_key(organization_id, application_id);
        let mut start = None;
        let mut outcome = RevokeOutcome {
            disconnected: 0,
            complete: true,
        };
        loop {
            if budget.spent() {
                outcome.complete = false;
                break;
            }
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(INDEX_CONNECTED)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(pk.clone()))
                .projection_expression("#sk")
                .consistent_read(true)
                .limit(REVOKE_PAGE)
                .set_exclusive_start_key(start.take())
                .send();
            let page = match budget
                .bound("Query", async {
                    query.await.map_err(|e| classify("Query", e))
                })
                .await
            {
                Ok(page) => page,
                Err(e) if outcome.disconnected > 0 => {
                    tracing::warn!(error = %e, moved = outcome.disconnected, "revoke sweep stopped early");
                    outcome.complete = false;
                    break;
                }
                Err(e) => return Err(e),
            };
            let keys: Vec<Item> = page
                .items()
                .iter()
                .filter_map(|item| string_attr(item, SK))
                .filter(|sk| is_session_sk(sk))
                .map(|sk| key(pk.clone(), sk.to_string()))
                .collect();
            let wanted = keys.len();
            let results: Vec<Result<Transition, StoreError>> = stream::iter(keys)
                .take_while(|_| futures::future::ready(!budget.spent()))
                .map(|key| self.disconnect_with_retries(key, watermark, call, budget))
                .buffer_unordered(REVOKE_CONCURRENCY)
                .collect()
                .await;
            if results.len() < wanted {
                outcome.complete = false;
            }
            for result in results {
                match result {
                    Ok(Transition::Done) => outcome.disconnected += 1,
                    Ok(Transition::NotActive | Transition::Missing) => {}
                    Err(e) => {
                        // Left for the next call, whatever the fault: one bad item never
                        // throws away what the others moved.
                        tracing::warn!(error = %e, "revoke left a session for the next sweep");
                        outcome.complete = false;
                    }
                }
            }
            match page.last_evaluated_key {
                Some(k) if outcome.complete => start = Some(k),
                _ => break,
            }
        }
        Ok(outcome)
    }

    /// The watermark this call sweeps to: `now`, raised (never lowered) and marked pending; or,
    /// when an earlier call left its sweep pending, that call's watermark, unchanged.
    ///
    /// Every connect is a transaction that checks the application item, and DynamoDB refuses
    /// a write to an item inside a transaction in flight (`TransactionConflictException`), so
    /// this write is retried with backoff while time remains: no rate of connects holds it off.
    async fn begin_revocation(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        now: Timestamp,
        budget: &Budget,
    ) -> Result<Timestamp, StoreError> {
        budget
            .retrying("UpdateItem", WATERMARK_ATTEMPTS, || async {
                let update = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(app_key(organization_id, application_id)))
                    .update_expression("SET #rb = :now, #sp = :true")
                    .condition_expression(
                        "attribute_exists(#pk) AND (attribute_not_exists(#sp) OR #sp = :false) \
                         AND (attribute_not_exists(#rb) OR #rb < :now)",
                    )
                    .expression_attribute_names("#rb", REVOKED_BEFORE)
                    .expression_attribute_names("#sp", SWEEP_PENDING)
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_values(":now", ts(&now))
                    .expression_attribute_values(":true", AttributeValue::Bool(true))
                    .expression_attribute_values(":false", AttributeValue::Bool(false))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match update {
                    Ok(_) => Ok(now),
                    Err(e) => match e.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                            // A pending sweep, or an equal or newer watermark: take it up.
                            c.item()
                                .filter(|old| !old.is_empty())
                                .and_then(|old| string_attr(old, REVOKED_BEFORE))
                                .and_then(|raw| time::parse(raw).ok())
                                .ok_or(StoreError::ApplicationNotFound)
                        }
                        _ => Err(classify("UpdateItem", e)),
                    },
                }
            })
            .await
    }

    /// Marks the revocation at `watermark` swept, unless a newer one replaced it meanwhile.
    async fn end_revocation(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        watermark: Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(app_key(organization_id, application_id)))
            .update_expression("SET #sp = :false")
            .condition_expression("#rb = :watermark")
            .expression_attribute_names("#rb", REVOKED_BEFORE)
            .expression_attribute_names("#sp", SWEEP_PENDING)
            .expression_attribute_values(":watermark", ts(&watermark))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    /// [`Self::disconnect`] for the sweep, retried while the table is throttling and time
    /// remains. Safe to retry: the transition is conditional, and an attempt that succeeded
    /// unseen is recognised by the call's id.
    async fn disconnect_with_retries(
        &self,
        key: Item,
        watermark: Timestamp,
        call: Uuid,
        budget: &Budget,
    ) -> Result<Transition, StoreError> {
        budget
            .retrying("UpdateItem", REVOKE_ITEM_ATTEMPTS, || {
                self.disconnect(key.clone(), watermark, call, Some(watermark))
            })
            .await
    }
}
