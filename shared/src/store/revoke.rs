//! Revoke-all: raise the application's watermark, then sweep its connected sessions.
//!
//! A revocation is recorded on the application item: its watermark (`revokedBefore`) and
//! whether its sweep is still pending. A call that finds a pending sweep finishes *that*
//! revocation (up to its watermark) instead of starting a new one, so clients that
//! re-authenticated after it, as they were told to, are never revoked by a retry.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use futures::stream::{self, StreamExt};
use uuid::Uuid;

use super::layout::*;
use super::lifecycle::Transition;
use super::{classify, DynamoStore, StoreError};
use crate::time::{self, Timestamp};

/// How many conditional updates a revoke keeps in flight at once.
pub const REVOKE_CONCURRENCY: usize = 32;
/// How close to its deadline a revoke stops starting new writes, leaving time to answer.
pub const REVOKE_DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// Attempts per session while the table throttles (each attempt has the SDK's own retries).
const REVOKE_ITEM_ATTEMPTS: u32 = 5;
/// Attempts at the watermark while transactions on the application item (connects) conflict.
const WATERMARK_ATTEMPTS: u32 = 12;
/// The least time a call is given, however close the deadline: the watermark write that
/// makes a revocation take effect is worth starting even at the last moment.
const MIN_CALL_TIME: Duration = Duration::from_millis(250);
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

/// The time left to an invocation, for bounding each call to DynamoDB by it.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Option<Instant>,
    margin: Duration,
}

impl Budget {
    /// The margin shrinks with a short invocation (a local runner's 3 s default) so that some
    /// work still happens; in AWS, with a 29 s timeout, it is the full 2 s.
    pub fn new(deadline: Option<Instant>) -> Self {
        let margin = deadline.map_or(REVOKE_DEADLINE_MARGIN, |d| {
            REVOKE_DEADLINE_MARGIN.min(d.saturating_duration_since(Instant::now()) / 3)
        });
        Budget { deadline, margin }
    }

    /// No new call should start.
    pub fn spent(&self) -> bool {
        self.deadline
            .is_some_and(|d| Instant::now() + self.margin >= d)
    }

    /// Whether a pause of `pause` still leaves room for the call after it.
    fn allows(&self, pause: Duration) -> bool {
        self.deadline
            .is_none_or(|d| Instant::now() + pause + self.margin < d)
    }

    /// Runs one call, cut off when it would overrun the deadline less the margin: an SDK
    /// attempt (12 s) plus its retries can be longer than what is left, and a function killed
    /// at its deadline answers nothing at all.
    pub async fn bound<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Some(deadline) = self.deadline else {
            return call.await;
        };
        let left = deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(self.margin / 2)
            .max(MIN_CALL_TIME);
        tokio::time::timeout(left, call)
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable(format!("{op}: out of time"))))
    }
}

/// Jittered exponential backoff: about 25 ms, 50 ms, 100 ms, … up to 1.6 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((25u64 << attempt.min(6)) + rand::random_range(0..25u64))
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
    /// starts within [`REVOKE_DEADLINE_MARGIN`] of it; writes that stay throttled are left too.
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
        let mut attempt = 0u32;
        loop {
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
                .send();
            let result = budget
                .bound("UpdateItem", async {
                    match update.await {
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
                .await;
            match result {
                Err(StoreError::Unavailable(detail)) => {
                    attempt += 1;
                    let pause = backoff(attempt);
                    if attempt >= WATERMARK_ATTEMPTS || !budget.allows(pause) {
                        return Err(StoreError::Unavailable(detail));
                    }
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
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

    /// [`Self::disconnect`] for the sweep, retried with jittered backoff while the table is
    /// throttling and time remains. Safe to retry: the transition is conditional, and an
    /// attempt that succeeded unseen is recognised by the call's id.
    async fn disconnect_with_retries(
        &self,
        key: Item,
        watermark: Timestamp,
        call: Uuid,
        budget: &Budget,
    ) -> Result<Transition, StoreError> {
        let mut attempt = 0u32;
        loop {
            let write = self.disconnect(key.clone(), watermark, call, Some(watermark));
            match budget.bound("UpdateItem", write).await {
                Err(StoreError::Unavailable(detail)) => {
                    attempt += 1;
                    let pause = backoff(attempt);
                    if attempt >= REVOKE_ITEM_ATTEMPTS || !budget.allows(pause) {
                        return Err(StoreError::Unavailable(detail));
                    }
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_is_cut_off_before_the_deadline_and_reads_as_unavailable() {
        let budget = Budget::new(Some(Instant::now() + Duration::from_millis(900)));
        let started = Instant::now();
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, StoreError>(())
        };
        let result = budget.bound("Query", slow).await;
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
        // Cut off, not waited out (the call alone takes 5 s); the exact instant is the timer's,
        // which a loaded machine delays.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn without_a_deadline_calls_run_to_the_end() {
        let budget = Budget::new(None);
        let result = budget
            .bound("Query", async { Ok::<_, StoreError>(7) })
            .await;
        assert_eq!(result.ok(), Some(7));
        assert!(!budget.spent());
    }

    #[test]
    fn the_margin_shrinks_with_a_short_invocation() {
        let short = Budget::new(Some(Instant::now() + Duration::from_secs(3)));
        assert!(short.margin <= Duration::from_secs(1));
        let long = Budget::new(Some(Instant::now() + Duration::from_secs(29)));
        assert_eq!(long.margin, REVOKE_DEADLINE_MARGIN);
    }
}
