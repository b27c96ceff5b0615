//! Every kind of change, made through the API (and the sweeps) on the real engine, read from
//! its real stream by the consumer's handler: exactly one event each, of the documented shape;
//! nothing for heartbeats, markers or a revoke-all that raises nothing; the same ids however
//! often and by whichever path the records come.

use std::collections::HashMap;

use chrono::Duration;
use lambda_http::lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use session_events::Handler;
use sessions::events::{EventKind, SessionEvent, DETAIL_VERSION};
use sessions::model::DisconnectReason;
use sessions::store::Budget;
use sessions::time;
use sessions_tests::{Event, World};
use uuid::Uuid;

use super::support::{
    assert_valid, batch, detail_schema, events_doc, json_blocks, published, Recorder,
};

fn connect_body(name: &str) -> Value {
    json!({ "name": name, "hostname": "laptop" })
}

fn of_kind(events: &[SessionEvent], kind: EventKind) -> Vec<&SessionEvent> {
    events.iter().filter(|e| e.kind == kind).collect()
}

/// The disconnect event of `session`, asserting there is exactly one.
fn disconnect_of(events: &[SessionEvent], session: Uuid) -> &SessionEvent {
    let found: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::SessionDisconnected && e.session_id == Some(session))
        .collect();
    assert_eq!(found.len(), 1, "{session}: {found:#?}");
    found[0]
}

#[tokio::test]
async fn every_kind_of_change_makes_exactly_one_event_of_the_documented_shape() {
    let world = World::new().await;
    // closed
    let (closed, _) = world.connect(&connect_body("closed")).await;
    let reply = world.call(world.disconnect_event(closed)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    // revoked
    let (revoked, _) = world.connect(&connect_body("revoked")).await;
    let reply = world.call(world.revoke_one_event(revoked)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    // timed_out: silent for five minutes, then the heartbeat timeout's sweep
    let mut silent = world.session(Duration::minutes(10));
    silent.last_seen_at = Some(time::to_millis_precision(time::now()) - Duration::minutes(5));
    world.put(&silent).await;
    let swept = world
        .store
        .sweep_timed_out(time::now(), Duration::seconds(90), &Budget::new(None))
        .await
        .expect("the sweep");
    assert_eq!(swept.disconnected, 1);
    // revoked_all, twice, with heartbeats before
    let (first, _) = world.connect(&connect_body("first")).await;
    let (second, _) = world.connect(&connect_body("second")).await;
    for _ in 0..3 {
        let reply = world.call(world.heartbeat_event(first, &json!({}))).await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
    }
    let reply = world
        .call(world.as_caller(
            Event::revoke_all(&world.app.id.to_string()),
            "sessions:write",
        ))
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);

    let events = published(&world).await;
    let connected: Vec<_> = of_kind(&events, EventKind::SessionConnected)
        .iter()
        .filter_map(|e| e.session_id)
        .collect();
    let mut expected = vec![closed, revoked, silent.id, first, second];
    let mut got = connected.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "one connect event per session");
    assert_eq!(of_kind(&events, EventKind::SessionDisconnected).len(), 5);
    assert_eq!(
        of_kind(&events, EventKind::ApplicationSessionsRevoked).len(),
        1
    );
    assert_eq!(events.len(), 11, "{events:#?}");

    // Each event says what the table holds.
    for (id, reason) in [
        (closed, DisconnectReason::Closed),
        (revoked, DisconnectReason::Revoked),
        (silent.id, DisconnectReason::TimedOut),
        (first, DisconnectReason::RevokedAll),
        (second, DisconnectReason::RevokedAll),
    ] {
        let (_, stored) = world
            .store
            .get_session(world.org, world.app.id, id)
            .await
            .expect("the session");
        let event = disconnect_of(&events, id);
        assert_eq!(event.reason, Some(reason), "{id}");
        assert_eq!(Some(event.occurred_at), stored.disconnected_at, "{id}");
        assert_eq!(
            (event.organization_id, event.application_id),
            (world.org, world.app.id)
        );
        let connect = events
            .iter()
            .find(|e| e.kind == EventKind::SessionConnected && e.session_id == Some(id))
            .expect("its connect");
        assert_eq!(Some(connect.occurred_at), stored.connected_at, "{id}");
        assert_eq!(connect.reason, None);
    }
    let app = world
        .store
        .get_application(world.org, world.app.id)
        .await
        .expect("the application");
    let revocation = of_kind(&events, EventKind::ApplicationSessionsRevoked)[0];
    assert_eq!(Some(revocation.occurred_at), app.revoked_before);
    assert_eq!((revocation.session_id, revocation.reason), (None, None));
    assert!(events.iter().all(|e| e.version == DETAIL_VERSION));
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), events.len(), "distinct changes, distinct ids");

    // The documented shape: every detail against the schema of docs/events.md.
    let details: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).expect("JSON"))
        .collect();
    assert_valid(&detail_schema(), &details);
}

#[tokio::test]
async fn the_documented_examples_are_events_and_fit_the_schema() {
    let doc = events_doc();
    let details: Vec<Value> = json_blocks(&doc)
        .into_iter()
        .filter_map(|b| {
            b.get("detail")
                .filter(|d| d.get("eventId").is_some())
                .cloned()
        })
        .collect();
    let mut kinds: Vec<EventKind> = details
        .iter()
        .map(|d| {
            serde_json::from_value::<SessionEvent>(d.clone())
                .unwrap_or_else(|e| panic!("an example detail is no event: {e}: {d:#}"))
                .kind
        })
        .collect();
    kinds.dedup();
    for kind in EventKind::ALL {
        assert!(
            kinds.contains(&kind),
            "docs/events.md has an example of {kind:?}"
        );
    }
    assert_valid(&detail_schema(), &details);
    // The schema refuses what no event is.
    let schema = detail_schema();
    let mut wrong = details[0].clone();
    wrong["kind"] = json!("session_paused");
    let check = std::panic::catch_unwind(|| assert_valid(&schema, &[wrong]));
    assert!(check.is_err(), "the schema takes an unknown kind");
}

#[tokio::test]
async fn heartbeats_markers_and_a_revoke_all_that_raises_nothing_make_no_event() {
    let world = World::new().await;
    let (id, _) = world.connect(&connect_body("beating")).await;
    let now = time::to_millis_precision(time::now());
    world
        .store
        .revoke_all(world.org, world.app.id, now, None)
        .await
        .expect("revoke-all");
    let before = published(&world).await;
    assert_eq!(
        before.len(),
        3,
        "connect, its revoke-all, the application's: {before:#?}"
    );

    // Another connect and its heartbeats: one event, whatever the markers and the beats write.
    let (other, _) = world.connect(&connect_body("other")).await;
    for _ in 0..3 {
        let reply = world.call(world.heartbeat_event(other, &json!({}))).await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
    }
    // A revoke-all at the same moment (a retry that finds its watermark in place): no change.
    world
        .store
        .revoke_all(world.org, world.app.id, now, None)
        .await
        .expect("revoke-all again");
    let after = published(&world).await;
    let new: Vec<_> = after.iter().filter(|e| !before.contains(e)).collect();
    assert_eq!(new.len(), 1, "{new:#?}");
    assert_eq!(new[0].kind, EventKind::SessionConnected);
    assert_eq!(new[0].session_id, Some(other));
    assert_ne!(other, id);
}

#[tokio::test]
async fn the_same_records_give_the_same_events_by_every_path() {
    let world = World::new().await;
    let (id, _) = world.connect(&connect_body("twice")).await;
    let reply = world.call(world.disconnect_event(id)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    world.seed(3).await;

    // Through Lambda's entry point, twice (a retried batch).
    let records = batch(&world).await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        let recorder = Recorder::default();
        let handler = Handler::new(recorder.clone());
        let mut context = Context::default();
        context.request_id = Uuid::new_v4().to_string();
        let answer = handler
            .handle(LambdaEvent::new(json!({ "Records": records }), context))
            .await
            .expect("a stream batch");
        assert_eq!(answer.resume_at(), None);
        runs.push(recorder.events());
    }
    assert_eq!(runs[0].len(), 5);
    assert_eq!(runs[0], runs[1], "the same ids again");
    // Record by record (a batch bisected).
    let recorder = Recorder::default();
    let handler = Handler::new(recorder.clone());
    for record in &records {
        handler
            .handle_records(std::slice::from_ref(record), "test")
            .await;
    }
    assert_eq!(recorder.events(), runs[0]);
    // The local runner, reading the stream itself.
    let recorder = Recorder::default();
    let handler = Handler::new(recorder.clone());
    let mut poller = super::support::poller(&world, session_events::local::StartAt::TrimHorizon);
    let polled = poller.poll(&handler).await.expect("a poll");
    assert!(
        polled.caught_up && polled.read == records.len(),
        "{polled:?}"
    );
    assert_eq!(recorder.events(), runs[0]);
}

#[tokio::test]
async fn records_that_cannot_be_read_are_skipped_and_the_rest_published() {
    let world = World::new().await;
    world.seed(2).await;
    let mut records = batch(&world).await;
    let good = records.len();
    // A session item that does not decode, between them; and something that is no record.
    let mut broken = records
        .iter()
        .find(|r| r["dynamodb"]["Keys"]["sk"]["S"] == "SESSION")
        .expect("a session record")
        .clone();
    broken["dynamodb"]["NewImage"]["status"] = json!({"S": "sleeping"});
    broken["dynamodb"]["SequenceNumber"] = json!("999999999999999999999");
    records.insert(1, broken);
    records.insert(2, json!({"unexpected": true}));
    let recorder = Recorder::default();
    let answer = Handler::new(recorder.clone())
        .handle_records(&records, "test")
        .await;
    assert_eq!(
        answer.resume_at(),
        None,
        "never a failure that would come back for ever"
    );
    assert_eq!(recorder.events().len(), 2);
    assert_eq!(records.len(), good + 2);
    let by_kind: HashMap<EventKind, usize> =
        recorder.events().iter().fold(HashMap::new(), |mut m, e| {
            *m.entry(e.kind).or_default() += 1;
            m
        });
    assert_eq!(by_kind.get(&EventKind::SessionConnected), Some(&2));
}

/// `events/session-events.json`: a batch as Lambda sends it (a connect with its markers, a
/// heartbeat, a close and its marker's delete) publishes exactly the connect and the close.
#[tokio::test]
async fn the_example_lambda_batch_publishes_its_connect_and_its_close() {
    let batch: Value = serde_json::from_str(include_str!("../../../../events/session-events.json"))
        .expect("the example batch is JSON");
    let recorder = Recorder::default();
    let answer = Handler::new(recorder.clone())
        .handle(LambdaEvent::new(batch.clone(), Context::default()))
        .await
        .expect("a stream batch");
    assert_eq!(answer.resume_at(), None);
    let events = recorder.events();
    let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.reason)).collect();
    assert_eq!(
        kinds,
        [
            (EventKind::SessionConnected, None),
            (
                EventKind::SessionDisconnected,
                Some(DisconnectReason::Closed)
            ),
        ]
    );
    let records = batch["Records"].as_array().expect("Records");
    let image = |i: usize, name: &str| records[i]["dynamodb"]["NewImage"][name]["S"].clone();
    assert_eq!(
        json!(time::format(&events[0].occurred_at)),
        image(0, "connectedAt")
    );
    assert_eq!(
        json!(time::format(&events[1].occurred_at)),
        image(4, "disconnectedAt")
    );
    for e in &events {
        assert_eq!(json!(e.session_id.map(|s| s.to_string())), image(0, "id"));
        assert_eq!(
            json!(e.organization_id.to_string()),
            image(0, "organizationId")
        );
    }
}
