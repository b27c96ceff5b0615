//! The API's reads: one session, and pages of an application's sessions.

use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use uuid::Uuid;

use super::layout::*;
use super::{classify, Budget, DynamoStore, QueryChunk, StoreError};
use crate::model::{Application, Position, Session};
use crate::params::ListFilter;

/// Attempts for the unprocessed keys of a batch read before giving up as unavailable.
const BATCH_ATTEMPTS: u32 = 5;

impl DynamoStore {
    /// The application and the session in one round trip (a consistent BatchGetItem).
    /// `ApplicationNotFound` wins over `SessionNotFound`, as a caller sees it.
    pub async fn get_session(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        session_id: Uuid,
    ) -> Result<(Application, Session), StoreError> {
        let mut request = KeysAndAttributes::builder()
            .keys(app_key(organization_id, application_id))
            .keys(session_key(organization_id, application_id, session_id))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let (mut application, mut session) = (None, None);
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
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
                None => {
                    let application = application.ok_or(StoreError::ApplicationNotFound)?;
                    let session = session.ok_or(StoreError::SessionNotFound)?;
                    return Ok((application, session));
                }
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
    /// same request (`ApplicationNotFound` when it is not there). The caller applies the
    /// derived-status filter.
    pub async fn query_sessions(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
        filter: ListFilter,
        after: Option<Position>,
        limit: i32,
        budget: &Budget,
    ) -> Result<QueryChunk, StoreError> {
        let index = match filter {
            ListFilter::Active => INDEX_CONNECTED,
            ListFilter::Inactive | ListFilter::All => INDEX_BY_CREATED,
        };
        let query = self
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
            .send();
        let out = budget
            .bound("Query", async {
                query.await.map_err(|e| classify("Query", e))
            })
            .await?;
        let mut chunk = QueryChunk {
            exhausted: out.last_evaluated_key.is_none(),
            last: out
                .items()
                .last()
                .and_then(|item| index_position(item, index)),
            ..QueryChunk::default()
        };
        for item in out.items.unwrap_or_default() {
            match string_attr(&item, SK) {
                Some(APP_SK) => chunk.application = Some(application_from_item(item)?),
                Some(sk) if is_session_sk(sk) => match session_from_item(item) {
                    Ok(session) => chunk.sessions.push(session),
                    Err(e) => {
                        // One unreadable item never fails a list: it is left out, loudly.
                        tracing::error!(error = %e, "a session item does not decode; skipped");
                        chunk.skipped += 1;
                    }
                },
                _ => {}
            }
        }
        if after.is_none() && chunk.application.is_none() {
            return Err(StoreError::ApplicationNotFound);
        }
        Ok(chunk)
    }
}
