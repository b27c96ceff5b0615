//! The scheduled sweep (`functions/sweep-sessions`), its handler invoked in-process as Lambda
//! invokes it (an empty event, a context with a deadline) against a local engine: a session
//! whose last sign of life is older than the heartbeat timeout is stored disconnected with
//! reason `timed_out` and `disconnectedAt` = that last sign of life + the timeout, with its
//! disconnect event; a fresh one is untouched; the sweep reads the `live` index and never scans.

use std::collections::{BTreeSet, HashMap};

use chrono::Duration;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use sessions::model::{DisconnectReason, Session, SessionStatus};
use sessions::store::{Budget, DynamoStore};
use sessions::time::{self, Timestamp};
use sessions_tests::calls::{counting_client, CallCounter};
use sessions_tests::{session_of, World};
use sweep_sessions::Sweeper;
use uuid::Uuid;

/// The default heartbeat timeout, which the test world's configuration leaves as it is.
const TIMEOUT: Duration = Duration::seconds(90);

/// The operations the sweeper's role allows (security::template's row for sweep-sessions).
const ALLOWED: [&str; 3] = ["Query", "UpdateItem", "DeleteItem"];

/// The world's sweeper, its requests counted.
fn sweeper(world: &World) -> (Sweeper, CallCounter) {
    let counter = CallCounter::default();
    let store = DynamoStore::new(
        counting_client(&world.engine.endpoint, counter.clone()),
        world.store.table(),
    );
    (Sweeper::new(&world.config, store), counter)
}

/// What Scheduler sends: `{}`, with the invocation's deadline `left` from now.
fn scheduled_event(left: std::time::Duration) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = Uuid::new_v4().to_string();
    let deadline = chrono::Utc::now() + Duration::from_std(left).expect("a duration");
    context.deadline = u64::try_from(deadline.timestamp_millis()).expect("after 1970");
    LambdaEvent::new(json!({}), context)
}

/// An active session of `world`'s application whose last connect or heartbeat was `silent` ago.
async fn silent_for(world: &World, silent: Duration) -> Session {
    let now = time::to_millis_precision(time::now());
    let mut session = session_of(&world.app, now - silent - Duration::minutes(5));
    session.last_seen_at = Some(now - silent);
    session.last_active_at = Some(now - silent);
    world.put(&session).await;
    session
}

async fn stored(world: &World, session: &Session) -> Session {
    world
        .store
        .get_session(session.organization_id, session.application_id, session.id)
        .await
        .expect("the session")
        .1
}

fn operations(counter: &CallCounter) -> BTreeSet<String> {
    counter.by_operation().into_keys().collect()
}

#[tokio::test]
async fn silent_sessions_are_stored_timed_out_and_fresh_ones_are_untouched() {
    let world = World::new().await;
    assert_eq!(world.config.heartbeat_timeout, Some(TIMEOUT));
    let long_silent = silent_for(&world, Duration::minutes(30)).await;
    let just_silent = silent_for(&world, TIMEOUT + Duration::seconds(5)).await;
    let fresh = silent_for(&world, Duration::seconds(10)).await;
    let almost = silent_for(&world, TIMEOUT - Duration::seconds(10)).await;
    // Closed long ago: the sweep leaves it as it was.
    let mut closed = session_of(&world.app, time::now() - Duration::hours(2));
    closed.status = SessionStatus::Disconnected;
    closed.disconnected_at = Some(time::to_millis_precision(time::now() - Duration::hours(1)));
    closed.last_seen_at = Some(time::to_millis_precision(time::now() - Duration::hours(1)));
    world.put(&closed).await;
    // Another organization's silent session: the sweep covers the whole table.
    let other_org = world.add_app(Uuid::new_v4()).await;
    let mut elsewhere = session_of(&other_org, time::now() - Duration::hours(1));
    elsewhere.last_seen_at = Some(time::to_millis_precision(
        time::now() - Duration::minutes(10),
    ));
    world.put(&elsewhere).await;

    let (sweeper, counter) = sweeper(&world);
    let answer = sweeper
        .handle(scheduled_event(std::time::Duration::from_secs(29)))
        .await
        .expect("the sweep succeeds");
    assert_eq!(answer, json!({"disconnected": 3, "complete": true}));

    for session in [&long_silent, &just_silent, &elsewhere] {
        let s = stored(&world, session).await;
        let seen = session.last_seen_at.expect("set");
        assert_eq!(s.status, SessionStatus::Disconnected, "{}", session.id);
        assert_eq!(s.disconnect_reason, Some(DisconnectReason::TimedOut));
        assert_eq!(
            s.disconnected_at,
            Some(seen + TIMEOUT),
            "last sign of life + timeout"
        );
    }
    for session in [&fresh, &almost] {
        let s = stored(&world, session).await;
        assert_eq!(s.status, SessionStatus::Active, "{}", session.id);
        assert_eq!((s.disconnected_at, s.disconnect_reason), (None, None));
    }
    let s = stored(&world, &closed).await;
    assert_eq!(
        s.disconnect_reason, None,
        "a closed session is not re-disconnected"
    );
    assert_eq!(s.disconnected_at, closed.disconnected_at);

    // The API reads what was stored: disconnected at the same moment it read before the sweep.
    let read = world.read(just_silent.id).await;
    assert_eq!(read["status"], "disconnected");
    assert_eq!(read["derivedStatus"], "disconnected");
    let expected_at = just_silent.last_seen_at.expect("set") + TIMEOUT;
    assert_eq!(read["disconnectedAt"], time::format(&expected_at));
    assert_eq!(world.read(fresh.id).await["derivedStatus"], "active");

    // The live index, never the table: no Scan, and only what the sweeper's role allows.
    let ops = operations(&counter);
    assert!(!ops.contains("Scan"), "{ops:?}");
    assert!(ops.contains("Query"), "{ops:?}");
    assert!(
        ops.iter().all(|op| ALLOWED.contains(&op.as_str())),
        "{ops:?}"
    );

    // Once stored, there is nothing left to do.
    counter.reset();
    let again = sweeper
        .handle(scheduled_event(std::time::Duration::from_secs(29)))
        .await
        .expect("the sweep succeeds");
    assert_eq!(again, json!({"disconnected": 0, "complete": true}));
    assert!(!operations(&counter).contains("Scan"));
}

#[tokio::test]
async fn each_timed_out_session_has_one_disconnect_event_with_its_reason() {
    let world = World::new().await;
    let silent = silent_for(&world, Duration::minutes(5)).await;
    let fresh = silent_for(&world, Duration::seconds(1)).await;
    let (sweeper, _) = sweeper(&world);
    for _ in 0..2 {
        sweeper
            .handle(scheduled_event(std::time::Duration::from_secs(29)))
            .await
            .expect("the sweep succeeds");
    }

    let disconnects: Vec<_> = world
        .stream_records()
        .await
        .into_iter()
        .filter_map(|r| r.dynamodb)
        .filter(|d| {
            string(d.old_image(), "status").as_deref() == Some("active")
                && string(d.new_image(), "status").as_deref() == Some("disconnected")
        })
        .collect();
    assert_eq!(disconnects.len(), 1, "one record, however many sweeps");
    let image = disconnects[0].new_image();
    assert_eq!(
        string(image, "pk").as_deref(),
        Some(
            format!(
                "ORG#{}#APP#{}#SESSION#{}",
                world.org, world.app.id, silent.id
            )
            .as_str()
        )
    );
    assert_eq!(
        string(image, "disconnectReason").as_deref(),
        Some("timed_out")
    );
    let at = silent.last_seen_at.expect("set") + TIMEOUT;
    assert_eq!(string(image, "disconnectedAt"), Some(time::format(&at)));
    assert_eq!(stored(&world, &fresh).await.status, SessionStatus::Active);
}

/// A heartbeat keeps a session out of the sweep: the timeout counts from the last sign of life.
#[tokio::test]
async fn a_heartbeat_keeps_a_session_from_timing_out() {
    let world = World::new().await;
    let beating = silent_for(&world, TIMEOUT - Duration::seconds(5)).await;
    let reply = world
        .call(world.heartbeat_event(beating.id, &json!({})))
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);

    // Sweep as of 10 s from now: without the heartbeat the session would be past its timeout.
    let (sweeper, _) = sweeper(&world);
    let later: Timestamp = time::now() + Duration::seconds(10);
    let answer = sweeper
        .sweep(later, Budget::unbounded(), "test")
        .await
        .expect("the sweep succeeds");
    assert_eq!(answer["disconnected"], 0);
    assert_eq!(stored(&world, &beating).await.status, SessionStatus::Active);
}

#[tokio::test]
async fn a_sweep_out_of_time_ends_normally_and_the_next_one_finishes() {
    let world = World::new().await;
    let silent = silent_for(&world, Duration::minutes(5)).await;
    let (sweeper, _) = sweeper(&world);

    // No time left at all: nothing done, nothing failed, the next minute's sweep goes on.
    let short = sweeper
        .handle(scheduled_event(std::time::Duration::ZERO))
        .await
        .expect("running out of time is no failure");
    assert_eq!(short, json!({"disconnected": 0, "complete": false}));
    assert_eq!(stored(&world, &silent).await.status, SessionStatus::Active);

    let next = sweeper
        .handle(scheduled_event(std::time::Duration::from_secs(29)))
        .await
        .expect("the sweep succeeds");
    assert_eq!(next, json!({"disconnected": 1, "complete": true}));
}

#[tokio::test]
async fn with_the_timeout_off_the_sweep_does_nothing() {
    let world = World::with_env(|vars| {
        vars.insert("SESSIONS_HEARTBEAT_TIMEOUT_SECONDS".into(), "0".into());
    })
    .await;
    assert_eq!(world.config.heartbeat_timeout, None);
    let silent = silent_for(&world, Duration::hours(3)).await;
    let (sweeper, counter) = sweeper(&world);
    let answer = sweeper
        .handle(scheduled_event(std::time::Duration::from_secs(29)))
        .await
        .expect("a skipped sweep succeeds");
    assert!(answer["skipped"].is_string(), "{answer}");
    assert_eq!(counter.total(), 0, "not one request");
    assert_eq!(stored(&world, &silent).await.status, SessionStatus::Active);
    // Quiet for hours: idle, never disconnected while the timeout is off.
    assert_eq!(world.read(silent.id).await["derivedStatus"], "idle");
}

#[tokio::test]
async fn an_unreachable_table_is_a_normal_end_for_the_next_sweep_to_retry() {
    let world = World::new().await;
    silent_for(&world, Duration::minutes(5)).await;
    let store = DynamoStore::new(
        sessions_tests::client_for(&sessions_tests::faults::unreachable().await),
        world.store.table(),
    );
    let sweeper = Sweeper::new(&world.config, store);
    let answer = sweeper
        .handle(scheduled_event(std::time::Duration::from_secs(5)))
        .await
        .expect("unavailable is no invocation error");
    assert_eq!(answer["complete"], false);
    assert_eq!(answer["error"], "unavailable");
}

type Image = HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>;

fn string(image: Option<&Image>, name: &str) -> Option<String> {
    image?.get(name)?.as_s().ok().cloned()
}
