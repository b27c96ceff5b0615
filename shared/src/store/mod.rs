//! The DynamoDB store: every read and write of the table, and nothing else.
//!
//! It owns the lifecycle writes the connection gateway uses (create, touch, disconnect) as well
//! as the API's reads and revocations, so the item layout in [`layout`] has exactly one owner.

pub mod layout;
pub mod transport;

use std::time::{Duration as StdDuration, Instant};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, KeySchemaElement, KeyType,
    KeysAndAttributes, LocalSecondaryIndex, Projection, ProjectionType, Put,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, StreamSpecification, StreamViewType,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt};
use uuid::Uuid;

use crate::cursor::Position;
use crate::model::{Application, Session, SessionStatus};
use crate::params::ListFilter;
use crate::time::Timestamp;
use layout::*;
pub use transport::TrustRoots;

/// How many conditional updates a revoke keeps in flight at once.
pub const REVOKE_CONCURRENCY: usize = 32;
/// How close to its deadline a revoke stops starting new writes, leaving time to answer.
pub const REVOKE_DEADLINE_MARGIN: StdDuration = StdDuration::from_secs(2);
/// Attempts per session while the table throttles (each attempt has the SDK's own retries).
const REVOKE_ITEM_ATTEMPTS: u32 = 5;
/// Page size of the revoke sweep over the connected index.
const REVOKE_PAGE: i32 = 1000;
/// Attempts for the unprocessed keys of a batch read before giving up as unavailable.
const BATCH_ATTEMPTS: u32 = 5;

/// Why a store call failed, at the granularity the API needs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out, or the service is failing: worth retrying later (HTTP 503).
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// The application does not exist (for this organization).
    #[error("application not found")]
    ApplicationNotFound,
    /// The item to create exists already.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// The application was revoked at or after the moment this session says it connected.
    #[error("the application was revoked after this session connected")]
    RevokedAfterConnect,
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
    /// Present when the query started at the top of the partition (no cursor).
    pub application: Option<Application>,
    pub sessions: Vec<Session>,
    /// No more items after these.
    pub exhausted: bool,
}

/// What a revoke-all did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokeOutcome {
    /// Sessions this call moved from `active` to `disconnected`.
    pub disconnected: u64,
    /// `false` when time ran out or writes stayed throttled: some connected sessions were not
    /// moved (they read as disconnected through the watermark; another call moves them).
    pub complete: bool,
}

/// The table, through the AWS SDK. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// How long a disconnected session stays before the table's TTL deletes it.
    retention: Option<chrono::Duration>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
            retention: None,
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

    /// Creates the table with its two local secondary indexes and its change stream.
    /// Returns `false` when it exists already. (In AWS, `template.yaml` creates the table.)
    pub async fn create_table(&self) -> Result<bool, StoreError> {
        self.create_table_with_stream(true).await
    }

    /// As [`DynamoStore::create_table`], with or without the change stream. The local engine
    /// finds the next stream sequence number with a scan of every record it holds, which makes
    /// each write cost grow with the table's write history; large local benchmarks that measure
    /// the API rather than that engine turn the stream off (DynamoDB's stream is off the write path).
    pub async fn create_table_with_stream(&self, stream: bool) -> Result<bool, StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))
        };
        let lsi = |index: &str, sort: &str| -> Result<LocalSecondaryIndex, StoreError> {
            LocalSecondaryIndex::builder()
                .index_name(index)
                .key_schema(key(PK, KeyType::Hash)?)
                .key_schema(key(sort, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| StoreError::Internal(e.to_string()))
        };
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK)?)
            .attribute_definitions(attr(SK)?)
            .attribute_definitions(attr(CREATED_KEY)?)
            .attribute_definitions(attr(CONNECTED_KEY)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .local_secondary_indexes(lsi(INDEX_BY_CREATED, CREATED_KEY)?)
            .local_secondary_indexes(lsi(INDEX_CONNECTED, CONNECTED_KEY)?)
            .set_stream_specification(if stream {
                Some(
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(StreamViewType::NewAndOldImages)
                        .build()
                        .map_err(|e| StoreError::Internal(e.to_string()))?,
                )
            } else {
                None
            })
            .send()
            .await;
        match result {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => return Ok(false),
            Err(e) => return Err(classify("CreateTable", e)),
        }
        // As in template.yaml: DynamoDB deletes disconnected sessions once their TTL passes.
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(EXPIRES_AT_TTL)
                    .build()
                    .map_err(|e| StoreError::Internal(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| classify("UpdateTimeToLive", e))?;
        Ok(true)
    }

    /// Registers an application for its organization (and in the by-id directory).
    pub async fn create_application(&self, app: &Application) -> Result<(), StoreError> {
        let put = |item: Item| -> Result<TransactWriteItem, StoreError> {
            Ok(TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(#pk)")
                        .expression_attribute_names("#pk", PK)
                        .build()
                        .map_err(|e| StoreError::Internal(e.to_string()))?,
                )
                .build())
        };
        let result = self
            .client
            .transact_write_items()
            .transact_items(put(application_to_item(app)?)?)
            .transact_items(put(directory_item(app)?)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("TransactionCanceledException") => {
                Err(StoreError::AlreadyExists("application"))
            }
            Err(e) => Err(classify("TransactWriteItems", e)),
        }
    }

    /// The application, if it exists in this organization.
    pub async fn get_application(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
    ) -> Result<Option<Application>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(app_key(organization_id, application_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        Ok(out.item.map(application_from_item).transpose()?)
    }

    /// The application by id alone, for callers that do not know its organization (the CLI).
    pub async fn find_application(
        &self,
        application_id: Uuid,
    ) -> Result<Option<Application>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(directory_lookup_key(application_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        match out.item {
            None => Ok(None),
            Some(item) => {
                let org = organization_from_directory(item)?;
                self.get_application(org, application_id).await
            }
        }
    }

    /// The application and the session in one round trip (a consistent BatchGetItem).
    pub async fn get_session(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
    ) -> Result<(Option<Application>, Option<Session>), StoreError> {
        let mut request = KeysAndAttributes::builder()
            .keys(app_key(organization_id, application_id))
            .keys(session_key(organization_id, application_id, session_id))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let (mut application, mut session) = (None, None);
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(StdDuration::from_millis(25 << attempt)).await;
            }
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| classify("BatchGetItem", e))?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                match string_attr(&item, SK) {
                    Some(APP_SK) => application = Some(application_from_item(item)?),
                    Some(sk) if is_session_sk(sk) => session = Some(session_from_item(item)?),
                    _ => {}
                }
            }
            match out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .filter(|k| !k.keys().is_empty())
            {
                None => return Ok((application, session)),
                Some(rest) => request = rest,
            }
        }
        Err(StoreError::Unavailable(
            "BatchGetItem: keys left unprocessed".into(),
        ))
    }

    /// One page of an application's sessions, newest first, after `after` when given.
    ///
    /// `Active` reads the sparse `connected` index (only stored-active sessions); the other
    /// filters read `byCreated`. Without `after` the application item comes first in either
    /// index, so the caller gets the organization check and the revocation watermark from the
    /// same request. The caller applies the derived-status filter.
    pub async fn query_sessions(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        filter: ListFilter,
        after: Option<Position>,
        limit: i32,
    ) -> Result<QueryChunk, StoreError> {
        let index = match filter {
            ListFilter::Active => INDEX_CONNECTED,
            ListFilter::Inactive | ListFilter::All => INDEX_BY_CREATED,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(partition_key(organization_id, application_id)))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(
                after.map(|p| index_start_key(organization_id, application_id, index, p)),
            )
            .send()
            .await
            .map_err(|e| classify("Query", e))?;
        let mut chunk = QueryChunk {
            exhausted: out.last_evaluated_key.is_none(),
            ..QueryChunk::default()
        };
        for item in out.items.unwrap_or_default() {
            match string_attr(&item, SK) {
                Some(APP_SK) => chunk.application = Some(application_from_item(item)?),
                Some(sk) if is_session_sk(sk) => chunk.sessions.push(session_from_item(item)?),
                _ => {}
            }
        }
        Ok(chunk)
    }

    /// Records a new session, as the connection gateway does when a client initializes.
    ///
    /// An active session is only written if the application exists and was not revoked at or
    /// after the session connected: a transaction checks the application's watermark, so a
    /// connect racing a revoke-all is either swept by it or refused here.
    pub async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(app_key(
                session.organization_id,
                session.application_id,
            )))
            .expression_attribute_names("#pk", PK);
        check = if session.status == SessionStatus::Active {
            check
                .condition_expression(
                    "attribute_exists(#pk) AND (attribute_not_exists(#rb) OR #rb < :since)",
                )
                .expression_attribute_names("#rb", REVOKED_BEFORE)
                .expression_attribute_values(":since", ts(&session.connected_since()))
        } else {
            check.condition_expression("attribute_exists(#pk)")
        };
        let mut item = session_to_item(session)?;
        if let Some(expiry) = session.disconnected_at.and_then(|at| self.expiry_of(at)) {
            item.insert(EXPIRES_AT_TTL.into(), AttributeValue::N(expiry.to_string()));
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(
                        check
                            .return_values_on_condition_check_failure(
                                ReturnValuesOnConditionCheckFailure::AllOld,
                            )
                            .build()
                            .map_err(|e| StoreError::Internal(e.to_string()))?,
                    )
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let reasons = e
                    .as_service_error()
                    .and_then(|se| match se {
                        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                            Some(c.cancellation_reasons().to_vec())
                        }
                        _ => None,
                    });
                match reasons {
                    Some(reasons) => {
                        let failed = |i: usize| {
                            reasons
                                .get(i)
                                .and_then(|r| r.code())
                                .is_some_and(|c| c == "ConditionalCheckFailed")
                        };
                        if failed(0) {
                            let app_exists = reasons
                                .first()
                                .and_then(|r| r.item())
                                .is_some_and(|item| !item.is_empty());
                            if app_exists {
                                Err(StoreError::RevokedAfterConnect)
                            } else {
                                Err(StoreError::ApplicationNotFound)
                            }
                        } else if failed(1) {
                            Err(StoreError::AlreadyExists("session"))
                        } else {
                            Err(classify("TransactWriteItems", e))
                        }
                    }
                    None => Err(classify("TransactWriteItems", e)),
                }
            }
        }
    }

    /// Records activity on a connected session. Returns `false`, and writes nothing, when the
    /// session does not exist or is disconnected: a touch never brings a session back.
    pub async fn touch_session(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(session_key(
                organization_id,
                application_id,
                session_id,
            )))
            .update_expression("SET #la = :at")
            .condition_expression("attribute_exists(#pk) AND #st = :active")
            .expression_attribute_names("#la", LAST_ACTIVE_AT)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_values(":at", ts(&at))
            .expression_attribute_values(":active", s(SessionStatus::Active.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(classify("UpdateItem", e)),
        }
    }

    /// Marks one session disconnected (transport closed, or revoke-one).
    /// `None`: no such session; `Some(true)`: this call disconnected it; `Some(false)`: it was
    /// disconnected already.
    pub async fn disconnect_session(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
        at: Timestamp,
    ) -> Result<Option<bool>, StoreError> {
        let key = session_key(organization_id, application_id, session_id);
        match self.disconnect(key, at, Uuid::new_v4(), None).await? {
            Disconnect::Done => Ok(Some(true)),
            Disconnect::NotActive => Ok(Some(false)),
            Disconnect::Missing => Ok(None),
        }
    }

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
    /// Returns `None` when the application does not exist in this organization.
    pub async fn revoke_all(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        now: Timestamp,
        deadline: Option<Instant>,
    ) -> Result<Option<RevokeOutcome>, StoreError> {
        if !self
            .raise_watermark(organization_id, application_id, now)
            .await?
        {
            return Ok(None);
        }

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
            let results: Vec<Result<Disconnect, StoreError>> = stream::iter(keys)
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
                    Ok(Disconnect::Done) => outcome.disconnected += 1,
                    Ok(Disconnect::NotActive | Disconnect::Missing) => {}
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
        Ok(Some(outcome))
    }

    /// Moves the application's revocation watermark forward to `now` (never back).
    /// Returns `false` when the application does not exist in this organization.
    async fn raise_watermark(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
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
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                // An existing item means an equal or newer watermark is already in place.
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    Ok(c.item().is_some_and(|i| !i.is_empty()))
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
        margin: StdDuration,
    ) -> Result<Disconnect, StoreError> {
        let mut attempt = 0u32;
        loop {
            match self.disconnect(key.clone(), at, revocation, Some(at)).await {
                Err(StoreError::Unavailable(detail)) => {
                    attempt += 1;
                    let pause = StdDuration::from_millis(
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

    /// The one conditional transition `active` -> `disconnected`.
    /// With `connected_by`, only a session that connected at or before it is changed.
    async fn disconnect(
        &self,
        key: Item,
        at: Timestamp,
        revocation: Uuid,
        connected_by: Option<Timestamp>,
    ) -> Result<Disconnect, StoreError> {
        let mut condition = "attribute_exists(#pk) AND #st = :active".to_string();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(match self.expiry_of(at) {
                Some(_) => "SET #st = :disconnected, #da = :at, #db = :rev, #ttl = :ttl REMOVE #ck",
                None => "SET #st = :disconnected, #da = :at, #db = :rev REMOVE #ck",
            })
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_names("#da", DISCONNECTED_AT)
            .expression_attribute_names("#db", DISCONNECTED_BY)
            .expression_attribute_names("#ck", CONNECTED_KEY)
            .expression_attribute_values(":active", s(SessionStatus::Active.as_str()))
            .expression_attribute_values(":disconnected", s(SessionStatus::Disconnected.as_str()))
            .expression_attribute_values(":at", ts(&at))
            .expression_attribute_values(":rev", s(revocation.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(expiry) = self.expiry_of(at) {
            update = update
                .expression_attribute_names("#ttl", EXPIRES_AT_TTL)
                .expression_attribute_values(":ttl", AttributeValue::N(expiry.to_string()));
        }
        if let Some(by) = connected_by {
            condition.push_str(" AND (#ca <= :by OR (attribute_not_exists(#ca) AND #cr <= :by))");
            update = update
                .expression_attribute_names("#ca", CONNECTED_AT)
                .expression_attribute_names("#cr", CREATED_AT)
                .expression_attribute_values(":by", ts(&by));
        }
        match update.condition_expression(condition).send().await {
            Ok(_) => Ok(Disconnect::Done),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => {
                    match c.item() {
                        None => Ok(Disconnect::Missing),
                        Some(old) if old.is_empty() => Ok(Disconnect::Missing),
                        // Our own earlier attempt succeeded but its answer was lost.
                        Some(old)
                            if string_attr(old, DISCONNECTED_BY)
                                == Some(revocation.to_string().as_str()) =>
                        {
                            Ok(Disconnect::Done)
                        }
                        Some(_) => Ok(Disconnect::NotActive),
                    }
                }
                _ => Err(classify("UpdateItem", e)),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disconnect {
    Done,
    NotActive,
    Missing,
}
