//! Handler overhead, in process: a request through the handler (the real API Gateway event
//! parsed from JSON, authentication, validation, the store, the response and its log line)
//! against the raw SDK request the handler needs, on the same engine, table, item and client,
//! interleaved so drift on the machine hits both alike. Also counts DynamoDB requests per API
//! request with the client's interceptor.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use aws_sdk_dynamodb::Client;
use lambda_http::Body;
use sessions::api::Api;
use sessions::params::{ListFilter, DEFAULT_LIMIT};
use sessions::route::Route;
use sessions::store::layout::{app_key, partition_key, s, session_key, INDEX_CONNECTED, PK};
use sessions::store::Budget;
use sessions_tests::Event;
use uuid::Uuid;

use crate::stats::ms;
use crate::world::{self, CallCounter};

const SCOPES: &str = "sessions:read";
/// More sessions than one default page, so the page is full and carries a `nextCursor`.
const SESSIONS: usize = 150;
/// Iterations run and discarded first (connection pool, caches, allocator).
const WARMUP: usize = 50;

/// Timings in milliseconds, and requests counted per API request.
#[derive(Debug, Default)]
pub struct Overhead {
    pub get_handler: Vec<f64>,
    pub get_raw_get_item: Vec<f64>,
    pub get_raw_batch_get: Vec<f64>,
    /// `DynamoStore::get_session`: the round trip and the decoding, without HTTP.
    pub get_store: Vec<f64>,
    /// Parsing the API Gateway event into a request, alone.
    pub get_parse: Vec<f64>,
    pub list_handler: Vec<f64>,
    pub list_raw_query: Vec<f64>,
    /// `DynamoStore::query_sessions`: the query and the decoding of 100 items, without HTTP.
    pub list_store: Vec<f64>,
    pub calls_get: u64,
    pub calls_get_by_operation: BTreeMap<String, u64>,
    pub calls_list_page: u64,
    pub calls_list_page_by_operation: BTreeMap<String, u64>,
    pub list_items: usize,
}

pub async fn measure(endpoint: &str, iterations: usize) -> Overhead {
    let counter = CallCounter::default();
    let client = world::counting_client(endpoint, counter.clone());
    let table = format!("bench-overhead-{}", Uuid::new_v4().simple());
    let store = world::create_table(&client, &table).await;
    let org = Uuid::new_v4();
    let app = world::create_app(&store, org, "overhead").await;
    let ids = world::seed_sessions(&client, &table, &app, SESSIONS).await;
    let api = Api::new(
        &sessions_tests::config(&sessions_tests::env(&table)),
        store.clone(),
    )
    .expect("the bench configuration is valid");
    let session = ids[SESSIONS / 2];

    let get_event = Event::get(&app.id.to_string(), &session.to_string())
        .claims(org, SCOPES)
        .json()
        .to_string();
    let list_event = Event::list(&app.id.to_string())
        .claims(org, SCOPES)
        .json()
        .to_string();

    // The handlers' answers are checked after the clock stops (`timed_ok`): decoding the body
    // to check it is the bench's work, not the handler's.
    let handler_get = || async {
        let req = lambda_http::request::from_str(&get_event).expect("the get event parses");
        api.handle(Route::GetSession, req).await.into_body()
    };
    let handler_list = || async {
        let req = lambda_http::request::from_str(&list_event).expect("the list event parses");
        api.handle(Route::ListSessions, req).await.into_body()
    };
    let raw_get_item = || async {
        client
            .get_item()
            .table_name(&table)
            .set_key(Some(session_key(org, app.id, session)))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem")
            .item
            .expect("the session exists");
    };
    let raw_batch_get = || async {
        let keys = KeysAndAttributes::builder()
            .keys(app_key(org, app.id))
            .keys(session_key(org, app.id, session))
            .consistent_read(true)
            .build()
            .expect("keys");
        client
            .batch_get_item()
            .request_items(&table, keys)
            .send()
            .await
            .expect("BatchGetItem");
    };
    let raw_query = || raw_page_query(&client, &table, org, app.id);
    let store_get = || async {
        store
            .get_session(org, app.id, session)
            .await
            .expect("DynamoStore::get_session");
    };
    let store_query = || async {
        store
            .query_sessions(
                org,
                app.id,
                ListFilter::Active,
                None,
                page_limit(),
                &Budget::new(None),
            )
            .await
            .expect("DynamoStore::query_sessions");
    };
    let parse_get = || async {
        lambda_http::request::from_str(&get_event).expect("the get event parses");
    };

    // Round trips per request, and a check that the handlers answer what they should.
    counter.reset();
    ok(handler_get().await);
    let calls_get = counter.total();
    let calls_get_by_operation = counter.by_operation();
    counter.reset();
    let list_items = ok(handler_list().await);
    let calls_list_page = counter.total();
    let calls_list_page_by_operation = counter.by_operation();

    let mut out = Overhead {
        calls_get,
        calls_get_by_operation,
        calls_list_page,
        calls_list_page_by_operation,
        list_items,
        ..Overhead::default()
    };
    for i in 0..WARMUP + iterations {
        // Rotate the order each iteration: no path always runs first (or after the other).
        let mut get = [0.0; 5];
        for k in 0..get.len() {
            let which = (i + k) % get.len();
            get[which] = match which {
                0 => timed_ok(handler_get).await,
                1 => time(raw_get_item).await,
                2 => time(raw_batch_get).await,
                3 => time(store_get).await,
                _ => time(parse_get).await,
            };
        }
        let mut list = [0.0; 3];
        for k in 0..list.len() {
            let which = (i + k) % list.len();
            list[which] = match which {
                0 => timed_ok(handler_list).await,
                1 => time(raw_query).await,
                _ => time(store_query).await,
            };
        }
        if i >= WARMUP {
            out.get_handler.push(get[0]);
            out.get_raw_get_item.push(get[1]);
            out.get_raw_batch_get.push(get[2]);
            out.get_store.push(get[3]);
            out.get_parse.push(get[4]);
            out.list_handler.push(list[0]);
            out.list_raw_query.push(list[1]);
            out.list_store.push(list[2]);
        }
    }
    let _ = client.delete_table().table_name(&table).send().await;
    out
}

/// The one `Query` a first list page needs: the sparse `connected` index, newest first,
/// consistent, the application item plus one page and one look-ahead (`limit + 2`).
async fn raw_page_query(client: &Client, table: &str, org: Uuid, app: Uuid) {
    client
        .query()
        .table_name(table)
        .index_name(INDEX_CONNECTED)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_values(":pk", s(partition_key(org, app)))
        .scan_index_forward(false)
        .consistent_read(true)
        .limit(page_limit())
        .send()
        .await
        .expect("Query");
}

/// What the handler asks for a default first page: the application, `limit` sessions and one
/// more to know whether a next page exists.
fn page_limit() -> i32 {
    i32::try_from(DEFAULT_LIMIT + 2).unwrap_or(i32::MAX)
}

/// How long `f` takes; what it returns is dropped after the clock stops.
async fn time<F, Fut, T>(f: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    timed(f).await.0
}

/// How long a handler takes to answer; its answer is checked ([`ok`]) after the clock stops.
async fn timed_ok<F, Fut>(f: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = Body>,
{
    let (elapsed, body) = timed(f).await;
    ok(body);
    elapsed
}

async fn timed<F, Fut, T>(f: F) -> (f64, T)
where
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    let started = Instant::now();
    let out = f().await;
    (ms(started.elapsed()), out)
}

/// A 200 body, or the bench stops: timing an error path would flatter the handler. Returns the
/// number of items in a list body.
fn ok(body: Body) -> usize {
    let value: serde_json::Value =
        serde_json::from_slice(body.as_ref()).expect("the handler answers JSON");
    assert!(
        value.get("code").is_none(),
        "the handler answered an error: {value}"
    );
    value["items"].as_array().map(Vec::len).unwrap_or(1)
}
