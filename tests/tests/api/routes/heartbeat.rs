//! `POST /api/v1/applications/{applicationId}/sessions/{sessionId}/heartbeat` (the connection
//! side), and the heartbeat timeout: clause by clause, over real API Gateway events.

use chrono::Duration;
use serde_json::{json, Value};
use sessions::route::Route;
use sessions::time::{self, Timestamp};
use sessions_tests::{Event, Reply, World};
use uuid::Uuid;

fn at(value: &Value) -> Timestamp {
    time::parse(
        value
            .as_str()
            .unwrap_or_else(|| panic!("a timestamp: {value}")),
    )
    .expect("an RFC 3339 timestamp")
}

async fn sleep_ms(ms: u64) {
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// A heartbeat of `id` with `body`; panics unless it answers 200 with that session.
async fn beat(world: &World, id: Uuid, body: Value) -> Value {
    let reply = world.call(world.heartbeat_event(id, &body)).await;
    assert_eq!(reply.status, 200, "heartbeat {body}: {:#}", reply.body);
    let keys: Vec<&String> = reply.body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["session"]);
    assert_eq!(reply.body["session"]["id"], id.to_string());
    reply.body["session"].clone()
}

/// Asserts a 409 `session_disconnected`.
fn assert_disconnected(reply: &Reply, case: &str) {
    assert_eq!(
        reply.expect_error(409, "session_disconnected"),
        "Session is disconnected",
        "{case}"
    );
}

/// A world whose heartbeat timeout is one second.
async fn fast_timeout_world() -> World {
    World::with_env(|vars| {
        vars.insert("SESSIONS_HEARTBEAT_TIMEOUT_SECONDS".into(), "1".into());
    })
    .await
}

#[tokio::test]
async fn a_heartbeat_answers_the_session_and_leaves_last_active_at_without_one() {
    let world = World::new().await;
    let (id, connected) = world.connect(&json!({"hostname": "laptop"})).await;
    let connected = &connected.body["session"];
    sleep_ms(20).await;
    for body in [json!({}), json!({})] {
        let session = beat(&world, id, body).await;
        assert_eq!(session["status"], "active");
        assert_eq!(session["derivedStatus"], "active");
        assert_eq!(
            session["lastActiveAt"], connected["lastActiveAt"],
            "unchanged"
        );
        assert_eq!(session["hostname"], "laptop");
        assert_eq!(&world.read(id).await, &session, "stored as answered");
    }
    // No body at all is the same as `{}`.
    let reply = world
        .call(
            world
                .heartbeat_event(id, &json!({}))
                .without_body()
                .without_header("content-type"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(
        reply.body["session"]["lastActiveAt"],
        connected["lastActiveAt"]
    );
    // The example event's body (a lastActiveAt in the past) is a valid heartbeat too.
    let example = world
        .call(world.session_event(Route::HeartbeatSession, id))
        .await;
    assert_eq!(example.status, 200, "{:#}", example.body);
}

#[tokio::test]
async fn last_active_at_never_moves_back() {
    let world = World::new().await;
    let (id, connected) = world.connect(&json!({})).await;
    let first = at(&connected.body["session"]["lastActiveAt"]);

    // Older than what is stored: left as it is, and still a heartbeat (200).
    let older = time::format(&(first - Duration::minutes(5)));
    let session = beat(&world, id, json!({"lastActiveAt": older})).await;
    assert_eq!(at(&session["lastActiveAt"]), first);

    // Newer: moves forward.
    sleep_ms(30).await;
    let later = time::now();
    let session = beat(&world, id, json!({"lastActiveAt": time::format(&later)})).await;
    assert_eq!(at(&session["lastActiveAt"]), later);

    // Between the two: stays at the later one.
    let between = time::format(&(later - Duration::milliseconds(10)));
    let session = beat(&world, id, json!({"lastActiveAt": between})).await;
    assert_eq!(at(&session["lastActiveAt"]), later);
    assert_eq!(at(&world.read(id).await["lastActiveAt"]), later);
}

#[tokio::test]
async fn a_future_last_active_at_is_taken_as_now() {
    let world = World::new().await;
    let (id, _) = world.connect(&json!({})).await;
    sleep_ms(20).await;
    let before = time::now();
    let future = time::format(&(before + Duration::hours(1)));
    let session = beat(&world, id, json!({"lastActiveAt": future})).await;
    let after = time::now();
    let recorded = at(&session["lastActiveAt"]);
    assert!(
        before <= recorded && recorded <= after,
        "{recorded} is the server's now"
    );
    // A later heartbeat with an honest time before that future is not moved back past now.
    let session = beat(&world, id, json!({"lastActiveAt": time::format(&before)})).await;
    assert_eq!(at(&session["lastActiveAt"]), recorded);
}

#[tokio::test]
async fn a_connected_session_without_traffic_still_turns_idle() {
    let world = World::with_env(|vars| {
        vars.insert("SESSIONS_IDLE_SECONDS".into(), "1".into());
    })
    .await;
    let (id, _) = world.connect(&json!({})).await;
    sleep_ms(1300).await;
    // Alive, but not used: heartbeats without lastActiveAt keep it connected and idle.
    let session = beat(&world, id, json!({})).await;
    assert_eq!(session["derivedStatus"], "idle");
    assert_eq!(
        world.list(&[]).await.ids(),
        [id.to_string()],
        "idle is still listed as active"
    );
    // Traffic makes it active again.
    let session = beat(
        &world,
        id,
        json!({"lastActiveAt": time::format(&time::now())}),
    )
    .await;
    assert_eq!(session["derivedStatus"], "active");
}

#[tokio::test]
async fn token_expires_at_is_refreshed_and_must_be_after_now() {
    let world = World::new().await;
    let soon = time::now() + Duration::milliseconds(700);
    let (id, _) = world
        .connect(&json!({"tokenExpiresAt": time::format(&soon)}))
        .await;
    sleep_ms(900).await;
    assert_eq!(world.read(id).await["derivedStatus"], "expired");

    // An expired token is not a closed connection: the refreshed expiry makes it active.
    let later = time::now() + Duration::hours(2);
    let session = beat(&world, id, json!({"tokenExpiresAt": time::format(&later)})).await;
    assert_eq!(at(&session["tokenExpiresAt"]), later);
    assert_eq!(session["derivedStatus"], "active");
    assert_eq!(at(&world.read(id).await["tokenExpiresAt"]), later);

    // Not after now: 400, and nothing changes.
    let message = "tokenExpiresAt must be an RFC 3339 timestamp after now";
    for bad in [
        json!(time::format(&(time::now() - Duration::seconds(1)))),
        json!("2020-01-01T00:00:00Z"),
        json!("soon"),
        json!(1796083200),
        json!(null),
    ] {
        let reply = world
            .call(world.heartbeat_event(id, &json!({ "tokenExpiresAt": bad })))
            .await;
        assert_eq!(reply.expect_error(400, "invalid_request"), message, "{bad}");
    }
    assert_eq!(at(&world.read(id).await["tokenExpiresAt"]), later);
}

#[tokio::test]
async fn a_malformed_body_is_refused_before_anything_is_written() {
    let world = World::new().await;
    let (id, connected) = world.connect(&json!({})).await;
    let last_active = connected.body["session"]["lastActiveAt"].clone();
    let accepted = "the accepted fields are lastActiveAt, tokenExpiresAt";
    let now = time::format(&time::now());
    let event = |body: &str| world.session_event(Route::HeartbeatSession, id).body(body);
    for (case, event, status, code, message) in [
        (
            "unknown field",
            event(&json!({"lastActiveAt": now, "status": "active"}).to_string()),
            400,
            "invalid_request",
            format!("unknown field status: {accepted}"),
        ),
        (
            "a connect field",
            event(&json!({"name": "renamed"}).to_string()),
            400,
            "invalid_request",
            format!("unknown field name: {accepted}"),
        ),
        (
            "lastActiveAt of the wrong type",
            event(&json!({"lastActiveAt": 1796083200}).to_string()),
            400,
            "invalid_request",
            "lastActiveAt must be an RFC 3339 timestamp".to_string(),
        ),
        (
            "lastActiveAt null",
            event(&json!({"lastActiveAt": null}).to_string()),
            400,
            "invalid_request",
            "lastActiveAt must be an RFC 3339 timestamp".to_string(),
        ),
        (
            "not an object",
            event("[]"),
            400,
            "invalid_request",
            "the request body must be a JSON object".to_string(),
        ),
        (
            "not JSON",
            event("lastActiveAt=now"),
            400,
            "invalid_request",
            "the request body must be valid JSON: one object, in UTF-8".to_string(),
        ),
        (
            "repeated",
            event(&format!(
                r#"{{"lastActiveAt": "{now}", "lastActiveAt": "{now}"}}"#
            )),
            400,
            "invalid_request",
            "lastActiveAt must not repeat a member name".to_string(),
        ),
        (
            "not declared JSON",
            event(&json!({"lastActiveAt": now}).to_string()).header("content-type", "text/plain"),
            415,
            "unsupported_media_type",
            "Content-Type must be application/json".to_string(),
        ),
        (
            "too large",
            event(&format!("{{}}{}", " ".repeat(16 * 1024))),
            413,
            "payload_too_large",
            "the request body must be at most 16384 bytes".to_string(),
        ),
    ] {
        let reply = world.call(event).await;
        assert_eq!(reply.expect_error(status, code), message, "{case}");
    }
    assert_eq!(
        world.read(id).await["lastActiveAt"],
        last_active,
        "nothing written"
    );
}

#[tokio::test]
async fn a_disconnected_session_answers_409_whatever_disconnected_it() {
    let world = World::new().await;
    // Closed by the connection side.
    let (closed, _) = world.connect(&json!({})).await;
    let reply = world.call(world.disconnect_event(closed)).await;
    assert_eq!(reply.body["disconnected"], true);
    // Revoked alone.
    let (revoked, _) = world.connect(&json!({})).await;
    let reply = world.call(world.revoke_one_event(revoked)).await;
    assert_eq!(reply.body["disconnected"], true);
    // Written disconnected by the admin CLI.
    let mut stored = world.session(Duration::minutes(1));
    stored.status = sessions::model::SessionStatus::Disconnected;
    stored.disconnected_at = Some(time::now());
    world.put(&stored).await;

    for (case, id) in [
        ("closed", closed),
        ("revoked", revoked),
        ("stored", stored.id),
    ] {
        let before = world.read(id).await;
        let now = time::format(&time::now());
        for body in [json!({}), json!({"lastActiveAt": now})] {
            let reply = world.call(world.heartbeat_event(id, &body)).await;
            assert_disconnected(&reply, case);
        }
        // A heartbeat never brings a session back, nor writes to it.
        assert_eq!(world.read(id).await, before, "{case}");
    }
}

#[tokio::test]
async fn a_revoke_all_disconnects_every_earlier_session_for_heartbeats() {
    let world = World::new().await;
    let (connected, _) = world.connect(&json!({})).await;
    let written = world.session(Duration::seconds(10));
    world.put(&written).await;
    let reply = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.body["disconnectedCount"], 2);
    for id in [connected, written.id] {
        let reply = world.call(world.heartbeat_event(id, &json!({}))).await;
        assert_disconnected(&reply, "revoked by a revoke-all");
    }
    // The client re-authenticates: its new session heartbeats.
    let (again, _) = world.connect(&json!({})).await;
    let session = beat(&world, again, json!({})).await;
    assert_eq!(session["derivedStatus"], "active");
}

#[tokio::test]
async fn heartbeats_keep_a_session_alive_past_the_timeout() {
    let world = fast_timeout_world().await;
    let (id, _) = world.connect(&json!({})).await;
    for _ in 0..5 {
        sleep_ms(400).await;
        let session = beat(&world, id, json!({})).await;
        assert_eq!(session["derivedStatus"], "active");
    }
    // Two seconds after it connected, alive thanks to its heartbeats.
    let read = world.read(id).await;
    assert_eq!(read["derivedStatus"], "active");
    assert!(read.get("disconnectedAt").is_none());
}

#[tokio::test]
async fn a_session_silent_past_the_timeout_reads_disconnected_and_takes_no_heartbeat() {
    let world = fast_timeout_world().await;
    // One that only connected: its last sign of life is its connect.
    let (quiet, connected) = world.connect(&json!({})).await;
    let connected_at = at(&connected.body["session"]["connectedAt"]);
    // One that heartbeated once: its last sign of life is that heartbeat. A future
    // lastActiveAt is taken as the server's now, which shows when the heartbeat was.
    let (beaten, _) = world.connect(&json!({})).await;
    sleep_ms(300).await;
    let future = time::format(&(time::now() + Duration::hours(1)));
    let session = beat(&world, beaten, json!({"lastActiveAt": future})).await;
    let beat_at = at(&session["lastActiveAt"]);

    sleep_ms(1500).await;
    for (id, last_sign_of_life) in [(quiet, connected_at), (beaten, beat_at)] {
        let read = world.read(id).await;
        assert_eq!(read["derivedStatus"], "disconnected", "{read:#}");
        assert_eq!(
            at(&read["disconnectedAt"]),
            last_sign_of_life + Duration::seconds(1),
            "disconnectedAt = the last sign of life + the timeout"
        );
        let reply = world.call(world.heartbeat_event(id, &json!({}))).await;
        assert_disconnected(&reply, "timed out");
    }
    // The list reads them as inactive.
    assert!(world.list(&[]).await.ids().is_empty());
    assert_eq!(world.list(&[("status", "inactive")]).await.ids().len(), 2);
}

#[tokio::test]
async fn an_admin_written_session_is_seen_when_it_is_written() {
    let world = fast_timeout_world().await;
    // Back-dated an hour: still alive, because it was written just now.
    let old = world.session(Duration::hours(1));
    world.put(&old).await;
    let read = world.read(old.id).await;
    assert_ne!(read["derivedStatus"], "disconnected", "{read:#}");
    let session = beat(&world, old.id, json!({})).await;
    assert_ne!(session["derivedStatus"], "disconnected", "{session:#}");
    // And it times out like any other once the heartbeats stop.
    sleep_ms(1500).await;
    assert_eq!(world.read(old.id).await["derivedStatus"], "disconnected");
    let reply = world.call(world.heartbeat_event(old.id, &json!({}))).await;
    assert_disconnected(&reply, "admin-written, timed out");
}

#[tokio::test]
async fn a_timeout_of_zero_turns_the_rule_off() {
    let world = World::with_env(|vars| {
        vars.insert("SESSIONS_HEARTBEAT_TIMEOUT_SECONDS".into(), "0".into());
    })
    .await;
    let (id, _) = world.connect(&json!({})).await;
    sleep_ms(1200).await;
    assert_eq!(world.read(id).await["derivedStatus"], "active");
    beat(&world, id, json!({})).await;
}

#[tokio::test]
async fn missing_foreign_and_sibling_sessions_are_404() {
    let world = World::new().await;
    let sibling = world.add_app(world.org).await;
    let theirs = sessions_tests::session_of(&sibling, time::now());
    world.put(&theirs).await;
    for id in [Uuid::new_v4(), theirs.id] {
        let reply = world.call(world.heartbeat_event(id, &json!({}))).await;
        assert_eq!(reply.expect_error(404, "not_found"), "Session not found");
    }
    let (mine, _) = world.connect(&json!({})).await;
    let foreign = world
        .call(
            world
                .heartbeat_event(mine, &json!({}))
                .claims(Uuid::new_v4(), "sessions:connect"),
        )
        .await;
    let missing = world
        .call(
            Event::new(
                Route::HeartbeatSession,
                &Uuid::new_v4().to_string(),
                Some(&mine.to_string()),
            )
            .claims(world.org, "sessions:connect"),
        )
        .await;
    for reply in [&foreign, &missing] {
        assert_eq!(
            reply.expect_error(404, "not_found"),
            "Application not found"
        );
    }
    let reply = world
        .call(
            Event::new(
                Route::HeartbeatSession,
                &world.app.id.to_string(),
                Some("not-a-session"),
            )
            .claims(world.org, "sessions:connect"),
        )
        .await;
    assert_eq!(
        reply.expect_error(400, "invalid_request"),
        "sessionId must be a UUID"
    );
}

#[tokio::test]
async fn only_sessions_connect_may_heartbeat() {
    let world = World::new().await;
    let (id, connected) = world.connect(&json!({})).await;
    for scope in ["management:all", "sessions:read sessions:write"] {
        let now = time::format(&time::now());
        let reply = world
            .call(
                world
                    .heartbeat_event(id, &json!({"lastActiveAt": now}))
                    .claims(world.org, scope),
            )
            .await;
        assert_eq!(
            reply.expect_error(403, "forbidden"),
            "token lacks the sessions:connect scope"
        );
    }
    assert_eq!(
        world.read(id).await["lastActiveAt"],
        connected.body["session"]["lastActiveAt"]
    );
}
