//! Revoke and list under adversity: what no client, fault or item can make them do. Each test
//! reproduces one way the exactness or availability promises broke.

use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use sessions::model::SessionStatus;
use sessions::route::Route;
use sessions::store::layout::{self, PK, SK, STATUS};
use sessions::store::{DynamoStore, Heartbeat, StoreError};
use sessions::time;
use sessions_tests::faults::{self, Fault, Plan};
use sessions_tests::{client_for, World};
use uuid::Uuid;

async fn stored_status(world: &World, id: Uuid) -> SessionStatus {
    world
        .store
        .get_session(world.org, world.app.id, id)
        .await
        .expect("session")
        .1
        .status
}

#[tokio::test]
async fn calling_again_after_a_202_finishes_that_revocation_and_spares_later_connects() {
    let world = World::new().await;
    let before = world.seed(10).await;
    // No time at all: the watermark is set, nothing is swept.
    let first = world
        .store
        .revoke_all(world.org, world.app.id, time::now(), Some(Instant::now()))
        .await
        .expect("revoke");
    assert!(!first.complete);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    // A client re-authenticates, as it was told to.
    let later = world.session(Duration::zero());
    world.put(&later).await;

    let again = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(again.status, 200, "{:#}", again.body);
    assert_eq!(
        first.disconnected + again.body["disconnectedCount"].as_u64().expect("count"),
        10,
        "exactly the sessions of the first revocation"
    );
    for id in before {
        assert_eq!(stored_status(&world, id).await, SessionStatus::Disconnected);
    }
    assert_eq!(stored_status(&world, later.id).await, SessionStatus::Active);
    let got = world.call(world.get_event(later.id)).await;
    assert_eq!(got.body["session"]["derivedStatus"], "active");

    // With that revocation finished, the next call is a new one and takes the later client too.
    let third = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(third.body["disconnectedCount"], 1);
}

#[tokio::test]
async fn a_heartbeat_under_the_watermark_fails_before_the_sweep_reaches_it() {
    let world = World::new().await;
    let ids = world.seed(1).await;
    world
        .store
        .revoke_all(world.org, world.app.id, time::now(), Some(Instant::now()))
        .await
        .expect("revoke");
    assert_eq!(
        stored_status(&world, ids[0]).await,
        SessionStatus::Active,
        "not swept yet"
    );
    let beat = Heartbeat {
        last_active_at: Some(time::now()),
        token_expires_at: None,
    };
    let refused = world
        .store
        .heartbeat(world.org, world.app.id, ids[0], &beat, time::now(), None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::SessionDisconnected)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn transaction_conflicts_on_the_application_cannot_hold_off_a_revoke_all() {
    let world = World::new().await;
    world.seed(5).await;
    // Every connect is a transaction on the application item; while one is in flight DynamoDB
    // refuses the watermark write. Five refusals in a row, as a reconnect loop would cause.
    let proxy = faults::proxy_with(
        &world.engine.endpoint,
        Plan {
            operation: ".UpdateItem",
            body_contains: layout::SWEEP_PENDING.into(),
            skip: 0,
            times: 5,
            fault: Fault::Conflict,
        },
    )
    .await;
    let api = world.api_through(&proxy.endpoint);
    let reply = sessions_tests::call(&api, world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["disconnectedCount"], 5);
    assert!(
        proxy.injected() >= 5,
        "conflicts injected: {}",
        proxy.injected()
    );
}

#[tokio::test]
async fn connects_that_conflict_with_a_revoke_all_are_retried_not_internal_errors() {
    let world = World::new().await;
    let proxy = faults::proxy_with(
        &world.engine.endpoint,
        Plan {
            operation: ".TransactWriteItems",
            body_contains: String::new(),
            skip: 0,
            times: 2,
            fault: Fault::Conflict,
        },
    )
    .await;
    let store = DynamoStore::new(client_for(&proxy.endpoint), world.store.table());
    let s = world.session(Duration::zero());
    store
        .create_session(&s)
        .await
        .expect("created after the conflicts");
    assert_eq!(proxy.injected(), 2);
    assert_eq!(stored_status(&world, s.id).await, SessionStatus::Active);
}

#[tokio::test]
async fn a_failing_read_after_progress_answers_202_with_what_was_moved() {
    let world = World::new().await;
    // Enough sessions that the first shard the sweep reads holds some of them.
    let n = 200;
    world.seed(n).await;
    // Every read of connected markers after the first fails, retries included.
    let proxy = faults::proxy_with(
        &world.engine.endpoint,
        Plan {
            operation: ".Query",
            body_contains: layout::CONN_PREFIX.into(),
            skip: 1,
            times: usize::MAX / 2,
            fault: Fault::Fail,
        },
    )
    .await;
    let api = world.api_through(&proxy.endpoint);
    let first = sessions_tests::call(&api, world.event(Route::RevokeSessions)).await;
    assert_eq!(first.status, 202, "{:#}", first.body);
    let moved = first.body["disconnectedCount"].as_u64().expect("count");
    assert!(
        moved > 0 && moved < n as u64,
        "the first shard's sessions, reported: {moved}"
    );
    first.retry_after();
    let rest = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(rest.status, 200);
    assert_eq!(
        moved + rest.body["disconnectedCount"].as_u64().expect("count"),
        n as u64,
        "counts add up across the calls"
    );
}

#[tokio::test]
async fn one_unreadable_item_never_fails_a_list() {
    let world = World::new().await;
    let ids = world.seed(3).await;
    // A session this version cannot read (no id, no name), in the middle of the order: its
    // markers are in place, its item is not what the store writes.
    let bad = world.session(Duration::seconds(10) + Duration::milliseconds(1));
    world.put(&bad).await;
    world
        .store
        .client()
        .put_item()
        .table_name(world.store.table())
        .item(
            PK,
            AttributeValue::S(layout::session_pk(world.org, world.app.id, bad.id)),
        )
        .item(SK, AttributeValue::S(layout::SESSION_SK.into()))
        .item(STATUS, AttributeValue::S("active".into()))
        .send()
        .await
        .expect("raw put");
    for status in ["active", "all"] {
        let reply = world.list(&[("status", status)]).await;
        let mut listed = reply.ids();
        listed.sort();
        let mut want: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        want.sort();
        assert_eq!(
            listed, want,
            "{status}: every readable session, the bad one left out"
        );
    }
}

#[tokio::test]
async fn a_page_that_would_outgrow_the_response_stops_early_with_a_cursor() {
    let world = World::new().await;
    // Sixteen sessions of about 380 KB each: together over Lambda's 6 MB response limit.
    let padding = "x".repeat(380 * 1024);
    let mut ids = Vec::new();
    for i in 0..16 {
        let mut s = world.session(Duration::seconds(10 + i));
        s.client_info = Some(serde_json::json!({"name": "big", "version": "1", "pad": padding}));
        world.put(&s).await;
        ids.push(s.id.to_string());
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("status", "all"), ("limit", "100")];
        if let Some(c) = cursor.as_deref() {
            query.push(("cursor", c));
        }
        let reply = world.list(&query).await;
        let body = serde_json::to_vec(&reply.body).expect("json");
        assert!(body.len() < 6_000_000, "page of {} bytes", body.len());
        seen.extend(reply.ids());
        pages += 1;
        cursor = reply.next_cursor();
        if cursor.is_none() {
            break;
        }
    }
    assert!(pages >= 2, "the first page stopped early");
    assert_eq!(seen, ids, "every session exactly once, newest first");
}

#[tokio::test]
async fn a_connect_whose_answer_was_lost_makes_one_session() {
    let world = World::new().await;
    // The transaction commits, then its answer is lost, and so are the answers to the SDK's
    // own retries (three attempts): the store tries again with a new request.
    let proxy = faults::proxy_with(
        &world.engine.endpoint,
        Plan {
            operation: ".TransactWriteItems",
            body_contains: String::new(),
            skip: 0,
            times: 3,
            fault: Fault::LoseAnswer,
        },
    )
    .await;
    let api = world.api_through(&proxy.endpoint);
    let reply = sessions_tests::call(&api, world.connect_event(&serde_json::json!({}))).await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    assert_eq!(proxy.injected(), 3);
    let listed = world.list(&[("status", "all")]).await.ids();
    assert_eq!(
        listed,
        [reply.body["session"]["id"]
            .as_str()
            .expect("id")
            .to_string()],
        "one session, the one answered"
    );
}
