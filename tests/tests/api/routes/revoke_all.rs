//! `DELETE /api/v1/applications/{applicationId}/sessions`: exact counts, idempotence, and
//! nothing connected before the call reads as connected after it.

use chrono::Duration;
use sessions::model::SessionStatus;
use sessions::route::Route;
use sessions::store::{Heartbeat, StoreError};
use sessions::time;
use sessions_tests::{Event, World};
use uuid::Uuid;

#[tokio::test]
async fn disconnects_every_active_session_and_counts_exactly() {
    let world = World::new().await;
    let now = time::now();
    let mut active = Vec::new();
    for i in 0..5 {
        let s = world.session(Duration::seconds(i + 1));
        world.put(&s).await;
        active.push(s);
    }
    // Stored-active but idle or expired: still `status: active`, so revoked too.
    let mut idle = world.session(Duration::hours(1));
    idle.last_active_at = Some(now - Duration::minutes(30));
    let mut expired = world.session(Duration::hours(1));
    expired.token_expires_at = Some(now - Duration::minutes(1));
    let mut old = world.session(Duration::hours(2));
    old.status = SessionStatus::Disconnected;
    let old_disconnected_at = now - Duration::hours(1);
    old.disconnected_at = Some(old_disconnected_at);
    for s in [&idle, &expired, &old] {
        world.put(s).await;
    }

    let reply = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(
        reply.body,
        serde_json::json!({"success": true, "disconnectedCount": 7})
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));

    let all = world.list(&[("status", "all")]).await;
    let items = all.body["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 8);
    let mut revoked_at = None;
    for item in &items {
        assert_eq!(item["status"], "disconnected", "{item:#}");
        assert_eq!(item["derivedStatus"], "disconnected", "{item:#}");
        if item["id"] == old.id.to_string() {
            assert_eq!(
                item["disconnectedAt"],
                time::format(&old_disconnected_at),
                "an already disconnected session keeps its time"
            );
        } else {
            let at = item["disconnectedAt"]
                .as_str()
                .expect("disconnectedAt")
                .to_string();
            assert!(
                revoked_at.get_or_insert(at.clone()) == &at,
                "one revocation time"
            );
        }
    }
    let at = time::parse(revoked_at.as_deref().expect("a time")).expect("timestamp");
    assert!(
        at >= now && at <= time::now(),
        "disconnectedAt is the revocation time"
    );

    assert!(
        world.list(&[]).await.ids().is_empty(),
        "nothing reads as active"
    );

    let again = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(
        again.body["disconnectedCount"], 0,
        "a second call changes nothing"
    );
}

#[tokio::test]
async fn empty_application_revokes_zero() {
    let world = World::new().await;
    let reply = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(
        reply.body,
        serde_json::json!({"success": true, "disconnectedCount": 0})
    );
}

#[tokio::test]
async fn only_the_callers_application_is_touched() {
    let world = World::new().await;
    let sibling = world.add_app(world.org).await;
    let theirs = sessions_tests::session_of(&sibling, time::now() - Duration::seconds(5));
    world.put(&theirs).await;
    let mine = world.session(Duration::seconds(5));
    world.put(&mine).await;

    let reply = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.body["disconnectedCount"], 1);
    let sibling_list = world
        .call(Event::list(&sibling.id.to_string()).claims(world.org, "sessions:read"))
        .await;
    assert_eq!(sibling_list.ids(), [theirs.id.to_string()]);
}

#[tokio::test]
async fn foreign_and_missing_applications_are_404_and_change_nothing() {
    let world = World::new().await;
    let s = world.session(Duration::seconds(5));
    world.put(&s).await;
    let foreign = world
        .call(
            world
                .event(Route::RevokeSessions)
                .claims(Uuid::new_v4(), "sessions:write"),
        )
        .await;
    assert_eq!(
        foreign.expect_error(404, "not_found"),
        "Application not found"
    );
    let missing = world
        .call(Event::revoke_all(&Uuid::new_v4().to_string()).claims(world.org, "sessions:write"))
        .await;
    assert_eq!(
        missing.expect_error(404, "not_found"),
        "Application not found"
    );
    world
        .assert_untouched(&world.app, &s, "after a foreign revoke-all")
        .await;
    assert_eq!(world.list(&[]).await.ids(), [s.id.to_string()]);
}

#[tokio::test]
async fn concurrent_revokes_never_double_count() {
    let world = World::new().await;
    let n = 120;
    for i in 0..n {
        world
            .put(&world.session(Duration::milliseconds(i + 1)))
            .await;
    }
    let calls = (0..4).map(|_| world.call(world.event(Route::RevokeSessions)));
    let replies = futures::future::join_all(calls).await;
    let total: i64 = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{:#}", r.body);
            r.body["disconnectedCount"].as_i64().expect("count")
        })
        .sum();
    assert_eq!(total, n);
    assert!(world.list(&[]).await.ids().is_empty());
}

#[tokio::test]
async fn a_session_that_connected_before_the_revoke_cannot_be_written_after_it() {
    let world = World::new().await;
    let late = world.session(Duration::seconds(10));
    let reply = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.status, 200);
    // A gateway that accepted the connection before the revoke tries to record it after.
    let err = world
        .store
        .create_session(&late)
        .await
        .expect_err("refused by the watermark");
    assert!(matches!(err, StoreError::RevokedAfterConnect), "{err:?}");
    // A session that connects after the revoke is fine.
    let fresh = sessions_tests::session_of(&world.app, time::now() + Duration::milliseconds(5));
    world.put(&fresh).await;
    assert_eq!(world.list(&[]).await.ids(), [fresh.id.to_string()]);
}

#[tokio::test]
async fn a_heartbeat_after_revoke_does_not_bring_a_session_back() {
    let world = World::new().await;
    let s = world.session(Duration::seconds(10));
    world.put(&s).await;
    let beat = Heartbeat {
        last_active_at: Some(time::now()),
        token_expires_at: None,
    };
    let alive = world
        .store
        .heartbeat(world.org, world.app.id, s.id, &beat, time::now(), None)
        .await;
    assert!(alive.is_ok(), "{alive:?}");
    world.call(world.event(Route::RevokeSessions)).await;
    let refused = world
        .store
        .heartbeat(world.org, world.app.id, s.id, &beat, time::now(), None)
        .await;
    assert!(
        matches!(refused, Err(StoreError::SessionDisconnected)),
        "a disconnected session takes no heartbeat: {refused:?}"
    );
    let reply = world.call(world.get_event(s.id)).await;
    assert_eq!(reply.body["session"]["status"], "disconnected");
    assert_eq!(reply.body["session"]["derivedStatus"], "disconnected");
}

#[tokio::test]
async fn watermark_disconnects_sessions_the_sweep_did_not_change() {
    // A session written straight to the table (as an older gateway might have), connected
    // before a revoke, reads as disconnected through the application's watermark.
    let world = World::new().await;
    let reply = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.status, 200);
    let straggler = world.session(Duration::seconds(30));
    use sessions::store::layout::{marker_key, session_to_item, Markers};
    // The session and its markers, past the transaction that checks the watermark.
    for item in [
        session_to_item(&straggler).expect("item"),
        marker_key(&straggler, Markers::All),
        marker_key(&straggler, Markers::Connected),
    ] {
        world
            .store
            .client()
            .put_item()
            .table_name(world.store.table())
            .set_item(Some(item))
            .send()
            .await
            .expect("raw put");
    }
    let reply = world.call(world.get_event(straggler.id)).await;
    assert_eq!(reply.body["session"]["status"], "active");
    assert_eq!(reply.body["session"]["derivedStatus"], "disconnected");
    assert!(world.list(&[]).await.ids().is_empty());
    let inactive = world.list(&[("status", "inactive")]).await;
    assert_eq!(inactive.ids(), [straggler.id.to_string()]);
}

/// The session's item as stored, attributes the API does not show included.
async fn raw_item(
    world: &World,
    id: Uuid,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    world
        .store
        .client()
        .get_item()
        .table_name(world.store.table())
        .set_key(Some(sessions::store::layout::session_key(
            world.org,
            world.app.id,
            id,
        )))
        .send()
        .await
        .expect("raw get")
        .item
        .expect("item")
}

#[tokio::test]
async fn disconnected_sessions_get_a_ttl_from_the_retention_setting() {
    let world = World::with_env(|vars| {
        vars.insert("SESSIONS_RETENTION_DAYS".into(), "7".into());
    })
    .await;
    let s = world.session(Duration::seconds(5));
    world.put(&s).await;
    let reply = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(reply.body["disconnectedCount"], 1);
    let got = world.call(world.get_event(s.id)).await;
    let at = time::parse(got.body["session"]["disconnectedAt"].as_str().expect("set"))
        .expect("timestamp");
    let item = raw_item(&world, s.id).await;
    let ttl: i64 = item
        .get("expiresAtTtl")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .expect("a numeric TTL");
    assert_eq!(ttl, (at + Duration::days(7)).timestamp());
    // Connected sessions never expire (this one connects after the revoke).
    let live = sessions_tests::session_of(&world.app, time::now() + Duration::milliseconds(5));
    world.put(&live).await;
    let item = raw_item(&world, live.id).await;
    assert!(!item.contains_key("expiresAtTtl"));
}
