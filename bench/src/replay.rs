//! The raw baseline of a handler: the very requests its store sent (recorded by
//! [`crate::capacity::Recorder`] during one call), sent again with a plain SDK client and
//! nothing else. Requests that were in flight together are sent together again
//! ([`Plan::of`]); strings can be rewritten first (a new session id for each replayed connect).

use std::collections::HashMap;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use futures::future::try_join_all;

use crate::capacity::{Record, Request};

/// Recorded requests in the order they depended on each other: each wave was sent after the
/// one before it was answered; the requests of a wave were in flight together.
#[derive(Debug, Clone)]
pub struct Plan {
    pub waves: Vec<Vec<Request>>,
}

impl Plan {
    pub fn of(records: &[Record]) -> Plan {
        let mut records: Vec<&Record> = records
            .iter()
            .filter(|r| !matches!(r.request, Request::Other))
            .collect();
        records.sort_by_key(|r| r.started);
        let mut waves: Vec<Vec<Request>> = Vec::new();
        let mut wave_end: Option<std::time::Instant> = None;
        for r in records {
            match wave_end {
                Some(end) if r.started < end => {
                    if let Some(w) = waves.last_mut() {
                        w.push(r.request.clone());
                    }
                    wave_end = Some(end.max(r.finished));
                }
                _ => {
                    waves.push(vec![r.request.clone()]);
                    wave_end = Some(r.finished);
                }
            }
        }
        Plan { waves }
    }

    /// The operations, wave by wave (`[["Query", "Query"], ["BatchGetItem"]]`).
    pub fn shape(&self) -> Vec<Vec<&'static str>> {
        self.waves
            .iter()
            .map(|w| w.iter().map(Request::operation).collect())
            .collect()
    }

    /// The same plan with every occurrence of `from` in string values (keys, items,
    /// expression values) replaced by `to`, and any client request token made fresh.
    pub fn rewritten(&self, from: &str, to: &str) -> Plan {
        Plan {
            waves: self
                .waves
                .iter()
                .map(|w| w.iter().map(|r| rewrite(r, from, to)).collect())
                .collect(),
        }
    }

    /// Sends the plan: wave after wave, each wave's requests together.
    pub async fn run(&self, client: &Client) -> Result<(), String> {
        for wave in &self.waves {
            try_join_all(wave.iter().map(|r| send(client, r))).await?;
        }
        Ok(())
    }
}

fn sub_value(v: &mut AttributeValue, from: &str, to: &str) {
    match v {
        AttributeValue::S(s) if s.contains(from) => *s = s.replace(from, to),
        AttributeValue::Ss(ss) => {
            for s in ss.iter_mut() {
                if s.contains(from) {
                    *s = s.replace(from, to);
                }
            }
        }
        AttributeValue::L(l) => l.iter_mut().for_each(|v| sub_value(v, from, to)),
        AttributeValue::M(m) => m.values_mut().for_each(|v| sub_value(v, from, to)),
        _ => {}
    }
}

fn sub_item(item: &mut HashMap<String, AttributeValue>, from: &str, to: &str) {
    item.values_mut().for_each(|v| sub_value(v, from, to));
}

fn sub_opt(item: &mut Option<HashMap<String, AttributeValue>>, from: &str, to: &str) {
    if let Some(item) = item {
        sub_item(item, from, to);
    }
}

fn rewrite(r: &Request, from: &str, to: &str) -> Request {
    let mut r = r.clone();
    match &mut r {
        Request::GetItem(i) => sub_opt(&mut i.key, from, to),
        Request::BatchGetItem(i) => {
            for ka in i.request_items.iter_mut().flat_map(|m| m.values_mut()) {
                ka.keys.iter_mut().for_each(|k| sub_item(k, from, to));
            }
        }
        Request::Query(i) => {
            sub_opt(&mut i.expression_attribute_values, from, to);
            sub_opt(&mut i.exclusive_start_key, from, to);
        }
        Request::PutItem(i) => {
            sub_opt(&mut i.item, from, to);
            sub_opt(&mut i.expression_attribute_values, from, to);
        }
        Request::UpdateItem(i) => {
            sub_opt(&mut i.key, from, to);
            sub_opt(&mut i.expression_attribute_values, from, to);
        }
        Request::DeleteItem(i) => {
            sub_opt(&mut i.key, from, to);
            sub_opt(&mut i.expression_attribute_values, from, to);
        }
        Request::TransactWriteItems(i) => {
            for a in i.transact_items.iter_mut().flatten() {
                if let Some(c) = a.condition_check.as_mut() {
                    sub_item(&mut c.key, from, to);
                    sub_opt(&mut c.expression_attribute_values, from, to);
                }
                if let Some(p) = a.put.as_mut() {
                    sub_item(&mut p.item, from, to);
                    sub_opt(&mut p.expression_attribute_values, from, to);
                }
                if let Some(u) = a.update.as_mut() {
                    sub_item(&mut u.key, from, to);
                    sub_opt(&mut u.expression_attribute_values, from, to);
                }
                if let Some(d) = a.delete.as_mut() {
                    sub_item(&mut d.key, from, to);
                    sub_opt(&mut d.expression_attribute_values, from, to);
                }
            }
            if i.client_request_token.is_some() {
                i.client_request_token = Some(uuid::Uuid::new_v4().to_string());
            }
        }
        Request::TransactGetItems(i) => {
            for g in i.transact_items.iter_mut().flatten() {
                if let Some(g) = g.get.as_mut() {
                    sub_item(&mut g.key, from, to);
                }
            }
        }
        Request::BatchWriteItem(i) => {
            for w in i
                .request_items
                .iter_mut()
                .flat_map(|m| m.values_mut())
                .flatten()
            {
                if let Some(p) = w.put_request.as_mut() {
                    sub_item(&mut p.item, from, to);
                }
                if let Some(d) = w.delete_request.as_mut() {
                    sub_item(&mut d.key, from, to);
                }
            }
        }
        Request::Other => {}
    }
    r
}

/// One recorded request, sent as recorded.
async fn send(client: &Client, r: &Request) -> Result<(), String> {
    let fail = |op: &str, e: &dyn std::fmt::Display| format!("replayed {op}: {e}");
    match r.clone() {
        Request::GetItem(i) => client
            .get_item()
            .set_table_name(i.table_name)
            .set_key(i.key)
            .set_attributes_to_get(i.attributes_to_get)
            .set_consistent_read(i.consistent_read)
            .set_return_consumed_capacity(i.return_consumed_capacity)
            .set_projection_expression(i.projection_expression)
            .set_expression_attribute_names(i.expression_attribute_names)
            .send()
            .await
            .map(drop)
            .map_err(|e| fail("GetItem", &DisplayErrorContext(e))),
        Request::BatchGetItem(i) => client
            .batch_get_item()
            .set_request_items(i.request_items)
            .set_return_consumed_capacity(i.return_consumed_capacity)
            .send()
            .await
            .map(drop)
            .map_err(|e| fail("BatchGetItem", &DisplayErrorContext(e))),
        Request::Query(i) => client
            .query()
            .set_table_name(i.table_name)
            .set_index_name(i.index_name)
            .set_select(i.select)
            .set_attributes_to_get(i.attributes_to_get)
            .set_limit(i.limit)
            .set_consistent_read(i.consistent_read)
            .set_key_conditions(i.key_conditions)
            .set_query_filter(i.query_filter)
            .set_conditional_operator(i.conditional_operator)
            .set_scan_index_forward(i.scan_index_forward)
            .set_exclusive_start_key(i.exclusive_start_key)
            .set_return_consumed_capacity(i.return_consumed_capacity)
            .set_projection_expression(i.projection_expression)
            .set_filter_expression(i.filter_expression)
            .set_key_condition_expression(i.key_condition_expression)
            .set_expression_attribute_names(i.expression_attribute_names)
            .set_expression_attribute_values(i.expression_attribute_values)
            .send()
            .await
            .map(drop)
            .map_err(|e| fail("Query", &DisplayErrorContext(e))),
        Request::PutItem(i) => client
            .put_item()
            .set_table_name(i.table_name)
            .set_item(i.item)
            .set_expected(i.expected)
            .set_return_values(i.return_values)
            .set_return_consumed_capacity(i.return_consumed_capacity)
            .set_return_item_collection_metrics(i.return_item_collection_metrics)
            .set_conditional_operator(i.conditional_operator)
            .set_condition_expression(i.condition_expression)
            .set_expression_attribute_names(i.expression_attribute_names)
            .set_expression_attribute_values(i.expression_attribute_values)
            .set_return_values_on_condition_check_failure(
                i.return_values_on_condition_check_failure,
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| fail("PutItem", &DisplayErrorContext(e))),
        Request::UpdateItem(i) => client
            .update_item()
            .set_table_name(i.table_name)
            .set_key(i.key)
            .set_attribute_updates(i.attribute_updates)
            .set_expected(i.expected)
            .set_conditional_operator(i.conditional_operator)
            .set_return_values(i.return_values)
            .set_return_consumed_capacity(i.return_consumed_capacity)
            .set_return_item_collection_metrics(i.return_item_collection_metrics)
            .set_update_expression(i.update_expression)
            .set_condition_expression(i.condition_expression)
            .set_expression_attribute_names(i.expression_attribute_names)
            .set_expression_attribute_values(i.expression_attribute_values)
            .set_return_values_on_condition_check_failure(
                i.return_values_on_condition_check_failure,
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| fail("UpdateItem", &DisplayErrorContext(e))),
        Request::DeleteItem(i) => client
            .delete_item()
            .set_table_name(i.table_name)
            .set_key(i.key)
            .set_expected(i.expected)
            .set_conditional_operator(i.conditional_operator)
            .set_return_values(i.return_values)
            .set_return_consumed_capacity(i.return_consumed_capacity)
            .set_return_item_collection_metrics(i.return_item_collection_metrics)
            .set_condition_expression(i.condition_expression)
            .set_expression_attribute_names(i.expression_attribute_names)
            .set_expression_attribute_values(i.expression_attribute_values)
            .set_return_values_on_condition_check_failure(
                i.return_values_on_condition_check_failure,
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| fail("DeleteItem", &DisplayErrorContext(e))),
        Request::TransactWriteItems(i) => client
            .transact_write_items()
            .set_transact_items(i.transact_items)
            .set_return_consumed_capacity(i.return_consumed_capacity)
            .set_return_item_collection_metrics(i.return_item_collection_metrics)
            .set_client_request_token(i.client_request_token)
            .send()
            .await
            .map(drop)
            .map_err(|e| fail("TransactWriteItems", &DisplayErrorContext(e))),
        Request::TransactGetItems(i) => client
            .transact_get_items()
            .set_transact_items(i.transact_items)
            .set_return_consumed_capacity(i.return_consumed_capacity)
            .send()
            .await
            .map(drop)
            .map_err(|e| fail("TransactGetItems", &DisplayErrorContext(e))),
        Request::BatchWriteItem(i) => client
            .batch_write_item()
            .set_request_items(i.request_items)
            .set_return_consumed_capacity(i.return_consumed_capacity)
            .set_return_item_collection_metrics(i.return_item_collection_metrics)
            .send()
            .await
            .map(drop)
            .map_err(|e| fail("BatchWriteItem", &DisplayErrorContext(e))),
        Request::Other => Ok(()),
    }
}
