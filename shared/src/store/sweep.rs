//! The heartbeat-timeout sweep: sessions whose connection side went silent are stored as
//! disconnected (reason `timed_out`), so their disconnect event is produced. Reads only the
//! sparse `live` index, never the table.

use uuid::Uuid;

use super::layout::*;
use super::lifecycle::{Only, Transition};
use super::{classify, Budget, DynamoStore, StoreError};
use crate::model::DisconnectReason;
use crate::time::Timestamp;

/// Entries read per query of a `live` partition.
const SWEEP_PAGE: i32 = 500;

/// What a sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Sessions this sweep stored as disconnected.
    pub disconnected: u64,
    /// `false` when time ran out or a call failed: the next run goes on.
    pub complete: bool,
}

impl DynamoStore {
    /// Stores every connected session whose last connect or heartbeat is older than
    /// `now - timeout` as disconnected, with `disconnectedAt` = that last sign of life +
    /// `timeout`. A heartbeat racing the sweep wins: the write is conditional on the last sign
    /// of life the index showed.
    pub async fn sweep_timed_out(
        &self,
        now: Timestamp,
        timeout: chrono::Duration,
        budget: &Budget,
    ) -> Result<SweepOutcome, StoreError> {
        let bound = millis_key(now - timeout);
        let call = Uuid::new_v4();
        let mut outcome = SweepOutcome {
            disconnected: 0,
            complete: true,
        };
        'partitions: for shard in 0..LIVE_SHARDS {
            let mut start = None;
            loop {
                if budget.spent() {
                    outcome.complete = false;
                    break 'partitions;
                }
                let query = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(INDEX_LIVE)
                    .key_condition_expression("#lk = :lk AND #lsk < :bound")
                    .expression_attribute_names("#lk", LIVE_KEY)
                    .expression_attribute_names("#lsk", LAST_SEEN_KEY)
                    .expression_attribute_values(":lk", s(live_partition(shard)))
                    .expression_attribute_values(":bound", s(bound.clone()))
                    .limit(SWEEP_PAGE)
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
                        tracing::warn!(error = %e, "timeout sweep stopped early");
                        outcome.complete = false;
                        break 'partitions;
                    }
                    Err(e) => return Err(e),
                };
                for item in page.items() {
                    let entry = string_attr(item, PK).and_then(parse_session_pk).zip(
                        string_attr(item, LAST_SEEN_KEY).and_then(|k| {
                            let ms = k.split_once('#')?.0.parse::<i64>().ok()?;
                            chrono::DateTime::from_timestamp_millis(ms)
                        }),
                    );
                    let Some(((org, app, session), seen)) = entry else {
                        tracing::error!("a live index entry does not name a session; skipped");
                        continue;
                    };
                    let only = Only {
                        connected_by: None,
                        last_seen: Some(seen),
                    };
                    let moved = budget
                        .bound(
                            "UpdateItem",
                            self.disconnect(
                                org,
                                app,
                                session,
                                seen + timeout,
                                call,
                                only,
                                DisconnectReason::TimedOut,
                            ),
                        )
                        .await;
                    match moved {
                        Ok(Transition::Done(_)) => outcome.disconnected += 1,
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "timeout sweep left a session for the next run");
                            outcome.complete = false;
                        }
                    }
                }
                match page.last_evaluated_key {
                    Some(k) => start = Some(k),
                    None => break,
                }
            }
        }
        Ok(outcome)
    }
}
