//! The local runner: what Lambda's stream event source and EventBridge do in AWS, done against
//! a local engine (`sessions-admin events`, `make dev`, the tests).
//!
//! [`StreamPoller`] reads the table's stream through the DynamoDB Streams API (the local
//! engine serves it), turns each record into the JSON Lambda would hand over
//! ([`lambda_record`]) and gives the batch to the function's own [`Handler`]. When the handler
//! answers with a record it could not publish, the poller keeps that record and those after
//! it and offers them again, backing off, as Lambda retries a batch from its first failure.
//!
//! [`LocalPublisher`] stands in for EventBridge: it prints each event's EventBridge
//! [`Envelope`] as one JSON line on stdout and, like a rule's target, POSTs it to every
//! forward URL, retrying a receiver that fails.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use aws_sdk_dynamodbstreams::types::{Record as StreamRecord, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use serde_json::{Map, Value};
use sessions::config::{env, ConfigError, TrustRoots};
use sessions::events::{Envelope, SessionEvent};
use sessions::store::transport;

use crate::{Handler, Publisher, NAME};

/// How often the runner reads the stream when it has caught up: a revoke reaches a receiver
/// well within a second.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// The longest wait between two attempts while records are not published (a receiver down).
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the stream's shards are listed again, for new ones.
const DESCRIBE_EVERY: Duration = Duration::from_secs(5);
/// Waits between the attempts at one forward, before the event counts as not published.
const FORWARD_RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(50), Duration::from_millis(200)];
/// One forward attempt's limit.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);

/// A Streams API client for the local engine: the store's HTTP client and SDK configuration,
/// at `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, else at `AWS_ENDPOINT_URL_DYNAMODB` (one engine
/// serves both).
pub async fn streams_client_from_env(roots: TrustRoots) -> Result<Client, ConfigError> {
    let sdk = transport::sdk_loader(roots)?.load().await;
    let mut config = aws_sdk_dynamodbstreams::config::Builder::from(&sdk);
    let endpoint = env("AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
        .filter(|v| !v.is_empty())
        .or_else(|| env("AWS_ENDPOINT_URL_DYNAMODB").filter(|v| !v.is_empty()));
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    Ok(Client::from_conf(config.build()))
}

/// A record of the Streams API as Lambda's DynamoDB event carries it (one of its `Records`).
pub fn lambda_record(record: &StreamRecord) -> Value {
    let mut change = Map::new();
    if let Some(c) = record.dynamodb() {
        let images = [
            ("Keys", c.keys()),
            ("NewImage", c.new_image()),
            ("OldImage", c.old_image()),
        ];
        for (name, image) in images {
            if let Some(image) = image {
                let item = serde_dynamo::Item::from(image.clone());
                change.insert(
                    name.into(),
                    serde_json::to_value(item).unwrap_or(Value::Null),
                );
            }
        }
        if let Some(sequence_number) = c.sequence_number() {
            change.insert("SequenceNumber".into(), sequence_number.into());
        }
        change.insert(
            "SizeBytes".into(),
            c.size_bytes().unwrap_or_default().into(),
        );
        if let Some(view) = c.stream_view_type() {
            change.insert("StreamViewType".into(), view.as_str().into());
        }
        if let Some(at) = c.approximate_creation_date_time() {
            change.insert(
                "ApproximateCreationDateTime".into(),
                at.as_secs_f64().into(),
            );
        }
    }
    let mut out = Map::new();
    out.insert(
        "eventID".into(),
        record.event_id().unwrap_or_default().into(),
    );
    if let Some(name) = record.event_name() {
        out.insert("eventName".into(), name.as_str().into());
    }
    out.insert(
        "eventVersion".into(),
        record.event_version().unwrap_or("1.1").into(),
    );
    out.insert(
        "eventSource".into(),
        record.event_source().unwrap_or("aws:dynamodb").into(),
    );
    out.insert(
        "awsRegion".into(),
        record.aws_region().unwrap_or_default().into(),
    );
    out.insert("dynamodb".into(), Value::Object(change));
    Value::Object(out)
}

/// Where to start reading the shards there are when the runner starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Every record the stream still holds (24 h in AWS), as the Lambda's event source does.
    TrimHorizon,
    /// Only what changes from now on.
    Latest,
}

#[derive(Debug, Default)]
struct Shard {
    iterator: Option<String>,
    /// The last record read, to pick up after it with a fresh iterator.
    last_sequence: Option<String>,
    /// Read and not yet published, oldest first.
    pending: Vec<Value>,
    /// The shard will have no more records (kept, so it is not read again from its start).
    closed: bool,
}

/// What one [`StreamPoller::poll`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Polled {
    /// Records read from the stream in this round.
    pub read: usize,
    /// Every record read so far was handed over and published.
    pub caught_up: bool,
}

/// The table's stream, read shard by shard.
#[derive(Debug)]
pub struct StreamPoller {
    client: Client,
    table: String,
    start: StartAt,
    stream_arn: Option<String>,
    shards: BTreeMap<String, Shard>,
    described: Option<Instant>,
}

impl StreamPoller {
    pub fn new(client: Client, table: impl Into<String>, start: StartAt) -> Self {
        StreamPoller {
            client,
            table: table.into(),
            start,
            stream_arn: None,
            shards: BTreeMap::new(),
            described: None,
        }
    }

    /// Polls every [`POLL_INTERVAL`] for ever, backing off up to [`MAX_BACKOFF`] while the
    /// stream cannot be read or events cannot be published.
    pub async fn run<P: Publisher>(&mut self, handler: &Handler<P>) {
        let mut wait = POLL_INTERVAL;
        loop {
            match self.poll(handler).await {
                Ok(Polled {
                    caught_up: true, ..
                }) => wait = POLL_INTERVAL,
                Ok(_) => wait = (wait * 2).min(MAX_BACKOFF),
                Err(e) => {
                    tracing::warn!(function = NAME, error = %e, "reading the stream failed");
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One round: reads each shard once and hands what it holds unpublished to `handler`.
    pub async fn poll<P: Publisher>(&mut self, handler: &Handler<P>) -> Result<Polled, String> {
        self.discover().await?;
        let mut polled = Polled {
            read: 0,
            caught_up: true,
        };
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in ids {
            match self.read_shard(&id).await {
                Ok(read) => polled.read += read,
                Err(e) => {
                    tracing::warn!(function = NAME, shard = %id, error = %e, "GetRecords failed");
                    polled.caught_up = false;
                }
            }
            let Some(shard) = self.shards.get_mut(&id) else {
                continue;
            };
            if shard.pending.is_empty() {
                continue;
            }
            let answer = handler.handle_records(&shard.pending, "local").await;
            match answer.resume_at() {
                None => shard.pending.clear(),
                Some(sequence_number) => {
                    let from = shard
                        .pending
                        .iter()
                        .position(|r| sequence_of(r) == Some(sequence_number))
                        .unwrap_or(0);
                    shard.pending.drain(..from);
                    polled.caught_up = false;
                }
            }
        }
        Ok(polled)
    }

    /// Finds the table's stream and its shards, now and then.
    async fn discover(&mut self) -> Result<(), String> {
        if self
            .described
            .is_some_and(|at| at.elapsed() < DESCRIBE_EVERY)
        {
            return Ok(());
        }
        let arn = match &self.stream_arn {
            Some(arn) => arn.clone(),
            None => {
                let listed = self
                    .client
                    .list_streams()
                    .table_name(&self.table)
                    .send()
                    .await
                    .map_err(|e| format!("ListStreams: {}", sdk_error(&e)))?;
                let arn = listed
                    .streams()
                    .last()
                    .and_then(|s| s.stream_arn())
                    .ok_or_else(|| format!("table {} has no stream", self.table))?
                    .to_string();
                self.stream_arn = Some(arn.clone());
                arn
            }
        };
        let described = self
            .client
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .map_err(|e| format!("DescribeStream: {}", sdk_error(&e)))?;
        let first = self.described.is_none();
        for shard in described
            .stream_description()
            .map(|d| d.shards())
            .unwrap_or_default()
        {
            let Some(id) = shard.shard_id() else {
                continue;
            };
            if !self.shards.contains_key(id) {
                // A shard found later (a split's child) is read from its start.
                let start = if first {
                    self.start
                } else {
                    StartAt::TrimHorizon
                };
                let iterator = self.iterator(&arn, id, start, None).await?;
                self.shards.insert(
                    id.to_string(),
                    Shard {
                        iterator,
                        ..Shard::default()
                    },
                );
            }
        }
        self.described = Some(Instant::now());
        Ok(())
    }

    async fn iterator(
        &self,
        arn: &str,
        shard: &str,
        start: StartAt,
        after: Option<&str>,
    ) -> Result<Option<String>, String> {
        let request = self
            .client
            .get_shard_iterator()
            .stream_arn(arn)
            .shard_id(shard);
        let request = match (after, start) {
            (Some(sequence), _) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            (None, StartAt::TrimHorizon) => {
                request.shard_iterator_type(ShardIteratorType::TrimHorizon)
            }
            (None, StartAt::Latest) => request.shard_iterator_type(ShardIteratorType::Latest),
        };
        let answer = request
            .send()
            .await
            .map_err(|e| format!("GetShardIterator: {}", sdk_error(&e)))?;
        Ok(answer.shard_iterator)
    }

    /// Reads what is new on shard `id` into its pending records.
    async fn read_shard(&mut self, id: &str) -> Result<usize, String> {
        let arn = self.stream_arn.clone().unwrap_or_default();
        let Some(shard) = self.shards.get(id) else {
            return Ok(0);
        };
        if shard.closed {
            return Ok(0);
        }
        let iterator = match &shard.iterator {
            Some(it) => it.clone(),
            None => {
                let last = shard.last_sequence.clone();
                let fresh = self
                    .iterator(&arn, id, StartAt::TrimHorizon, last.as_deref())
                    .await?;
                match fresh {
                    Some(it) => it,
                    None => return Ok(0),
                }
            }
        };
        let answer = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .send()
            .await;
        let Some(shard) = self.shards.get_mut(id) else {
            return Ok(0);
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                // An expired or refused iterator: a fresh one after the last record read.
                shard.iterator = None;
                return Err(sdk_error(&e));
            }
        };
        let records = answer.records();
        if let Some(last) = records
            .last()
            .and_then(|r| r.dynamodb())
            .and_then(|c| c.sequence_number())
        {
            shard.last_sequence = Some(last.to_string());
        }
        let read = records.len();
        shard.pending.extend(records.iter().map(lambda_record));
        shard.closed = answer.next_shard_iterator.is_none();
        shard.iterator = answer.next_shard_iterator;
        Ok(read)
    }
}

fn sequence_of(record: &Value) -> Option<&str> {
    record
        .get("dynamodb")
        .and_then(|c| c.get("SequenceNumber"))
        .and_then(Value::as_str)
}

fn sdk_error<E: std::error::Error + 'static>(e: &E) -> String {
    aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string()
}

/// EventBridge's stand-in: one JSON line per event on stdout, and a POST of its envelope to
/// every forward URL.
#[derive(Debug, Clone)]
pub struct LocalPublisher {
    http: reqwest::Client,
    forward: Vec<String>,
    print: bool,
}

impl LocalPublisher {
    /// Prints (when `print`) and forwards to each of `forward`.
    pub fn new(forward: Vec<String>, print: bool) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .build()
            .map_err(|e| ConfigError(format!("the forwarding HTTP client: {e}")))?;
        Ok(LocalPublisher {
            http,
            forward,
            print,
        })
    }

    /// POSTs `body` to `url` until it answers 2xx, a few times; whether it did.
    async fn forward_to(&self, url: &str, body: &str) -> bool {
        let waits = std::iter::once(None).chain(FORWARD_RETRY_DELAYS.into_iter().map(Some));
        for wait in waits {
            if let Some(wait) = wait {
                tokio::time::sleep(wait).await;
            }
            let sent = self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            match sent {
                Ok(answer) if answer.status().is_success() => return true,
                Ok(answer) => {
                    tracing::warn!(function = NAME, url, status = %answer.status(), "forward refused");
                }
                Err(e) => tracing::warn!(function = NAME, url, error = %e, "forward failed"),
            }
        }
        false
    }
}

impl Publisher for LocalPublisher {
    /// In order, stopping at the first event a receiver did not take: it and those after it
    /// are offered again later, so none overtakes it by much.
    async fn publish(&self, events: &[SessionEvent]) -> Vec<usize> {
        for (i, event) in events.iter().enumerate() {
            let mut envelope = Envelope::of(event.clone());
            envelope.id = uuid::Uuid::new_v4().to_string();
            let Ok(body) = serde_json::to_string(&envelope) else {
                tracing::error!(function = NAME, event_id = %event.event_id, "an event does not serialize");
                return (i..events.len()).collect();
            };
            if self.print {
                let mut out = std::io::stdout().lock();
                if let Err(e) = writeln!(out, "{body}").and_then(|()| out.flush()) {
                    tracing::warn!(function = NAME, error = %e, "stdout");
                }
            }
            for url in &self.forward {
                if !self.forward_to(url, &body).await {
                    return (i..events.len()).collect();
                }
            }
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, StreamRecord as Change};
    use std::collections::HashMap;

    #[test]
    fn a_streams_api_record_reads_as_lambdas() {
        let keys = HashMap::from([
            (
                "pk".to_string(),
                AttributeValue::S("ORG#o#APP#a#SHARD#01".into()),
            ),
            ("sk".to_string(), AttributeValue::S("HEAD".into())),
        ]);
        let record = StreamRecord::builder()
            .event_id("e1")
            .event_name(OperationType::Modify)
            .aws_region("us-east-1")
            .dynamodb(
                Change::builder()
                    .set_keys(Some(keys.clone()))
                    .set_new_image(Some(keys))
                    .sequence_number("000000000000000000042")
                    .size_bytes(12)
                    .build(),
            )
            .build();
        let json = lambda_record(&record);
        assert_eq!(json["eventName"], "MODIFY");
        assert_eq!(
            json["dynamodb"]["Keys"]["sk"],
            serde_json::json!({"S": "HEAD"})
        );
        assert_eq!(json["dynamodb"]["SequenceNumber"], "000000000000000000042");
        assert!(json["dynamodb"].get("OldImage").is_none());
        let read = crate::read_record(&json).expect("reads");
        assert_eq!(read.sequence_number, "000000000000000000042");
        assert_eq!(read.event, None);
    }
}
