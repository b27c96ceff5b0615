//! Push delivery of revocations (RFC 8935, CAEP 1.0 `session-revoked`): through the local push
//! worker's HTTP endpoint to receivers on loopback ports, verified by joserfc; tenants kept
//! apart; receivers that are down get their SETs when they come back; those that keep failing
//! end in the dead letters.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use sessions::events::{Envelope, EventKind};
use sessions::model::DisconnectReason;
use sessions::route::Route;
use sessions::ssf::queue::{handle_message, Message};
use sessions::ssf::transmitter::{DeadLetter, Job, Scheduler};
use sessions::ssf::SESSION_REVOKED;
use uuid::Uuid;

use super::rig::{free_addr, revoked, revoked_all, session_event, Receiver, Rig, ISSUER};

#[tokio::test]
async fn revocations_become_caep_session_revoked_sets_that_joserfc_verifies() {
    let rig = Rig::new(3).await;
    let receiver = Receiver::start(202).await;
    rig.create_stream(&receiver.url).await;
    let (org, app) = (rig.world.org, rig.world.app.id);
    let one = revoked(org, app);
    let all = revoked_all(org, app);
    rig.publish(one.clone()).await;
    receiver.wait_for(1).await;
    rig.publish(all.clone()).await;
    let pushed = receiver.wait_for(2).await;
    for p in &pushed {
        assert_eq!(p.content_type.as_deref(), Some("application/secevent+jwt"));
        assert_eq!(p.authorization.as_deref(), Some("Bearer receiver-secret"));
    }
    let verified = rig.verify_with_joserfc(&pushed).await;
    let mut jtis = HashSet::new();
    for ((header, claims), event) in verified.iter().zip([&one, &all]) {
        assert_eq!(header["typ"], "secevent+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], "svc-test");
        assert!(claims["iat"].as_i64().is_some());
        assert!(jtis.insert(claims["jti"].as_str().expect("jti").to_string()));
        assert_eq!(claims["txn"], event.event_id.to_string());
        assert_eq!(
            claims["events"],
            json!({SESSION_REVOKED: {
                "event_timestamp": sessions::ssf::set::numeric_date(event.occurred_at),
                "initiating_entity": "admin",
            }})
        );
        let mut subject = json!({
            "format": "complex",
            "application": {"format": "opaque", "id": app.to_string()},
            "tenant": {"format": "opaque", "id": org.to_string()},
        });
        if let Some(session) = event.session_id {
            subject["session"] = json!({"format": "opaque", "id": session.to_string()});
        }
        assert_eq!(claims["sub_id"], subject);
    }
    assert!(
        verified[1].1["sub_id"].get("session").is_none(),
        "revoke-all names no session"
    );
}

#[tokio::test]
async fn closes_timeouts_connects_and_the_sessions_of_a_revoke_all_send_nothing() {
    let rig = Rig::new(3).await;
    let receiver = Receiver::start(202).await;
    rig.create_stream(&receiver.url).await;
    let (org, app) = (rig.world.org, rig.world.app.id);
    let session = Some(Uuid::new_v4());
    for (kind, reason) in [
        (EventKind::SessionConnected, None),
        (
            EventKind::SessionDisconnected,
            Some(DisconnectReason::Closed),
        ),
        (
            EventKind::SessionDisconnected,
            Some(DisconnectReason::TimedOut),
        ),
        (
            EventKind::SessionDisconnected,
            Some(DisconnectReason::RevokedAll),
        ),
    ] {
        rig.publish(session_event(org, app, kind, session, reason))
            .await;
    }
    // A revocation after them: once it is in, the others had their chance.
    let marker = revoked(org, app);
    rig.publish(marker.clone()).await;
    let pushed = receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.attempts(), 1, "only the revocation was pushed");
    let (_, claims) = &rig.verify_with_joserfc(&pushed).await[0];
    assert_eq!(claims["txn"], marker.event_id.to_string());
}

#[tokio::test]
async fn one_organizations_receiver_never_gets_anothers_events() {
    let rig = Rig::new(3).await;
    let (org_a, org_b) = (rig.world.org, Uuid::new_v4());
    let app_b = rig.world.add_app(org_b).await.id;
    let (rx_a, rx_b) = (Receiver::start(202).await, Receiver::start(202).await);
    rig.create_stream_as(org_a, &rx_a.url).await;
    rig.create_stream_as(org_b, &rx_b.url).await;
    let events = [
        revoked(org_a, rig.world.app.id),
        revoked(org_b, app_b),
        revoked_all(org_b, app_b),
        revoked_all(org_a, rig.world.app.id),
    ];
    for event in &events {
        rig.publish(event.clone()).await;
    }
    let got_a = rx_a.wait_for(2).await;
    let got_b = rx_b.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((rx_a.attempts(), rx_b.attempts()), (2, 2));
    for (got, org) in [(got_a, org_a), (got_b, org_b)] {
        let verified = rig.verify_with_joserfc(&got).await;
        let txns: HashSet<String> = verified
            .iter()
            .map(|(_, c)| {
                assert_eq!(c["sub_id"]["tenant"]["id"], org.to_string());
                c["txn"].as_str().expect("txn").to_string()
            })
            .collect();
        let expected: HashSet<String> = events
            .iter()
            .filter(|e| e.organization_id == org)
            .map(|e| e.event_id.to_string())
            .collect();
        assert_eq!(txns, expected);
    }
}

#[tokio::test]
async fn paused_disabled_and_deleted_streams_get_nothing() {
    let rig = Rig::new(3).await;
    let (paused, disabled, deleted, live) = (
        Receiver::start(202).await,
        Receiver::start(202).await,
        Receiver::start(202).await,
        Receiver::start(202).await,
    );
    for (receiver, status) in [(&paused, "paused"), (&disabled, "disabled")] {
        let id = rig.create_stream(&receiver.url).await;
        let reply = rig
            .call(
                rig.event(Route::SsfStatusUpdate)
                    .json_body(&json!({"stream_id": id, "status": status})),
            )
            .await;
        assert_eq!(reply.status, 200);
    }
    let id = rig.create_stream(&deleted.url).await;
    let reply = rig
        .call(rig.event(Route::SsfStreamDelete).query("stream_id", &id))
        .await;
    assert_eq!(reply.status, 204);
    rig.create_stream(&live.url).await;
    rig.publish(revoked(rig.world.org, rig.world.app.id)).await;
    live.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        (paused.attempts(), disabled.attempts(), deleted.attempts()),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn a_receiver_that_answers_503_gets_its_set_when_it_comes_back() {
    let rig = Rig::new(8).await;
    let receiver = Receiver::start(503).await;
    rig.create_stream(&receiver.url).await;
    rig.publish(revoked(rig.world.org, rig.world.app.id)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.attempts() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no retry after a 503"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    receiver.answer(202);
    let pushed = receiver.wait_for(1).await;
    rig.verify_with_joserfc(&pushed).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.accepted().len(), 1, "accepted once, never again");
    assert!(rig.dead_letters().is_empty());
}

#[tokio::test]
async fn a_receiver_that_is_not_listening_gets_its_set_once_it_listens() {
    let rig = Rig::new(8).await;
    let addr = free_addr().await;
    rig.create_stream(&format!("http://{addr}/events")).await;
    rig.publish(revoked(rig.world.org, rig.world.app.id)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let receiver = Receiver::start_on(addr, 202).await;
    let pushed = receiver.wait_for(1).await;
    rig.verify_with_joserfc(&pushed).await;
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_ends_in_the_dead_letters_and_a_replay_delivers_it() {
    let rig = Rig::new(3).await;
    let receiver = Receiver::start(503).await;
    let stream_id = rig.create_stream(&receiver.url).await;
    let event = revoked(rig.world.org, rig.world.app.id);
    rig.publish(event.clone()).await;
    let letter = wait_for_dead_letter(&rig).await;
    assert_eq!(receiver.attempts(), 3, "max attempts, then no more");
    assert_eq!(letter["reason"], "attempts exhausted");
    assert_eq!(letter["job"]["attempt"], 3);
    assert_eq!(letter["job"]["streamId"], stream_id);
    assert_eq!(letter["job"]["eventId"], event.event_id.to_string());
    assert_eq!(letter["lastOutcome"]["outcome"], "failed");

    // The operator's replay: the dead letter, posted back once the receiver is fixed.
    receiver.answer(202);
    rig.post_to_worker(&letter).await;
    let pushed = receiver.wait_for(1).await;
    let (_, claims) = &rig.verify_with_joserfc(&pushed).await[0];
    assert_eq!(claims["jti"], letter["job"]["jti"], "the very same SET");
}

#[tokio::test]
async fn a_refused_set_is_dead_lettered_at_once() {
    let rig = Rig::new(5).await;
    let receiver = Receiver::start(400).await;
    rig.create_stream(&receiver.url).await;
    rig.publish(revoked(rig.world.org, rig.world.app.id)).await;
    let letter = wait_for_dead_letter(&rig).await;
    assert_eq!(letter["reason"], "refused");
    assert_eq!(letter["lastOutcome"]["err"], "invalid_audience");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.attempts(), 1, "a refusal is not retried");
}

async fn wait_for_dead_letter(rig: &Rig) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(letter) = rig.dead_letters().into_iter().next() {
            return letter;
        }
        assert!(tokio::time::Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The SQS worker's scheduler, in memory: what `ssf-push` would send to its queues.
#[derive(Default)]
struct Recorded {
    retries: Mutex<Vec<(Job, Duration)>>,
    dead: Mutex<Vec<DeadLetter>>,
}

impl Scheduler for Recorded {
    async fn retry(&self, job: Job, delay: Duration) -> Result<(), String> {
        self.retries.lock().expect("lock").push((job, delay));
        Ok(())
    }
    async fn dead_letter(&self, letter: DeadLetter) -> Result<(), String> {
        self.dead.lock().expect("lock").push(letter);
        Ok(())
    }
}

/// `ssf-push`'s message handling: a failed stream's retry is enqueued for that stream alone,
/// with the same SET, and handling that retry never reaches the receiver that accepted.
#[tokio::test]
async fn the_queue_worker_retries_the_failed_stream_alone() {
    let rig = Rig::new(4).await;
    let (ok, down) = (Receiver::start(202).await, Receiver::start(503).await);
    rig.create_stream(&ok.url).await;
    let down_id = rig.create_stream(&down.url).await;
    let scheduler = Recorded::default();
    let body = serde_json::to_string(&Envelope::of(revoked(rig.world.org, rig.world.app.id)))
        .expect("json");
    let message: Message = serde_json::from_str(&body).expect("an envelope is a message");
    handle_message(&rig.transmitter, &scheduler, message)
        .await
        .expect("handled");
    assert_eq!(ok.accepted().len(), 1);
    let (job, delay) = scheduler
        .retries
        .lock()
        .expect("lock")
        .pop()
        .expect("one retry");
    assert!(
        scheduler.retries.lock().expect("lock").is_empty(),
        "one retry only"
    );
    assert_eq!(job.stream_id.to_string(), down_id);
    assert_eq!(job.attempt, 2);
    assert!(delay >= Duration::from_millis(25) && delay <= Duration::from_millis(50));

    down.answer(202);
    let retry: Message =
        serde_json::from_str(&serde_json::to_string(&job).expect("json")).expect("a retry");
    handle_message(&rig.transmitter, &scheduler, retry)
        .await
        .expect("handled");
    assert_eq!(down.accepted().len(), 1);
    assert_eq!(down.accepted()[0].set, job.set, "the same SET");
    assert_eq!(
        ok.attempts(),
        1,
        "never sent again to the receiver that accepted"
    );
    assert!(scheduler.dead.lock().expect("lock").is_empty());
}

/// `ssf-push`'s batch: a message that is not a delivery message is reported failed alone (SQS
/// hands back that one, and moves it to the dead letters after its receives); the event beside
/// it is delivered and not reported.
#[tokio::test]
async fn a_batch_reports_only_the_messages_that_failed() {
    let rig = Rig::new(3).await;
    let receiver = Receiver::start(202).await;
    rig.create_stream(&receiver.url).await;
    // Two records as SQS hands them to a function (the members it always sends).
    let record = |id: &str, body: String| {
        json!({
            "messageId": id,
            "receiptHandle": format!("AQEB{id}"),
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796083688000"},
            "messageAttributes": {},
            "md5OfBody": "0",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:SsfDeliveryQueue",
            "awsRegion": "us-east-1",
        })
    };
    let envelope = Envelope::of(revoked(rig.world.org, rig.world.app.id));
    let batch: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(json!({
        "Records": [
            record("good", serde_json::to_string(&envelope).expect("json")),
            record("bad", "{\"not\": \"a delivery\"}".to_string()),
        ]
    }))
    .expect("an SQS event");
    let response =
        sessions::ssf::queue::handle_batch(&rig.transmitter, &Recorded::default(), batch).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, ["bad"]);
    assert_eq!(receiver.accepted().len(), 1);
}
