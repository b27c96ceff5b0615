//! `POST /api/v1/applications/{applicationId}/sessions/{sessionId}/disconnect` (the connection
//! side), clause by clause, over real API Gateway events; and the disconnect reason each way of
//! disconnecting stores for its event.

use chrono::Duration;
use serde_json::json;
use sessions::model::DisconnectReason;
use sessions::route::Route;
use sessions::time;
use sessions_tests::{Event, World};
use uuid::Uuid;

/// The reason stored with `id`, read from the table.
async fn reason(world: &World, id: Uuid) -> Option<DisconnectReason> {
    let (_, session) = world
        .store
        .get_session(world.org, world.app.id, id)
        .await
        .expect("read the session");
    session.disconnect_reason
}

#[tokio::test]
async fn closes_a_session_idempotently() {
    let world = World::new().await;
    let (id, _) = world.connect(&json!({})).await;
    let (other, _) = world.connect(&json!({})).await;

    let before = time::now();
    let reply = world.call(world.disconnect_event(id)).await;
    let after = time::now();
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body, json!({"success": true, "disconnected": true}));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("content-type"), Some("application/json"));

    let read = world.read(id).await;
    assert_eq!(read["status"], "disconnected");
    assert_eq!(read["derivedStatus"], "disconnected");
    let at = time::parse(read["disconnectedAt"].as_str().expect("set")).expect("timestamp");
    assert!(
        before <= at && at <= after,
        "disconnectedAt is the time of the request"
    );
    assert_eq!(world.list(&[]).await.ids(), [other.to_string()]);

    // Again: nothing changes, and it says so.
    let again = world.call(world.disconnect_event(id)).await;
    assert_eq!(again.body, json!({"success": true, "disconnected": false}));
    assert_eq!(world.read(id).await, read, "disconnectedAt does not move");
    // The connection side is told, should it heartbeat.
    let beat = world.call(world.heartbeat_event(id, &json!({}))).await;
    beat.expect_error(409, "session_disconnected");
}

#[tokio::test]
async fn takes_no_body_or_an_empty_object_and_nothing_else() {
    let world = World::new().await;
    let event = |id: Uuid| world.disconnect_event(id);
    let accepted: [(&str, &dyn Fn(Uuid) -> Event); 3] = [
        ("the example event's {}", &|id| event(id)),
        ("no body, no Content-Type", &|id| {
            event(id).without_body().without_header("content-type")
        }),
        ("an empty body", &|id| event(id).body("")),
    ];
    for (case, make) in accepted {
        let (id, _) = world.connect(&json!({})).await;
        let reply = world.call(make(id)).await;
        assert_eq!(reply.status, 200, "{case}: {:#}", reply.body);
        assert_eq!(reply.body["disconnected"], true, "{case}");
    }

    let (id, _) = world.connect(&json!({})).await;
    for (case, event, status, code, message) in [
        (
            "a field",
            event(id).json_body(&json!({"reason": "bye"})),
            400,
            "invalid_request",
            "unknown field reason: this route accepts no fields (no body, or {})",
        ),
        (
            "not an object",
            event(id).body("null"),
            400,
            "invalid_request",
            "the request body must be a JSON object",
        ),
        (
            "not JSON",
            event(id).body("close"),
            400,
            "invalid_request",
            "the request body must be valid JSON: one object, in UTF-8",
        ),
        (
            "not declared JSON",
            event(id).header("content-type", "text/plain"),
            415,
            "unsupported_media_type",
            "Content-Type must be application/json",
        ),
        (
            "too large",
            event(id).body(&format!("{{}}{}", " ".repeat(16 * 1024))),
            413,
            "payload_too_large",
            "the request body must be at most 16384 bytes",
        ),
    ] {
        let reply = world.call(event).await;
        assert_eq!(reply.expect_error(status, code), message, "{case}");
    }
    assert_eq!(
        world.read(id).await["status"],
        "active",
        "refused: nothing changed"
    );
}

#[tokio::test]
async fn not_found_cases_match_revoke_one() {
    let world = World::new().await;
    let sibling = world.add_app(world.org).await;
    let theirs = sessions_tests::session_of(&sibling, time::now());
    world.put(&theirs).await;
    for id in [Uuid::new_v4(), theirs.id] {
        let closed = world.call(world.disconnect_event(id)).await;
        let revoked = world.call(world.revoke_one_event(id)).await;
        assert_eq!(closed.expect_error(404, "not_found"), "Session not found");
        assert_eq!(
            closed.body_without_request_id(),
            revoked.body_without_request_id()
        );
    }
    let (mine, _) = world.connect(&json!({})).await;
    let foreign = world
        .call(
            world
                .disconnect_event(mine)
                .claims(Uuid::new_v4(), "sessions:connect"),
        )
        .await;
    assert_eq!(
        foreign.expect_error(404, "not_found"),
        "Application not found"
    );
    let missing = world
        .call(
            Event::new(
                Route::DisconnectSession,
                &Uuid::new_v4().to_string(),
                Some(&mine.to_string()),
            )
            .claims(world.org, "sessions:connect"),
        )
        .await;
    assert_eq!(
        missing.body_without_request_id(),
        foreign.body_without_request_id()
    );
    // Nobody else's session changed.
    let got = world
        .call(
            Event::get(&sibling.id.to_string(), &theirs.id.to_string())
                .claims(world.org, "sessions:read"),
        )
        .await;
    assert_eq!(got.body["session"]["status"], "active");
    assert_eq!(world.read(mine).await["status"], "active");
}

#[tokio::test]
async fn disconnect_and_revoke_one_are_the_same_transition_once() {
    let world = World::new().await;
    let (a, _) = world.connect(&json!({})).await;
    let reply = world.call(world.revoke_one_event(a)).await;
    assert_eq!(reply.body["disconnected"], true);
    let reply = world.call(world.disconnect_event(a)).await;
    assert_eq!(reply.body, json!({"success": true, "disconnected": false}));

    let (b, _) = world.connect(&json!({})).await;
    let reply = world.call(world.disconnect_event(b)).await;
    assert_eq!(reply.body["disconnected"], true);
    let reply = world.call(world.revoke_one_event(b)).await;
    assert_eq!(reply.body, json!({"success": true, "disconnected": false}));

    // After a revoke-all, the stored status is what counts.
    let (c, _) = world.connect(&json!({})).await;
    world.call(world.event(Route::RevokeSessions)).await;
    let reply = world.call(world.disconnect_event(c)).await;
    assert_eq!(reply.body["disconnected"], false);
}

#[tokio::test]
async fn each_way_of_disconnecting_stores_its_reason() {
    let world = World::new().await;
    let (closed, _) = world.connect(&json!({})).await;
    let (revoked, _) = world.connect(&json!({})).await;
    let (swept, _) = world.connect(&json!({})).await;
    assert_eq!(reason(&world, closed).await, None, "connected: no reason");

    world.call(world.disconnect_event(closed)).await;
    world.call(world.revoke_one_event(revoked)).await;
    let all = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(all.body["disconnectedCount"], 1);

    assert_eq!(reason(&world, closed).await, Some(DisconnectReason::Closed));
    assert_eq!(
        reason(&world, revoked).await,
        Some(DisconnectReason::Revoked)
    );
    assert_eq!(
        reason(&world, swept).await,
        Some(DisconnectReason::RevokedAll)
    );
    // A second call changes nothing, the reason included.
    world.call(world.revoke_one_event(closed)).await;
    world.call(world.disconnect_event(revoked)).await;
    assert_eq!(reason(&world, closed).await, Some(DisconnectReason::Closed));
    assert_eq!(
        reason(&world, revoked).await,
        Some(DisconnectReason::Revoked)
    );
}

#[tokio::test]
async fn only_sessions_connect_may_disconnect() {
    let world = World::new().await;
    let (id, _) = world.connect(&json!({})).await;
    for scope in [
        "management:all",
        "sessions:write",
        "sessions:read sessions:write",
    ] {
        let reply = world
            .call(world.disconnect_event(id).claims(world.org, scope))
            .await;
        assert_eq!(
            reply.expect_error(403, "forbidden"),
            "token lacks the sessions:connect scope",
            "{scope}"
        );
    }
    // And sessions:connect does not revoke.
    let reply = world
        .call(
            world
                .revoke_one_event(id)
                .claims(world.org, "sessions:connect"),
        )
        .await;
    reply.expect_error(403, "forbidden");
    assert_eq!(world.read(id).await["status"], "active");
}

#[tokio::test]
async fn a_session_the_admin_cli_wrote_disconnects_like_any_other() {
    let world = World::new().await;
    let s = world.session(Duration::minutes(10));
    world.put(&s).await;
    let reply = world.call(world.disconnect_event(s.id)).await;
    assert_eq!(reply.body, json!({"success": true, "disconnected": true}));
    assert_eq!(world.read(s.id).await["derivedStatus"], "disconnected");
}
