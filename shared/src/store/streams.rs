//! Shared Signals streams: a receiver's stream configuration, kept in the table.
//!
//! Layout (beside the sessions' in [`super::layout`]): every stream of an organization lives in
//! one partition, `ORG#<organization>#SSF`, sort key `STREAM#<stream id>`, its configuration as
//! the item's other attributes. The partition is built from the caller's verified organization,
//! so one organization's request never reads another's streams: a foreign stream id is simply
//! not found.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::layout::{Item, PK, SK};
use super::{classify, DynamoStore, StoreError};
use crate::ssf::stream::{Stream, MAX_STREAMS_PER_ORGANIZATION};

const STREAM_PREFIX: &str = "STREAM#";

fn streams_pk(organization_id: Uuid) -> String {
    format!("ORG#{organization_id}#SSF")
}

fn stream_key(organization_id: Uuid, stream_id: Uuid) -> Item {
    Item::from([
        (
            PK.to_string(),
            AttributeValue::S(streams_pk(organization_id)),
        ),
        (
            SK.to_string(),
            AttributeValue::S(format!("{STREAM_PREFIX}{stream_id}")),
        ),
    ])
}

#[derive(Serialize, Deserialize)]
struct StreamItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    stream: Stream,
}

fn to_item(stream: &Stream) -> Result<Item, StoreError> {
    let item = StreamItem {
        pk: streams_pk(stream.organization_id),
        sk: format!("{STREAM_PREFIX}{}", stream.stream_id),
        stream: stream.clone(),
    };
    serde_dynamo::to_item(item).map_err(|e| StoreError::Internal(format!("stream item: {e}")))
}

fn from_item(item: Item) -> Result<Stream, StoreError> {
    let item: StreamItem = serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Internal(format!("stream item: {e}")))?;
    Ok(item.stream)
}

/// A conditional write's outcome: its condition failing means the stream is not there (or, for
/// a create, already is: the caller says which).
fn conditional<T, E>(
    op: &'static str,
    result: Result<
        T,
        aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Result<(), StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => {
            Err(StoreError::StreamNotFound)
        }
        Err(e) => Err(classify(op, e)),
    }
}

impl DynamoStore {
    /// Every stream of the organization, oldest first.
    pub async fn list_streams(&self, organization_id: Uuid) -> Result<Vec<Stream>, StoreError> {
        let mut streams = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", AttributeValue::S(streams_pk(organization_id)))
                .expression_attribute_values(":prefix", AttributeValue::S(STREAM_PREFIX.into()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| classify("Query", e))?;
            for item in out.items.unwrap_or_default() {
                streams.push(from_item(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        streams.sort_by_key(|s| s.created_at);
        Ok(streams)
    }

    /// The stream, if it is one of the organization's; else `StreamNotFound`.
    pub async fn get_stream(
        &self,
        organization_id: Uuid,
        stream_id: Uuid,
    ) -> Result<Stream, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(stream_key(organization_id, stream_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        from_item(out.item.ok_or(StoreError::StreamNotFound)?)
    }

    /// Stores a new stream; `TooManyStreams` when its organization holds the most it may.
    pub async fn create_stream(&self, stream: &Stream) -> Result<(), StoreError> {
        if self.list_streams(stream.organization_id).await?.len() >= MAX_STREAMS_PER_ORGANIZATION {
            return Err(StoreError::TooManyStreams);
        }
        self.put_stream(stream, "attribute_not_exists(#pk)")
            .await
            .map_err(|e| match e {
                StoreError::StreamNotFound => StoreError::AlreadyExists("stream"),
                other => other,
            })
    }

    /// Overwrites a stream that exists (update, replace, status); `StreamNotFound` when it was
    /// deleted meanwhile.
    pub async fn save_stream(&self, stream: &Stream) -> Result<(), StoreError> {
        self.put_stream(stream, "attribute_exists(#pk)").await
    }

    async fn put_stream(&self, stream: &Stream, condition: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(stream)?))
            .condition_expression(condition)
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        conditional("PutItem", result)
    }

    /// Deletes the organization's stream; `StreamNotFound` when there is none.
    pub async fn delete_stream(
        &self,
        organization_id: Uuid,
        stream_id: Uuid,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(stream_key(organization_id, stream_id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        conditional("DeleteItem", result)
    }
}
