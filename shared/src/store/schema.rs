//! Creating the table, as the template does in AWS: for the admin CLI, `make dev` and tests
//! (feature `tooling`), never compiled into a function.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};

use super::layout::*;
use super::{classify, DynamoStore, StoreError};

impl DynamoStore {
    /// Creates the table with its `live` index and its change stream.
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
        let live = GlobalSecondaryIndex::builder()
            .index_name(INDEX_LIVE)
            .key_schema(key(LIVE_KEY, KeyType::Hash)?)
            .key_schema(key(LAST_SEEN_KEY, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK)?)
            .attribute_definitions(attr(SK)?)
            .attribute_definitions(attr(LIVE_KEY)?)
            .attribute_definitions(attr(LAST_SEEN_KEY)?)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(live)
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
}
