//! Revoke-all throughput: the handler disconnecting thousands of connected sessions, against a
//! plain sequential loop of the same conditional update, each run on a fresh engine.
//!
//! Fresh engines, not fresh tables of one engine: dynoxide answers the same work more slowly
//! after earlier tables of ten thousand items were written and dropped (measured: 4.2 s, then
//! 5.6 s and 5.7 s for the same revoke-all in three repeats on one engine), while a DynamoDB
//! table does not slow down because other tables existed.
//!
//! The handler runs on a current-thread runtime of its own thread, as in a deployed function
//! (`functions/*/src/main.rs`), with the engine on the harness's runtime like a remote DynamoDB.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use sessions::api::Api;
use sessions::model::SessionStatus;
use sessions::route::Route;
use sessions::store::layout::{
    marker_key, s, session_key, ts, Markers, DISCONNECTED_AT, LAST_SEEN_KEY, LIVE_KEY, STATUS,
};
use sessions::store::DynamoStore;
use sessions::time;
use sessions_tests::{Event, Reply};
use uuid::Uuid;

use crate::latency::LatencyFront;
use crate::world::{self, CallCounter};

const SCOPES: &str = "sessions:write";

/// One repeat: how long each took, and what the handler reported.
#[derive(Debug, Default)]
pub struct Revoke {
    /// Seconds for revoke-all over `sessions`, one per repeat.
    pub revoke_seconds: Vec<f64>,
    /// Seconds for the sequential loop over `sequential_sessions`, one per repeat.
    pub sequential_seconds: Vec<f64>,
    pub sessions: usize,
    pub sequential_sessions: usize,
    /// DynamoDB requests of one revoke-all (first repeat).
    pub calls: u64,
    pub calls_by_operation: std::collections::BTreeMap<String, u64>,
    /// `disconnectedCount` of each revoke-all; must equal `sessions`.
    pub disconnected: Vec<u64>,
}

/// A fresh engine for one run, reached directly or, with a round trip, through a front that
/// holds every answer back by it.
struct Target {
    endpoint: String,
    _front: Option<LatencyFront>,
    _engine: sessions_tests::Engine,
}

async fn target(rtt: Option<Duration>) -> Target {
    let engine = sessions_tests::Engine::start().await;
    let front = match rtt {
        Some(delay) => Some(
            LatencyFront::start(engine.endpoint.trim_start_matches("http://"), delay)
                .await
                .expect("the latency front starts"),
        ),
        None => None,
    };
    Target {
        endpoint: front
            .as_ref()
            .map_or_else(|| engine.endpoint.clone(), |f| f.endpoint.clone()),
        _front: front,
        _engine: engine,
    }
}

pub async fn measure(
    sessions: usize,
    sequential_sessions: usize,
    repeats: usize,
    rtt: Option<Duration>,
) -> Revoke {
    let mut out = Revoke {
        sessions,
        sequential_sessions,
        ..Revoke::default()
    };
    for r in 0..repeats {
        // Alternate which runs first, so neither always gets the cooler machine.
        if r % 2 == 0 {
            out.push_revoke(&target(rtt).await, sessions, r).await;
            out.push_sequential(&target(rtt).await, sequential_sessions)
                .await;
        } else {
            out.push_sequential(&target(rtt).await, sequential_sessions)
                .await;
            out.push_revoke(&target(rtt).await, sessions, r).await;
        }
    }
    out
}

impl Revoke {
    async fn push_sequential(&mut self, target: &Target, n: usize) {
        let client = world::counting_client(&target.endpoint, CallCounter::default());
        self.sequential_seconds.push(sequential(&client, n).await);
    }

    async fn push_revoke(&mut self, target: &Target, n: usize, r: usize) {
        let counter = CallCounter::default();
        let client = &world::counting_client(&target.endpoint, counter.clone());
        let table = format!("bench-revoke-{}", Uuid::new_v4().simple());
        let store = world::create_table(client, &table).await;
        let org = Uuid::new_v4();
        let app = world::create_app(&store, org, "revoke-all").await;
        world::seed_sessions(&store, &app, n).await;
        drop(store);
        let event = Event::revoke_all(&app.id.to_string()).claims(org, SCOPES);

        // The handler runs as in a function: on a current-thread runtime of its own, with its
        // own client; the engine stays on the harness's runtime, like a remote DynamoDB.
        counter.reset();
        let (endpoint, revoke_table, revoke_counter) =
            (target.endpoint.clone(), table.clone(), counter.clone());
        let (seconds, response) = tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime");
            runtime.block_on(async move {
                let store = DynamoStore::new(
                    world::counting_client(&endpoint, revoke_counter),
                    revoke_table.clone(),
                );
                let api = Api::new(
                    &sessions_tests::config(&sessions_tests::env(&revoke_table)),
                    store,
                )
                .expect("the bench configuration is valid");
                let req = event.request();
                let started = Instant::now();
                let response = api.handle(Route::RevokeSessions, req).await;
                (started.elapsed().as_secs_f64(), response)
            })
        })
        .await
        .expect("the revoke thread");
        if r == 0 {
            self.calls = counter.total();
            self.calls_by_operation = counter.by_operation();
        }
        let reply = Reply::from_response(response);
        assert_eq!(reply.status, 200, "revoke-all answered {:#}", reply.body);
        self.disconnected
            .push(reply.body["disconnectedCount"].as_u64().unwrap_or(0));
        self.revoke_seconds.push(seconds);
        let _ = client.delete_table().table_name(&table).send().await;
    }
}

/// The naive way: for one session after another, awaiting each, the two writes a disconnect
/// needs at least (the conditional `UpdateItem` of the session, `active` -> `disconnected`,
/// leaving the `live` index; then the `DeleteItem` of its connected marker), over sessions
/// whose keys are already known (no query at all). Returns seconds for all of them.
async fn sequential(client: &Client, n: usize) -> f64 {
    let table = format!("bench-sequential-{}", Uuid::new_v4().simple());
    let store = world::create_table(client, &table).await;
    let org = Uuid::new_v4();
    let app = world::create_app(&store, org, "sequential").await;
    let sessions: Vec<_> = (0..n).map(|i| world::realistic_session(&app, i)).collect();
    world::seed_these(&store, sessions.clone()).await;
    let now = time::now();
    let started = Instant::now();
    for session in sessions {
        client
            .update_item()
            .table_name(&table)
            .set_key(Some(session_key(org, app.id, session.id)))
            .update_expression("SET #st = :disconnected, #da = :at REMOVE #lk, #lsk")
            .condition_expression("#st = :active")
            .expression_attribute_names("#st", STATUS)
            .expression_attribute_names("#da", DISCONNECTED_AT)
            .expression_attribute_names("#lk", LIVE_KEY)
            .expression_attribute_names("#lsk", LAST_SEEN_KEY)
            .expression_attribute_values(":active", s(SessionStatus::Active.as_str()))
            .expression_attribute_values(":disconnected", s(SessionStatus::Disconnected.as_str()))
            .expression_attribute_values(":at", ts(&now))
            .send()
            .await
            .expect("UpdateItem");
        client
            .delete_item()
            .table_name(&table)
            .set_key(Some(marker_key(&session, Markers::Connected)))
            .send()
            .await
            .expect("DeleteItem");
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = client.delete_table().table_name(&table).send().await;
    seconds
}
