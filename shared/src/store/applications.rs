//! Applications: registering one (the admin CLI) and looking one up.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use uuid::Uuid;

use super::layout::*;
use super::{classify, DynamoStore, StoreError};
use crate::model::Application;

impl DynamoStore {
    /// Registers an application for its organization (and in the by-id directory), with the
    /// heads of its shards, which every connect checks.
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
        let mut items = vec![put(application_to_item(app)?)?, put(directory_item(app)?)?];
        for shard in 0..SHARDS {
            items.push(put(head_item(app, shard))?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
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

    /// The application, if it exists in this organization; else `ApplicationNotFound`.
    pub async fn get_application(
        &self,
        organization_id: Uuid,
        application_id: Uuid,
    ) -> Result<Application, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(app_key(organization_id, application_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let item = out.item.ok_or(StoreError::ApplicationNotFound)?;
        Ok(application_from_item(item)?)
    }

    /// The application by id alone, for callers that do not know its organization (the CLI).
    pub async fn find_application(&self, application_id: Uuid) -> Result<Application, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(directory_lookup_key(application_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify("GetItem", e))?;
        let item = out.item.ok_or(StoreError::ApplicationNotFound)?;
        let org = organization_from_directory(item)?;
        self.get_application(org, application_id).await
    }
}
