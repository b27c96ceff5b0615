//! Cursors, attacked through the list handler: forged, altered, expired, oversized, repeated,
//! and refused before the table is touched; and the key rotation that keeps them working.

use chrono::Duration;
use sessions::api::Api;
use sessions::cursor::{CursorBinding, CursorCodec, CURSOR_TTL};
use sessions::params::{ListFilter, MAX_CURSOR_LEN};
use sessions::route::Route;
use sessions::store::DynamoStore;
use sessions::time::{self, Timestamp};
use sessions_tests::{call, client_for, config, env, faults, Event, Reply, World, CURSOR_KEY};
use uuid::Uuid;

const NEW_KEY: &str = "rotated-cursor-key-0123456789abcdef0123";

/// A world whose application has three sessions; returns their ids, newest first.
async fn world_with_sessions(world: World) -> (World, Vec<Uuid>) {
    let mut ids = Vec::new();
    for age in [10, 20, 30] {
        let s = world.session(Duration::seconds(age));
        world.put(&s).await;
        ids.push(s.id);
    }
    (world, ids)
}

fn binding(world: &World) -> CursorBinding {
    CursorBinding {
        organization_id: world.org,
        application_id: world.app.id,
        filter: ListFilter::All,
    }
}

/// A cursor to the position of the newest session, signed with `key`, as of `issued`.
async fn cursor_signed_with(world: &World, key: &str, issued: Timestamp, after: Uuid) -> String {
    let (_, session) = world
        .store
        .get_session(world.org, world.app.id, after)
        .await
        .expect("the session exists");
    let position = session.position();
    CursorCodec::new(vec![key.as_bytes().to_vec()]).encode(&binding(world), position, issued)
}

async fn page(world: &World, cursor: &str) -> Reply {
    world
        .list(&[("status", "all"), ("limit", "1"), ("cursor", cursor)])
        .await
}

fn assert_invalid_cursor(reply: &Reply, case: &str) {
    assert_eq!(reply.status, 400, "{case}: {:#}", reply.body);
    assert_eq!(
        reply.expect_error(400, "invalid_request"),
        "invalid cursor",
        "{case}"
    );
}

#[tokio::test]
async fn a_cursor_the_server_signed_works_and_one_it_did_not_sign_does_not() {
    let (world, ids) = world_with_sessions(World::new().await).await;
    let genuine = cursor_signed_with(&world, CURSOR_KEY, time::now(), ids[0]).await;
    let reply = page(&world, &genuine).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.ids(), [ids[1].to_string()]);

    let forged = cursor_signed_with(
        &world,
        "an-attackers-guess-at-the-key-0123456789",
        time::now(),
        ids[0],
    )
    .await;
    assert_invalid_cursor(&page(&world, &forged).await, "signed with another key");
}

#[tokio::test]
async fn an_authentic_cursor_expires() {
    let (world, ids) = world_with_sessions(World::new().await).await;
    let still_valid = time::now() - CURSOR_TTL + Duration::minutes(1);
    let cursor = cursor_signed_with(&world, CURSOR_KEY, still_valid, ids[0]).await;
    assert_eq!(page(&world, &cursor).await.status, 200);
    let expired = time::now() - CURSOR_TTL - Duration::minutes(1);
    let cursor = cursor_signed_with(&world, CURSOR_KEY, expired, ids[0]).await;
    assert_invalid_cursor(&page(&world, &cursor).await, "expired");
}

#[tokio::test]
async fn any_alteration_of_a_real_cursor_is_refused() {
    let (world, _) = world_with_sessions(World::new().await).await;
    let first = world.list(&[("status", "all"), ("limit", "1")]).await;
    let cursor = first.next_cursor().expect("a next page");
    assert_eq!(page(&world, &cursor).await.status, 200);

    let mut altered: Vec<(String, String)> = Vec::new();
    // Every character replaced by another of the alphabet.
    for (i, c) in cursor.char_indices() {
        let replacement = if c == 'A' { 'B' } else { 'A' };
        let mut s = cursor.clone();
        s.replace_range(i..i + 1, &replacement.to_string());
        altered.push((format!("char {i}"), s));
    }
    altered.extend([
        ("truncated".into(), cursor[..cursor.len() - 1].to_string()),
        ("extended".into(), format!("{cursor}A")),
        ("padded".into(), format!("{cursor}==")),
        (
            "standard alphabet".into(),
            cursor.replace('-', "+").replace('_', "/") + "+/",
        ),
        ("doubled".into(), cursor.repeat(2)),
        ("whitespace".into(), format!(" {cursor}")),
        ("upper-cased".into(), cursor.to_uppercase()),
    ]);
    for (case, bad) in altered {
        if bad == cursor {
            continue;
        }
        assert_invalid_cursor(&page(&world, &bad).await, &case);
    }
}

#[tokio::test]
async fn cursors_are_bounded_in_size_and_given_once() {
    let world = World::new().await;
    for (case, cursor) in [
        ("empty", String::new()),
        ("one over the limit", "A".repeat(MAX_CURSOR_LEN + 1)),
        ("10 kB", "A".repeat(10 * 1024)),
        ("10 kB of unicode", "é".repeat(5 * 1024)),
    ] {
        let reply = world
            .call(world.event(Route::ListSessions).query("cursor", &cursor))
            .await;
        assert_invalid_cursor(&reply, case);
    }
    let reply = world.list(&[("cursor", "AAAA"), ("cursor", "BBBB")]).await;
    assert_eq!(
        reply.expect_error(400, "invalid_request"),
        "cursor must be given at most once"
    );
}

#[tokio::test]
async fn cursors_are_checked_before_the_table_is_touched() {
    // The API is wired to a table endpoint where nothing listens: anything that reaches the
    // table is a 503. A bad cursor is a 400, so it was refused before any read.
    let world = World::new().await;
    let (world, ids) = world_with_sessions(world).await;
    let down = faults::unreachable().await;
    let api = Api::new(
        &config(&env(world.store.table())),
        DynamoStore::new(client_for(&down), world.store.table()),
    )
    .expect("api");
    let genuine = cursor_signed_with(&world, CURSOR_KEY, time::now(), ids[0]).await;
    let foreign = world.list(&[("limit", "1")]).await;
    let foreign = foreign.next_cursor().expect("a next page"); // status=active, not all
    let list = |cursor: &str| {
        world
            .event(Route::ListSessions)
            .query("status", "all")
            .query("cursor", cursor)
    };
    for (case, cursor) in [
        ("another filter's cursor", foreign.as_str()),
        ("garbage", "not-a-cursor"),
        ("altered", &genuine[1..]),
    ] {
        assert_invalid_cursor(&call(&api, list(cursor)).await, case);
    }
    // Another organization's request with the victim's genuine cursor: the same.
    let other_org = list(&genuine).claims(Uuid::new_v4(), "sessions:read");
    assert_invalid_cursor(&call(&api, other_org).await, "another organization");
    // The control: the genuine cursor passes the check and so reaches the (missing) table.
    call(&api, list(&genuine))
        .await
        .expect_error(503, "unavailable");
}

#[tokio::test]
async fn rotating_the_key_keeps_cursors_in_flight_working() {
    // Before: cursors are signed with CURSOR_KEY.
    let (before, ids) = world_with_sessions(World::new().await).await;
    let in_flight = before.list(&[("status", "all"), ("limit", "1")]).await;
    let in_flight = in_flight.next_cursor().expect("a next page");

    // During: the new key signs, the old one still verifies. Same table, new configuration.
    let during = Api::new(
        &config(&{
            let mut vars = env(before.store.table());
            vars.insert("SESSIONS_CURSOR_KEY".into(), NEW_KEY.into());
            vars.insert("SESSIONS_CURSOR_KEY_PREVIOUS".into(), CURSOR_KEY.into());
            vars
        }),
        before.store.clone(),
    )
    .expect("api");
    let event = |cursor: &str| {
        Event::list(&before.app.id.to_string())
            .claims(before.org, "sessions:read")
            .query("status", "all")
            .query("limit", "1")
            .query("cursor", cursor)
    };
    let second = call(&during, event(&in_flight)).await;
    assert_eq!(second.status, 200, "{:#}", second.body);
    assert_eq!(second.ids(), [ids[1].to_string()]);
    let fresh = second.next_cursor().expect("a next page");
    // The fresh cursor is signed with the new key only.
    let now = time::now();
    let position_of_second = {
        let new_only = CursorCodec::new(vec![NEW_KEY.as_bytes().to_vec()]);
        new_only
            .decode(&fresh, &binding(&before), now)
            .expect("signed with the new key")
    };
    assert_eq!(position_of_second.id, ids[1]);
    let old_only = CursorCodec::new(vec![CURSOR_KEY.as_bytes().to_vec()]);
    assert!(old_only.decode(&fresh, &binding(&before), now).is_err());

    // After: the old key is gone, and so are the cursors it signed.
    let after = Api::new(
        &config(&{
            let mut vars = env(before.store.table());
            vars.insert("SESSIONS_CURSOR_KEY".into(), NEW_KEY.into());
            vars
        }),
        before.store.clone(),
    )
    .expect("api");
    assert_invalid_cursor(&call(&after, event(&in_flight)).await, "old key retired");
    let third = call(&after, event(&fresh)).await;
    assert_eq!(third.ids(), [ids[2].to_string()]);
}
