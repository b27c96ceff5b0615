//! Publishing to EventBridge when it refuses: a stand-in for its API on a loopback port answers
//! `PutEvents` with failed entries (`FailedEntryCount`) or fails whole calls. Refused entries
//! are retried; what stays refused ends the batch at its first unpublished record (the partial
//! batch response), and Lambda's retry from there publishes the rest.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
use serde_json::{json, Value};
use session_events::{read_record, EventBridge, Handler, Publisher};
use sessions::config::TrustRoots;
use sessions::events::{EventKind, SessionEvent, SOURCE};
use sessions::store::transport;
use sessions_tests::process::alone;
use sessions_tests::World;
use uuid::Uuid;

use super::support::{batch, published, Server};

const BUS: &str = "sessions-test-bus";

/// The function's publisher, at the stand-in (the SDK's own retries off: the handler's are
/// under test).
fn eventbridge(endpoint: &str) -> EventBridge {
    let config = aws_sdk_eventbridge::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .http_client(transport::http_client(TrustRoots::default()).expect("the trust store"))
        .retry_config(RetryConfig::disabled())
        .build();
    EventBridge::new(aws_sdk_eventbridge::Client::from_conf(config), BUS)
}

/// PutEvents' answer: each entry accepted unless `refuse` says otherwise.
fn put_events_answer(body: &Value, refuse: impl Fn(&SessionEvent) -> bool) -> (u16, Value) {
    let entries: Vec<Value> = entries(body)
        .iter()
        .map(|(_, event)| {
            if refuse(event) {
                json!({"ErrorCode": "InternalFailure", "ErrorMessage": "stand-in refused it"})
            } else {
                json!({"EventId": Uuid::new_v4().to_string()})
            }
        })
        .collect();
    let failed = entries
        .iter()
        .filter(|e| e.get("ErrorCode").is_some())
        .count();
    (200, json!({"FailedEntryCount": failed, "Entries": entries}))
}

/// The entries of one PutEvents request: each checked for the bus, source and detail-type,
/// with its detail read back as an event.
fn entries(body: &Value) -> Vec<(Value, SessionEvent)> {
    body["Entries"]
        .as_array()
        .unwrap_or_else(|| panic!("a PutEvents request: {body:#}"))
        .iter()
        .map(|entry| {
            let detail = entry["Detail"].as_str().expect("Detail is a JSON string");
            let event: SessionEvent = serde_json::from_str(detail).expect("the detail is an event");
            assert_eq!(entry["Source"], SOURCE);
            assert_eq!(entry["EventBusName"], BUS);
            assert_eq!(entry["DetailType"], event.kind.detail_type());
            assert_eq!(
                entry["Time"].as_f64().map(|t| (t * 1000.0).round() as i64),
                Some(event.occurred_at.timestamp_millis()),
                "the entry's time is when it happened"
            );
            (entry.clone(), event)
        })
        .collect()
}

fn ids_of(bodies: &[Value]) -> Vec<Vec<Uuid>> {
    bodies
        .iter()
        .map(|b| entries(b).into_iter().map(|(_, e)| e.event_id).collect())
        .collect()
}

#[tokio::test]
async fn a_refused_entry_is_retried_and_the_batch_resumes_at_its_record() {
    let world = World::new().await;
    world.seed(12).await;
    let records = batch(&world).await;
    let events = published(&world).await;
    assert_eq!(events.len(), 12, "twelve connects: two PutEvents calls");
    // Two entries of the first call refused for good: the batch resumes at the earlier.
    let target = events[3].clone();
    let refused = [target.event_id, events[6].event_id];
    let refusing = Arc::new(AtomicBool::new(true));
    let answer = {
        let refusing = refusing.clone();
        move |_: usize, body: &Value| {
            put_events_answer(body, |e| {
                refusing.load(Ordering::SeqCst) && refused.contains(&e.event_id)
            })
        }
    };
    let stand_in = Server::start(Box::new(answer)).await;
    let handler = Handler::new(eventbridge(&stand_in.endpoint))
        .with_retry_delays(vec![Duration::from_millis(10); 2]);

    let answer = handler.handle_records(&records, "test").await;
    let resume_at = answer
        .resume_at()
        .expect("a record not published")
        .to_string();
    let carrier = records
        .iter()
        .position(|r| read_record(r).ok().and_then(|r| r.event) == Some(target.clone()))
        .expect("the record of the refused event");
    assert_eq!(
        resume_at, records[carrier]["dynamodb"]["SequenceNumber"],
        "the first record not published"
    );
    assert_eq!(answer.batch_item_failures.len(), 1);
    let calls = ids_of(&stand_in.bodies());
    let first_ten: Vec<Uuid> = events[..10].iter().map(|e| e.event_id).collect();
    assert_eq!(
        calls,
        vec![first_ten, refused.to_vec(), refused.to_vec()],
        "ten at once, then only the refused entries, twice; the second ten never"
    );

    // Lambda's retry: from that record on, to a bus that takes everything now.
    refusing.store(false, Ordering::SeqCst);
    let answer = handler.handle_records(&records[carrier..], "test").await;
    assert_eq!(answer.resume_at(), None);
    let retried: Vec<Uuid> = ids_of(&stand_in.bodies()[3..]).concat();
    let rest: Vec<Uuid> = events[3..].iter().map(|e| e.event_id).collect();
    assert_eq!(retried, rest, "the rest, none of what went before");
}

#[tokio::test]
async fn a_failed_call_is_retried_whole_and_a_bus_that_stays_down_fails_the_first_record() {
    let world = World::new().await;
    world.seed(3).await;
    let records = batch(&world).await;
    let down_then_up = |n: usize, body: &Value| match n {
        0 => (
            500,
            json!({"__type": "InternalException", "message": "stand-in down"}),
        ),
        _ => put_events_answer(body, |_| false),
    };
    let stand_in = Server::start(Box::new(down_then_up)).await;
    let handler = Handler::new(eventbridge(&stand_in.endpoint))
        .with_retry_delays(vec![Duration::from_millis(10)]);
    let answer = handler.handle_records(&records, "test").await;
    assert_eq!(answer.resume_at(), None);
    let calls = ids_of(&stand_in.bodies());
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0], calls[1]);
    assert_eq!(calls[0].len(), 3);

    let down = |_: usize, _: &Value| (500, json!({"__type": "InternalException"}));
    let stand_in = Server::start(Box::new(down)).await;
    let handler = Handler::new(eventbridge(&stand_in.endpoint))
        .with_retry_delays(vec![Duration::from_millis(10)]);
    let answer = handler.handle_records(&records, "test").await;
    let first = records
        .iter()
        .find(|r| read_record(r).ok().and_then(|r| r.event).is_some())
        .expect("a record with an event");
    assert_eq!(
        answer.resume_at(),
        first["dynamodb"]["SequenceNumber"].as_str(),
        "nothing went out: from the first record with an event"
    );
    assert_eq!(stand_in.bodies().len(), 2, "one call and one retry");
}

/// The function's own configuration: the bus from `SESSIONS_EVENT_BUS`, EventBridge at
/// `AWS_ENDPOINT_URL_EVENTBRIDGE` (alone in its process: it sets the environment).
#[test]
fn the_function_publishes_to_the_configured_bus_and_endpoint() {
    let name = concat!(
        module_path!(),
        "::the_function_publishes_to_the_configured_bus_and_endpoint"
    );
    if alone(name, Duration::from_secs(120)) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(configured());
    }
}

async fn configured() {
    let stand_in = Server::start(Box::new(|_, body: &Value| {
        put_events_answer(body, |_| false)
    }))
    .await;
    for (name, value) in [
        ("AWS_ENDPOINT_URL_EVENTBRIDGE", stand_in.endpoint.as_str()),
        ("SESSIONS_EVENT_BUS", BUS),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ] {
        // This process runs this one test, on one thread, before any client exists.
        std::env::set_var(name, value);
    }
    let publisher = EventBridge::from_env().await.expect("configured");
    let event = SessionEvent {
        version: sessions::events::DETAIL_VERSION.into(),
        event_id: Uuid::new_v4(),
        kind: EventKind::ApplicationSessionsRevoked,
        organization_id: Uuid::new_v4(),
        application_id: Uuid::new_v4(),
        session_id: None,
        occurred_at: sessions::time::to_millis_precision(sessions::time::now()),
        reason: None,
    };
    assert_eq!(
        publisher.publish(std::slice::from_ref(&event)).await,
        Vec::<usize>::new()
    );
    let bodies = stand_in.bodies();
    assert_eq!(bodies.len(), 1);
    let sent = entries(&bodies[0]);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1, event);
}
