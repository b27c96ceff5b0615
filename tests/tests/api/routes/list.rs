//! `GET /api/v1/applications/{applicationId}/sessions`, clause by clause.

use chrono::Duration;
use sessions::model::SessionStatus;
use sessions::route::Route;
use sessions::time;
use sessions_tests::{Event, World};
use std::collections::HashSet;
use uuid::Uuid;

/// Four sessions, one per derived status, created a minute apart (active newest).
async fn one_of_each(world: &World) -> [Uuid; 4] {
    let now = time::now();
    let active = world.session(Duration::minutes(1));
    let mut idle = world.session(Duration::minutes(2));
    idle.last_active_at = Some(now - Duration::minutes(10));
    idle.connected_at = Some(now - Duration::minutes(20));
    let mut expired = world.session(Duration::minutes(3));
    expired.token_expires_at = Some(now - Duration::seconds(1));
    let mut disconnected = world.session(Duration::minutes(4));
    disconnected.status = SessionStatus::Disconnected;
    disconnected.disconnected_at = Some(now - Duration::seconds(30));
    for s in [&active, &idle, &expired, &disconnected] {
        world.put(s).await;
    }
    [active.id, idle.id, expired.id, disconnected.id]
}

fn ids(list: &[Uuid]) -> Vec<String> {
    list.iter().map(Uuid::to_string).collect()
}

#[tokio::test]
async fn default_lists_active_and_idle_newest_first() {
    let world = World::new().await;
    let [active, idle, _, _] = one_of_each(&world).await;
    let reply = world.list(&[]).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.ids(), ids(&[active, idle]));
    assert_eq!(reply.body["items"][0]["derivedStatus"], "active");
    assert_eq!(reply.body["items"][1]["derivedStatus"], "idle");
    assert_eq!(reply.body["nextCursor"], serde_json::Value::Null);
    let keys: HashSet<&str> = reply
        .body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, HashSet::from(["items", "nextCursor"]));
}

#[tokio::test]
async fn status_filters_and_include_inactive_with_status_winning() {
    let world = World::new().await;
    let [active, idle, expired, disconnected] = one_of_each(&world).await;
    let all = ids(&[active, idle, expired, disconnected]);
    type Case<'a> = (&'a [(&'a str, &'a str)], Vec<String>);
    let cases: &[Case] = &[
        (&[("status", "all")], all.clone()),
        (&[("status", "active")], ids(&[active, idle])),
        (&[("status", "inactive")], ids(&[expired, disconnected])),
        (&[("includeInactive", "true")], all.clone()),
        (&[("includeInactive", "false")], ids(&[active, idle])),
        (
            &[("status", "active"), ("includeInactive", "true")],
            ids(&[active, idle]),
        ),
        (
            &[("status", "inactive"), ("includeInactive", "false")],
            ids(&[expired, disconnected]),
        ),
        (
            &[("includeInactive", "true"), ("status", "all")],
            all.clone(),
        ),
    ];
    for (query, expected) in cases {
        let reply = world.list(query).await;
        assert_eq!(reply.status, 200, "{query:?}: {:#}", reply.body);
        assert_eq!(&reply.ids(), expected, "{query:?}");
    }
    let reply = world.list(&[("status", "all")]).await;
    let statuses: Vec<&str> = reply.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["derivedStatus"].as_str())
        .collect();
    assert_eq!(statuses, ["active", "idle", "expired", "disconnected"]);
}

#[tokio::test]
async fn session_json_matches_the_reference_shape() {
    let world = World::new().await;
    let mut s = world.session(Duration::minutes(1));
    s.hostname = Some("dev-laptop".into());
    s.user_agent = Some("claude-code/1.0".into());
    s.client_info =
        Some(serde_json::json!({"name": "claude-ai", "title": "Claude", "version": "0.1.0"}));
    s.token_expires_at = Some(time::parse("2099-01-01T00:00:00.5+01:00").expect("ts"));
    world.put(&s).await;
    let reply = world.list(&[]).await;
    let item = &reply.body["items"][0];
    assert_eq!(item["id"], s.id.to_string());
    assert_eq!(item["name"], s.name);
    assert_eq!(item["status"], "active");
    assert_eq!(item["agentId"], world.app.id.to_string());
    assert_eq!(item["organizationId"], world.org.to_string());
    assert_eq!(item["hostname"], "dev-laptop");
    assert_eq!(item["userAgent"], "claude-code/1.0");
    assert_eq!(item["clientInfo"]["title"], "Claude");
    assert_eq!(item["tokenExpiresAt"], "2098-12-31T23:00:00.500Z");
    assert_eq!(item["createdAt"], time::format(&s.created_at));
    assert_eq!(item["connectedAt"], time::format(&s.created_at));
    assert!(item.get("lastActiveAt").is_none());
    assert!(item.get("disconnectedAt").is_none());
    let ts = item["createdAt"].as_str().expect("string");
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[19] == b'.', "{ts}");

    // Unknown fields stay null, never absent.
    let bare = world.session(Duration::minutes(2));
    world.put(&bare).await;
    let reply = world.list(&[]).await;
    let item = &reply.body["items"][1];
    assert_eq!(item["id"], bare.id.to_string());
    for field in ["hostname", "userAgent", "clientInfo"] {
        assert_eq!(item[field], serde_json::Value::Null, "{field}");
        assert!(item.as_object().expect("object").contains_key(field));
    }
}

#[tokio::test]
async fn pages_are_full_and_cursors_yield_every_session_exactly_once() {
    let world = World::new().await;
    let base = time::now() - Duration::hours(1);
    let mut expected_all = Vec::new();
    for i in 0..23 {
        // Three share each creation instant, so the id breaks the tie.
        let mut s = sessions_tests::session_of(&world.app, base + Duration::seconds(i / 3));
        if i % 4 == 1 {
            s.status = SessionStatus::Disconnected;
            s.disconnected_at = Some(base + Duration::minutes(30));
        }
        if i % 5 == 2 {
            s.token_expires_at = Some(base);
        }
        world.put(&s).await;
        expected_all.push(s);
    }
    expected_all.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));

    for (filter, keep) in [
        (
            "all",
            &(|_: &sessions::model::Session| true) as &dyn Fn(&_) -> bool,
        ),
        ("active", &|s: &sessions::model::Session| {
            s.status == SessionStatus::Active && s.token_expires_at.is_none()
        }),
        ("inactive", &|s: &sessions::model::Session| {
            s.status == SessionStatus::Disconnected || s.token_expires_at.is_some()
        }),
    ] {
        let expected: Vec<String> = expected_all
            .iter()
            .filter(|s| keep(s))
            .map(|s| s.id.to_string())
            .collect();
        for limit in [1usize, 4, 5, 200] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            let mut pages = 0;
            loop {
                let limit_s = limit.to_string();
                let mut query = vec![("status", filter), ("limit", limit_s.as_str())];
                if let Some(c) = &cursor {
                    query.push(("cursor", c.as_str()));
                }
                let reply = world.list(&query).await;
                assert_eq!(reply.status, 200, "{:#}", reply.body);
                let page = reply.ids();
                pages += 1;
                let remaining = expected.len() - seen.len();
                assert_eq!(
                    page.len(),
                    remaining.min(limit),
                    "{filter} limit {limit} page {pages}: a page is full whenever that many remain"
                );
                seen.extend(page);
                cursor = reply.next_cursor();
                if cursor.is_none() {
                    break;
                }
                assert!(pages <= expected.len() + 1, "cursor loop does not end");
            }
            assert_eq!(seen, expected, "{filter} limit {limit}");
        }
    }
}

#[tokio::test]
async fn default_limit_is_100() {
    let world = World::new().await;
    for i in 0..101 {
        world.put(&world.session(Duration::seconds(i))).await;
    }
    let reply = world.list(&[]).await;
    assert_eq!(reply.ids().len(), 100);
    assert!(reply.next_cursor().is_some());
    let cursor = reply.next_cursor().expect("cursor");
    let reply = world.list(&[("cursor", &cursor)]).await;
    assert_eq!(reply.ids().len(), 1);
    assert_eq!(reply.next_cursor(), None);
}

#[tokio::test]
async fn invalid_parameters_are_400_in_the_contract_shape() {
    let world = World::new().await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("limit", "0")], "limit must be an integer from 1 to 200"),
        (
            &[("limit", "201")],
            "limit must be an integer from 1 to 200",
        ),
        (
            &[("limit", "ten")],
            "limit must be an integer from 1 to 200",
        ),
        (&[("limit", "-1")], "limit must be an integer from 1 to 200"),
        (
            &[("status", "paused")],
            "status must be one of active, inactive, all",
        ),
        (
            &[("includeInactive", "1")],
            "includeInactive must be true or false",
        ),
        (&[("cursor", "not-a-cursor")], "invalid cursor"),
        (
            &[("limit", "5"), ("limit", "6")],
            "limit must be given at most once",
        ),
    ];
    for (query, message) in cases {
        let reply = world.list(query).await;
        assert_eq!(
            &reply.expect_error(400, "invalid_request"),
            message,
            "{query:?}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(
            reply.header("x-request-id"),
            reply.body["requestId"].as_str(),
            "the header and the body carry the same request id"
        );
    }
}

#[tokio::test]
async fn unknown_parameters_are_ignored() {
    let world = World::new().await;
    world.put(&world.session(Duration::seconds(1))).await;
    let reply = world.list(&[("foo", "bar"), ("order", "asc")]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.ids().len(), 1);
}

#[tokio::test]
async fn cursor_is_bound_to_filter_application_and_organization() {
    let world = World::new().await;
    for i in 0..3 {
        world.put(&world.session(Duration::seconds(i))).await;
    }
    let reply = world.list(&[("limit", "1"), ("status", "all")]).await;
    let cursor = reply.next_cursor().expect("a cursor");

    // Same filter: fine.
    let ok = world.list(&[("status", "all"), ("cursor", &cursor)]).await;
    assert_eq!(ok.status, 200);
    // includeInactive=true means all as well, so it is the same filter.
    let ok = world
        .list(&[("includeInactive", "true"), ("cursor", &cursor)])
        .await;
    assert_eq!(ok.status, 200);

    // Another filter.
    let reply = world
        .list(&[("status", "active"), ("cursor", &cursor)])
        .await;
    assert_eq!(reply.expect_error(400, "invalid_request"), "invalid cursor");

    // Another application of the same organization.
    let sibling = world.add_app(world.org).await;
    let e = Event::list(&sibling.id.to_string())
        .claims(world.org, "sessions:read")
        .query("status", "all")
        .query("cursor", &cursor);
    let reply = world.call(e).await;
    assert_eq!(reply.expect_error(400, "invalid_request"), "invalid cursor");

    // The same application id asked by another organization: 400 before anything is read.
    let e = world
        .event(Route::ListSessions)
        .claims(Uuid::new_v4(), "sessions:read")
        .query("status", "all")
        .query("cursor", &cursor);
    let reply = world.call(e).await;
    assert_eq!(reply.expect_error(400, "invalid_request"), "invalid cursor");

    // Altered.
    let mut altered = cursor.clone().into_bytes();
    let last = altered.len() - 1;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ascii");
    let reply = world.list(&[("status", "all"), ("cursor", &altered)]).await;
    assert_eq!(reply.expect_error(400, "invalid_request"), "invalid cursor");
}

#[tokio::test]
async fn idle_window_is_configurable() {
    let world = World::with_env(|vars| {
        vars.insert("SESSIONS_IDLE_SECONDS".into(), "60".into());
    })
    .await;
    let s = world.session(Duration::seconds(90));
    world.put(&s).await;
    let reply = world.list(&[]).await;
    assert_eq!(reply.body["items"][0]["derivedStatus"], "idle");

    let default_world = World::new().await;
    let s = default_world.session(Duration::seconds(90));
    default_world.put(&s).await;
    let reply = default_world.list(&[]).await;
    assert_eq!(reply.body["items"][0]["derivedStatus"], "active");
}

#[tokio::test]
async fn foreign_and_missing_applications_are_the_same_404() {
    let world = World::new().await;
    world.put(&world.session(Duration::seconds(1))).await;
    let other_org = Uuid::new_v4();
    let foreign = world
        .call(
            world
                .event(Route::ListSessions)
                .claims(other_org, "sessions:read"),
        )
        .await;
    let missing = world
        .call(Event::list(&Uuid::new_v4().to_string()).claims(world.org, "sessions:read"))
        .await;
    for reply in [&foreign, &missing] {
        assert_eq!(
            reply.expect_error(404, "not_found"),
            "Application not found"
        );
    }
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        v["requestId"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip(&foreign.body), strip(&missing.body));
}

#[tokio::test]
async fn application_id_must_be_a_uuid_in_any_case() {
    let world = World::new().await;
    world.put(&world.session(Duration::seconds(1))).await;
    let upper = world.app.id.to_string().to_uppercase();
    let reply = world
        .call(Event::list(&upper).claims(world.org, "sessions:read"))
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["items"][0]["agentId"], world.app.id.to_string());

    for bad in ["not-a-uuid", "123", &world.app.id.simple().to_string()] {
        let reply = world
            .call(Event::list(bad).claims(world.org, "sessions:read"))
            .await;
        assert_eq!(
            reply.expect_error(400, "invalid_request"),
            "applicationId must be a UUID",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn every_response_has_the_contract_headers() {
    let world = World::new().await;
    let reply = world.list(&[]).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.header("x-request-id").is_some_and(|v| !v.is_empty()));
}
