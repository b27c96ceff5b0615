//! What DynamoDB would charge, per partition key value and per simulated second.
//!
//! [`Recorder`] is an SDK interceptor: it keeps a copy of every request a client sends, when it
//! was sent and answered, and what came back (items, `ConsumedCapacity`, failure codes), and it
//! can ask the engine for `ReturnConsumedCapacity=INDEXES` on each request. [`Model`] turns
//! those records into read and write units, charged to the partition key value of every item a
//! request touches and, for a global secondary index, to the index's partition key value, by
//! DynamoDB's published rules (`docs/benchmarks.md`, "Capacity model"):
//!
//! - a write costs 1 unit per KB of the larger of the item before and after it, rounded up
//!   (a failed conditional write is charged on the item it found);
//! - a read costs 1 unit per 4 KB when strongly consistent, ½ when eventually consistent: per
//!   item for `GetItem`/`BatchGetItem`, on the sum of the items returned for a `Query`; reads
//!   are sized on whole items, whatever the projection expression keeps;
//! - in a transaction every item costs twice that; a `ConditionCheck` is a read (the engine
//!   charges it as a write, which [`Units::cc_wcu`] keeps apart so both are reported);
//! - an index whose stored entry changes costs one write per KB of the entry (rounded up);
//!   a write that moves the entry to another key costs one for the old entry and one for the
//!   new; index writes are not doubled in transactions.
//!
//! Item sizes are the sum of attribute name lengths and value sizes, as DynamoDB documents
//! them. The item after an `UpdateItem` is read back with a consistent `GetItem` on a client
//! without the recorder ([`Model::settle`]), outside anything measured; the item before any
//! write is the last image the model saw (a `Put`, an answer, or that read-back).
//!
//! The engine's own `ConsumedCapacity` (dynoxide reports it per table and index) is compared
//! with the model's total for each request ([`EngineCheck`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::delete_item::{
    DeleteItemError, DeleteItemInput, DeleteItemOutput,
};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_get_items::{
    TransactGetItemsInput, TransactGetItemsOutput,
};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{
    UpdateItemError, UpdateItemInput, UpdateItemOutput,
};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeyType, ProjectionType, ReturnConsumedCapacity,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{Error, Input, Output};
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde::Serialize;
use uuid::Uuid;

pub type Item = HashMap<String, AttributeValue>;

/// Write units per KB, read units per 4 KB.
const WRITE_UNIT_BYTES: f64 = 1024.0;
const READ_UNIT_BYTES: f64 = 4096.0;
/// Every item of a transaction is read or written twice (prepare and commit).
const TRANSACTIONAL: f64 = 2.0;

/// A copy of one request, as the store built it.
#[derive(Debug, Clone)]
pub enum Request {
    GetItem(GetItemInput),
    BatchGetItem(BatchGetItemInput),
    Query(QueryInput),
    PutItem(PutItemInput),
    UpdateItem(UpdateItemInput),
    DeleteItem(DeleteItemInput),
    TransactWriteItems(TransactWriteItemsInput),
    TransactGetItems(TransactGetItemsInput),
    BatchWriteItem(BatchWriteItemInput),
    /// Anything the model does not charge (table management).
    Other,
}

impl Request {
    pub fn operation(&self) -> &'static str {
        match self {
            Request::GetItem(_) => "GetItem",
            Request::BatchGetItem(_) => "BatchGetItem",
            Request::Query(_) => "Query",
            Request::PutItem(_) => "PutItem",
            Request::UpdateItem(_) => "UpdateItem",
            Request::DeleteItem(_) => "DeleteItem",
            Request::TransactWriteItems(_) => "TransactWriteItems",
            Request::TransactGetItems(_) => "TransactGetItems",
            Request::BatchWriteItem(_) => "BatchWriteItem",
            Request::Other => "Other",
        }
    }
}

/// What came back.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub ok: bool,
    pub error_code: Option<String>,
    /// The engine's `ConsumedCapacity`, one per table.
    pub consumed: Vec<ConsumedCapacity>,
    /// Items the answer carried: a `GetItem`'s item, a `BatchGetItem`'s or `TransactGetItems`'
    /// items, a `Query`'s page. A `TransactGetItems` keeps one slot per request (empty: none).
    pub items: Vec<Item>,
    /// Keys a `BatchGetItem` left unprocessed; requests a `BatchWriteItem` left (as the key of
    /// the item).
    pub unprocessed: Vec<Item>,
    /// Per action of a cancelled transaction, its cancellation code.
    pub cancellation_codes: Vec<Option<String>>,
}

/// One request, sent and answered.
#[derive(Debug, Clone)]
pub struct Record {
    /// The simulated second the request belongs to ([`Recorder::set_second`]).
    pub second: u64,
    pub started: Instant,
    pub finished: Instant,
    pub request: Request,
    pub answer: Answer,
}

/// Records every request of the client it is installed on. Cheap to clone (clones share).
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    second: AtomicU64,
    ask_capacity: AtomicBool,
    records: Mutex<Vec<Record>>,
}

/// The request in flight, kept in the operation's config bag between serialization and the end.
#[derive(Debug, Clone)]
struct Pending {
    second: u64,
    started: Instant,
    request: Request,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

impl Recorder {
    /// A recorder that also asks the engine for `ReturnConsumedCapacity=INDEXES` on every
    /// request (the copy it keeps is the request as the store built it).
    pub fn asking_capacity() -> Recorder {
        let r = Recorder::default();
        r.0.ask_capacity.store(true, Ordering::SeqCst);
        r
    }

    /// Requests sent from now on belong to simulated second `second`.
    pub fn set_second(&self, second: u64) {
        self.0.second.store(second, Ordering::SeqCst);
    }

    /// Every record so far, in the order the requests were sent; the recorder starts empty.
    pub fn take(&self) -> Vec<Record> {
        let mut records = std::mem::take(
            &mut *self
                .0
                .records
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        records.sort_by_key(|r| r.started);
        records
    }

    pub fn clear(&self) {
        self.take();
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "CapacityRecorder"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let started = Instant::now();
        let request = capture(
            context.input_mut(),
            self.0.ask_capacity.load(Ordering::SeqCst),
        );
        cfg.interceptor_state().store_put(Pending {
            second: self.0.second.load(Ordering::SeqCst),
            started,
            request,
        });
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let finished = Instant::now();
        let Some(pending) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        let answer = match context.output_or_error() {
            Some(Ok(output)) => answer_of(output),
            Some(Err(e)) => failure_of(e),
            None => Answer::default(),
        };
        self.0
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Record {
                second: pending.second,
                started: pending.started,
                finished,
                request: pending.request,
                answer,
            });
        Ok(())
    }
}

/// A copy of the request; with `ask`, the request itself then asks for `INDEXES` capacity.
fn capture(input: &mut Input, ask: bool) -> Request {
    macro_rules! op {
        ($ty:ty, $variant:ident) => {
            if let Some(i) = input.downcast_mut::<$ty>() {
                let copy = i.clone();
                if ask {
                    i.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
                }
                return Request::$variant(copy);
            }
        };
    }
    op!(GetItemInput, GetItem);
    op!(BatchGetItemInput, BatchGetItem);
    op!(QueryInput, Query);
    op!(PutItemInput, PutItem);
    op!(UpdateItemInput, UpdateItem);
    op!(DeleteItemInput, DeleteItem);
    op!(TransactWriteItemsInput, TransactWriteItems);
    op!(TransactGetItemsInput, TransactGetItems);
    op!(BatchWriteItemInput, BatchWriteItem);
    Request::Other
}

fn answer_of(output: &Output) -> Answer {
    let mut a = Answer {
        ok: true,
        ..Answer::default()
    };
    if let Some(o) = output.downcast_ref::<GetItemOutput>() {
        a.consumed.extend(o.consumed_capacity.clone());
        a.items.extend(o.item.clone());
    } else if let Some(o) = output.downcast_ref::<BatchGetItemOutput>() {
        a.consumed
            .extend(o.consumed_capacity.clone().unwrap_or_default());
        for items in o.responses.clone().unwrap_or_default().into_values() {
            a.items.extend(items);
        }
        for ka in o.unprocessed_keys.clone().unwrap_or_default().into_values() {
            a.unprocessed.extend(ka.keys);
        }
    } else if let Some(o) = output.downcast_ref::<QueryOutput>() {
        a.consumed.extend(o.consumed_capacity.clone());
        a.items.extend(o.items.clone().unwrap_or_default());
    } else if let Some(o) = output.downcast_ref::<PutItemOutput>() {
        a.consumed.extend(o.consumed_capacity.clone());
    } else if let Some(o) = output.downcast_ref::<UpdateItemOutput>() {
        a.consumed.extend(o.consumed_capacity.clone());
    } else if let Some(o) = output.downcast_ref::<DeleteItemOutput>() {
        a.consumed.extend(o.consumed_capacity.clone());
    } else if let Some(o) = output.downcast_ref::<TransactWriteItemsOutput>() {
        a.consumed
            .extend(o.consumed_capacity.clone().unwrap_or_default());
    } else if let Some(o) = output.downcast_ref::<TransactGetItemsOutput>() {
        a.consumed
            .extend(o.consumed_capacity.clone().unwrap_or_default());
        for r in o.responses.clone().unwrap_or_default() {
            a.items.push(r.item.unwrap_or_default());
        }
    } else if let Some(o) = output.downcast_ref::<BatchWriteItemOutput>() {
        a.consumed
            .extend(o.consumed_capacity.clone().unwrap_or_default());
        for requests in o
            .unprocessed_items
            .clone()
            .unwrap_or_default()
            .into_values()
        {
            for r in requests {
                if let Some(p) = r.put_request {
                    a.unprocessed.push(p.item);
                } else if let Some(d) = r.delete_request {
                    a.unprocessed.push(d.key);
                }
            }
        }
    }
    a
}

fn failure_of(e: &OrchestratorError<Error>) -> Answer {
    let mut a = Answer::default();
    let Some(op) = e.as_operation_error() else {
        a.error_code = Some("transport".into());
        return a;
    };
    macro_rules! code_of {
        ($($ty:ty),*) => {
            $(
                if let Some(x) = op.downcast_ref::<$ty>() {
                    a.error_code = x.code().map(str::to_string);
                }
            )*
        };
    }
    code_of!(
        UpdateItemError,
        PutItemError,
        DeleteItemError,
        TransactWriteItemsError,
        aws_sdk_dynamodb::operation::get_item::GetItemError,
        aws_sdk_dynamodb::operation::query::QueryError,
        aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError,
        aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError,
        aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError
    );
    if let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
        op.downcast_ref::<TransactWriteItemsError>()
    {
        a.cancellation_codes = c
            .cancellation_reasons()
            .iter()
            .map(|r| r.code().map(str::to_string))
            .collect();
    }
    a
}

/// Sequential steps among `records`: the longest chain of requests each sent after the one
/// before it was answered. Requests in flight together count once.
pub fn round_trips(records: &[Record]) -> usize {
    let mut spans: Vec<(Instant, Instant)> =
        records.iter().map(|r| (r.started, r.finished)).collect();
    spans.sort_by_key(|s| s.1);
    let mut depth = vec![0usize; spans.len()];
    for i in 0..spans.len() {
        let before = (0..i)
            .filter(|&j| spans[j].1 <= spans[i].0)
            .map(|j| depth[j])
            .max()
            .unwrap_or(0);
        depth[i] = before + 1;
    }
    depth.into_iter().max().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Sizes

/// An item's size as DynamoDB counts it: each attribute's name (UTF-8 bytes) plus its value.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// A value's size: strings and binaries by their bytes, numbers by their significant digits
/// (one byte per two, plus one), booleans and null one byte, lists and maps 3 bytes plus one
/// per element plus the elements (a map's elements with their names).
pub fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(ss) => ss.iter().map(String::len).sum(),
        AttributeValue::Ns(ns) => ns.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(bs) => bs.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(l) => 3 + l.len() + l.iter().map(value_size).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + 1 + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

fn number_size(n: &str) -> usize {
    let t = n.trim();
    let negative = t.starts_with('-');
    let abs = t.trim_start_matches(['-', '+']);
    if abs.contains(['e', 'E']) {
        return abs.len().div_ceil(2) + 1;
    }
    let (int, frac) = abs.split_once('.').unwrap_or((abs, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let (int_digits, frac_digits) = if int.is_empty() {
        (0, frac.trim_start_matches('0').len())
    } else if frac.is_empty() {
        (int.trim_end_matches('0').len(), 0)
    } else {
        (int.len(), frac.len())
    };
    let zero = int_digits + frac_digits == 0;
    int_digits.div_ceil(2) + frac_digits.div_ceil(2) + 1 + usize::from(negative && !zero)
}

fn write_units(bytes: usize) -> f64 {
    (bytes as f64 / WRITE_UNIT_BYTES).ceil().max(1.0)
}

fn read_units(bytes: usize, consistent: bool) -> f64 {
    let strong = (bytes as f64 / READ_UNIT_BYTES).ceil().max(1.0);
    if consistent {
        strong
    } else {
        strong / 2.0
    }
}

// ---------------------------------------------------------------------------------------------
// The table's shape

#[derive(Debug, Clone, PartialEq)]
enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

#[derive(Debug, Clone)]
struct Index {
    name: String,
    global: bool,
    pk: String,
    sk: Option<String>,
    projection: Projection,
}

/// The table's keys and indexes, from `DescribeTable`.
#[derive(Debug, Clone)]
pub struct Schema {
    table: String,
    pk: String,
    sk: Option<String>,
    indexes: Vec<Index>,
}

fn keys_of(schema: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> (String, Option<String>) {
    let hash = schema
        .iter()
        .find(|k| k.key_type == KeyType::Hash)
        .map(|k| k.attribute_name.clone())
        .unwrap_or_default();
    let range = schema
        .iter()
        .find(|k| k.key_type == KeyType::Range)
        .map(|k| k.attribute_name.clone());
    (hash, range)
}

fn projection_of(p: Option<&aws_sdk_dynamodb::types::Projection>) -> Projection {
    match p.and_then(|p| p.projection_type.clone()) {
        Some(ProjectionType::KeysOnly) => Projection::KeysOnly,
        Some(ProjectionType::Include) => Projection::Include(
            p.and_then(|p| p.non_key_attributes.clone())
                .unwrap_or_default(),
        ),
        _ => Projection::All,
    }
}

impl Schema {
    pub async fn describe(client: &Client, table: &str) -> Result<Schema, String> {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DescribeTable: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                )
            })?;
        let t = out.table.ok_or("DescribeTable: no table")?;
        let (pk, sk) = keys_of(t.key_schema());
        let mut indexes = Vec::new();
        for g in t.global_secondary_indexes() {
            let (ipk, isk) = keys_of(g.key_schema());
            indexes.push(Index {
                name: g.index_name().unwrap_or_default().to_string(),
                global: true,
                pk: ipk,
                sk: isk,
                projection: projection_of(g.projection()),
            });
        }
        for l in t.local_secondary_indexes() {
            let (ipk, isk) = keys_of(l.key_schema());
            indexes.push(Index {
                name: l.index_name().unwrap_or_default().to_string(),
                global: false,
                pk: ipk,
                sk: isk,
                projection: projection_of(l.projection()),
            });
        }
        Ok(Schema {
            table: table.to_string(),
            pk,
            sk,
            indexes,
        })
    }

    /// `(pk, sk)` of an item or a key, as strings.
    fn key_of(&self, item: &Item) -> Option<(String, String)> {
        let pk = scalar(item.get(&self.pk)?);
        let sk = match &self.sk {
            Some(sk) => scalar(item.get(sk)?),
            None => String::new(),
        };
        Some((pk, sk))
    }

    fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// An index's stored entry for `item`: its partition key value, its full key, and its
    /// size. `None` when the item is not in the index (sparse).
    fn entry(&self, index: &Index, item: &Item) -> Option<Entry> {
        let pk = item.get(&index.pk)?;
        let sk = match &index.sk {
            Some(name) => Some(item.get(name)?),
            None => None,
        };
        let mut names: Vec<&str> = vec![self.pk.as_str(), index.pk.as_str()];
        names.extend(self.sk.as_deref());
        names.extend(index.sk.as_deref());
        let projected: Item = match &index.projection {
            Projection::All => item.clone(),
            Projection::KeysOnly => item
                .iter()
                .filter(|(k, _)| names.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            Projection::Include(extra) => item
                .iter()
                .filter(|(k, _)| names.contains(&k.as_str()) || extra.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        Some(Entry {
            partition: scalar(pk),
            key: (scalar(pk), sk.map(scalar).unwrap_or_default()),
            size: item_size(&projected),
            projected,
        })
    }
}

struct Entry {
    partition: String,
    key: (String, String),
    size: usize,
    projected: Item,
}

fn scalar(v: &AttributeValue) -> String {
    match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.clone(),
        AttributeValue::B(b) => b
            .as_ref()
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>(),
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Charges

/// Where units are charged: a partition key value of the table (with its local indexes) or of
/// a global secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub index: Option<String>,
    pub key: String,
}

impl Target {
    fn table(key: String) -> Target {
        Target { index: None, key }
    }

    /// The key with ids, hashes and numbers replaced by placeholders: the kind of key.
    pub fn pattern(&self) -> String {
        let key = self
            .key
            .split('#')
            .map(|part| {
                if Uuid::try_parse(part).is_ok() {
                    "<id>"
                } else if part.len() >= 32 && part.chars().all(|c| c.is_ascii_hexdigit()) {
                    "<hash>"
                } else if !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) {
                    "<n>"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("#");
        match &self.index {
            Some(index) => format!("index {index}: {key}"),
            None => format!("table: {key}"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.index {
            Some(index) => write!(f, "index {index}: {}", self.key),
            None => write!(f, "table: {}", self.key),
        }
    }
}

/// Units charged to one key in one second. A `ConditionCheck` is kept apart: the published
/// rule makes it a (transactional) read, the engine charges it as a write.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Units {
    pub rcu: f64,
    pub wcu: f64,
    pub cc_rcu: f64,
    pub cc_wcu: f64,
}

impl Units {
    fn add(&mut self, other: Units) {
        self.rcu += other.rcu;
        self.wcu += other.wcu;
        self.cc_rcu += other.cc_rcu;
        self.cc_wcu += other.cc_wcu;
    }

    /// Read units with a condition check counted as a read.
    pub fn reads(&self) -> f64 {
        self.rcu + self.cc_rcu
    }

    /// Write units (a condition check is a read).
    pub fn writes(&self) -> f64 {
        self.wcu
    }

    /// Write units with a condition check counted as a write, as the engine does.
    pub fn writes_cc_as_write(&self) -> f64 {
        self.wcu + self.cc_wcu
    }

    /// What the engine would report for the request in total.
    fn engine_total(&self) -> f64 {
        self.rcu + self.wcu + self.cc_wcu
    }
}

/// How the model's totals compare with the engine's `ConsumedCapacity`, request by request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EngineCheck {
    /// Requests the engine reported capacity for.
    pub compared: u64,
    /// Of those, where the model's total (condition checks as writes, as the engine charges
    /// them) equals the engine's.
    pub agreed: u64,
    /// Disagreements by operation.
    pub disagreed: BTreeMap<String, u64>,
    /// The first few, spelt out.
    pub examples: Vec<String>,
}

/// The highest units one key took in one second.
#[derive(Debug, Clone, Serialize)]
pub struct Peak {
    pub units: f64,
    pub second: u64,
    pub key: String,
    pub pattern: String,
}

/// Per kind of key: how many keys, and the highest second of any of them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindSummary {
    pub keys: usize,
    pub peak_rcu: f64,
    pub peak_wcu: f64,
    /// With condition checks charged as writes.
    pub peak_wcu_cc_as_write: f64,
}

/// The model's verdict on a workload.
#[derive(Debug, Clone, Serialize)]
pub struct Peaks {
    pub wcu: Option<Peak>,
    pub rcu: Option<Peak>,
    pub wcu_cc_as_write: Option<Peak>,
    pub rcu_cc_as_write: Option<Peak>,
    pub by_kind: BTreeMap<String, KindSummary>,
    /// Units in all, per second (condition checks as reads).
    pub per_second: BTreeMap<u64, Units>,
    pub engine: EngineCheck,
    /// Requests that failed, by operation and code.
    pub failures: BTreeMap<String, u64>,
    pub requests: u64,
}

/// Charges requests to keys and seconds. One table.
#[derive(Debug)]
pub struct Model {
    schema: Schema,
    images: HashMap<(String, String), Item>,
    ledger: HashMap<(u64, Target), Units>,
    engine: EngineCheck,
    failures: BTreeMap<String, u64>,
    requests: u64,
}

impl Model {
    pub fn new(schema: Schema) -> Model {
        Model {
            schema,
            images: HashMap::new(),
            ledger: HashMap::new(),
            engine: EngineCheck::default(),
            failures: BTreeMap::new(),
            requests: 0,
        }
    }

    /// Forgets the charges (and checks) so far; keeps the item images.
    pub fn reset_charges(&mut self) {
        self.ledger.clear();
        self.engine = EngineCheck::default();
        self.failures.clear();
        self.requests = 0;
    }

    /// Charges `records`, reading back (with `plain`, a client without the recorder) every
    /// item an update changed, for its new image.
    pub async fn settle(&mut self, plain: &Client, records: Vec<Record>) {
        let mut updated: Vec<Item> = Vec::new();
        for r in records.iter().filter(|r| r.answer.ok) {
            match &r.request {
                Request::UpdateItem(i) if i.table_name.as_deref() == Some(&self.schema.table) => {
                    updated.extend(i.key.clone());
                }
                Request::TransactWriteItems(t) => {
                    for a in t.transact_items.iter().flatten() {
                        if let Some(u) = a
                            .update
                            .as_ref()
                            .filter(|u| u.table_name == self.schema.table)
                        {
                            updated.push(u.key.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        let mut after: HashMap<(String, String), Option<Item>> = HashMap::new();
        for key in updated {
            let Some(k) = self.schema.key_of(&key) else {
                continue;
            };
            if after.contains_key(&k) {
                continue;
            }
            let item = plain
                .get_item()
                .table_name(&self.schema.table)
                .set_key(Some(key))
                .consistent_read(true)
                .send()
                .await
                .ok()
                .and_then(|o| o.item);
            after.insert(k, item);
        }
        for r in &records {
            self.apply(r, &after);
        }
    }

    fn size_of(&self, key: &Item) -> usize {
        self.schema
            .key_of(key)
            .and_then(|k| self.images.get(&k))
            .map(item_size)
            .unwrap_or(0)
    }

    fn image(&self, key: &Item) -> Option<Item> {
        self.schema
            .key_of(key)
            .and_then(|k| self.images.get(&k))
            .cloned()
    }

    fn remember(&mut self, item: &Item) {
        if let Some(k) = self.schema.key_of(item) {
            self.images.insert(k, item.clone());
        }
    }

    fn forget(&mut self, key: &Item) {
        if let Some(k) = self.schema.key_of(key) {
            self.images.remove(&k);
        }
    }

    fn pk_target(&self, key: &Item) -> Option<Target> {
        self.schema.key_of(key).map(|(pk, _)| Target::table(pk))
    }

    /// A write of one item from `old` to `new` (either may be absent): the table's units
    /// (times `factor`) to its partition key, each changed index entry's to the index's key.
    fn write(&self, old: Option<&Item>, new: Option<&Item>, factor: f64, out: &mut Charges) {
        let Some(target) = new.or(old).and_then(|i| self.pk_target(i)) else {
            return;
        };
        let units = match (old.map(item_size), new.map(item_size)) {
            (Some(o), Some(n)) => write_units(o).max(write_units(n)),
            (Some(x), None) | (None, Some(x)) => write_units(x),
            (None, None) => write_units(0),
        };
        out.add(
            target.clone(),
            Units {
                wcu: factor * units,
                ..Units::default()
            },
        );
        for index in &self.schema.indexes {
            let o = old.and_then(|i| self.schema.entry(index, i));
            let n = new.and_then(|i| self.schema.entry(index, i));
            let to = |e: &Entry| {
                if index.global {
                    Target {
                        index: Some(index.name.clone()),
                        key: e.partition.clone(),
                    }
                } else {
                    target.clone()
                }
            };
            let w = |units: f64| Units {
                wcu: units,
                ..Units::default()
            };
            match (o, n) {
                (None, None) => {}
                (None, Some(n)) => out.add(to(&n), w(write_units(n.size))),
                (Some(o), None) => out.add(to(&o), w(write_units(o.size))),
                (Some(o), Some(n)) if o.key != n.key => {
                    out.add(to(&o), w(write_units(o.size)));
                    out.add(to(&n), w(write_units(n.size)));
                }
                (Some(o), Some(n)) if o.projected == n.projected => {}
                (Some(o), Some(n)) => {
                    out.add(to(&n), w(write_units(o.size).max(write_units(n.size))))
                }
            }
        }
    }

    /// A failed conditional write: charged on the item it found, no index touched.
    fn refused_write(&self, key: &Item, factor: f64, out: &mut Charges) {
        if let Some(target) = self.pk_target(key) {
            out.add(
                target,
                Units {
                    wcu: factor * write_units(self.size_of(key)),
                    ..Units::default()
                },
            );
        }
    }

    fn read(&self, key: &Item, bytes: usize, consistent: bool, factor: f64, out: &mut Charges) {
        if let Some(target) = self.pk_target(key) {
            out.add(
                target,
                Units {
                    rcu: factor * read_units(bytes, consistent),
                    ..Units::default()
                },
            );
        }
    }

    fn apply(&mut self, r: &Record, after: &HashMap<(String, String), Option<Item>>) {
        let table = self.schema.table.clone();
        let mut out = Charges::default();
        let ok = r.answer.ok;
        let new_image = |schema: &Schema, key: &Item| -> Option<Item> {
            schema
                .key_of(key)
                .and_then(|k| after.get(&k).cloned().flatten())
        };
        match &r.request {
            Request::Other => return,
            Request::GetItem(i) => {
                if i.table_name.as_deref() != Some(&table) || !ok {
                    return self.failed(r);
                }
                let key = i.key.clone().unwrap_or_default();
                let projected = i.projection_expression.is_some() || i.attributes_to_get.is_some();
                let returned = r.answer.items.first();
                if !projected {
                    match returned {
                        Some(item) => self.remember(item),
                        None => self.forget(&key),
                    }
                }
                let bytes = self.size_of(&key).max(returned.map(item_size).unwrap_or(0));
                self.read(
                    &key,
                    bytes,
                    i.consistent_read.unwrap_or(false),
                    1.0,
                    &mut out,
                );
            }
            Request::BatchGetItem(i) => {
                if !ok {
                    return self.failed(r);
                }
                let returned: HashMap<(String, String), &Item> = r
                    .answer
                    .items
                    .iter()
                    .filter_map(|item| self.schema.key_of(item).map(|k| (k, item)))
                    .collect();
                let unprocessed: Vec<(String, String)> = r
                    .answer
                    .unprocessed
                    .iter()
                    .filter_map(|k| self.schema.key_of(k))
                    .collect();
                let Some(ka) = i.request_items.as_ref().and_then(|m| m.get(&table)) else {
                    return;
                };
                let projected =
                    ka.projection_expression.is_some() || ka.attributes_to_get.is_some();
                for key in &ka.keys {
                    let Some(k) = self.schema.key_of(key) else {
                        continue;
                    };
                    if unprocessed.contains(&k) {
                        continue;
                    }
                    let item = returned.get(&k).map(|i| (*i).clone());
                    if !projected {
                        match &item {
                            Some(item) => self.remember(item),
                            None => self.forget(key),
                        }
                    }
                    let bytes = self
                        .size_of(key)
                        .max(item.as_ref().map(item_size).unwrap_or(0));
                    self.read(
                        key,
                        bytes,
                        ka.consistent_read.unwrap_or(false),
                        1.0,
                        &mut out,
                    );
                }
            }
            Request::Query(i) => {
                if i.table_name.as_deref() != Some(&table) || !ok {
                    return self.failed(r);
                }
                let index = i
                    .index_name
                    .as_deref()
                    .and_then(|n| self.schema.index(n))
                    .cloned();
                let partition_attr = index
                    .as_ref()
                    .map_or(self.schema.pk.clone(), |ix| ix.pk.clone());
                let Some(value) = query_partition(i, &partition_attr) else {
                    return;
                };
                let global = index.as_ref().is_some_and(|ix| ix.global);
                let projected = i.projection_expression.is_some() || i.attributes_to_get.is_some();
                let mut bytes = 0;
                for item in &r.answer.items {
                    bytes += if global {
                        // An index query reads index entries: what the index stores.
                        index
                            .as_ref()
                            .and_then(|ix| {
                                let full = self.image(item).unwrap_or_else(|| item.clone());
                                self.schema.entry(ix, &full).map(|e| e.size)
                            })
                            .unwrap_or_else(|| item_size(item))
                    } else if projected {
                        self.size_of(item).max(item_size(item))
                    } else {
                        item_size(item)
                    };
                    if !global && !projected && index.is_none() {
                        self.remember(item);
                    }
                }
                let target = if global {
                    Target {
                        index: index.map(|ix| ix.name),
                        key: value,
                    }
                } else {
                    Target::table(value)
                };
                out.add(
                    target,
                    Units {
                        rcu: read_units(bytes, i.consistent_read.unwrap_or(false)),
                        ..Units::default()
                    },
                );
            }
            Request::PutItem(i) => {
                if i.table_name.as_deref() != Some(&table) {
                    return;
                }
                let item = i.item.clone().unwrap_or_default();
                let old = self.image(&item);
                if ok {
                    self.write(old.as_ref(), Some(&item), 1.0, &mut out);
                    self.remember(&item);
                } else {
                    self.refused_write(&item, 1.0, &mut out);
                    self.failed(r);
                }
            }
            Request::UpdateItem(i) => {
                if i.table_name.as_deref() != Some(&table) {
                    return;
                }
                let key = i.key.clone().unwrap_or_default();
                let old = self.image(&key);
                if ok {
                    let new = new_image(&self.schema, &key);
                    self.write(old.as_ref(), new.as_ref(), 1.0, &mut out);
                    match new {
                        Some(new) => self.remember(&new),
                        None => self.forget(&key),
                    }
                } else {
                    self.refused_write(&key, 1.0, &mut out);
                    self.failed(r);
                }
            }
            Request::DeleteItem(i) => {
                if i.table_name.as_deref() != Some(&table) {
                    return;
                }
                let key = i.key.clone().unwrap_or_default();
                let old = self.image(&key);
                if ok {
                    if old.is_some() {
                        self.write(old.as_ref(), None, 1.0, &mut out);
                    } else {
                        // Deleting nothing still costs a write.
                        self.refused_write(&key, 1.0, &mut out);
                    }
                    self.forget(&key);
                } else {
                    self.refused_write(&key, 1.0, &mut out);
                    self.failed(r);
                }
            }
            Request::TransactWriteItems(t) => {
                let actions: Vec<_> = t.transact_items.iter().flatten().cloned().collect();
                let mut remember = Vec::new();
                let mut forget = Vec::new();
                for a in &actions {
                    if let Some(cc) = a.condition_check.as_ref().filter(|c| c.table_name == table) {
                        let bytes = self.size_of(&cc.key);
                        if let Some(target) = self.pk_target(&cc.key) {
                            out.add(
                                target,
                                Units {
                                    cc_rcu: TRANSACTIONAL * read_units(bytes, true),
                                    cc_wcu: TRANSACTIONAL * write_units(bytes),
                                    ..Units::default()
                                },
                            );
                        }
                    } else if let Some(p) = a.put.as_ref().filter(|p| p.table_name == table) {
                        if ok {
                            let old = self.image(&p.item);
                            self.write(old.as_ref(), Some(&p.item), TRANSACTIONAL, &mut out);
                            remember.push(p.item.clone());
                        } else {
                            self.refused_write(&p.item, TRANSACTIONAL, &mut out);
                        }
                    } else if let Some(u) = a.update.as_ref().filter(|u| u.table_name == table) {
                        if ok {
                            let old = self.image(&u.key);
                            let new = new_image(&self.schema, &u.key);
                            self.write(old.as_ref(), new.as_ref(), TRANSACTIONAL, &mut out);
                            match new {
                                Some(new) => remember.push(new),
                                None => forget.push(u.key.clone()),
                            }
                        } else {
                            self.refused_write(&u.key, TRANSACTIONAL, &mut out);
                        }
                    } else if let Some(d) = a.delete.as_ref().filter(|d| d.table_name == table) {
                        let old = self.image(&d.key);
                        if ok && old.is_some() {
                            self.write(old.as_ref(), None, TRANSACTIONAL, &mut out);
                            forget.push(d.key.clone());
                        } else {
                            self.refused_write(&d.key, TRANSACTIONAL, &mut out);
                        }
                    }
                }
                for item in &remember {
                    self.remember(item);
                }
                for key in &forget {
                    self.forget(key);
                }
                if !ok {
                    self.failed(r);
                }
            }
            Request::TransactGetItems(t) => {
                if !ok {
                    return self.failed(r);
                }
                for (n, g) in t.transact_items.iter().flatten().enumerate() {
                    let Some(get) = g.get.as_ref().filter(|g| g.table_name == table) else {
                        continue;
                    };
                    let returned = r.answer.items.get(n).filter(|i| !i.is_empty());
                    let bytes = self
                        .size_of(&get.key)
                        .max(returned.map(item_size).unwrap_or(0));
                    self.read(&get.key, bytes, true, TRANSACTIONAL, &mut out);
                }
            }
            Request::BatchWriteItem(b) => {
                if !ok {
                    return self.failed(r);
                }
                let unprocessed: Vec<(String, String)> = r
                    .answer
                    .unprocessed
                    .iter()
                    .filter_map(|k| self.schema.key_of(k))
                    .collect();
                for w in b
                    .request_items
                    .as_ref()
                    .and_then(|m| m.get(&table))
                    .into_iter()
                    .flatten()
                {
                    if let Some(p) = &w.put_request {
                        if self
                            .schema
                            .key_of(&p.item)
                            .is_some_and(|k| unprocessed.contains(&k))
                        {
                            continue;
                        }
                        let old = self.image(&p.item);
                        self.write(old.as_ref(), Some(&p.item), 1.0, &mut out);
                        self.remember(&p.item);
                    } else if let Some(d) = &w.delete_request {
                        if self
                            .schema
                            .key_of(&d.key)
                            .is_some_and(|k| unprocessed.contains(&k))
                        {
                            continue;
                        }
                        let old = self.image(&d.key);
                        self.write(old.as_ref(), None, 1.0, &mut out);
                        self.forget(&d.key);
                    }
                }
            }
        }
        self.requests += 1;
        if ok {
            self.compare(r, &out);
        }
        for (target, units) in out.0 {
            self.ledger
                .entry((r.second, target))
                .or_default()
                .add(units);
        }
    }

    fn failed(&mut self, r: &Record) {
        if !r.answer.ok {
            let code = r.answer.error_code.as_deref().unwrap_or("unknown");
            *self
                .failures
                .entry(format!("{} {code}", r.request.operation()))
                .or_default() += 1;
        }
    }

    fn compare(&mut self, r: &Record, out: &Charges) {
        let engine: f64 = r
            .answer
            .consumed
            .iter()
            .filter(|c| c.table_name.as_deref() == Some(&self.schema.table))
            .filter_map(|c| c.capacity_units)
            .sum();
        if r.answer.consumed.is_empty() {
            return;
        }
        let model: f64 = out.0.iter().map(|(_, u)| u.engine_total()).sum();
        self.engine.compared += 1;
        if (engine - model).abs() < 1e-9 {
            self.engine.agreed += 1;
        } else {
            *self
                .engine
                .disagreed
                .entry(r.request.operation().to_string())
                .or_default() += 1;
            if self.engine.examples.len() < 5 {
                let detail = r
                    .answer
                    .consumed
                    .iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                self.engine.examples.push(format!(
                    "{}: model {model}, engine {engine} ({detail})",
                    r.request.operation()
                ));
            }
        }
    }

    /// The highest second of any key, and everything behind it.
    pub fn peaks(&self) -> Peaks {
        let best = |f: &dyn Fn(&Units) -> f64| -> Option<Peak> {
            self.ledger
                .iter()
                .map(|((second, target), u)| (f(u), *second, target))
                .filter(|(units, _, _)| *units > 0.0)
                .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.2.cmp(a.2)))
                .map(|(units, second, target)| Peak {
                    units,
                    second,
                    key: target.to_string(),
                    pattern: target.pattern(),
                })
        };
        let mut by_kind: BTreeMap<String, KindSummary> = BTreeMap::new();
        let mut keys: BTreeMap<String, std::collections::BTreeSet<&Target>> = BTreeMap::new();
        let mut per_second: BTreeMap<u64, Units> = BTreeMap::new();
        for ((second, target), u) in &self.ledger {
            let kind = by_kind.entry(target.pattern()).or_default();
            kind.peak_rcu = kind.peak_rcu.max(u.reads());
            kind.peak_wcu = kind.peak_wcu.max(u.writes());
            kind.peak_wcu_cc_as_write = kind.peak_wcu_cc_as_write.max(u.writes_cc_as_write());
            keys.entry(target.pattern()).or_default().insert(target);
            per_second.entry(*second).or_default().add(*u);
        }
        for (kind, set) in keys {
            if let Some(k) = by_kind.get_mut(&kind) {
                k.keys = set.len();
            }
        }
        Peaks {
            wcu: best(&|u| u.writes()),
            rcu: best(&|u| u.reads()),
            wcu_cc_as_write: best(&|u| u.writes_cc_as_write()),
            rcu_cc_as_write: best(&|u| u.rcu),
            by_kind,
            per_second,
            engine: self.engine.clone(),
            failures: self.failures.clone(),
            requests: self.requests,
        }
    }
}

/// Charges of one request, by key.
#[derive(Debug, Default)]
struct Charges(Vec<(Target, Units)>);

impl Charges {
    fn add(&mut self, target: Target, units: Units) {
        match self.0.iter_mut().find(|(t, _)| *t == target) {
            Some((_, u)) => u.add(units),
            None => self.0.push((target, units)),
        }
    }
}

/// The partition key value a `Query` names: `attr = :value` in its key condition (the
/// attribute possibly through a `#name`), or its legacy `KeyConditions`.
fn query_partition(q: &QueryInput, attr: &str) -> Option<String> {
    if let Some(expr) = &q.key_condition_expression {
        let names = q.expression_attribute_names.clone().unwrap_or_default();
        let values = q.expression_attribute_values.clone().unwrap_or_default();
        for part in split_and(expr) {
            let Some((lhs, rhs)) = part.split_once('=') else {
                continue;
            };
            if lhs.ends_with(['<', '>', '!']) {
                continue;
            }
            let (lhs, rhs) = (
                lhs.trim().trim_start_matches('('),
                rhs.trim().trim_end_matches(')'),
            );
            let name = names.get(lhs).map(String::as_str).unwrap_or(lhs);
            if name == attr {
                return values.get(rhs.trim()).map(scalar);
            }
        }
    }
    q.key_conditions
        .as_ref()
        .and_then(|k| k.get(attr))
        .and_then(|c| c.attribute_value_list.as_ref())
        .and_then(|l| l.first())
        .map(scalar)
}

fn split_and(expr: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = expr;
    loop {
        let upper = rest.to_ascii_uppercase();
        match upper.find(" AND ") {
            Some(at) => {
                parts.push(&rest[..at]);
                rest = &rest[at + 5..];
            }
            None => {
                parts.push(rest);
                return parts;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn schema() -> Schema {
        Schema {
            table: "t".into(),
            pk: "pk".into(),
            sk: Some("sk".into()),
            indexes: vec![Index {
                name: "live".into(),
                global: true,
                pk: "liveKey".into(),
                sk: Some("lastSeenKey".into()),
                projection: Projection::KeysOnly,
            }],
        }
    }

    #[test]
    fn sizes_follow_the_published_rules() {
        assert_eq!(item_size(&item(&[("pk", s("abc"))])), 5);
        assert_eq!(number_size("12345"), 4);
        assert_eq!(number_size("100"), 2);
        assert_eq!(number_size("-1.5"), 4);
        assert_eq!(number_size("0"), 1);
        let m = AttributeValue::M(item(&[("name", s("x")), ("v", s("1.0"))]));
        // 3 + (4 + 1 + 1) + (1 + 1 + 3)
        assert_eq!(value_size(&m), 14);
        let l = AttributeValue::L(vec![s("ab"), AttributeValue::Bool(true)]);
        assert_eq!(value_size(&l), 3 + 2 + 2 + 1);
        assert_eq!(write_units(0), 1.0);
        assert_eq!(write_units(1024), 1.0);
        assert_eq!(write_units(1025), 2.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(100, false), 0.5);
    }

    #[test]
    fn a_key_move_in_an_index_costs_two_writes_there() {
        let model = Model::new(schema());
        let old = item(&[
            ("pk", s("S#1")),
            ("sk", s("SESSION")),
            ("liveKey", s("LIVE#03")),
            ("lastSeenKey", s("0001")),
            ("name", s("x")),
        ]);
        let mut new = old.clone();
        new.insert("lastSeenKey".into(), s("0002"));
        let mut out = Charges::default();
        model.write(Some(&old), Some(&new), 1.0, &mut out);
        let live = Target {
            index: Some("live".into()),
            key: "LIVE#03".into(),
        };
        assert_eq!(out.0.len(), 2);
        assert_eq!(
            out.0.iter().find(|(t, _)| *t == live).map(|(_, u)| u.wcu),
            Some(2.0)
        );
        assert_eq!(
            out.0
                .iter()
                .find(|(t, _)| *t == Target::table("S#1".into()))
                .map(|(_, u)| u.wcu),
            Some(1.0)
        );
        // A change the keys-only index does not store costs it nothing.
        let mut renamed = old.clone();
        renamed.insert("name".into(), s("y"));
        let mut out = Charges::default();
        model.write(Some(&old), Some(&renamed), 2.0, &mut out);
        assert_eq!(out.0.len(), 1);
        assert_eq!(out.0[0].1.wcu, 2.0);
    }

    #[test]
    fn a_query_names_its_partition_through_a_placeholder() {
        let q = QueryInput::builder()
            .table_name("t")
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :p)")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s("ORG#1#SHARD#03"))
            .expression_attribute_values(":p", s("CONN#"))
            .build()
            .expect("query");
        assert_eq!(query_partition(&q, "pk").as_deref(), Some("ORG#1#SHARD#03"));
        assert_eq!(query_partition(&q, "liveKey"), None);
    }

    #[test]
    fn kinds_of_keys_hide_ids_and_numbers() {
        let id = Uuid::new_v4();
        let t = Target::table(format!("ORG#{id}#APP#{id}#SHARD#07"));
        assert_eq!(t.pattern(), "table: ORG#<id>#APP#<id>#SHARD#<n>");
        let g = Target {
            index: Some("live".into()),
            key: "LIVE#31".into(),
        };
        assert_eq!(g.pattern(), "index live: LIVE#<n>");
    }
}
