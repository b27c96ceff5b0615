//! Handler overhead, in process: a request through the handler (the real API Gateway event
//! parsed from JSON, authentication, validation, the store, the response and its log line)
//! against the raw SDK requests the handler needs, on the same engine, table and client,
//! interleaved so drift on the machine hits both alike. Also counts DynamoDB requests per API
//! request, and the sequential round trips among them.
//!
//! The raw side of get, list, heartbeat and connect is a replay ([`crate::replay`]): the exact
//! requests the store sent for one handler call, recorded by an interceptor on a probe client,
//! sent again with the same grouping (requests that were in flight together go together). A
//! replayed connect gets a new session id each time, so it writes a new session as the handler
//! does. The get is also compared, as before, with a single `GetItem` of the session item.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant;

use aws_sdk_dynamodb::Client;
use lambda_http::Body;
use sessions::api::Api;
use sessions::model::Application;
use sessions::params::{ListFilter, DEFAULT_LIMIT};
use sessions::route::Route;
use sessions::store::layout::session_key;
use sessions::store::{Budget, DynamoStore};
use sessions::time;
use sessions_tests::{caller_scopes, Event};
use uuid::Uuid;

use crate::capacity::{self, Recorder};
use crate::replay::Plan;
use crate::stats::ms;
use crate::world::{self, CallCounter};

/// More sessions than one default page, so the page is full and carries a `nextCursor`.
const SESSIONS: usize = 150;
/// Iterations run and discarded first (connection pool, caches, allocator).
const WARMUP: usize = 50;

/// What one API request asked of DynamoDB, seen by the probe client.
#[derive(Debug, Default, Clone)]
pub struct Calls {
    pub total: u64,
    pub by_operation: BTreeMap<String, u64>,
    /// Sequential steps: requests in flight together count once.
    pub round_trips: usize,
    /// The replayed plan, wave by wave.
    pub shape: Vec<Vec<&'static str>>,
}

/// Timings in milliseconds, and requests counted per API request.
#[derive(Debug, Default)]
pub struct Overhead {
    pub get_handler: Vec<f64>,
    pub get_raw_get_item: Vec<f64>,
    /// The store's requests for a get, replayed (one `BatchGetItem`).
    pub get_raw_replay: Vec<f64>,
    /// `DynamoStore::get_session`: the round trip and the decoding, without HTTP.
    pub get_store: Vec<f64>,
    /// Parsing the API Gateway event into a request, alone.
    pub get_parse: Vec<f64>,
    pub list_handler: Vec<f64>,
    /// The store's requests for a first page, replayed.
    pub list_raw: Vec<f64>,
    /// `DynamoStore::query_sessions`: the queries and the decoding, without HTTP.
    pub list_store: Vec<f64>,
    pub heartbeat_handler: Vec<f64>,
    pub heartbeat_raw: Vec<f64>,
    pub connect_handler: Vec<f64>,
    pub connect_raw: Vec<f64>,
    pub get: Calls,
    pub list_page: Calls,
    pub heartbeat: Calls,
    pub connect: Calls,
    pub list_items: usize,
    /// Anything that went wrong replaying (the ratio is then not a fair one).
    pub replay_errors: Vec<String>,
}

pub async fn measure(endpoint: &str, iterations: usize) -> Overhead {
    let counter = CallCounter::default();
    let client = world::counting_client(endpoint, counter.clone());
    let table = format!("bench-overhead-{}", Uuid::new_v4().simple());
    let store = world::create_table(&client, &table).await;
    let org = Uuid::new_v4();
    let app = world::create_app(&store, org, "overhead").await;
    let ids = world::seed_sessions(&store, &app, SESSIONS).await;
    let api = Api::new(
        &sessions_tests::config(&sessions_tests::env(&table)),
        store.clone(),
    )
    .expect("the bench configuration is valid");
    let session = ids[SESSIONS / 2];
    let beating = ids[SESSIONS / 3];

    let event = |route: Route, session: Option<Uuid>| {
        Event::new(
            route,
            &app.id.to_string(),
            session.map(|s| s.to_string()).as_deref(),
        )
        .claims(org, caller_scopes(route))
    };
    let get_event = event(Route::GetSession, Some(session)).json().to_string();
    let list_event = event(Route::ListSessions, None).json().to_string();
    let heartbeat_event = event(Route::HeartbeatSession, Some(beating))
        .json_body(&serde_json::json!({"lastActiveAt": time::format(&time::now())}))
        .json()
        .to_string();
    let connect_body = connect_body(&app);
    let connect_event = event(Route::ConnectSession, None)
        .json_body(&connect_body)
        .json()
        .to_string();

    // The handlers' answers are checked after the clock stops (`timed_ok`): decoding the body
    // to check it is the bench's work, not the handler's.
    let through = |api: &Api, route: Route, event: &str| {
        let req = lambda_http::request::from_str(event).expect("the event parses");
        let api = api.clone();
        async move { api.handle(route, req).await.into_body() }
    };

    // The probe: the same API on a client that also records each request, once per route, for
    // the counts, the round trips and the requests to replay.
    let recorder = Recorder::default();
    let probe_counter = CallCounter::default();
    let probe_client = Client::from_conf(
        sessions_tests::local_config(endpoint)
            .interceptor(probe_counter.clone())
            .interceptor(recorder.clone())
            .build(),
    );
    let probe_api = Api::new(
        &sessions_tests::config(&sessions_tests::env(&table)),
        DynamoStore::new(probe_client, table.clone()),
    )
    .expect("the bench configuration is valid");
    let probe = |route: Route, event: String| {
        let (recorder, probe_counter, probe_api) =
            (recorder.clone(), probe_counter.clone(), probe_api.clone());
        async move {
            // Twice: the second call is a warm instance's (the heartbeat's application cache).
            let _ = through(&probe_api, route, &event).await;
            recorder.clear();
            probe_counter.reset();
            let body = through(&probe_api, route, &event).await;
            let records = recorder.take();
            let plan = Plan::of(&records);
            let calls = Calls {
                total: probe_counter.total(),
                by_operation: probe_counter.by_operation(),
                round_trips: capacity::round_trips(&records),
                shape: plan.shape(),
            };
            (body, calls, plan)
        }
    };
    let (_, get_calls, get_plan) = probe(Route::GetSession, get_event.clone()).await;
    let (list_body, list_calls, list_plan) = probe(Route::ListSessions, list_event.clone()).await;
    let (_, heartbeat_calls, heartbeat_plan) =
        probe(Route::HeartbeatSession, heartbeat_event.clone()).await;
    let (connect_body_out, connect_calls, connect_plan) =
        probe(Route::ConnectSession, connect_event.clone()).await;
    let list_items = ok(list_body);
    let connected_id = created_id(connect_body_out);

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
    let replay = |plan: Plan| {
        let client = client.clone();
        async move { plan.run(&client).await }
    };
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
    // A replayed connect writes a session of its own: the recorded id replaced by a new one.
    let connect_replay = || match &connected_id {
        Some(id) => connect_plan.rewritten(&id.to_string(), &Uuid::new_v4().to_string()),
        None => connect_plan.clone(),
    };

    let mut out = Overhead {
        get: get_calls,
        list_page: list_calls,
        heartbeat: heartbeat_calls,
        connect: connect_calls,
        list_items,
        ..Overhead::default()
    };
    if connected_id.is_none() {
        out.replay_errors
            .push("connect: no session id in the probe's answer".into());
    }
    let mut replay_error = |what: &str, r: Result<(), String>| {
        if let Err(e) = r {
            if out.replay_errors.len() < 10 {
                out.replay_errors.push(format!("{what}: {e}"));
            }
        }
    };
    let mut samples: [Vec<f64>; 12] = Default::default();
    for i in 0..WARMUP + iterations {
        // Rotate the order each iteration: no path always runs first (or after the other).
        let mut get = [0.0; 5];
        for k in 0..get.len() {
            let which = (i + k) % get.len();
            get[which] = match which {
                0 => timed_ok(|| through(&api, Route::GetSession, &get_event)).await,
                1 => time(raw_get_item).await,
                2 => {
                    let (t, r) = timed(|| replay(get_plan.clone())).await;
                    replay_error("get", r);
                    t
                }
                3 => time(store_get).await,
                _ => time(parse_get).await,
            };
        }
        let mut list = [0.0; 3];
        for k in 0..list.len() {
            let which = (i + k) % list.len();
            list[which] = match which {
                0 => timed_ok(|| through(&api, Route::ListSessions, &list_event)).await,
                1 => {
                    let (t, r) = timed(|| replay(list_plan.clone())).await;
                    replay_error("list", r);
                    t
                }
                _ => time(store_query).await,
            };
        }
        let mut beat = [0.0; 2];
        for k in 0..beat.len() {
            let which = (i + k) % beat.len();
            beat[which] = match which {
                0 => timed_ok(|| through(&api, Route::HeartbeatSession, &heartbeat_event)).await,
                _ => {
                    let (t, r) = timed(|| replay(heartbeat_plan.clone())).await;
                    replay_error("heartbeat", r);
                    t
                }
            };
        }
        let mut connect = [0.0; 2];
        for k in 0..connect.len() {
            let which = (i + k) % connect.len();
            connect[which] = match which {
                0 => timed_ok(|| through(&api, Route::ConnectSession, &connect_event)).await,
                _ => {
                    let plan = connect_replay();
                    let (t, r) = timed(|| replay(plan.clone())).await;
                    replay_error("connect", r);
                    t
                }
            };
        }
        if i >= WARMUP {
            for (slot, v) in samples
                .iter_mut()
                .zip(get.iter().chain(&list).chain(&beat).chain(&connect))
            {
                slot.push(*v);
            }
        }
    }
    let [get_handler, get_raw_get_item, get_raw_replay, get_store, get_parse, list_handler, list_raw, list_store, heartbeat_handler, heartbeat_raw, connect_handler, connect_raw] =
        samples;
    out.get_handler = get_handler;
    out.get_raw_get_item = get_raw_get_item;
    out.get_raw_replay = get_raw_replay;
    out.get_store = get_store;
    out.get_parse = get_parse;
    out.list_handler = list_handler;
    out.list_raw = list_raw;
    out.list_store = list_store;
    out.heartbeat_handler = heartbeat_handler;
    out.heartbeat_raw = heartbeat_raw;
    out.connect_handler = connect_handler;
    out.connect_raw = connect_raw;
    let _ = client.delete_table().table_name(&table).send().await;
    out
}

/// A connect as the connection gateway sends it: every field the contract takes, realistic.
fn connect_body(app: &Application) -> serde_json::Value {
    let new = world::realistic_connect(app, 7, time::now());
    serde_json::json!({
        "name": new.name,
        "hostname": new.hostname,
        "userAgent": new.user_agent,
        "clientInfo": new.client_info,
        "tokenExpiresAt": new.token_expires_at.map(|t| time::format(&t)),
    })
}

/// The id of the session a 201 connect answer carries.
fn created_id(body: Body) -> Option<Uuid> {
    let value: serde_json::Value = serde_json::from_slice(body.as_ref()).ok()?;
    Uuid::try_parse(value["session"]["id"].as_str()?).ok()
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

/// A successful body, or the bench stops: timing an error path would flatter the handler.
/// Returns the number of items in a list body.
fn ok(body: Body) -> usize {
    let value: serde_json::Value =
        serde_json::from_slice(body.as_ref()).expect("the handler answers JSON");
    assert!(
        value.get("code").is_none(),
        "the handler answered an error: {value}"
    );
    value["items"].as_array().map(Vec::len).unwrap_or(1)
}
