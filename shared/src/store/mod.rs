//! The DynamoDB store: every read and write of the table, and nothing else. The item layout
//! ([`layout`]) has exactly one owner, this module; callers see the model's types only.
//!
//! One file per job:
//! - [`applications`]: register an application, look one up;
//! - [`reads`]: one session, a page of sessions;
//! - [`lifecycle`]: a session's writes (connect, heartbeat, disconnect);
//! - [`sweep`]: storing timed-out sessions as disconnected (the scheduled function);
//! - [`revoke`]: revoke-all's watermark and sweep;
//! - [`changes`]: one stream record of the table read as a published event (or none);
//! - [`streams`]: the Shared Signals receivers' streams;
//! - [`budget`]: the time a request may spend, and the one retry loop;
//! - [`schema`]: creating the table (tools and tests only; in AWS the template creates it);
//! - [`transport`]: the HTTPS client and SDK configuration.
//!
//! Not found is always an error ([`StoreError::ApplicationNotFound`],
//! [`StoreError::SessionNotFound`]); an `Option` in a result never means "not there".

mod applications;
mod budget;
pub mod changes;
pub mod layout;
mod lifecycle;
mod reads;
mod revoke;
#[cfg(feature = "tooling")]
mod schema;
mod streams;
mod sweep;
pub mod transport;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::Client;

use crate::config::TrustRoots;
use crate::model::{Application, Session};
use crate::time::Timestamp;
use layout::DecodeError;

pub use budget::{Budget, DEADLINE_MARGIN};
pub use lifecycle::{Connected, Disconnected, Heartbeat, Idempotency, NewSession};
pub use revoke::{RevokeOutcome, REVOKE_CONCURRENCY};
pub use sweep::SweepOutcome;

/// Why a store call failed, at the granularity the API needs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out, or the service is failing: worth retrying later (HTTP 503).
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// The application does not exist (for this organization).
    #[error("application not found")]
    ApplicationNotFound,
    /// The session does not exist in that application.
    #[error("session not found")]
    SessionNotFound,
    /// The session is disconnected (for any reason): it takes no heartbeat.
    #[error("session disconnected")]
    SessionDisconnected,
    /// An idempotency key used again with a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyConflict,
    /// The item to create exists already.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The application was revoked at or after the moment this session says it connected.
    #[error("the application was revoked after this session connected")]
    RevokedAfterConnect,
    /// The Shared Signals stream does not exist (for this organization).
    #[error("stream not found")]
    StreamNotFound,
    /// The organization holds the most streams it may.
    #[error("too many streams")]
    TooManyStreams,
    /// The table does not exist (a misconfiguration, or a local table never created).
    #[error("table not found: {0}")]
    TableNotFound(String),
    /// Anything else: a bug, a misconfiguration, or an item that does not decode.
    #[error("DynamoDB error: {0}")]
    Internal(String),
}

impl From<DecodeError> for StoreError {
    fn from(e: DecodeError) -> Self {
        StoreError::Internal(e.to_string())
    }
}

const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// Sorts an SDK error into retryable (503) or not (500). The SDK has already retried.
fn classify<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => {
            e.raw().status().as_u16() >= 500
                || e.err().code().is_some_and(|c| RETRYABLE_CODES.contains(&c))
        }
        _ => false,
    };
    let detail = format!("{op}: {}", DisplayErrorContext(&err));
    if err.code() == Some("ResourceNotFoundException") {
        return StoreError::TableNotFound(detail);
    }
    if retryable {
        StoreError::Unavailable(detail)
    } else {
        StoreError::Internal(detail)
    }
}

/// The result of one query of an application's partition.
#[derive(Debug, Default)]
pub struct QueryChunk {
    /// Read with the page when the query started at the top of the partition (no cursor);
    /// mid-list the caller reads it alongside.
    pub application: Option<Application>,
    pub sessions: Vec<Session>,
    /// Where the read ended, counting the items it skipped.
    pub last: Option<crate::model::Position>,
    /// Items that did not decode: logged and left out, never failing the read.
    pub skipped: u32,
    /// No more items after these.
    pub exhausted: bool,
}

/// The table, through the AWS SDK. Cheap to clone (clones share the watermark cache).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long a disconnected session stays before the table's TTL deletes it.
    retention: Option<chrono::Duration>,
    /// Applications recently read by heartbeats, for their watermark.
    applications: lifecycle::ApplicationCache,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            retention: None,
            applications: lifecycle::ApplicationCache::default(),
        }
    }

    /// Disconnects from now on also set the TTL attribute to `disconnectedAt + retention`.
    pub fn with_retention(mut self, retention: Option<chrono::Duration>) -> Self {
        self.retention = retention;
        self
    }

    /// The TTL (epoch seconds) of a session disconnected at `at`, if sessions expire.
    fn expiry_of(&self, at: Timestamp) -> Option<i64> {
        self.retention.map(|r| (at + r).timestamp())
    }

    /// Builds the SDK client from the standard environment (`AWS_REGION`, credentials, and
    /// `AWS_ENDPOINT_URL_DYNAMODB` for a local engine), trusting `roots` for TLS, with timeouts
    /// that fit a 29 s API call ([`transport`]). Fails only on a trust store the TLS library
    /// refuses.
    pub async fn from_env(
        table: impl Into<String>,
        roots: TrustRoots,
    ) -> Result<Self, crate::config::ConfigError> {
        let config = transport::sdk_loader(roots)?.load().await;
        Ok(DynamoStore::new(Client::new(&config), table))
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}
