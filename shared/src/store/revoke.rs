//! Revoke-all: raise the application's watermark, then sweep its connected sessions.
//!
//! A revocation is recorded on the application item: its watermark (`revokedBefore`) and
//! whether its sweep is still pending. A call that finds a pending sweep finishes *that*
//! revocation (up to its watermark) instead of starting a new one, so clients that
//! re-authenticated after it, as they were told to, are never revoked by a retry.

use std::time::Instant;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use futures::future::try_join_all;
use futures::stream::{self, StreamExt};
use uuid::Uuid;

use super::layout::*;
use super::lifecycle::{Only, Transition};
use super::{classify, Budget, DynamoStore, StoreError};
use crate::model::DisconnectReason;
use crate::time::{self, Timestamp};

/// How many sessions a revoke moves at once (each an update, then a marker delete).
pub const REVOKE_CONCURRENCY: usize = 64;
/// Attempts per session while the table throttles (each attempt has the SDK's own retries).
const REVOKE_ITEM_ATTEMPTS: u32 = 5;
/// Attempts at the watermark while transactions on the application item (connects) conflict.
const WATERMARK_ATTEMPTS: u32 = 12;
/// Page size of the revoke sweep over a shard's connected markers.
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
    /// at or before it, found through the connected markers of each of its shards. Each shard's
    /// head takes the watermark before its markers are read (consistently): a connect
    /// checks that head in its transaction, so one that connected before the watermark either
    /// committed its marker before the read, or is refused.
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
        try_join_all((0..SHARDS).map(|shard| {
            self.raise_head(organization_id, application_id, shard, watermark, &budget)
        }))
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

    /// Disconnects every stored-active session that connected at or before `watermark`, shard
    /// by shard. Fails only when nothing was moved yet.
    async fn sweep(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        watermark: Timestamp,
        budget: &Budget,
    ) -> Result<RevokeOutcome, StoreError> {
        let call = Uuid::new_v4();
        let mut outcome = RevokeOutcome {
            disconnected: 0,
            complete: true,
        };
        // Markers sort by creation; a session cannot have connected before it was created, so
        // markers created after the watermark are never read.
        let upper = format!("{CONN_PREFIX}{}#~", millis_key(watermark));
        'shards: for shard in 0..SHARDS {
            let pk = shard_pk(organization_id, application_id, shard);
            let mut start = None;
            loop {
                if budget.spent() {
                    outcome.complete = false;
                    break 'shards;
                }
                let query = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":pk", s(pk.clone()))
                    .expression_attribute_values(":lo", s(CONN_PREFIX))
                    .expression_attribute_values(":hi", s(upper.clone()))
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
                        break 'shards;
                    }
                    Err(e) => return Err(e),
                };
                let sessions: Vec<Uuid> = page
                    .items()
                    .iter()
                    .filter_map(|item| string_attr(item, SK).and_then(marker_position))
                    .map(|position| position.id)
                    .collect();
                let wanted = sessions.len();
                let results: Vec<Result<Transition, StoreError>> = stream::iter(sessions)
                    .take_while(|_| futures::future::ready(!budget.spent()))
                    .map(|session| {
                        self.disconnect_with_retries(
                            organization_id,
                            application_id,
                            session,
                            watermark,
                            call,
                            budget,
                        )
                    })
                    .buffer_unordered(REVOKE_CONCURRENCY)
                    .collect()
                    .await;
                if results.len() < wanted {
                    outcome.complete = false;
                }
                for result in results {
                    match result {
                        Ok(Transition::Done(_)) => outcome.disconnected += 1,
                        Ok(Transition::NotActive(_) | Transition::Spared | Transition::Missing) => {
                        }
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
                    Some(_) => break 'shards,
                    None => break,
                }
            }
        }
        Ok(outcome)
    }

    /// Copies the watermark to a shard's head (never lowering it), which every connect to the
    /// shard checks; retried while connects' transactions hold the head.
    async fn raise_head(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        shard: u32,
        watermark: Timestamp,
        budget: &Budget,
    ) -> Result<(), StoreError> {
        budget
            .retrying("UpdateItem", WATERMARK_ATTEMPTS, || async {
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(head_key(organization_id, application_id, shard)))
                    .update_expression("SET #rb = :w")
                    .condition_expression("attribute_not_exists(#rb) OR #rb < :w")
                    .expression_attribute_names("#rb", REVOKED_BEFORE)
                    .expression_attribute_values(":w", ts(&watermark))
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) => match e.as_service_error() {
                        // An equal or newer watermark is there already.
                        Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
                        _ => Err(classify("UpdateItem", e)),
                    },
                }
            })
            .await
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
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
        watermark: Timestamp,
        call: Uuid,
        budget: &Budget,
    ) -> Result<Transition, StoreError> {
        let only = Only {
            connected_by: Some(watermark),
            last_seen: None,
        };
        budget
            .retrying("UpdateItem", REVOKE_ITEM_ATTEMPTS, || {
                self.disconnect(
                    organization_id,
                    application_id,
                    session_id,
                    watermark,
                    call,
                    only,
                    DisconnectReason::RevokedAll,
                )
            })
            .await
    }
}
