//! The API's reads: one session, and pages of an application's sessions.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use futures::future::try_join_all;
use uuid::Uuid;

use super::layout::*;
use super::{classify, Budget, DynamoStore, QueryChunk, StoreError};
use crate::model::{Application, Position, Session};
use crate::params::ListFilter;

/// Attempts for the unprocessed keys of a batch read before giving up as unavailable.
const BATCH_ATTEMPTS: u32 = 5;
/// The most keys one BatchGetItem takes.
const BATCH_KEYS: usize = 100;

/// One shard's answer to a page read: marker positions, newest first.
struct ShardRead {
    positions: Vec<Position>,
    more: bool,
}

impl DynamoStore {
    /// The application and the session in one round trip (a consistent BatchGetItem).
    /// `ApplicationNotFound` wins over `SessionNotFound`, as a caller sees it.
    pub async fn get_session(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
    ) -> Result<(Application, Session), StoreError> {
        let keys = vec![
            app_key(organization_id, application_id),
            session_key(organization_id, application_id, session_id),
        ];
        let (mut application, mut session) = (None, None);
        for item in self.batch_get(keys, &Budget::unbounded()).await? {
            match string_attr(&item, SK) {
                Some(APP_SK) => application = Some(application_from_item(item)?),
                Some(SESSION_SK) => session = Some(session_from_item(item)?),
                _ => {}
            }
        }
        let application = application.ok_or(StoreError::ApplicationNotFound)?;
        let session = session.ok_or(StoreError::SessionNotFound)?;
        Ok((application, session))
    }

    /// Up to `limit` of an application's sessions, newest first, after `after` when given, in
    /// two round trips: first the markers of every shard and (from the top) the application,
    /// in parallel; then the sessions they name, in parallel batches.
    ///
    /// `Active` walks the connected markers (stored-active sessions), the other filters every
    /// session's. Each shard is read up to `limit` markers, so the newest `limit` of their
    /// union are exactly the application's next `limit`. Without `after` the application is
    /// read too (`ApplicationNotFound` when it is not there). The caller applies the
    /// derived-status filter. Unreadable items are left out and counted; a marker whose session
    /// is gone (expired by the table's TTL) is left out.
    pub async fn query_sessions(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        filter: ListFilter,
        after: Option<Position>,
        limit: i32,
        budget: &Budget,
    ) -> Result<QueryChunk, StoreError> {
        let markers = match filter {
            ListFilter::Active => Markers::Connected,
            ListFilter::Inactive | ListFilter::All => Markers::All,
        };
        let limit = limit.max(1);
        let application = async {
            match after {
                None => budget
                    .bound(
                        "GetItem",
                        self.get_application(organization_id, application_id),
                    )
                    .await
                    .map(Some),
                Some(_) => Ok(None),
            }
        };
        let shards = try_join_all((0..SHARDS).map(|shard| {
            self.read_shard(
                organization_id,
                application_id,
                shard,
                markers,
                after,
                limit,
                budget,
            )
        }));
        let (application, shards) = tokio::try_join!(application, shards)?;

        let mut positions: Vec<Position> = shards
            .iter()
            .flat_map(|read| read.positions.iter().copied())
            .collect();
        positions.sort_by_key(|p| std::cmp::Reverse((p.created_at_ms, p.id)));
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let exhausted = !shards.iter().any(|read| read.more) && positions.len() <= wanted;
        positions.truncate(wanted);

        let keys = positions
            .iter()
            .map(|p| session_key(organization_id, application_id, p.id))
            .collect();
        let mut found: HashMap<Uuid, Result<Session, String>> = HashMap::new();
        for item in self.batch_get(keys, budget).await? {
            let id = string_attr(&item, PK)
                .and_then(parse_session_pk)
                .map(|(_, _, id)| id);
            if let Some(id) = id {
                found.insert(id, session_from_item(item).map_err(|e| e.to_string()));
            }
        }
        let mut chunk = QueryChunk {
            application,
            last: positions.last().copied(),
            exhausted,
            ..QueryChunk::default()
        };
        for position in &positions {
            match found.remove(&position.id) {
                Some(Ok(session)) => chunk.sessions.push(session),
                Some(Err(e)) => {
                    // One unreadable item never fails a list: it is left out, loudly.
                    tracing::error!(error = %e, "a session item does not decode; skipped");
                    chunk.skipped += 1;
                }
                None => {}
            }
        }
        Ok(chunk)
    }

    /// Up to `limit` marker positions of one shard, newest first, after `after`.
    #[allow(clippy::too_many_arguments)]
    async fn read_shard(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        shard: u32,
        markers: Markers,
        after: Option<Position>,
        limit: i32,
        budget: &Budget,
    ) -> Result<ShardRead, StoreError> {
        let pk = shard_pk(organization_id, application_id, shard);
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":prefix", s(markers.prefix()))
            .projection_expression("#sk")
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(after.map(|p| key(pk, marker_sk(markers, p))))
            .send();
        let out = budget
            .bound("Query", async {
                query.await.map_err(|e| classify("Query", e))
            })
            .await?;
        Ok(ShardRead {
            more: out.last_evaluated_key.is_some(),
            positions: out
                .items()
                .iter()
                .filter_map(|item| string_attr(item, SK).and_then(marker_position))
                .collect(),
        })
    }

    /// Consistent reads of `keys`, in parallel batches of 100, the unprocessed ones read again
    /// with backoff. Items that do not exist are simply absent.
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Item>,
        budget: &Budget,
    ) -> Result<Vec<Item>, StoreError> {
        let batches = keys
            .chunks(BATCH_KEYS)
            .map(|batch| self.batch_get_one(batch.to_vec(), budget));
        Ok(try_join_all(batches).await?.into_iter().flatten().collect())
    }

    async fn batch_get_one(
        &self,
        keys: Vec<Item>,
        budget: &Budget,
    ) -> Result<Vec<Item>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let mut items = Vec::new();
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
            let call = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send();
            let out = budget
                .bound("BatchGetItem", async {
                    call.await.map_err(|e| classify("BatchGetItem", e))
                })
                .await?;
            items.extend(
                out.responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            match out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .filter(|k| !k.keys().is_empty())
            {
                None => return Ok(items),
                Some(rest) => request = rest,
            }
        }
        Err(StoreError::Unavailable(
            "BatchGetItem: keys left unprocessed".into(),
        ))
    }
}
