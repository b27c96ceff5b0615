//! The local runner (`sessions-admin events`): it polls the engine's stream and forwards each
//! event's EventBridge envelope to a receiver, as a rule's target gets it. A revoke-all reaches
//! the receiver well within a second; a receiver that is down gets every event once it is back.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use session_events::local::{LocalPublisher, StartAt};
use session_events::Handler;
use sessions::events::{Envelope, EventKind, SOURCE};
use sessions_tests::{Event, World};
use uuid::Uuid;

use super::support::{poller, Server};

/// The runner over `world`'s stream, forwarding to `receiver`, until the test ends.
fn start_runner(world: &World, receiver: &Server) -> Runner {
    let mut poller = poller(world, StartAt::TrimHorizon);
    let publisher =
        LocalPublisher::new(vec![receiver.endpoint.clone()], false).expect("the HTTP client");
    let handler = Handler::new(publisher).with_retry_delays(Vec::new());
    Runner(tokio::spawn(async move { poller.run(&handler).await }))
}

/// Stops the runner's task when the test ends, passed or failed.
struct Runner(tokio::task::JoinHandle<()>);

impl Drop for Runner {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The envelopes `receiver` took (answered 2xx), each checked for its source and detail-type.
fn envelopes(receiver: &Server, accepted: impl Fn(usize) -> bool) -> Vec<Envelope> {
    receiver
        .bodies()
        .into_iter()
        .enumerate()
        .filter(|(n, _)| accepted(*n))
        .map(|(_, body)| {
            let envelope: Envelope = serde_json::from_value(body.clone())
                .unwrap_or_else(|e| panic!("an EventBridge envelope: {e}: {body:#}"));
            assert_eq!(envelope.source, SOURCE);
            assert_eq!(envelope.detail_type, envelope.detail.kind.detail_type());
            assert!(!envelope.id.is_empty());
            envelope
        })
        .collect()
}

/// Waits (at most `limit`) until `done` holds of what the receiver took.
async fn until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done()
}

#[tokio::test]
async fn a_revoke_all_reaches_the_receiver_within_a_second() {
    let world = World::new().await;
    let receiver = Server::start(Box::new(|_, _: &Value| (200, json!({})))).await;
    let _runner = start_runner(&world, &receiver);
    let (id, _) = world.connect(&json!({"name": "watched"})).await;
    let connected = until(Duration::from_secs(10), || {
        envelopes(&receiver, |_| true)
            .iter()
            .any(|e| e.detail.session_id == Some(id))
    })
    .await;
    assert!(connected, "the connect event arrives");

    let revoke = world.as_caller(
        Event::revoke_all(&world.app.id.to_string()),
        "sessions:write",
    );
    let reply = world.call(revoke).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let answered = Instant::now();
    let arrived = until(Duration::from_secs(5), || {
        envelopes(&receiver, |_| true)
            .iter()
            .any(|e| e.detail.kind == EventKind::ApplicationSessionsRevoked)
    })
    .await;
    let latency = answered.elapsed();
    assert!(arrived, "the revocation arrives");
    assert!(latency < Duration::from_millis(800), "{latency:?}");
    let got = envelopes(&receiver, |_| true);
    let revoked = got
        .iter()
        .find(|e| e.detail.kind == EventKind::ApplicationSessionsRevoked)
        .expect("arrived");
    assert_eq!(revoked.detail.application_id, world.app.id);
    assert_eq!(revoked.detail.organization_id, world.org);
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_every_event_once_it_is_back() {
    const DOWN_FOR: usize = 6;
    let world = World::new().await;
    let receiver = Server::start(Box::new(|n, _: &Value| {
        if n < DOWN_FOR {
            (503, json!({"message": "down"}))
        } else {
            (200, json!({}))
        }
    }))
    .await;
    let _runner = start_runner(&world, &receiver);
    let (a, _) = world.connect(&json!({"name": "a"})).await;
    let (b, _) = world.connect(&json!({"name": "b"})).await;
    let reply = world.call(world.disconnect_event(a)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);

    let expected: HashSet<(EventKind, Option<Uuid>)> = HashSet::from([
        (EventKind::SessionConnected, Some(a)),
        (EventKind::SessionConnected, Some(b)),
        (EventKind::SessionDisconnected, Some(a)),
    ]);
    let kinds = || -> HashSet<(EventKind, Option<Uuid>)> {
        envelopes(&receiver, |n| n >= DOWN_FOR)
            .iter()
            .map(|e| (e.detail.kind, e.detail.session_id))
            .collect()
    };
    let all = until(Duration::from_secs(20), || kinds() == expected).await;
    assert!(all, "{:?} of {expected:?}", kinds());
    assert!(receiver.bodies().len() > DOWN_FOR, "it was refused first");
    // Duplicates, if any, carry the same id: one id per change.
    let ids: HashSet<Uuid> = envelopes(&receiver, |n| n >= DOWN_FOR)
        .iter()
        .map(|e| e.detail.event_id)
        .collect();
    assert_eq!(ids.len(), expected.len());
}
