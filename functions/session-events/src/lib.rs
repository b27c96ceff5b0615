//! The table's change stream read as published events: the Lambda function fed by the
//! DynamoDB stream, and the same handler for the local runner (`sessions-admin events`).
//!
//! Each record of a batch is read on its own ([`read_record`]): what the item change means is
//! the store's rule ([`sessions::store::changes`]), at most one [`SessionEvent`] per record.
//! The events go out in the batch's order, [`MAX_ENTRIES`] per call, through a [`Publisher`]
//! (EventBridge in AWS, [`local::LocalPublisher`] locally); entries the publisher refuses
//! are retried a few times. The answer is a partial batch response: the sequence number of the
//! first record whose event could not be published, so Lambda resumes there and neither loses
//! an event nor redoes the records before it. Events after it may be delivered again; their
//! ids are stable, so a receiver drops them.
//!
//! A record that cannot be read (not a stream record, an item that does not decode) is logged
//! and skipped: it would fail the same way on every retry and hold up the stream forever.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::dynamodb::EventRecord;
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sessions::events::SessionEvent;
use sessions::store::changes::{Change, ChangeKind};
use sessions::store::layout::Item;

mod publisher;

#[cfg(feature = "local")]
pub mod local;

pub use publisher::{EventBridge, Publisher, MAX_ENTRIES};

/// The function's name in logs (its folder under `functions/`).
pub const NAME: &str = "session-events";

/// How long to wait before each new attempt at the entries a publisher refused, within one
/// invocation; after the last, the batch is answered with its first unpublished record.
pub const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_millis(1_000),
];

/// What one more `PutEvents` call may take: the SDK's operation timeout (12 s,
/// `sessions::store::transport`) and a margin. A call is not begun with less time left before
/// the invocation's deadline: the batch answers its first unpublished record instead of timing
/// out, which would make Lambda redo (and bisect) the whole batch.
pub const CALL_BUDGET: Duration = Duration::from_secs(13);

/// The partial batch response (`ReportBatchItemFailures`): at most one failure, the first
/// record not published; empty when every event went out.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    /// The record's sequence number.
    pub item_identifier: String,
}

impl BatchResponse {
    /// The sequence number to resume at, if any record was not published.
    pub fn resume_at(&self) -> Option<&str> {
        self.batch_item_failures
            .first()
            .map(|f| f.item_identifier.as_str())
    }
}

/// One stream record, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub sequence_number: String,
    /// What it publishes; `None` for a change no consumer hears about (a heartbeat, a marker).
    pub event: Option<SessionEvent>,
}

/// Why a record was skipped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RecordError(String);

/// Reads one record of a DynamoDB stream batch (the JSON Lambda hands over).
pub fn read_record(record: &Value) -> Result<Record, RecordError> {
    let record = EventRecord::deserialize(record)
        .map_err(|e| RecordError(format!("not a DynamoDB stream record: {e}")))?;
    let sequence_number = record
        .change
        .sequence_number
        .clone()
        .ok_or_else(|| RecordError("the record has no sequence number".into()))?;
    let kind = ChangeKind::from_event_name(&record.event_name)
        .ok_or_else(|| RecordError(format!("unknown eventName {:?}", record.event_name)))?;
    let change = Change {
        kind,
        keys: item(record.change.keys),
        old_image: image(record.change.old_image),
        new_image: image(record.change.new_image),
    };
    let event = change
        .event()
        .map_err(|e| RecordError(format!("record {sequence_number}: {e}")))?;
    Ok(Record {
        sequence_number,
        event,
    })
}

fn item(item: serde_dynamo::Item) -> Item {
    item.into()
}

/// Lambda sends an absent image as an empty (or missing) map.
fn image(image: serde_dynamo::Item) -> Option<Item> {
    let image = item(image);
    (!image.is_empty()).then_some(image)
}

/// The function's handler over a [`Publisher`].
#[derive(Debug, Clone)]
pub struct Handler<P> {
    publisher: P,
    retry_delays: Vec<Duration>,
}

impl<P: Publisher> Handler<P> {
    pub fn new(publisher: P) -> Self {
        Handler {
            publisher,
            retry_delays: RETRY_DELAYS.to_vec(),
        }
    }

    /// Other waits between attempts (the local runner's own, tests').
    pub fn with_retry_delays(mut self, delays: Vec<Duration>) -> Self {
        self.retry_delays = delays;
        self
    }

    /// One invocation: a DynamoDB stream event (`{"Records": [...]}`). An event without
    /// records is a misconfigured trigger, and an error.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<BatchResponse, Error> {
        let records = event
            .payload
            .get("Records")
            .and_then(Value::as_array)
            .ok_or("the event is not a DynamoDB stream batch (no Records)")?;
        let deadline = deadline_of(event.context.deadline, SystemTime::now());
        Ok(self
            .handle_records_until(records, &event.context.request_id, deadline)
            .await)
    }

    /// The batch `records`, oldest first: every event published, or the first record whose
    /// event was not.
    pub async fn handle_records(&self, records: &[Value], request_id: &str) -> BatchResponse {
        self.handle_records_until(records, request_id, None).await
    }

    /// [`Handler::handle_records`] within `deadline`: no call is begun with less than
    /// [`CALL_BUDGET`] left.
    pub async fn handle_records_until(
        &self,
        records: &[Value],
        request_id: &str,
        deadline: Option<Instant>,
    ) -> BatchResponse {
        let mut events: Vec<(String, SessionEvent)> = Vec::new();
        let mut skipped = 0usize;
        for raw in records {
            match read_record(raw) {
                Ok(Record {
                    sequence_number,
                    event: Some(event),
                }) => events.push((sequence_number, event)),
                Ok(_) => {}
                Err(e) => {
                    skipped += 1;
                    tracing::error!(request_id, function = NAME, error = %e, "record skipped");
                }
            }
        }
        let mut published = 0usize;
        let mut resume_at = None;
        for chunk in events.chunks(MAX_ENTRIES) {
            match self.publish_chunk(chunk, deadline).await {
                None => published += chunk.len(),
                Some(first) => {
                    resume_at = Some(first);
                    break;
                }
            }
        }
        let failed = resume_at.is_some();
        tracing::info!(
            request_id,
            function = NAME,
            records = records.len(),
            events = events.len(),
            published,
            skipped,
            resume_at = resume_at.as_deref().unwrap_or_default(),
            "batch"
        );
        if failed {
            tracing::warn!(
                request_id,
                function = NAME,
                "events not published; retried from the first"
            );
        }
        BatchResponse {
            batch_item_failures: resume_at
                .map(|item_identifier| ItemFailure { item_identifier })
                .into_iter()
                .collect(),
        }
    }

    /// Publishes one chunk, retrying refused entries; the sequence number of the earliest
    /// record whose event is still refused after the last attempt.
    async fn publish_chunk(
        &self,
        chunk: &[(String, SessionEvent)],
        deadline: Option<Instant>,
    ) -> Option<String> {
        let mut waiting: Vec<&(String, SessionEvent)> = chunk.iter().collect();
        let waits = std::iter::once(None).chain(self.retry_delays.iter().copied().map(Some));
        for wait in waits {
            let wait = wait.unwrap_or_default();
            if deadline.is_some_and(|d| Instant::now() + wait + CALL_BUDGET > d) {
                break;
            }
            tokio::time::sleep(wait).await;
            let events: Vec<SessionEvent> = waiting.iter().map(|(_, e)| e.clone()).collect();
            let mut refused = self.publisher.publish(&events).await;
            refused.sort_unstable();
            refused.dedup();
            waiting = refused
                .into_iter()
                .filter_map(|i| waiting.get(i).copied())
                .collect();
            if waiting.is_empty() {
                return None;
            }
        }
        // The chunk is in record order, so the first still waiting is the earliest record.
        waiting
            .first()
            .map(|(sequence_number, _)| sequence_number.clone())
    }
}

/// 2001-09-09 in epoch milliseconds: anything smaller is not a wall-clock deadline.
const PLAUSIBLE_EPOCH_MS: u64 = 1_000_000_000_000;

/// The invocation's deadline (the context's epoch milliseconds) as an `Instant`, read against
/// `now`. Local runners send a bare duration or nothing; only a plausible epoch counts.
fn deadline_of(deadline_ms: u64, now: SystemTime) -> Option<Instant> {
    let now_ms = u64::try_from(now.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    (deadline_ms > PLAUSIBLE_EPOCH_MS)
        .then(|| Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// Refuses everything, counting its calls.
    #[derive(Clone, Default)]
    struct Down(Arc<AtomicUsize>);

    impl Publisher for Down {
        async fn publish(&self, events: &[SessionEvent]) -> Vec<usize> {
            self.0.fetch_add(1, Ordering::SeqCst);
            (0..events.len()).collect()
        }
    }

    fn connect_record(sequence_number: &str) -> Value {
        let session = serde_json::json!({
            "pk": {"S": "ORG#00000000-0000-4000-8000-000000000001#APP#00000000-0000-4000-8000-000000000002#SESSION#00000000-0000-4000-8000-000000000003"},
            "sk": {"S": "SESSION"},
            "id": {"S": "00000000-0000-4000-8000-000000000003"},
            "applicationId": {"S": "00000000-0000-4000-8000-000000000002"},
            "organizationId": {"S": "00000000-0000-4000-8000-000000000001"},
            "name": {"S": "s"},
            "status": {"S": "active"},
            "createdAt": {"S": "2026-12-01T10:00:00.000Z"},
            "connectedAt": {"S": "2026-12-01T10:00:00.000Z"}
        });
        serde_json::json!({
            "eventID": "1",
            "eventName": "INSERT",
            "awsRegion": "eu-west-1",
            "dynamodb": {
                "Keys": {"pk": session["pk"], "sk": session["sk"]},
                "NewImage": session,
                "SequenceNumber": sequence_number,
                "SizeBytes": 1
            }
        })
    }

    #[tokio::test]
    async fn no_call_begins_without_the_time_it_may_take() {
        let down = Down::default();
        let handler = Handler::new(down.clone()).with_retry_delays(vec![Duration::ZERO; 5]);
        let records = [connect_record("100"), connect_record("200")];
        let soon = Instant::now() + CALL_BUDGET / 2;
        let answer = handler
            .handle_records_until(&records, "test", Some(soon))
            .await;
        assert_eq!(answer.resume_at(), Some("100"));
        assert_eq!(down.0.load(Ordering::SeqCst), 0, "no call at all");

        let later = Instant::now() + CALL_BUDGET * 2;
        let answer = handler
            .handle_records_until(&records, "test", Some(later))
            .await;
        assert_eq!(answer.resume_at(), Some("100"));
        assert_eq!(
            down.0.load(Ordering::SeqCst),
            6,
            "the call and its five retries"
        );
    }

    #[test]
    fn only_a_wall_clock_deadline_counts() {
        let now = UNIX_EPOCH + Duration::from_millis(1_800_000_000_000);
        let left = deadline_of(1_800_000_029_000, now)
            .expect("a deadline")
            .saturating_duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(28) && left <= Duration::from_secs(29),
            "{left:?}"
        );
        assert!(deadline_of(600_000, now).is_none());
        assert!(deadline_of(0, now).is_none());
    }
}
