//! Hostile input on every route: odd path parameters, repeated and oversized query
//! parameters, unicode everywhere. Never a 5xx; every refusal in the contract's error shape;
//! and, through proptest, the same for whole handler calls with arbitrary input.

use chrono::Duration;
use lambda_http::{Request, RequestExt};
use proptest::prelude::*;
use serde_json::json;
use sessions::api::Api;
use sessions::route::Route;
use sessions_tests::{caller_scopes, is_error_code, takes_session, Event, Reply, World};
use std::collections::HashMap;
use uuid::Uuid;

/// What every answer, success or not, must look like.
fn assert_contract(reply: &Reply, case: &str) {
    assert!(
        reply.status < 500,
        "{case}: {} {:#}",
        reply.status,
        reply.body
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{case}"
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{case}");
    assert!(reply.header("x-request-id").is_some(), "{case}");
    if reply.status >= 400 {
        // The code is one of the contract's codes for the status, not merely one it has.
        let code = reply.body["code"].as_str().unwrap_or_default();
        assert!(
            is_error_code(reply.status, code),
            "{case}: {} {code:?} is not a status and code of the contract",
            reply.status
        );
        reply.expect_error(reply.status, code);
        assert_eq!(
            reply.body["requestId"].as_str(),
            reply.header("x-request-id"),
            "{case}"
        );
    }
}

/// Path parameter values that are not a hyphenated UUID, one way or another.
fn hostile_ids(real: &str) -> Vec<(&'static str, String)> {
    let percent_encoded: String = real.bytes().map(|b| format!("%{b:02X}")).collect();
    let mut one_encoded = real.to_string();
    one_encoded.replace_range(0..1, &format!("%{:02X}", real.as_bytes()[0]));
    vec![
        ("percent-encoded", percent_encoded),
        ("one character percent-encoded", one_encoded),
        ("encoded hyphens", real.replace('-', "%2D")),
        ("traversal", "..%2F..%2Fapplications".into()),
        ("decoded traversal", "../../applications".into()),
        ("dot-dot", "..".into()),
        ("encoded dot-dot", "%2e%2e".into()),
        ("braced", format!("{{{real}}}")),
        ("urn", format!("urn:uuid:{real}")),
        ("no hyphens", real.replace('-', "")),
        ("leading space", format!(" {real}")),
        ("trailing newline", format!("{real}\n")),
        ("nul byte", format!("{}\u{0}", &real[..35])),
        ("36 bytes of unicode", "é".repeat(18)),
        ("fullwidth digit", format!("\u{ff15}{}", &real[1..])),
        ("hyphen look-alike", real.replacen('-', "\u{2010}", 1)),
        ("emoji", "🔥".repeat(9)),
        ("right-to-left override", format!("\u{202e}{}", &real[1..])),
        ("10 kB", "a".repeat(10 * 1024)),
        ("empty", String::new()),
        (
            "nil with a wildcard",
            "********-****-****-****-************".into(),
        ),
        ("sql-ish", "' OR '1'='1".into()),
        ("key syntax", format!("ORG#{real}#APP")),
    ]
}

#[tokio::test]
async fn path_parameters_are_hyphenated_uuids_in_any_case_or_a_400() {
    let world = World::new().await;
    let s = world.session(Duration::seconds(1));
    world.put(&s).await;
    let app = world.app.id.to_string();
    let session = s.id.to_string();
    // Each route with the scopes it needs: the path is checked after the scope.
    let claims = |e: Event| {
        let scopes = caller_scopes(e.route());
        e.claims(world.org, scopes)
    };

    for (case, bad) in hostile_ids(&app) {
        for route in Route::ALL {
            let event = Event::new(route, &bad, takes_session(route).then_some(&*session));
            let route = event.route_key();
            let reply = world.call(claims(event)).await;
            assert_contract(&reply, case);
            assert_eq!(
                reply.expect_error(400, "invalid_request"),
                "applicationId must be a UUID",
                "{case} on {route}"
            );
        }
    }
    for (case, bad) in hostile_ids(&session) {
        for route in Route::ALL.into_iter().filter(|r| takes_session(*r)) {
            let event = Event::new(route, &app, Some(&bad));
            let route = event.route_key();
            let reply = world.call(claims(event)).await;
            assert_contract(&reply, case);
            assert_eq!(
                reply.expect_error(400, "invalid_request"),
                "sessionId must be a UUID",
                "{case} on {route}"
            );
        }
    }

    // Upper case works on every route and comes back lower case.
    let (app_uc, session_uc) = (app.to_uppercase(), session.to_uppercase());
    let reply = world.call(claims(Event::list(&app_uc))).await;
    assert_eq!(reply.ids(), std::slice::from_ref(&session));
    let reply = world.call(claims(Event::get(&app_uc, &session_uc))).await;
    assert_eq!(reply.body["session"]["id"], session);
    assert_eq!(reply.body["session"]["agentId"], app);
    let reply = world
        .call(claims(Event::revoke_one(&app_uc, &session_uc)))
        .await;
    assert_eq!(reply.body, json!({"success": true, "disconnected": true}));
    let reply = world.call(claims(Event::revoke_all(&app_uc))).await;
    assert_eq!(reply.body, json!({"success": true, "disconnectedCount": 0}));
    // Mixed case is the same application.
    let mixed: String = app
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let reply = world
        .call(claims(Event::list(&mixed).query("status", "all")))
        .await;
    assert_eq!(reply.ids(), [session]);
}

#[tokio::test]
async fn repeated_query_parameters_are_refused_by_name() {
    let world = World::new().await;
    for (name, a, b) in [
        ("limit", "5", "6"),
        ("limit", "5", "5"),
        ("status", "all", "active"),
        ("includeInactive", "true", "false"),
        ("cursor", "AAAA", "AAAA"),
    ] {
        let reply = world.list(&[(name, a), (name, b)]).await;
        assert_contract(&reply, name);
        assert_eq!(
            reply.expect_error(400, "invalid_request"),
            format!("{name} must be given at most once")
        );
    }
    // Names are case sensitive: `LIMIT` is an unknown parameter, so it is ignored.
    let reply = world.list(&[("LIMIT", "0"), ("Status", "bogus")]).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    // A repeated unknown parameter is still just unknown.
    let reply = world.list(&[("x", "1"), ("x", "2")]).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn unicode_in_every_field_never_breaks_a_route() {
    let world = World::new().await;
    let s = world.session(Duration::seconds(1));
    world.put(&s).await;
    let weird = "ünïcødé ✓ 🔥 \u{202e}\u{0}\u{feff} 漢字 \\\" ' <script>";

    // Known query parameters with unicode values: 400 naming the parameter.
    for (name, value, message) in [
        (
            "limit",
            "\u{ff15}",
            "limit must be an integer from 1 to 200",
        ),
        ("limit", "٥", "limit must be an integer from 1 to 200"),
        (
            "status",
            "actíve",
            "status must be one of active, inactive, all",
        ),
        (
            "includeInactive",
            "trué",
            "includeInactive must be true or false",
        ),
        ("cursor", weird, "invalid cursor"),
    ] {
        let reply = world.list(&[(name, value)]).await;
        assert_contract(&reply, name);
        assert_eq!(reply.expect_error(400, "invalid_request"), message);
        assert!(!reply.body.to_string().contains("ünïcødé"), "input echoed");
    }
    // Unknown parameters with unicode names and values, unicode headers, a unicode body and
    // a unicode subject: ignored on every route.
    let decorate = |e: Event| {
        e.query(weird, weird)
            .query("ø", "")
            // Header values may carry UTF-8 bytes (names and control characters cannot).
            .header("user-agent", "ünïcødé ✓ 🔥 漢字")
            .header("x-custom", "\u{202e}漢字")
            .body(weird)
            .raw_claims(json!({
                "org_id": world.org.to_string(),
                "scope": "sessions:read sessions:write",
                "sub": weird,
                "name": weird,
            }))
    };
    for event in [
        world.event(Route::ListSessions),
        world.get_event(s.id),
        world.revoke_one_event(s.id),
        world.event(Route::RevokeSessions),
    ] {
        let route = event.route_key();
        let reply = world.call(decorate(event)).await;
        assert_contract(&reply, &route);
        assert_eq!(reply.status, 200, "{route}: {:#}", reply.body);
    }
    // Unicode where the organization or the scopes belong: 401 and 403.
    let reply = world
        .call(
            world
                .event(Route::ListSessions)
                .raw_claims(json!({"org_id": weird, "scope": "sessions:read"})),
        )
        .await;
    assert_contract(&reply, "org");
    reply.expect_error(401, "unauthorized");
    let reply = world
        .call(world.event(Route::ListSessions).raw_claims(
            json!({"org_id": world.org.to_string(), "scope": "séssions:read sessions:réad"}),
        ))
        .await;
    assert_contract(&reply, "scope");
    reply.expect_error(403, "forbidden");
}

#[tokio::test]
async fn a_hostile_request_id_is_replaced_not_echoed() {
    let world = World::new().await;
    for id in [
        "abc\r\nSet-Cookie: session=stolen",
        "ünïcødé",
        "<script>alert(1)</script>",
        &"a".repeat(10 * 1024),
        "",
    ] {
        let reply = world
            .call(
                world
                    .event(Route::ListSessions)
                    .query("limit", "0")
                    .request_id(id),
            )
            .await;
        assert_contract(&reply, id);
        let echoed = reply.header("x-request-id").expect("request id");
        assert!(Uuid::try_parse(echoed).is_ok(), "{echoed}");
    }
    // A well-formed one (API Gateway's) is kept, so logs and answers can be matched.
    let reply = world
        .call(
            world
                .event(Route::ListSessions)
                .request_id("Qx3mbhR4IAMEVgB="),
        )
        .await;
    assert_eq!(reply.header("x-request-id"), Some("Qx3mbhR4IAMEVgB="));
}

/// `lambda_http` cannot turn an event whose path and query exceed 64 kB into a request (`http`
/// limits a URI to that), so a 1 MB query string is given to the handler the way
/// `lambda_http` hands it over: as the request's query parameters.
fn with_query(event: Event, params: &[(&str, String)]) -> Request {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in params {
        map.entry(k.to_string()).or_default().push(v.clone());
    }
    event.request().with_query_string_parameters(map)
}

async fn list(api: &Api, req: Request) -> Reply {
    Reply::from_response(api.handle(Route::ListSessions, req).await)
}

#[tokio::test]
async fn a_megabyte_of_query_string_is_a_400_or_ignored() {
    let world = World::new().await;
    let s = world.session(Duration::seconds(1));
    world.put(&s).await;
    let mb = 1024 * 1024;
    let digits = "1".repeat(mb);
    let letters = "a".repeat(mb);
    let unicode = "é".repeat(mb / 2);
    for (case, params, message) in [
        (
            "limit",
            vec![("limit", digits.clone())],
            Some("limit must be an integer from 1 to 200"),
        ),
        (
            "status",
            vec![("status", letters.clone())],
            Some("status must be one of active, inactive, all"),
        ),
        (
            "includeInactive",
            vec![("includeInactive", unicode.clone())],
            Some("includeInactive must be true or false"),
        ),
        (
            "cursor",
            vec![("cursor", letters.clone())],
            Some("invalid cursor"),
        ),
        (
            "unknown",
            vec![("x", letters.clone()), ("y", unicode.clone())],
            None,
        ),
    ] {
        let reply = list(
            &world.api,
            with_query(world.event(Route::ListSessions), &params),
        )
        .await;
        assert_contract(&reply, case);
        match message {
            Some(message) => {
                assert_eq!(
                    reply.expect_error(400, "invalid_request"),
                    message,
                    "{case}"
                )
            }
            None => assert_eq!(reply.ids(), [s.id.to_string()], "{case}"),
        }
        assert!(reply.body.to_string().len() < 1024, "{case}: input echoed");
    }
    // Many parameters rather than one long one.
    let many: Vec<(&str, String)> = (0..20_000).map(|i| ("p", i.to_string())).collect();
    let reply = list(
        &world.api,
        with_query(world.event(Route::ListSessions), &many),
    )
    .await;
    assert_eq!(reply.status, 200);
    let many: Vec<(&str, String)> = (0..20_000).map(|_| ("limit", "5".to_string())).collect();
    let reply = list(
        &world.api,
        with_query(world.event(Route::ListSessions), &many),
    )
    .await;
    assert_eq!(
        reply.expect_error(400, "invalid_request"),
        "limit must be given at most once"
    );
    // The largest query string lambda_http does convert, through the real event.
    let reply = world.list(&[("x", &"a".repeat(60 * 1024))]).await;
    assert_eq!(reply.status, 200);
}

// Property: whatever the path parameters, query and claims, a handler answers in the
// contract's shape and never with a 5xx.

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-zA-Z0-9%+/=_.~-]{0,80}",
        Just(String::new()),
        Just("active".to_string()),
        Just("all".to_string()),
        Just("true".to_string()),
        "[0-9]{1,4}",
        "-?[0-9]{1,20}",
    ]
}

fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("limit".to_string()),
        Just("status".to_string()),
        Just("includeInactive".to_string()),
        Just("cursor".to_string()),
        ".{0,12}",
    ]
}

fn any_id(real: Uuid) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(real.to_string()),
        Just(real.to_string().to_uppercase()),
        Just(Uuid::new_v4().to_string()),
        any::<u128>().prop_map(|n| Uuid::from_u128(n).to_string()),
        ".{0,40}",
        "[0-9a-fA-F-]{30,40}",
    ]
}

fn any_claims(org: Uuid) -> impl Strategy<Value = serde_json::Value> {
    let org_value = prop_oneof![
        Just(org.to_string()),
        Just(Uuid::new_v4().to_string()),
        ".{0,40}",
    ];
    let scope = prop_oneof![
        Just("sessions:read sessions:write".to_string()),
        Just("management:all".to_string()),
        Just("sessions:connect".to_string()),
        Just("[sessions:read]".to_string()),
        ".{0,30}",
    ];
    (org_value, scope, any::<bool>()).prop_map(|(org, scope, as_scp)| {
        let name = if as_scp { "scp" } else { "scope" };
        json!({"org_id": org, name: scope, "sub": "prop"})
    })
}

#[test]
fn arbitrary_requests_never_get_a_5xx() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (world, session) = runtime.block_on(async {
        let world = World::new().await;
        let s = world.session(Duration::seconds(1));
        world.put(&s).await;
        (world, s.id)
    });
    let strategy = (
        proptest::sample::select(Route::ALL.to_vec()),
        any_id(world.app.id),
        any_id(session),
        proptest::collection::vec((any_name(), any_text()), 0..6),
        any_claims(world.org),
    );
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    let result = runner.run(&strategy, |(route, app, session, query, claims)| {
        let session = takes_session(route).then_some(session.as_str());
        let mut event = Event::new(route, &app, session).raw_claims(claims);
        for (k, v) in &query {
            event = event.query(k, v);
        }
        let reply = runtime.block_on(world.call(event));
        prop_assert!(reply.status < 500, "{} {:#}", reply.status, reply.body);
        // 201 a connect, 409 a heartbeat after a disconnect of an earlier case.
        prop_assert!([200, 201, 400, 401, 403, 404, 409].contains(&reply.status));
        if reply.status >= 400 {
            let mut keys: Vec<&String> = reply
                .body
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            keys.sort();
            prop_assert_eq!(keys, vec!["code", "message", "requestId", "statusCode"]);
            prop_assert_eq!(
                reply.body["statusCode"].as_u64(),
                Some(u64::from(reply.status))
            );
            // One of the contract's codes, one that goes with the status.
            let code = reply.body["code"].as_str().unwrap_or_default();
            prop_assert!(
                is_error_code(reply.status, code),
                "{} {:?} is not a status and code of the contract",
                reply.status,
                code
            );
        }
        prop_assert_eq!(reply.header("content-type"), Some("application/json"));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
