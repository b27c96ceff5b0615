//! `POST /api/v1/applications/{applicationId}/sessions` (the connection side), clause by
//! clause, over real API Gateway events.

use base64::Engine;
use chrono::Duration;
use serde_json::{json, Value};
use sessions::route::Route;
use sessions::time::{self, Timestamp};
use sessions_tests::{Event, Reply, World};
use uuid::Uuid;

/// Every session of the world's application, as a list with `status=all` reads them.
async fn all_ids(world: &World) -> Vec<String> {
    world.list(&[("status", "all")]).await.ids()
}

fn at(value: &Value) -> Timestamp {
    time::parse(
        value
            .as_str()
            .unwrap_or_else(|| panic!("a timestamp: {value}")),
    )
    .expect("an RFC 3339 timestamp")
}

/// A 400 naming what was wrong, and nothing created.
async fn refused(world: &World, event: Event, message: &str, case: &str) {
    let reply = world.call(event).await;
    assert_eq!(
        reply.expect_error(400, "invalid_request"),
        message,
        "{case}"
    );
    assert!(
        all_ids(world).await.is_empty(),
        "{case}: a session was created"
    );
}

#[tokio::test]
async fn creates_an_active_session_with_every_field_as_the_contract_says() {
    let world = World::new().await;
    let expires = time::now() + Duration::hours(1);
    let info = json!({"name": "claude-ai", "version": "0.1.0", "title": "Claude",
                      "icons": [{"src": "https://example.com/i.png"}], "x-extra": null});
    let before = time::now();
    let (id, reply) = world
        .connect(&json!({
            "name": "Claude on the laptop",
            "hostname": "laptop.local",
            "userAgent": "claude-desktop/0.9.3",
            "clientInfo": info,
            "tokenExpiresAt": time::format(&expires),
        }))
        .await;
    let after = time::now();

    assert_eq!(reply.status, 201);
    let location = format!("/api/v1/applications/{}/sessions/{id}", world.app.id);
    assert_eq!(reply.header("location"), Some(location.as_str()));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.header("x-request-id").is_some());
    let keys: Vec<&String> = reply.body.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["session"]);

    let s = &reply.body["session"];
    assert_eq!(s["id"], id.to_string(), "lowercase and hyphenated");
    assert_eq!(s["name"], "Claude on the laptop");
    assert_eq!(s["status"], "active");
    assert_eq!(s["derivedStatus"], "active");
    assert_eq!(s["hostname"], "laptop.local");
    assert_eq!(s["userAgent"], "claude-desktop/0.9.3");
    assert_eq!(s["clientInfo"], info, "every member kept as given");
    assert_eq!(s["tokenExpiresAt"], time::format(&expires));
    assert_eq!(s["agentId"], world.app.id.to_string());
    assert_eq!(s["organizationId"], world.org.to_string());
    assert!(s.get("disconnectedAt").is_none(), "{s:#}");
    // createdAt = connectedAt = lastActiveAt = the server's now.
    let created = at(&s["createdAt"]);
    assert!(before <= created && created <= after, "{s:#}");
    assert_eq!(s["connectedAt"], s["createdAt"]);
    assert_eq!(s["lastActiveAt"], s["createdAt"]);
    assert_eq!(
        s.as_object().expect("object").len(),
        13,
        "every field but disconnectedAt"
    );

    // The Location reads the same session, and the list holds it.
    let read = world.read(id).await;
    assert_eq!(&read, s);
    assert_eq!(all_ids(&world).await, [id.to_string()]);
    assert_eq!(world.list(&[]).await.ids(), [id.to_string()], "active");
}

#[tokio::test]
async fn without_a_name_one_is_built_from_client_info_and_hostname() {
    let world = World::new().await;
    let info = json!({"name": "claude-ai", "version": "0.1.0"});
    for (body, expected) in [
        (
            json!({"clientInfo": info, "hostname": "laptop"}),
            "claude-ai on laptop",
        ),
        (json!({"clientInfo": info}), "claude-ai"),
        (json!({"clientInfo": info, "hostname": null}), "claude-ai"),
        (json!({"hostname": "laptop"}), "laptop"),
        (json!({"userAgent": "claude-desktop/0.9.3"}), "MCP session"),
        (json!({}), "MCP session"),
        (
            json!({"name": "mine", "clientInfo": info, "hostname": "laptop"}),
            "mine",
        ),
    ] {
        let (_, reply) = world.connect(&body).await;
        assert_eq!(reply.body["session"]["name"], expected, "{body}");
    }
    // Never longer than a name may be.
    let (_, reply) = world
        .connect(
            &json!({"clientInfo": {"name": "c".repeat(200), "version": "1"},
                         "hostname": "h".repeat(253)}),
        )
        .await;
    let name = reply.body["session"]["name"].as_str().expect("name");
    assert_eq!(name.chars().count(), 200);
}

#[tokio::test]
async fn no_body_or_an_empty_object_connects_with_every_default() {
    let world = World::new().await;
    let bare = world
        .event(Route::ConnectSession)
        .without_body()
        .without_header("content-type");
    for (case, event) in [
        ("no body, no Content-Type", bare),
        ("{}", world.connect_event(&json!({}))),
        ("an empty body", world.event(Route::ConnectSession).body("")),
    ] {
        let reply = world.call(event).await;
        assert_eq!(reply.status, 201, "{case}: {:#}", reply.body);
        let s = &reply.body["session"];
        assert_eq!(s["name"], "MCP session", "{case}");
        for null in ["hostname", "userAgent", "clientInfo"] {
            assert_eq!(s[null], Value::Null, "{case}: {null}");
        }
        assert!(s.get("tokenExpiresAt").is_none(), "{case}");
    }
    assert_eq!(all_ids(&world).await.len(), 3);
}

#[tokio::test]
async fn each_invalid_field_is_a_400_naming_the_field_and_what_it_accepts() {
    let world = World::new().await;
    let name = "name must be a string of 1 to 200 characters without control characters";
    let hostname =
        "hostname must be null or a string of at most 253 characters without control characters";
    let user_agent =
        "userAgent must be null or a string of at most 512 characters without control characters";
    let info = "clientInfo must be null or an object with the members name and version";
    let expiry = "tokenExpiresAt must be an RFC 3339 timestamp after now";
    let past = time::format(&(time::now() - Duration::seconds(1)));
    let cases: Vec<(Value, &str)> = vec![
        // Wrong types.
        (json!({"name": 5}), name),
        (json!({"name": null}), name),
        (json!({"name": ["a"]}), name),
        (json!({"hostname": 1}), hostname),
        (json!({"hostname": {"a": 1}}), hostname),
        (json!({"userAgent": true}), user_agent),
        (json!({"clientInfo": "claude-ai"}), info),
        (json!({"clientInfo": []}), info),
        (json!({"tokenExpiresAt": 1796083200}), expiry),
        (json!({"tokenExpiresAt": null}), expiry),
        // Limits.
        (json!({"name": ""}), name),
        (json!({"name": "n".repeat(201)}), name),
        (json!({"name": "é".repeat(201)}), name),
        (json!({"hostname": "h".repeat(254)}), hostname),
        (json!({"userAgent": "u".repeat(513)}), user_agent),
        (json!({"clientInfo": {"name": "a"}}), info),
        (json!({"clientInfo": {"version": "1"}}), info),
        (
            json!({"clientInfo": {"name": "", "version": "1"}}),
            "clientInfo.name must be a string of 1 to 200 characters",
        ),
        (
            json!({"clientInfo": {"name": "n".repeat(201), "version": "1"}}),
            "clientInfo.name must be a string of 1 to 200 characters",
        ),
        (
            json!({"clientInfo": {"name": "a", "version": 1}}),
            "clientInfo.version must be a string of 1 to 100 characters",
        ),
        (
            json!({"clientInfo": {"name": "a", "version": "v".repeat(101)}}),
            "clientInfo.version must be a string of 1 to 100 characters",
        ),
        (
            json!({"clientInfo": {"name": "a", "version": "1", "pad": "p".repeat(4100)}}),
            "clientInfo must be at most 4096 bytes as JSON",
        ),
        (json!({"tokenExpiresAt": "tomorrow"}), expiry),
        (json!({"tokenExpiresAt": "2026-12-01"}), expiry),
        (json!({"tokenExpiresAt": past}), expiry),
        // Control characters in name, hostname and userAgent.
        (json!({"name": "a\u{0}b"}), name),
        (json!({"name": "line\nbreak"}), name),
        (json!({"name": "tab\there"}), name),
        (json!({"name": "del\u{7f}"}), name),
        (json!({"hostname": "host\r\n"}), hostname),
        (json!({"hostname": "\u{1b}[31mred"}), hostname),
        (json!({"userAgent": "agent\u{1f}"}), user_agent),
        (json!({"userAgent": "agent\u{0}"}), user_agent),
    ];
    for (body, message) in cases {
        let case = body.to_string();
        refused(&world, world.connect_event(&body), message, &case).await;
    }
    // The first invalid field in the order name, hostname, userAgent, clientInfo, ...: one 400.
    let reply = world
        .call(world.connect_event(&json!({"hostname": 1, "userAgent": 2})))
        .await;
    assert_eq!(reply.expect_error(400, "invalid_request"), hostname);
}

#[tokio::test]
async fn limits_are_inclusive_and_counted_in_characters() {
    let world = World::new().await;
    let base = json!({"name": "a", "version": "1", "pad": ""})
        .to_string()
        .len();
    for body in [
        json!({"name": "n".repeat(200)}),
        json!({"name": "🔥".repeat(200)}),
        json!({"hostname": "h".repeat(253)}),
        json!({"userAgent": "u".repeat(512)}),
        json!({"clientInfo": {"name": "n".repeat(200), "version": "v".repeat(100)}}),
        json!({"clientInfo": {"name": "a", "version": "1", "pad": "p".repeat(4096 - base)}}),
        // Control characters are refused only where the contract says.
        json!({"clientInfo": {"name": "a\u{1}", "version": "1\n", "title": "\u{0}"}}),
        // Unicode that is not a control character is fine.
        json!({"name": "ünïcødé ✓ 🔥 漢字 \u{202e} \u{a0}", "hostname": "ü.example"}),
    ] {
        let (id, reply) = world.connect(&body).await;
        for (field, value) in body.as_object().expect("object") {
            assert_eq!(&reply.body["session"][field], value, "{field}");
            assert_eq!(&world.read(id).await[field], value, "{field}, read back");
        }
    }
}

#[tokio::test]
async fn unknown_fields_and_server_fields_are_400() {
    let world = World::new().await;
    let accepted = "the accepted fields are name, hostname, userAgent, clientInfo, tokenExpiresAt";
    for field in [
        "id",
        "status",
        "createdAt",
        "connectedAt",
        "lastActiveAt",
        "organizationId",
        "agentId",
        "Name",
        "client_info",
    ] {
        let event = world.connect_event(&json!({ field: "x" }));
        refused(
            &world,
            event,
            &format!("unknown field {field}: {accepted}"),
            field,
        )
        .await;
    }
    // A field name that is not plain is not repeated back.
    for field in ["<script>alert(1)</script>", "ünï", "a b", &"a".repeat(65)] {
        let event = world.connect_event(&json!({ field: 1 }));
        refused(&world, event, &format!("unknown field: {accepted}"), field).await;
    }
}

#[tokio::test]
async fn the_body_must_be_one_json_object_without_repeated_members() {
    let world = World::new().await;
    let not_json = "the request body must be valid JSON: one object, in UTF-8";
    let not_object = "the request body must be a JSON object";
    for (body, message) in [
        ("[]", not_object),
        ("[{\"name\": \"a\"}]", not_object),
        ("null", not_object),
        ("\"name\"", not_object),
        ("42", not_object),
        ("{", not_json),
        ("{} {}", not_json),
        ("{\"name\": \"a\"} trailing", not_json),
        ("{'name': 'a'}", not_json),
        ("{\"name\": \"a\",}", not_json),
        ("name=a", not_json),
        ("\u{feff}{}", not_json),
        ("{\"name\": \"\\ud800\"}", not_json),
        (
            "{\"name\": \"a\", \"name\": \"b\"}",
            "name must not repeat a member name",
        ),
        (
            "{\"clientInfo\": {\"name\": \"a\", \"version\": \"1\", \"version\": \"2\"}}",
            "clientInfo must not repeat a member name",
        ),
    ] {
        let event = world.event(Route::ConnectSession).body(body);
        refused(&world, event, message, body).await;
    }
}

#[tokio::test]
async fn a_body_over_16_kib_is_413_as_received_even_base64_encoded() {
    let world = World::new().await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    // 16384 bytes: a JSON object padded with spaces.
    let mut exact = br#"{"name": "padded"}"#.to_vec();
    exact.resize(16 * 1024, b' ');
    let exact_text = String::from_utf8(exact.clone()).expect("utf-8");
    let mut over = exact.clone();
    over.push(b' ');
    let over_text = String::from_utf8(over.clone()).expect("utf-8");

    let reply = world
        .call(world.event(Route::ConnectSession).body(&exact_text))
        .await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    assert_eq!(reply.body["session"]["name"], "padded");
    // Base64 makes it 21848 characters: the decoded bytes are what count.
    let reply = world
        .call(
            world
                .event(Route::ConnectSession)
                .encoded_body(&b64(&exact), true, exact.len()),
        )
        .await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    assert_eq!(reply.body["session"]["name"], "padded");

    for event in [
        world.event(Route::ConnectSession).body(&over_text),
        world
            .event(Route::ConnectSession)
            .encoded_body(&b64(&over), true, over.len()),
        world.connect_event(&json!({"name": "x".repeat(100 * 1024)})),
    ] {
        let reply = world.call(event).await;
        assert_eq!(
            reply.expect_error(413, "payload_too_large"),
            "the request body must be at most 16384 bytes"
        );
    }
    assert_eq!(all_ids(&world).await.len(), 2, "only the two that fit");

    // A small base64-encoded body is read like a text one.
    let body = json!({"hostname": "b64.example"}).to_string();
    let reply = world
        .call(world.event(Route::ConnectSession).encoded_body(
            &b64(body.as_bytes()),
            true,
            body.len(),
        ))
        .await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    assert_eq!(reply.body["session"]["hostname"], "b64.example");
}

#[tokio::test]
async fn a_body_not_declared_json_is_415() {
    let world = World::new().await;
    let body = json!({"name": "typed"});
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
        Some("application/json; charset=latin1"),
    ] {
        let mut event = world.connect_event(&body).without_header("content-type");
        if let Some(ct) = content_type {
            event = event.header("content-type", ct);
        }
        let reply = world.call(event).await;
        assert_eq!(
            reply.expect_error(415, "unsupported_media_type"),
            "Content-Type must be application/json",
            "{content_type:?}"
        );
    }
    assert!(all_ids(&world).await.is_empty());
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json;charset=UTF-8",
    ] {
        let event = world
            .connect_event(&body)
            .header("content-type", content_type);
        let reply = world.call(event).await;
        assert_eq!(reply.status, 201, "{content_type}: {:#}", reply.body);
    }
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_answers_the_first_session_with_200() {
    let world = World::new().await;
    let body = json!({"hostname": "laptop", "clientInfo": {"name": "claude-ai", "version": "1"}});
    let keyed = || {
        world
            .connect_event(&body)
            .header("idempotency-key", "connect-7f3c2a1e")
    };
    let first = world.call(keyed()).await;
    assert_eq!(first.status, 201, "{:#}", first.body);
    for _ in 0..3 {
        let again = world.call(keyed()).await;
        assert_eq!(again.status, 200, "{:#}", again.body);
        assert_eq!(again.body, first.body, "the same session, as it is");
        assert_eq!(again.header("location"), first.header("location"));
    }
    assert_eq!(
        all_ids(&world).await,
        [first.body["session"]["id"].as_str().expect("id")],
        "one session, never a second"
    );

    // Without a key, or with another key, the same body is a new session.
    world.connect(&body).await;
    let other = world
        .call(
            world
                .connect_event(&body)
                .header("idempotency-key", "connect-other"),
        )
        .await;
    assert_eq!(other.status, 201);
    assert_eq!(all_ids(&world).await.len(), 3);

    // A key is bound to its application.
    let sibling = world.add_app(world.org).await;
    let there = world
        .call(
            Event::new(Route::ConnectSession, &sibling.id.to_string(), None)
                .claims(world.org, "sessions:connect")
                .json_body(&body)
                .header("idempotency-key", "connect-7f3c2a1e"),
        )
        .await;
    assert_eq!(there.status, 201, "{:#}", there.body);
    assert_eq!(there.body["session"]["agentId"], sibling.id.to_string());
}

#[tokio::test]
async fn a_replay_reads_the_session_as_it_is_now() {
    let world = World::new().await;
    let keyed = || {
        world
            .connect_event(&json!({}))
            .header("idempotency-key", "replay-after-revoke")
    };
    let first = world.call(keyed()).await;
    assert_eq!(first.status, 201);
    let revoked = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(revoked.body["disconnectedCount"], 1);
    let again = world.call(keyed()).await;
    assert_eq!(again.status, 200, "{:#}", again.body);
    assert_eq!(again.body["session"]["id"], first.body["session"]["id"]);
    assert_eq!(again.body["session"]["derivedStatus"], "disconnected");
    assert_eq!(all_ids(&world).await.len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_409_conflict() {
    let world = World::new().await;
    let key = "conflict-key";
    let first = world
        .call(
            world
                .connect_event(&json!({"name": "first"}))
                .header("idempotency-key", key),
        )
        .await;
    assert_eq!(first.status, 201);
    for (case, event) in [
        (
            "another value",
            world.connect_event(&json!({"name": "second"})),
        ),
        (
            "the same object spelled differently",
            world
                .event(Route::ConnectSession)
                .body("{ \"name\": \"first\" }"),
        ),
        ("no body", world.event(Route::ConnectSession).without_body()),
    ] {
        let reply = world.call(event.header("idempotency-key", key)).await;
        assert_eq!(
            reply.expect_error(409, "conflict"),
            "Idempotency-Key was already used with a different request body",
            "{case}"
        );
    }
    assert_eq!(all_ids(&world).await.len(), 1);
    // The original still replays.
    let again = world
        .call(
            world
                .connect_event(&json!({"name": "first"}))
                .header("idempotency-key", key),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["session"]["name"], "first");
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_400() {
    let world = World::new().await;
    let message = "Idempotency-Key must be 1 to 255 visible ASCII characters";
    for key in ["", "has space", "ünïcødé", "tab\tinside", &"k".repeat(256)] {
        let event = world
            .connect_event(&json!({}))
            .header("idempotency-key", key);
        refused(&world, event, message, key).await;
    }
    // 255 visible characters, every one of them allowed.
    let visible: String = (0x21u8..=0x7e).map(char::from).collect();
    let long = format!("{visible}{}", "k".repeat(255 - visible.len()));
    for key in [visible.as_str(), long.as_str()] {
        let event = world
            .connect_event(&json!({}))
            .header("idempotency-key", key);
        assert_eq!(world.call(event).await.status, 201, "{key}");
    }
}

#[tokio::test]
async fn only_sessions_connect_may_connect_and_it_grants_nothing_else() {
    let world = World::new().await;
    for scope in [
        "management:all",
        "sessions:read sessions:write",
        "sessions:read sessions:write management:all",
        "sessions:connected",
    ] {
        let reply = world
            .call(world.connect_event(&json!({})).claims(world.org, scope))
            .await;
        assert_eq!(
            reply.expect_error(403, "forbidden"),
            "token lacks the sessions:connect scope",
            "{scope}"
        );
        assert_eq!(reply.bearer_error().as_deref(), Some("insufficient_scope"));
    }
    assert!(
        all_ids(&world).await.is_empty(),
        "a refused connect created nothing"
    );

    // The connection side's token cannot read or revoke what it connected.
    let (id, _) = world.connect(&json!({})).await;
    for event in [
        world.event(Route::ListSessions),
        world.get_event(id),
        world.revoke_one_event(id),
        world.event(Route::RevokeSessions),
    ] {
        let reply = world
            .call(event.claims(world.org, "sessions:connect"))
            .await;
        reply.expect_error(403, "forbidden");
    }
    assert_eq!(world.read(id).await["status"], "active", "nothing revoked");
}

#[tokio::test]
async fn a_foreign_or_missing_application_is_404_and_nothing_is_created() {
    let world = World::new().await;
    let attacker = Uuid::new_v4();
    let foreign = world
        .call(
            world
                .connect_event(&json!({"name": "intruder"}))
                .claims(attacker, "sessions:connect"),
        )
        .await;
    let missing = world
        .call(
            Event::new(Route::ConnectSession, &Uuid::new_v4().to_string(), None)
                .claims(world.org, "sessions:connect")
                .json_body(&json!({"name": "intruder"})),
        )
        .await;
    for reply in [&foreign, &missing] {
        assert_eq!(
            reply.expect_error(404, "not_found"),
            "Application not found"
        );
    }
    assert_eq!(
        foreign.body_without_request_id(),
        missing.body_without_request_id()
    );
    assert!(all_ids(&world).await.is_empty());
}

#[tokio::test]
async fn checks_come_in_order_caller_scope_path_then_body() {
    let world = World::new().await;
    let bad_body = |e: Event| e.body("not json").header("content-type", "text/plain");
    let reply = world
        .call(bad_body(world.event(Route::ConnectSession)).without_authorizer())
        .await;
    reply.expect_error(401, "unauthorized");
    let reply = world
        .call(bad_body(
            world
                .event(Route::ConnectSession)
                .claims(world.org, "management:all"),
        ))
        .await;
    reply.expect_error(403, "forbidden");
    let reply = world
        .call(bad_body(
            Event::new(Route::ConnectSession, "not-a-uuid", None)
                .claims(world.org, "sessions:connect"),
        ))
        .await;
    assert_eq!(
        reply.expect_error(400, "invalid_request"),
        "applicationId must be a UUID"
    );
    // 415 before 413 before 400, and the body before the key.
    let huge = "x".repeat(20_000);
    let reply = world
        .call(bad_body(world.event(Route::ConnectSession)).body(&huge))
        .await;
    reply.expect_error(415, "unsupported_media_type");
    let reply = world
        .call(world.event(Route::ConnectSession).body(&huge))
        .await;
    reply.expect_error(413, "payload_too_large");
    let reply = world
        .call(
            world
                .event(Route::ConnectSession)
                .body("[]")
                .header("idempotency-key", ""),
        )
        .await;
    assert_eq!(
        reply.expect_error(400, "invalid_request"),
        "the request body must be a JSON object"
    );
}

#[tokio::test]
async fn any_case_application_id_and_lowercase_output() {
    let world = World::new().await;
    let reply: Reply = world
        .call(
            Event::new(
                Route::ConnectSession,
                &world.app.id.to_string().to_uppercase(),
                None,
            )
            .claims(world.org, "sessions:connect")
            .json_body(&json!({})),
        )
        .await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let id = reply.body["session"]["id"].as_str().expect("id");
    assert_eq!(reply.body["session"]["agentId"], world.app.id.to_string());
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/applications/{}/sessions/{id}", world.app.id).as_str())
    );
}

#[tokio::test]
async fn a_connect_after_a_revoke_all_stays_connected() {
    let world = World::new().await;
    let (old, _) = world.connect(&json!({"name": "old"})).await;
    let revoked = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(revoked.body["disconnectedCount"], 1);
    // The client re-authenticates, as it was told to: its new session is not revoked.
    let (new, reply) = world.connect(&json!({"name": "new"})).await;
    assert_eq!(reply.body["session"]["derivedStatus"], "active");
    assert_eq!(world.read(new).await["derivedStatus"], "active");
    assert_eq!(world.read(old).await["derivedStatus"], "disconnected");
    assert_eq!(world.list(&[]).await.ids(), [new.to_string()]);
    let again = world.call(world.event(Route::RevokeSessions)).await;
    assert_eq!(
        again.body["disconnectedCount"], 1,
        "the new one, by a new revoke"
    );
}

#[tokio::test]
async fn a_token_expiry_reads_expired_once_it_passes() {
    let world = World::new().await;
    let expires = time::now() + Duration::milliseconds(800);
    let (id, reply) = world
        .connect(&json!({"tokenExpiresAt": time::format(&expires)}))
        .await;
    assert_eq!(reply.body["session"]["derivedStatus"], "active");
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let read = world.read(id).await;
    assert_eq!(read["derivedStatus"], "expired");
    assert_eq!(read["status"], "active");
}
