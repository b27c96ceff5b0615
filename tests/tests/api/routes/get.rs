//! `GET /api/v1/applications/{applicationId}/sessions/{sessionId}`.

use chrono::Duration;
use sessions::model::SessionStatus;
use sessions::time;
use sessions_tests::{Event, World};
use uuid::Uuid;

#[tokio::test]
async fn returns_the_session_wrapped() {
    let world = World::new().await;
    let mut s = world.session(Duration::minutes(1));
    s.hostname = Some("host-1".into());
    world.put(&s).await;
    let reply = world.call(world.get_event(s.id)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let keys: Vec<&String> = reply.body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["session"]);
    let session = &reply.body["session"];
    assert_eq!(session["id"], s.id.to_string());
    assert_eq!(session["derivedStatus"], "active");
    assert_eq!(session["hostname"], "host-1");
    assert_eq!(session["userAgent"], serde_json::Value::Null);
    assert_eq!(session["createdAt"], time::format(&s.created_at));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

/// The derived status of `id` in `world`, read through the API now.
async fn derived(world: &World, id: Uuid) -> serde_json::Value {
    let reply = world.call(world.get_event(id)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["session"]["status"], "active", "stored status");
    reply.body["session"]["derivedStatus"].clone()
}

#[tokio::test]
async fn derived_status_is_computed_at_request_time() {
    // Sessions active when written and when first read, idle or expired later only because
    // time passed: a status fixed when written (or first read) would still read active.
    const SECONDS: i64 = 3;
    let idle_world = World::with_env(|vars| {
        vars.insert("SESSIONS_IDLE_SECONDS".into(), SECONDS.to_string());
    })
    .await;
    let world = World::new().await; // the default idle window: five minutes
    let now = time::now();
    let mut will_idle = idle_world.session(Duration::zero());
    will_idle.last_active_at = Some(now);
    idle_world.put(&will_idle).await;
    let mut will_expire = world.session(Duration::zero());
    will_expire.token_expires_at = Some(now + Duration::seconds(SECONDS));
    world.put(&will_expire).await;

    let first = [
        derived(&idle_world, will_idle.id).await,
        derived(&world, will_expire.id).await,
    ];
    let elapsed = time::now() - now;
    assert!(
        elapsed < Duration::seconds(SECONDS),
        "the first reads came {}ms after the writes, too late to read active",
        elapsed.num_milliseconds()
    );
    assert_eq!(first, ["active", "active"]);

    tokio::time::sleep(std::time::Duration::from_millis(
        SECONDS as u64 * 1000 + 500,
    ))
    .await;
    assert_eq!(derived(&idle_world, will_idle.id).await, "idle");
    assert_eq!(derived(&world, will_expire.id).await, "expired");
}

#[tokio::test]
async fn a_disconnected_session_reads_disconnected_with_its_time() {
    let world = World::new().await;
    let now = time::now();
    let mut gone = world.session(Duration::minutes(1));
    gone.status = SessionStatus::Disconnected;
    gone.disconnected_at = Some(now);
    world.put(&gone).await;
    let reply = world.call(world.get_event(gone.id)).await;
    assert_eq!(reply.body["session"]["derivedStatus"], "disconnected");
    assert_eq!(reply.body["session"]["status"], "disconnected");
    assert_eq!(reply.body["session"]["disconnectedAt"], time::format(&now));
}

#[tokio::test]
async fn missing_session_and_session_of_a_sibling_application_are_session_not_found() {
    let world = World::new().await;
    let sibling = world.add_app(world.org).await;
    let theirs = sessions_tests::session_of(&sibling, time::now());
    world.put(&theirs).await;

    for id in [Uuid::new_v4(), theirs.id] {
        let reply = world.call(world.get_event(id)).await;
        assert_eq!(reply.expect_error(404, "not_found"), "Session not found");
    }
    // Through its own application it is there.
    let reply = world
        .call(
            Event::get(&sibling.id.to_string(), &theirs.id.to_string())
                .claims(world.org, "sessions:read"),
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn foreign_organization_sees_application_not_found_like_a_missing_one() {
    let world = World::new().await;
    let s = world.session(Duration::seconds(1));
    world.put(&s).await;
    let foreign = world
        .call(
            world
                .get_event(s.id)
                .claims(Uuid::new_v4(), "sessions:read"),
        )
        .await;
    let missing = world
        .call(
            Event::get(&Uuid::new_v4().to_string(), &s.id.to_string())
                .claims(world.org, "sessions:read"),
        )
        .await;
    for reply in [&foreign, &missing] {
        assert_eq!(
            reply.expect_error(404, "not_found"),
            "Application not found"
        );
    }
}

#[tokio::test]
async fn ids_are_uuids_in_any_case_and_output_lowercase() {
    let world = World::new().await;
    let s = world.session(Duration::seconds(1));
    world.put(&s).await;
    let reply = world
        .call(
            Event::get(
                &world.app.id.to_string().to_uppercase(),
                &s.id.to_string().to_uppercase(),
            )
            .claims(world.org, "sessions:read"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["session"]["id"], s.id.to_string());

    let reply = world
        .call(Event::get(&world.app.id.to_string(), "nope").claims(world.org, "sessions:read"))
        .await;
    assert_eq!(
        reply.expect_error(400, "invalid_request"),
        "sessionId must be a UUID"
    );
}
