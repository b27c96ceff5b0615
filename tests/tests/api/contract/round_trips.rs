//! DynamoDB requests per API request, counted by an SDK interceptor on the store's client: the
//! "Requests" column of `docs/data-model.md`'s access patterns, held as the code grows
//! (`make bench` reports the same counts as `ddb_calls_get` and `ddb_calls_list_page`).

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

#[tokio::test]
async fn a_first_page_is_one_query_and_a_later_page_two_requests() {
    let c = Counted::new().await;
    c.sessions(5).await;
    let (first, requests) = c.requests(c.world.event(Route::ListSessions)).await;
    assert_eq!(first.ids().len(), 5);
    assert_eq!(requests, ops(&[("Query", 1)]));

    let (all, requests) = c
        .requests(c.world.event(Route::ListSessions).query("status", "all"))
        .await;
    assert_eq!(all.ids().len(), 5);
    assert_eq!(requests, ops(&[("Query", 1)]));

    let (page, requests) = c
        .requests(c.world.event(Route::ListSessions).query("limit", "2"))
        .await;
    assert_eq!(requests, ops(&[("Query", 1)]));
    let cursor = page.next_cursor().expect("a next page");
    let (next, requests) = c
        .requests(
            c.world
                .event(Route::ListSessions)
                .query("limit", "2")
                .query("cursor", &cursor),
        )
        .await;
    assert_eq!(next.ids().len(), 2, "{:#}", next.body);
    assert_eq!(requests, ops(&[("GetItem", 1), ("Query", 1)]));
}

#[tokio::test]
async fn revoke_all_is_the_watermark_one_query_page_and_one_update_per_connected_session() {
    let c = Counted::new().await;
    c.sessions(3).await;
    let (reply, requests) = c.requests(c.world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.body["disconnectedCount"], 3, "{:#}", reply.body);
    // The watermark, one update per session, and closing the revocation's sweep.
    assert_eq!(requests, ops(&[("Query", 1), ("UpdateItem", 1 + 3 + 1)]));
    // Nothing left connected: the watermark, one empty page, the close.
    let (reply, requests) = c.requests(c.world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.body["disconnectedCount"], 0, "{:#}", reply.body);
    assert_eq!(requests, ops(&[("Query", 1), ("UpdateItem", 1 + 1)]));
}

#[tokio::test]
async fn revoke_one_is_one_conditional_update() {
    let c = Counted::new().await;
    let ids = c.sessions(2).await;
    let (reply, requests) = c.requests(c.world.revoke_one_event(ids[0])).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(requests, ops(&[("UpdateItem", 1)]));
}
