//! Who may call (401/403 and the dev verifier) and how failures look (503, 500), for every route.

use chrono::Duration;
use sessions::route::Route;
use sessions_tests::{api_at, call, dev_token, faults, Event, World, DEV_SECRET};

/// One event per route of the API (`Route::ALL`): a new route is covered without a change here.
fn routes(world: &World) -> Vec<Event> {
    let events = world.every_route();
    assert_eq!(events.len(), Route::ALL.len());
    events
}

#[tokio::test]
async fn no_credentials_at_all_is_401_with_a_bare_challenge_on_every_route() {
    let world = World::new().await;
    for event in routes(&world) {
        let route = event.route_key();
        // No authorizer claims and no Authorization header: nothing to authenticate with.
        let reply = world
            .call(event.without_authorizer().without_bearer())
            .await;
        reply.expect_error(401, "unauthorized");
        // RFC 6750, section 3.1: a request without any authentication information gets a
        // challenge without an error code.
        assert_eq!(reply.bearer_error(), None, "{route}");
    }
}

#[tokio::test]
async fn no_authorizer_claims_is_401_on_every_route() {
    // A route deployed without the authorizer: the token was sent, but nothing verified it.
    let world = World::new().await;
    for event in routes(&world) {
        let route = event.route_key();
        let reply = world.call(event.without_authorizer()).await;
        reply.expect_error(401, "unauthorized");
        assert_eq!(
            reply.bearer_error().as_deref(),
            Some("invalid_token"),
            "{route}"
        );
    }
}

#[tokio::test]
async fn claims_without_an_organization_are_401_never_a_default_tenant() {
    let world = World::new().await;
    for event in routes(&world) {
        let reply = world
            .call(event.raw_claims(serde_json::json!({"sub": "x", "scope": "management:all"})))
            .await;
        reply.expect_error(401, "unauthorized");
    }
}

#[tokio::test]
async fn missing_scope_is_403_and_management_all_grants_both() {
    let world = World::new().await;
    let s = world.session(Duration::seconds(1));
    world.put(&s).await;
    let write_only = world
        .call(
            world
                .event(Route::ListSessions)
                .claims(world.org, "sessions:write"),
        )
        .await;
    assert_eq!(
        write_only.expect_error(403, "forbidden"),
        "token lacks the sessions:read scope"
    );
    assert_eq!(
        write_only.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope""#)
    );
    let get = world
        .call(world.get_event(s.id).claims(world.org, "openid profile"))
        .await;
    get.expect_error(403, "forbidden");
    let read_only = world
        .call(
            world
                .event(Route::RevokeSessions)
                .claims(world.org, "sessions:read"),
        )
        .await;
    assert_eq!(
        read_only.expect_error(403, "forbidden"),
        "token lacks the sessions:write scope"
    );
    let read_only = world
        .call(
            world
                .revoke_one_event(s.id)
                .claims(world.org, "sessions:read"),
        )
        .await;
    read_only.expect_error(403, "forbidden");
    // Nothing was revoked by the refused calls: no watermark, the session stored and read active.
    world
        .assert_untouched(&world.app, &s, "refused revokes")
        .await;
    assert_eq!(world.list(&[]).await.ids(), [s.id.to_string()]);

    let list = world
        .call(
            world
                .event(Route::ListSessions)
                .claims(world.org, "management:all"),
        )
        .await;
    assert_eq!(list.status, 200);
    let revoke = world
        .call(
            world
                .event(Route::RevokeSessions)
                .claims(world.org, "management:all"),
        )
        .await;
    assert_eq!(revoke.body["disconnectedCount"], 1);
}

#[tokio::test]
async fn each_route_takes_its_own_scope_and_management_all_only_on_management_routes() {
    let world = World::new().await;
    let holdings = [
        "sessions:read",
        "sessions:write",
        "management:all",
        "sessions:connect",
        "sessions:read sessions:write management:all",
        "sessions:connect:extra connect sessions:*",
    ];
    for event in routes(&world) {
        let route = event.route();
        for held in holdings {
            let granted = route
                .scope()
                .accepted()
                .iter()
                .any(|s| held.split(' ').any(|h| h == *s));
            let reply = world.call(event.clone().claims(world.org, held)).await;
            if granted {
                assert_ne!(reply.status, 403, "{route:?} with {held}: {:#}", reply.body);
                assert!(
                    reply.status < 500,
                    "{route:?} with {held}: {:#}",
                    reply.body
                );
            } else {
                assert_eq!(
                    reply.expect_error(403, "forbidden"),
                    format!("token lacks the {} scope", route.scope().as_str()),
                    "{route:?} with {held}"
                );
                assert_eq!(reply.bearer_error().as_deref(), Some("insufficient_scope"));
            }
        }
    }
    // Whatever else it holds, only sessions:connect grants the connection side, and it grants
    // nothing else.
    for route in Route::ALL {
        let connect_only = route.scope().accepted() == ["sessions:connect"];
        assert_eq!(connect_only, route.method() == "POST", "{route:?}");
    }
}

async fn dev_world() -> World {
    World::with_env(|vars| {
        vars.insert("SESSIONS_DEV_JWT_SECRET".into(), DEV_SECRET.into());
    })
    .await
}

#[tokio::test]
async fn dev_verifier_accepts_a_signed_token_and_ignores_authorizer_claims() {
    let world = dev_world().await;
    let token = dev_token(world.org, "sessions:read", DEV_SECRET, 300);
    let reply = world
        .call(
            world
                .event(Route::ListSessions)
                .without_authorizer()
                .bearer(&token),
        )
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);

    // With the dev verifier on, authorizer claims alone do not authenticate.
    let reply = world
        .call(world.event(Route::ListSessions).without_bearer())
        .await;
    reply.expect_error(401, "unauthorized");
}

#[tokio::test]
async fn dev_verifier_refuses_forged_expired_and_malformed_tokens() {
    let world = dev_world().await;
    let wrong_key = dev_token(
        world.org,
        "sessions:read",
        "another-secret-0123456789abcdef0123",
        300,
    );
    let expired = dev_token(world.org, "sessions:read", DEV_SECRET, -600);
    for token in [wrong_key.as_str(), expired.as_str(), "garbage", "a.b.c"] {
        let reply = world
            .call(
                world
                    .event(Route::ListSessions)
                    .without_authorizer()
                    .bearer(token),
            )
            .await;
        reply.expect_error(401, "unauthorized");
        assert_eq!(reply.bearer_error().as_deref(), Some("invalid_token"));
    }
}

#[tokio::test]
async fn unreachable_table_is_503_with_retry_after_on_every_route() {
    let endpoint = faults::unreachable().await;
    let world = World::new().await;
    let api = api_at(&endpoint, "sessions");
    for event in routes(&world) {
        let reply = call(&api, event).await;
        let message = reply.expect_error(503, "unavailable");
        reply.retry_after();
        assert!(
            !message.contains("127.0.0.1") && !message.contains("sessions"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn throttling_is_503_with_retry_after() {
    let endpoint = faults::always(400, "ThrottlingException").await;
    let world = World::new().await;
    let api = api_at(&endpoint, "sessions");
    let reply = call(&api, world.event(Route::ListSessions)).await;
    reply.expect_error(503, "unavailable");
    reply.retry_after();
}

#[tokio::test]
async fn other_dependency_errors_are_500_without_internals() {
    let endpoint = faults::always(400, "ResourceNotFoundException").await;
    let world = World::new().await;
    let api = api_at(&endpoint, "secret-table-name");
    for event in routes(&world) {
        let reply = call(&api, event).await;
        let message = reply.expect_error(500, "internal");
        assert_eq!(message, "Internal server error");
        let text = reply.body.to_string();
        for leak in [
            "secret-table-name",
            "ResourceNotFound",
            "injected",
            "127.0.0.1",
        ] {
            assert!(!text.contains(leak), "{leak} leaked: {text}");
        }
    }
}
