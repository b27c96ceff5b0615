//! `DELETE /api/v1/applications/{applicationId}/sessions/{sessionId}` (beyond the reference).

use chrono::Duration;
use sessions::time;
use sessions_tests::{Event, World};
use uuid::Uuid;

#[tokio::test]
async fn disconnects_one_session_idempotently() {
    let world = World::new().await;
    let target = world.session(Duration::seconds(5));
    let other = world.session(Duration::seconds(6));
    world.put(&target).await;
    world.put(&other).await;

    let before = time::now();
    let reply = world.call(world.revoke_one_event(target.id)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(
        reply.body,
        serde_json::json!({"success": true, "disconnected": true})
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));

    let got = world.call(world.get_event(target.id)).await;
    assert_eq!(got.body["session"]["status"], "disconnected");
    let at = time::parse(got.body["session"]["disconnectedAt"].as_str().expect("set"))
        .expect("timestamp");
    assert!(at >= before);
    assert_eq!(world.list(&[]).await.ids(), [other.id.to_string()]);

    let again = world.call(world.revoke_one_event(target.id)).await;
    assert_eq!(
        again.body,
        serde_json::json!({"success": true, "disconnected": false})
    );
    let got = world.call(world.get_event(target.id)).await;
    assert_eq!(
        got.body["session"]["disconnectedAt"],
        time::format(&at),
        "a second revoke does not move disconnectedAt"
    );
}

#[tokio::test]
async fn not_found_cases_match_get() {
    let world = World::new().await;
    let sibling = world.add_app(world.org).await;
    let theirs = sessions_tests::session_of(&sibling, time::now());
    world.put(&theirs).await;

    let reply = world.call(world.revoke_one_event(Uuid::new_v4())).await;
    assert_eq!(reply.expect_error(404, "not_found"), "Session not found");
    let reply = world.call(world.revoke_one_event(theirs.id)).await;
    assert_eq!(reply.expect_error(404, "not_found"), "Session not found");
    let foreign = world
        .call(
            Event::revoke_one(&sibling.id.to_string(), &theirs.id.to_string())
                .claims(Uuid::new_v4(), "sessions:write"),
        )
        .await;
    assert_eq!(
        foreign.expect_error(404, "not_found"),
        "Application not found"
    );

    // The sibling's session is untouched by all of that.
    let got = world
        .call(
            Event::get(&sibling.id.to_string(), &theirs.id.to_string())
                .claims(world.org, "sessions:read"),
        )
        .await;
    assert_eq!(got.body["session"]["status"], "active");
}

#[tokio::test]
async fn needs_the_write_scope() {
    let world = World::new().await;
    let s = world.session(Duration::seconds(5));
    world.put(&s).await;
    let reply = world
        .call(
            world
                .revoke_one_event(s.id)
                .claims(world.org, "sessions:read"),
        )
        .await;
    assert_eq!(
        reply.expect_error(403, "forbidden"),
        "token lacks the sessions:write scope"
    );
    let reply = world
        .call(world.revoke_one_event(s.id).without_authorizer())
        .await;
    reply.expect_error(401, "unauthorized");
    world
        .assert_untouched(&world.app, &s, "after refused revokes")
        .await;
    assert_eq!(world.list(&[]).await.ids(), [s.id.to_string()]);
}
