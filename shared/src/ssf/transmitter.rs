//! The delivery code every worker runs (the SQS function and the local one): a published event
//! in, one signed SET per interested stream of its organization out ([`Transmitter::fan_out`]);
//! each attempt's next step ([`Transmitter::attempt`]); a [`Scheduler`] says how a retry waits
//! and where a dead letter goes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::push::{PushOutcome, Pusher, RetryPolicy};
use super::set::{session_revoked, verification};
use super::settings::{KeySource, SsfSettings};
use super::signer::{sign_set, KmsSigner, LocalSigner, SignError, Signer};
use super::stream::{EndpointPolicy, Stream, StreamStatus};
use super::SESSION_REVOKED;
use crate::config::{ConfigError, TrustRoots};
use crate::events::SessionEvent;
use crate::store::{DynamoStore, StoreError};
use crate::time::{self, Timestamp};

/// One SET on its way to one stream: what a retry carries, so a retried push sends the very
/// same token (same `jti`) to that stream alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub organization_id: Uuid,
    pub stream_id: Uuid,
    /// The published event's id (the SET's `txn`).
    pub event_id: Uuid,
    pub jti: String,
    /// The compact JWS.
    pub set: String,
    /// The number of this attempt, from 1.
    pub attempt: u32,
}

/// A SET that was not delivered, for an operator to read and replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub job: Job,
    /// Why it stopped: `refused` or `attempts exhausted`.
    pub reason: String,
    pub last_outcome: PushOutcome,
    #[serde(with = "crate::time::serde_ts")]
    pub dead_at: Timestamp,
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Delivered,
    /// Not sent: the stream was deleted, paused or disabled since.
    Dropped(&'static str),
    /// Try again after the delay.
    Retry(Job, Duration),
    DeadLetter(DeadLetter),
}

/// How a worker waits before a retry and keeps a dead letter.
pub trait Scheduler: Send + Sync {
    fn retry(&self, job: Job, delay: Duration) -> impl Future<Output = Result<(), String>> + Send;
    fn dead_letter(&self, letter: DeadLetter) -> impl Future<Output = Result<(), String>> + Send;
}

/// Why an event could not be turned into SETs: worth retrying the whole event (nothing was
/// sent yet).
#[derive(Debug, thiserror::Error)]
pub enum TransmitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// The transmitter: the issuer, its signing key, the streams' store and the push client.
#[derive(Debug, Clone)]
pub struct Transmitter {
    pub issuer: String,
    pub signer: Arc<dyn Signer>,
    pub store: DynamoStore,
    pub pusher: Pusher,
    pub retry: RetryPolicy,
    pub endpoints: EndpointPolicy,
}

impl Transmitter {
    /// Builds the signer `settings` name (reading a KMS key's public half once) and the push
    /// client. Fails on a bad key or an unreachable KMS: at init, before any event.
    pub async fn new(
        settings: &SsfSettings,
        store: DynamoStore,
        roots: TrustRoots,
    ) -> Result<Transmitter, ConfigError> {
        let signer: Arc<dyn Signer> = match &settings.key {
            KeySource::Pem(pem) => Arc::new(
                LocalSigner::from_pem(pem)
                    .map_err(|e| ConfigError(format!("SESSIONS_SSF_SIGNING_KEY_PEM: {e}")))?,
            ),
            KeySource::Kms(key_id) => {
                let config = crate::store::transport::sdk_loader(roots)?.load().await;
                Arc::new(
                    KmsSigner::new(aws_sdk_kms::Client::new(&config), key_id.clone())
                        .await
                        .map_err(|e| ConfigError(format!("SESSIONS_SSF_KMS_KEY_ID: {e}")))?,
                )
            }
        };
        Ok(Transmitter {
            issuer: settings.issuer.clone(),
            signer,
            store,
            pusher: Pusher::new().map_err(ConfigError)?,
            retry: settings.retry,
            endpoints: settings.endpoints,
        })
    }

    /// The `aud` of a new stream of a receiver: its token's subject (its client id), else its
    /// organization.
    pub fn audience_for(subject: Option<&str>, organization_id: Uuid) -> String {
        subject
            .filter(|s| !s.is_empty())
            .map(String::from)
            .unwrap_or_else(|| format!("urn:sessions-api:organization:{organization_id}"))
    }

    /// One signed `session-revoked` SET per enabled stream of the event's organization that
    /// requested it; none for an event that is not a revocation.
    pub async fn fan_out(&self, event: &SessionEvent) -> Result<Vec<Job>, TransmitError> {
        if !event.is_revocation() {
            return Ok(Vec::new());
        }
        let now = time::now();
        let mut jobs = Vec::new();
        for stream in self.store.list_streams(event.organization_id).await? {
            if !stream.transmits(SESSION_REVOKED) {
                continue;
            }
            let Some(claims) = session_revoked(event, &self.issuer, &stream.aud, now) else {
                continue;
            };
            let set = sign_set(self.signer.as_ref(), &claims).await?;
            jobs.push(Job {
                organization_id: event.organization_id,
                stream_id: stream.stream_id,
                event_id: event.event_id,
                jti: claims.jti,
                set,
                attempt: 1,
            });
        }
        Ok(jobs)
    }

    /// One push of `job` to its stream as the stream is configured now.
    pub async fn attempt(&self, job: Job) -> Step {
        let stream = match self
            .store
            .get_stream(job.organization_id, job.stream_id)
            .await
        {
            Ok(stream) => stream,
            Err(StoreError::StreamNotFound) => return Step::Dropped("stream deleted"),
            Err(e) => {
                let outcome = PushOutcome::Failed {
                    detail: format!("reading the stream: {e}"),
                };
                return self.after_failure(job, outcome);
            }
        };
        if stream.status != StreamStatus::Enabled {
            return Step::Dropped("stream not enabled");
        }
        let outcome = self.pusher.push(&stream.delivery, &job.set).await;
        log_attempt(&job, &outcome);
        match outcome {
            PushOutcome::Delivered { .. } => Step::Delivered,
            PushOutcome::Refused { .. } => Step::DeadLetter(DeadLetter {
                job,
                reason: "refused".into(),
                last_outcome: outcome,
                dead_at: time::now(),
            }),
            PushOutcome::Failed { .. } => self.after_failure(job, outcome),
        }
    }

    fn after_failure(&self, job: Job, outcome: PushOutcome) -> Step {
        match self.retry.next_delay(job.attempt) {
            Some(delay) => Step::Retry(
                Job {
                    attempt: job.attempt + 1,
                    ..job
                },
                delay,
            ),
            None => Step::DeadLetter(DeadLetter {
                job,
                reason: "attempts exhausted".into(),
                last_outcome: outcome,
                dead_at: time::now(),
            }),
        }
    }

    /// Attempts `job` and hands a retry or a dead letter to `scheduler`.
    pub async fn run(&self, job: Job, scheduler: &impl Scheduler) -> Result<Step, String> {
        let step = self.attempt(job).await;
        match &step {
            Step::Retry(next, delay) => scheduler.retry(next.clone(), *delay).await?,
            Step::DeadLetter(letter) => {
                tracing::warn!(
                    stream_id = %letter.job.stream_id,
                    jti = %letter.job.jti,
                    attempts = letter.job.attempt,
                    reason = %letter.reason,
                    "SET dead-lettered"
                );
                scheduler.dead_letter(letter.clone()).await?
            }
            Step::Delivered | Step::Dropped(_) => {}
        }
        Ok(step)
    }

    /// An event's SETs, each attempted once now (in parallel), their retries and dead letters
    /// handed to `scheduler`. `Err` only when no SET could be made (nothing was sent).
    pub async fn transmit(
        &self,
        event: &SessionEvent,
        scheduler: &impl Scheduler,
    ) -> Result<Vec<Result<Step, String>>, TransmitError> {
        let jobs = self.fan_out(event).await?;
        Ok(futures::future::join_all(jobs.into_iter().map(|job| self.run(job, scheduler))).await)
    }

    /// Sends the verification SET to `stream` now, once; `Ok` when the receiver accepted it.
    pub async fn verify(&self, stream: &Stream, state: Option<&str>) -> Result<(), String> {
        let claims = verification(
            stream.stream_id,
            state,
            &self.issuer,
            &stream.aud,
            time::now(),
        );
        let set = sign_set(self.signer.as_ref(), &claims)
            .await
            .map_err(|e| e.to_string())?;
        match self.pusher.push(&stream.delivery, &set).await {
            PushOutcome::Delivered { .. } => Ok(()),
            other => Err(format!("{other:?}")),
        }
    }
}

fn log_attempt(job: &Job, outcome: &PushOutcome) {
    match outcome {
        PushOutcome::Delivered { status } => tracing::info!(
            stream_id = %job.stream_id, jti = %job.jti, txn = %job.event_id,
            attempt = job.attempt, status, "SET delivered"
        ),
        PushOutcome::Refused {
            status,
            err,
            description,
        } => tracing::warn!(
            stream_id = %job.stream_id, jti = %job.jti, attempt = job.attempt, status,
            err = err.as_deref(), description = description.as_deref(), "SET refused by the receiver"
        ),
        PushOutcome::Failed { detail } => tracing::warn!(
            stream_id = %job.stream_id, jti = %job.jti, attempt = job.attempt, detail = %detail,
            "SET push failed"
        ),
    }
}
