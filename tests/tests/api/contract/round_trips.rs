//! DynamoDB requests per API request, counted by an SDK interceptor on the store's client: the
//! "Requests" column of `docs/data-model.md`'s access patterns, held as the code grows
//! (`make bench` reports the same counts as `ddb_calls_*`).

use std::collections::BTreeMap;

use chrono::Duration;
use sessions::api::Api;
use sessions::route::Route;
use sessions::store::DynamoStore;
use sessions_tests::calls::{counting_client, CallCounter};
use sessions_tests::{call, config, env, Event, Reply, World};
use uuid::Uuid;

/// A world whose API sends every DynamoDB request through a counting client.
struct Counted {
    world: World,
    api: Api,
    counter: CallCounter,
}

impl Counted {
    async fn new() -> Counted {
        let world = World::new().await;
        let counter = CallCounter::default();
        let table = world.store.table().to_string();
        let store = DynamoStore::new(
            counting_client(&world.engine.endpoint, counter.clone()),
            table.clone(),
        );
        let api = Api::new(&config(&env(&table)), store).expect("api");
        Counted {
            world,
            api,
            counter,
        }
    }

    /// Sends `event` and returns its reply and the requests it made, by operation.
    async fn requests(&self, event: Event) -> (Reply, BTreeMap<String, u64>) {
        self.counter.reset();
        let reply = call(&self.api, event).await;
        (reply, self.counter.by_operation())
    }

    async fn sessions(&self, n: usize) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for i in 0..n {
            let s = self.world.session(Duration::seconds(10 + i as i64));
            self.world.put(&s).await;
            ids.push(s.id);
        }
        ids
    }
}

fn ops(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn a_get_is_one_batch_get_found_or_not() {
    let c = Counted::new().await;
    let ids = c.sessions(3).await;
    let (reply, found) = c.requests(c.world.get_event(ids[1])).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(found, ops(&[("BatchGetItem", 1)]));
    let (reply, missing) = c.requests(c.world.get_event(Uuid::new_v4())).await;
    assert_eq!(reply.status, 404, "{:#}", reply.body);
    assert_eq!(missing, ops(&[("BatchGetItem", 1)]));
}

/// Every shard's markers are read once per page step.
const SHARDS: u64 = sessions::store::layout::SHARDS as u64;

#[tokio::test]
async fn a_page_is_the_shards_and_the_application_then_one_batch_of_sessions() {
    let c = Counted::new().await;
    c.sessions(5).await;
    let page = ops(&[("BatchGetItem", 1), ("GetItem", 1), ("Query", SHARDS)]);
    let (first, requests) = c.requests(c.world.event(Route::ListSessions)).await;
    assert_eq!(first.ids().len(), 5);
    assert_eq!(requests, page);

    let (all, requests) = c
        .requests(c.world.event(Route::ListSessions).query("status", "all"))
        .await;
    assert_eq!(all.ids().len(), 5);
    assert_eq!(requests, page);

    let (first, requests) = c
        .requests(c.world.event(Route::ListSessions).query("limit", "2"))
        .await;
    assert_eq!(requests, page);
    let cursor = first.next_cursor().expect("a next page");
    let (next, requests) = c
        .requests(
            c.world
                .event(Route::ListSessions)
                .query("limit", "2")
                .query("cursor", &cursor),
        )
        .await;
    assert_eq!(next.ids().len(), 2, "{:#}", next.body);
    assert_eq!(
        requests, page,
        "the application is read alongside the shards"
    );
}

#[tokio::test]
async fn revoke_all_is_the_watermark_the_heads_and_per_session_an_update_and_a_marker_delete() {
    let c = Counted::new().await;
    c.sessions(3).await;
    let (reply, requests) = c.requests(c.world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.body["disconnectedCount"], 3, "{:#}", reply.body);
    // The watermark, the heads, one update per session, and closing the revocation's sweep;
    // one read of each shard's connected markers; one marker delete per session.
    assert_eq!(
        requests,
        ops(&[
            ("DeleteItem", 3),
            ("Query", SHARDS),
            ("UpdateItem", 1 + SHARDS + 3 + 1)
        ])
    );
    // Nothing left connected: the watermark, the heads, one empty read per shard, the close.
    let (reply, requests) = c.requests(c.world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.body["disconnectedCount"], 0, "{:#}", reply.body);
    assert_eq!(
        requests,
        ops(&[("Query", SHARDS), ("UpdateItem", 1 + SHARDS + 1)])
    );
}

#[tokio::test]
async fn revoke_one_is_one_conditional_update_and_a_marker_delete() {
    let c = Counted::new().await;
    let ids = c.sessions(2).await;
    let (reply, requests) = c.requests(c.world.revoke_one_event(ids[0])).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(requests, ops(&[("DeleteItem", 1), ("UpdateItem", 1)]));
}

#[tokio::test]
async fn a_connect_is_one_transaction_and_a_heartbeat_one_update() {
    let c = Counted::new().await;
    let (reply, requests) = c
        .requests(c.world.connect_event(&serde_json::json!({"name": "probe"})))
        .await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    assert_eq!(requests, ops(&[("TransactWriteItems", 1)]));
    let id = Uuid::parse_str(reply.body["session"]["id"].as_str().expect("id")).expect("uuid");
    // The first heartbeat of an instance reads the application (for its watermark) once.
    let (reply, requests) = c
        .requests(c.world.heartbeat_event(id, &serde_json::json!({})))
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(requests, ops(&[("GetItem", 1), ("UpdateItem", 1)]));
    let (reply, requests) = c
        .requests(c.world.heartbeat_event(id, &serde_json::json!({})))
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(requests, ops(&[("UpdateItem", 1)]), "then the write alone");
}
