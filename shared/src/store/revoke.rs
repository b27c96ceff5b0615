//! Revoke-all: raise the application's watermark, then sweep its connected sessions.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use futures::stream::{self, StreamExt};
use uuid::Uuid;

use super::layout::*;
use super::lifecycle::Transition;
use super::{classify, DynamoStore, StoreError};
use crate::time::Timestamp;

/// How many conditional updates a revoke keeps in flight at once.
pub const REVOKE_CONCURRENCY: usize = 32;
/// How close to its deadline a revoke stops starting new writes, leaving time to answer.
pub const REVOKE_DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// Attempts per session while the table throttles (each attempt has the SDK's own retries).
const REVOKE_ITEM_ATTEMPTS: u32 = 5;
/// Page size of the revoke sweep over the connected index.
const REVOKE_PAGE: i32 = 1000;

/// What a revoke-all did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokeOutcome {
    /// Sessions this call moved from `active` to `disconnected`.
    pub disconnected: u64,
    /// `false` when time ran out or writes stayed throttled: some connected sessions were not
    /// moved (they read as disconnected through the watermark; another call moves them).
    pub complete: bool,
}

impl DynamoStore {
    /// Revoke-all: sets the application's revocation watermark, then disconnects every session
    /// that connected at or before it, found through the sparse `connected` index.
    ///
    /// The count is exact under concurrency and retries: each session changes state through a
    /// conditional write that only one caller can win, and a write that succeeded on an attempt
    /// whose answer was lost is recognised by the revocation id it left behind.
    ///
    /// With a `deadline`, no new write starts within [`REVOKE_DEADLINE_MARGIN`] of it; writes
    /// that stay throttled after their retries are left too. Either way the outcome says
    /// `complete: false`, and the watermark already makes every session it did not reach read
    /// as disconnected; calling again finishes the sweep and counts the rest.
    pub async fn revoke_all(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        now: Timestamp,
        deadline: Option<Instant>,
    ) -> Result<RevokeOutcome, StoreError> {
        self.raise_watermark(organization_id, application_id, now)
            .await?;

        // The margin shrinks with a short invocation (a local runner's 3 s default) so that
        // some work still happens; in AWS, with a 29 s timeout, it is the full 2 s.
        let margin = deadline.map_or(REVOKE_DEADLINE_MARGIN, |d| {
            REVOKE_DEADLINE_MARGIN.min(d.saturating_duration_since(Instant::now()) / 3)
        });
        let out_of_time = || deadline.is_some_and(|d| Instant::now() + margin >= d);
        let revocation = Uuid::new_v4();
        let pk = partition_key(organization_id, application_id);
        let mut start = None;
        let mut outcome = RevokeOutcome {
            disconnected: 0,
            complete: true,
        };
        loop {
            if out_of_time() {
                outcome.complete = false;
                break;
            }
            let page = self
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
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            let keys: Vec<Item> = page
                .items()
                .iter()
                .filter_map(|item| string_attr(item, SK))
                .filter(|sk| is_session_sk(sk))
                .map(|sk| key(pk.clone(), sk.to_string()))
                .collect();
            let wanted = keys.len();
            let results: Vec<Result<Transition, StoreError>> = stream::iter(keys)
                .take_while(|_| futures::future::ready(!out_of_time()))
                .map(|key| self.disconnect_with_retries(key, now, revocation, deadline, margin))
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
                    Err(StoreError::Unavailable(detail)) => {
                        tracing::warn!(error = %detail, "revoke left a session for the next sweep");
                        outcome.complete = false;
                    }
                    Err(other) => return Err(other),
                }
            }
            match page.last_evaluated_key {
                Some(k) if outcome.complete => start = Some(k),
                _ => break,
            }
        }
        Ok(outcome)
    }

    /// Moves the application's revocation watermark forward to `now` (never back).
    async fn raise_watermark(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(app_key(organization_id, application_id)))
            .update_expression("SET #rb = :now")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#rb) OR #rb < :now)",
            )
            .expression_attribute_names("#rb", REVOKED_BEFORE)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":now", ts(&now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                // An existing item means an equal or newer watermark is already in place.
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    if c.item().is_some_and(|i| !i.is_empty()) {
                        Ok(())
                    } else {
                        Err(StoreError::ApplicationNotFound)
                    }
                }
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }

    /// [`Self::disconnect`] for the sweep, retried with jittered backoff while the table is
    /// throttling and time remains. Safe to retry: the transition is conditional, and an
    /// attempt that succeeded unseen is recognised by its revocation id.
    async fn disconnect_with_retries(
        &self,
        key: Item,
        at: Timestamp,
        revocation: Uuid,
        deadline: Option<Instant>,
        margin: Duration,
    ) -> Result<Transition, StoreError> {
        let mut attempt = 0u32;
        loop {
            match self.disconnect(key.clone(), at, revocation, Some(at)).await {
                Err(StoreError::Unavailable(detail)) => {
                    attempt += 1;
                    let pause = Duration::from_millis(
                        (25u64 << attempt.min(6)) + rand::random_range(0..25u64),
                    );
                    let in_time = deadline.is_none_or(|d| Instant::now() + pause + margin < d);
                    if attempt >= REVOKE_ITEM_ATTEMPTS || !in_time {
                        return Err(StoreError::Unavailable(detail));
                    }
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }
}
