//! Who may call (401/403 and the dev verifier) and how failures look (503, 500), for every route.

use chrono::Duration;
use sessions_shared::api::Api;
use sessions_shared::store::DynamoStore;
use sessions_tests::{
    call, client_for, config, dev_token, env, faults, Event, Kind, World, DEV_SECRET,
};
use uuid::Uuid;

fn routes(world: &World) -> Vec<Event> {
    vec![
        world.event(Kind::List),
        world.get_event(Uuid::new_v4()),
        world.event(Kind::RevokeAll),
    ]
}

#[tokio::test]
async fn no_authorizer_claims_is_401_on_every_route() {
    let world = World::new().await;
    for event in routes(&world) {
        let reply = world.call(event.without_authorizer()).await;
        reply.expect_error(401, "unauthorized");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#)
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
        .call(world.event(Kind::List).claims(world.org, "sessions:write"))
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
                .event(Kind::RevokeAll)
                .claims(world.org, "sessions:read"),
        )
        .await;
    assert_eq!(
        read_only.expect_error(403, "forbidden"),
        "token lacks the sessions:write scope"
    );
    // Nothing was revoked by the refused call.
    assert_eq!(world.list(&[]).await.ids(), [s.id.to_string()]);

    let list = world
        .call(world.event(Kind::List).claims(world.org, "management:all"))
        .await;
    assert_eq!(list.status, 200);
    let revoke = world
        .call(
            world
                .event(Kind::RevokeAll)
                .claims(world.org, "management:all"),
        )
        .await;
    assert_eq!(revoke.body["disconnectedCount"], 1);
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
        .call(world.event(Kind::List).without_authorizer().bearer(&token))
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);

    // With the dev verifier on, authorizer claims alone do not authenticate.
    let reply = world.call(world.event(Kind::List).without_bearer()).await;
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
            .call(world.event(Kind::List).without_authorizer().bearer(token))
            .await;
        reply.expect_error(401, "unauthorized");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#)
        );
    }
}

#[tokio::test]
async fn unreachable_table_is_503_with_retry_after_on_every_route() {
    let endpoint = faults::closed_port().await;
    let world = World::new().await;
    let api = Api::new(
        &config(&env("sessions")),
        DynamoStore::new(client_for(&endpoint), "sessions"),
    )
    .expect("api");
    for event in routes(&world) {
        let reply = call(&api, event).await;
        let message = reply.expect_error(503, "unavailable");
        assert_eq!(reply.header("retry-after"), Some("1"));
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
    let api = Api::new(
        &config(&env("sessions")),
        DynamoStore::new(client_for(&endpoint), "sessions"),
    )
    .expect("api");
    let reply = call(&api, world.event(Kind::List)).await;
    reply.expect_error(503, "unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn other_dependency_errors_are_500_without_internals() {
    let endpoint = faults::always(400, "ResourceNotFoundException").await;
    let world = World::new().await;
    let api = Api::new(
        &config(&env("secret-table-name")),
        DynamoStore::new(client_for(&endpoint), "secret-table-name"),
    )
    .expect("api");
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
