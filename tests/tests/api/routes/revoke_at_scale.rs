//! Revoke-all under pressure: deadlines, throttling, lost answers, connects and touches racing
//! it, and the change-stream records that carry each disconnect to the connection gateway.

use std::collections::HashMap;
use std::time::Instant;

use chrono::Duration;
use lambda_http::RequestExt;
use sessions::model::DisconnectReason;
use sessions::model::{SessionStatus, StatusContext};
use sessions::route::Route;
use sessions::store::{Disconnected, Heartbeat, StoreError};
use sessions::time;
use sessions_tests::faults::{self, Fault, Plan};
use sessions_tests::{Reply, World};

/// Stored statuses of every session of the world's application.
async fn stored(world: &World) -> Vec<sessions::model::Session> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let chunk = world
            .store
            .query_sessions(
                world.org,
                world.app.id,
                sessions::params::ListFilter::All,
                after,
                500,
                &sessions::store::Budget::new(None),
            )
            .await
            .expect("query");
        after = chunk
            .sessions
            .last()
            .map(sessions::model::Session::position);
        all.extend(chunk.sessions);
        if chunk.exhausted {
            return all;
        }
    }
}

#[tokio::test]
async fn out_of_time_still_leaves_nothing_connected_and_the_next_call_finishes() {
    let world = World::new().await;
    world.seed(40).await;
    let first = world
        .store
        .revoke_all(world.org, world.app.id, time::now(), Some(Instant::now()))
        .await
        .expect("revoke");
    assert!(!first.complete, "no time at all: the sweep cannot finish");
    assert_eq!(first.disconnected, 0);
    assert!(
        world.list(&[]).await.ids().is_empty(),
        "the watermark already makes every session read disconnected"
    );
    let second = world
        .store
        .revoke_all(world.org, world.app.id, time::now(), None)
        .await
        .expect("revoke");
    assert!(second.complete);
    assert_eq!(first.disconnected + second.disconnected, 40);
    assert!(stored(&world)
        .await
        .iter()
        .all(|s| s.status == SessionStatus::Disconnected));
}

#[tokio::test]
async fn handler_answers_202_with_retry_after_when_the_invocation_runs_out_of_time() {
    let world = World::new().await;
    world.seed(10).await;
    let mut context = lambda_http::Context::default();
    // No time left: the watermark is written, the sweep does not start.
    context.deadline = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let req = world
        .event(Route::RevokeSessions)
        .request()
        .with_lambda_context(context);
    let reply = Reply::from_response(world.api.handle(Route::RevokeSessions, req).await);
    assert_eq!(reply.status, 202, "{:#}", reply.body);
    assert_eq!(
        reply.body,
        serde_json::json!({"success": true, "disconnectedCount": 0, "complete": false})
    );
    reply.retry_after();
    assert!(world.list(&[]).await.ids().is_empty());

    let again = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body,
        serde_json::json!({"success": true, "disconnectedCount": 10})
    );
}

#[tokio::test]
async fn throttled_writes_are_retried_and_counted_once() {
    let world = World::new().await;
    let ids = world.seed(60).await;
    let (flaky, stuck) = (ids[10], ids[20]);
    // One session's write is throttled on six attempts in a row: more than the SDK's own
    // three, so the store's retry loop is what moves it. Another's is throttled on every
    // attempt: the call leaves it, answers 202, and the next call moves it.
    let plan = |id: uuid::Uuid, times: usize| Plan {
        operation: ".UpdateItem",
        body_contains: id.to_string(),
        skip: 0,
        times,
        fault: Fault::Throttle,
    };
    let first_proxy = faults::proxy_with(&world.engine.endpoint, plan(flaky, 6)).await;
    let second_proxy = faults::proxy_with(&first_proxy.endpoint, plan(stuck, usize::MAX / 2)).await;
    let api = world.api_through(&second_proxy.endpoint);
    let reply = sessions_tests::call(&api, world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.status, 202, "{:#}", reply.body);
    reply.retry_after();
    assert_eq!(reply.body["disconnectedCount"], 59);
    assert_eq!(
        first_proxy.injected(),
        6,
        "the flaky write was refused six times, then moved"
    );
    assert!(
        second_proxy.injected() > 3,
        "the stuck write went through the store's retries: {}",
        second_proxy.injected()
    );
    let rest = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(rest.status, 200, "{:#}", rest.body);
    assert_eq!(
        rest.body["disconnectedCount"], 1,
        "counts add up across the calls"
    );
    assert!(stored(&world)
        .await
        .iter()
        .all(|s| s.status == SessionStatus::Disconnected));
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_counted_once() {
    let world = World::new().await;
    world.seed(30).await;
    // Every other UpdateItem reaches the table, but its answer never comes back: the SDK
    // retries, the retry's condition fails, and the revocation id shows it was ours.
    let proxy = faults::proxy(&world.engine.endpoint, ".UpdateItem", 2, Fault::LoseAnswer).await;
    let api = world.api_through(&proxy.endpoint);
    let reply = sessions_tests::call(&api, world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["disconnectedCount"], 30);
    assert!(proxy.injected() >= 10);
    let again = sessions_tests::call(&api, world.event(Route::RevokeSessions)).await;
    assert_eq!(again.body["disconnectedCount"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_revokes_connects_and_touches_stay_exact_over_many_trials() {
    let mut raced = 0;
    for trial in 0..8 {
        let world = World::new().await;
        world.seed(25).await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

        // A connection gateway: connects new clients and touches existing ones meanwhile.
        let gateway = {
            let store = world.store.clone();
            let app = world.app.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut created, mut refused) = (Vec::new(), 0usize);
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let s = sessions_tests::session_of(&app, time::now());
                    match store.create_session(&s).await {
                        Ok(()) => created.push(s.id),
                        Err(StoreError::RevokedAfterConnect) => refused += 1,
                        Err(e) => panic!("create failed: {e}"),
                    }
                    if let Some(id) = created.first() {
                        let beat = Heartbeat {
                            last_active_at: Some(time::now()),
                            token_expires_at: None,
                        };
                        match store
                            .heartbeat(app.organization_id, app.id, *id, &beat, time::now(), None)
                            .await
                        {
                            Ok(_) | Err(StoreError::SessionDisconnected) => {}
                            Err(e) => panic!("heartbeat failed: {e}"),
                        }
                    }
                    tokio::task::yield_now().await;
                }
                (created, refused)
            })
        };

        let calls: Vec<_> = (0..3)
            .map(|_| {
                let started = time::now();
                let call = world.call(world.event(Route::RevokeSessions));
                async move { (started, call.await) }
            })
            .collect();
        let replies = futures::future::join_all(calls).await;
        let returned = time::now();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let (created, refused) = gateway.await.expect("gateway task");

        let counted: i64 = replies
            .iter()
            .map(|(_, r)| {
                assert_eq!(r.status, 200, "trial {trial}: {:#}", r.body);
                r.body["disconnectedCount"].as_i64().expect("count")
            })
            .sum();
        let sessions = stored(&world).await;
        let disconnected = sessions
            .iter()
            .filter(|s| s.status == SessionStatus::Disconnected)
            .count() as i64;
        assert_eq!(
            counted, disconnected,
            "trial {trial}: counts add up to the sessions that changed ({} created, {refused} refused)",
            created.len()
        );
        assert!(
            counted >= 25,
            "trial {trial}: every seeded session was revoked"
        );

        let app = world
            .store
            .get_application(world.org, world.app.id)
            .await
            .expect("app");
        let ctx = StatusContext {
            now: time::now(),
            idle_window: Duration::seconds(300),
            revoked_before: app.revoked_before,
            heartbeat_timeout: None,
        };
        let latest_start = replies.iter().map(|(s, _)| *s).max().unwrap_or(returned);
        let first_start = replies.iter().map(|(s, _)| *s).min().unwrap_or(returned);
        let watermark = app.revoked_before.expect("revoked");
        for s in &sessions {
            if s.connected_since() < latest_start {
                assert!(
                    !s.derived_status(&ctx).is_connected(),
                    "trial {trial}: a session that connected before the revoke reads connected"
                );
            }
            // Stored, not only derived: the disconnect event comes from the stored change, so
            // the sweep must have moved every session the watermark covers.
            if s.connected_since() <= watermark {
                assert_eq!(
                    s.status,
                    SessionStatus::Disconnected,
                    "trial {trial}: a session under the watermark was never moved"
                );
            }
        }
        raced += sessions
            .iter()
            .filter(|s| created.contains(&s.id))
            .filter(|s| s.connected_since() >= first_start && s.connected_since() <= returned)
            .count();
    }
    assert!(raced > 0, "connects happened while the revokes ran");
}

fn image_status(
    image: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>,
) -> Option<String> {
    image?.get("status")?.as_s().ok().cloned()
}

#[tokio::test]
async fn every_disconnect_produces_exactly_one_stream_record() {
    let world = World::new().await;
    let by_revoke_one = world.session(Duration::seconds(30));
    let by_gateway = world.session(Duration::seconds(29));
    let by_revoke_all = world.session(Duration::seconds(28));
    let also_by_revoke_all = world.session(Duration::seconds(27));
    for s in [
        &by_revoke_one,
        &by_gateway,
        &by_revoke_all,
        &also_by_revoke_all,
    ] {
        world.put(s).await;
    }

    let reply = world.call(world.revoke_one_event(by_revoke_one.id)).await;
    assert_eq!(reply.body["disconnected"], true);
    let closed = world
        .store
        .disconnect_session(
            world.org,
            world.app.id,
            by_gateway.id,
            time::now(),
            DisconnectReason::Closed,
        )
        .await
        .expect("transport close");
    assert_eq!(closed, Disconnected::Now);
    let reply = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.body["disconnectedCount"], 2);
    // None of these change anything, so none may produce a disconnect record.
    world.call(world.event(Route::RevokeSessions)).await;
    world.call(world.revoke_one_event(by_revoke_one.id)).await;
    let beat = Heartbeat {
        last_active_at: Some(time::now()),
        token_expires_at: None,
    };
    let refused = world
        .store
        .heartbeat(
            world.org,
            world.app.id,
            by_gateway.id,
            &beat,
            time::now(),
            None,
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::SessionDisconnected)),
        "{refused:?}"
    );

    let records = world.stream_records().await;
    let mut disconnects: HashMap<String, usize> = HashMap::new();
    for record in &records {
        let Some(change) = record.dynamodb() else {
            continue;
        };
        let old = image_status(change.old_image.as_ref());
        let new = image_status(change.new_image.as_ref());
        if new.as_deref() == Some("disconnected") {
            assert_eq!(
                old.as_deref(),
                Some("active"),
                "a disconnect record moves active to disconnected"
            );
            let id = change
                .new_image
                .as_ref()
                .and_then(|i| i.get("id"))
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            *disconnects.entry(id).or_default() += 1;
        }
    }
    let expected: HashMap<String, usize> = [
        &by_revoke_one,
        &by_gateway,
        &by_revoke_all,
        &also_by_revoke_all,
    ]
    .iter()
    .map(|s| (s.id.to_string(), 1))
    .collect();
    assert_eq!(disconnects, expected);
}

#[tokio::test]
async fn a_deadline_that_is_not_a_wall_clock_time_is_ignored() {
    // cargo lambda watch sends a bare duration (600000) where Lambda sends epoch milliseconds.
    let world = World::new().await;
    world.seed(3).await;
    let mut context = lambda_http::Context::default();
    context.deadline = 600_000;
    let req = world
        .event(Route::RevokeSessions)
        .request()
        .with_lambda_context(context);
    let reply = Reply::from_response(world.api.handle(Route::RevokeSessions, req).await);
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["disconnectedCount"], 3);
}
