//! `ssf-push`, the SQS worker: the delivery queue carries the revocations the EventBridge rule
//! routes to it, the retries this worker re-enqueues (one stream each, with a growing
//! `DelaySeconds`) and the dead letters an operator redrives; the dead-letter queue keeps the
//! SETs that were refused or ran out of attempts.
//!
//! A batch answers with partial failures: a message fails only when nothing of it was sent
//! (the store or the key was unavailable) or its retry could not be enqueued, so SQS never
//! hands a receiver a SET it already accepted.

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde::Deserialize;

use super::settings::SsfSettings;
use super::transmitter::{DeadLetter, Job, Scheduler, Transmitter};
use crate::config::{Config, ConfigError};
use crate::events::Envelope;
use crate::store::DynamoStore;

/// SQS's longest `DelaySeconds`.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// What a message on the delivery queue is.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Message {
    /// A published event, as the EventBridge rule delivers it.
    Event(Box<Envelope>),
    /// A retry of one SET to one stream.
    Retry(Job),
    /// A dead letter an operator moved back (SQS redrive): attempted afresh.
    Redrive(DeadLetter),
}

/// Retries and dead letters through SQS.
#[derive(Debug, Clone)]
pub struct SqsScheduler {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    dead_letter_queue_url: String,
}

impl SqsScheduler {
    async fn send(&self, url: &str, body: String, delay: Duration) -> Result<(), String> {
        self.client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .delay_seconds(delay.min(MAX_DELAY).as_secs() as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "SendMessage: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            })
    }
}

impl Scheduler for SqsScheduler {
    async fn retry(&self, job: Job, delay: Duration) -> Result<(), String> {
        let body = serde_json::to_string(&job).map_err(|e| e.to_string())?;
        self.send(&self.queue_url, body, delay).await
    }

    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), String> {
        let body = serde_json::to_string(&letter).map_err(|e| e.to_string())?;
        self.send(&self.dead_letter_queue_url, body, Duration::ZERO)
            .await
    }
}

/// The function's state, built once per instance.
#[derive(Debug, Clone)]
pub struct PushWorker {
    transmitter: Transmitter,
    scheduler: SqsScheduler,
}

impl PushWorker {
    /// Reads the configuration, the signing key and the two queue URLs. Fails at init on any.
    pub async fn from_env() -> Result<PushWorker, ConfigError> {
        let config = Config::from_env()?;
        let settings = SsfSettings::from_env()?;
        let required = |value: &Option<String>, name: &str| {
            value
                .clone()
                .ok_or_else(|| ConfigError(format!("{name} is not set")))
        };
        let queue_url = required(&settings.queue_url, "SESSIONS_SSF_QUEUE_URL")?;
        let dead_letter_queue_url = required(
            &settings.dead_letter_queue_url,
            "SESSIONS_SSF_DEAD_LETTER_QUEUE_URL",
        )?;
        let store = DynamoStore::from_env(config.table.clone(), config.tls_roots).await?;
        let transmitter = Transmitter::new(&settings, store, config.tls_roots).await?;
        let sdk = crate::store::transport::sdk_loader(config.tls_roots)?
            .load()
            .await;
        Ok(PushWorker {
            transmitter,
            scheduler: SqsScheduler {
                client: aws_sdk_sqs::Client::new(&sdk),
                queue_url,
                dead_letter_queue_url,
            },
        })
    }

    /// One batch ([`handle_batch`]) through SQS.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        handle_batch(&self.transmitter, &self.scheduler, event).await
    }
}

/// One batch: every message handled concurrently, the failed ones reported (partial batch
/// response), so SQS hands back those alone.
pub async fn handle_batch(
    transmitter: &Transmitter,
    scheduler: &impl Scheduler,
    event: SqsEvent,
) -> SqsBatchResponse {
    let outcomes = futures::future::join_all(
        event
            .records
            .iter()
            .map(|m| handle_record(transmitter, scheduler, m)),
    )
    .await;
    let mut response = SqsBatchResponse::default();
    for (record, outcome) in event.records.iter().zip(outcomes) {
        if let Err(e) = outcome {
            let id = record.message_id.clone().unwrap_or_default();
            tracing::error!(message_id = %id, error = %e, "delivery message failed; SQS retries it");
            response.add_failure(id);
        }
    }
    response
}

async fn handle_record(
    transmitter: &Transmitter,
    scheduler: &impl Scheduler,
    record: &SqsMessage,
) -> Result<(), String> {
    let body = record.body.as_deref().unwrap_or_default();
    let message: Message =
        serde_json::from_str(body).map_err(|e| format!("not a delivery message: {e}"))?;
    handle_message(transmitter, scheduler, message).await
}

/// One message of the delivery queue, whatever the worker.
pub async fn handle_message(
    transmitter: &Transmitter,
    scheduler: &impl Scheduler,
    message: Message,
) -> Result<(), String> {
    match message {
        Message::Event(envelope) => {
            let steps = transmitter
                .transmit(&envelope.detail, scheduler)
                .await
                .map_err(|e| e.to_string())?;
            // Some SETs may have been accepted: failing the message would send them again.
            for failure in steps.into_iter().filter_map(Result::err) {
                tracing::error!(event_id = %envelope.detail.event_id, error = %failure,
                    "a retry could not be scheduled; that SET is lost");
            }
            Ok(())
        }
        Message::Retry(job) => transmitter.run(job, scheduler).await.map(|_| ()),
        Message::Redrive(letter) => {
            let job = Job {
                attempt: 1,
                ..letter.job
            };
            transmitter.run(job, scheduler).await.map(|_| ())
        }
    }
}
