//! `openapi.yaml` cannot drift from what is built: its routes are the code's (`Route::ALL`), the
//! template's and the watch router's, its scopes the authorizer's, its Session schema exactly what `SessionView`
//! serializes, its errors `ApiError`'s, its list parameters the ones `ListParams` reads, and the
//! handlers' real responses have the documented shapes. (schemathesis, in `make test`, checks
//! the running API against every schema in full.)

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use serde_json::{json, Value};
use sessions::auth::Scope;
use sessions::error::ApiError;
use sessions::model::{DerivedStatus, Session, SessionStatus, StatusContext};
use sessions::params::{ListParams, DEFAULT_LIMIT, MAX_CURSOR_LEN, MAX_LIMIT};
use sessions::route::Route;
use sessions::time;
use sessions_tests::{Reply, World};
use uuid::Uuid;

use crate::spec_files::{openapi, strings, template, template_routes, watch_router, MethodPath};

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// Follows `$ref`s within the document until a value without one.
fn resolve<'a>(spec: &'a Value, mut v: &'a Value) -> &'a Value {
    while let Some(reference) = v["$ref"].as_str() {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references: {reference}"));
        v = spec
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling reference {reference}"));
    }
    v
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    let s = &spec["components"]["schemas"][name];
    assert!(s.is_object(), "schema {name}");
    s
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn operations(spec: &Value) -> BTreeMap<MethodPath, Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item[method].is_object() {
                ops.insert((method.to_uppercase(), path.clone()), item[method].clone());
            }
        }
    }
    ops
}

/// The parameters of an operation, path-level ones included, resolved, by name.
fn parameters(spec: &Value, route: &MethodPath) -> BTreeMap<String, Value> {
    let item = &spec["paths"][&route.1];
    let op = &item[route.0.to_lowercase()];
    let mut params = BTreeMap::new();
    for p in [&item["parameters"], &op["parameters"]] {
        for p in p.as_array().cloned().unwrap_or_default() {
            let p = resolve(spec, &p).clone();
            params.insert(p["name"].as_str().expect("name").to_string(), p);
        }
    }
    params
}

/// Every variant of `ApiError`: the match makes a new variant a compile error here.
fn every_api_error() -> Vec<ApiError> {
    let all = vec![
        ApiError::invalid("x"),
        ApiError::MissingCredentials,
        ApiError::Unauthorized("x".into()),
        ApiError::Forbidden("x".into()),
        ApiError::ApplicationNotFound,
        ApiError::SessionNotFound,
        ApiError::StreamNotFound,
        ApiError::Conflict("x".into()),
        ApiError::SessionDisconnected,
        ApiError::PayloadTooLarge { max_bytes: 1 },
        ApiError::UnsupportedMediaType,
        ApiError::Unavailable {
            retry_after_seconds: 1,
        },
        ApiError::Internal,
    ];
    for e in &all {
        match e {
            ApiError::InvalidRequest(_)
            | ApiError::MissingCredentials
            | ApiError::Unauthorized(_)
            | ApiError::Forbidden(_)
            | ApiError::ApplicationNotFound
            | ApiError::SessionNotFound
            | ApiError::StreamNotFound
            | ApiError::Conflict(_)
            | ApiError::SessionDisconnected
            | ApiError::PayloadTooLarge { .. }
            | ApiError::UnsupportedMediaType
            | ApiError::Unavailable { .. }
            | ApiError::Internal => {}
        }
    }
    all
}

/// The route of an operation.
fn route_of(op: &MethodPath) -> Route {
    Route::ALL
        .into_iter()
        .chain(Route::SHARED_SIGNALS)
        .find(|r| r.method() == op.0 && r.path() == op.1)
        .unwrap_or_else(|| panic!("{op:?} is no route of the code"))
}

/// Whether `route` can answer `err`: the body's errors only where a body is read, a reused
/// idempotency key only on connect, a disconnected session only on heartbeat.
fn answers(route: Route, err: &ApiError) -> bool {
    // The transmitter's discovery document and keys read nothing a caller sends.
    if route.scope() == Scope::Public {
        return matches!(err, ApiError::Internal);
    }
    match err {
        // A reused idempotency key; an organization's eleventh stream.
        ApiError::Conflict(_) => matches!(route, Route::ConnectSession | Route::SsfStreamCreate),
        ApiError::StreamNotFound => route.is_shared_signals() && route != Route::SsfStreamCreate,
        ApiError::ApplicationNotFound | ApiError::SessionNotFound => !route.is_shared_signals(),
        ApiError::SessionDisconnected => route == Route::HeartbeatSession,
        ApiError::PayloadTooLarge { .. } | ApiError::UnsupportedMediaType => route.reads_body(),
        _ => true,
    }
}

/// The successful statuses of `route`: a connect creates (201) or replays (200); revoke-all
/// may stop short (202).
fn successes(route: Route) -> &'static [u64] {
    match route {
        Route::ConnectSession => &[200, 201],
        Route::RevokeSessions => &[200, 202],
        Route::SsfStreamCreate => &[201],
        Route::SsfStreamDelete | Route::SsfVerify => &[204],
        _ => &[200],
    }
}

fn every_derived_status() -> Vec<DerivedStatus> {
    let all = vec![
        DerivedStatus::Active,
        DerivedStatus::Idle,
        DerivedStatus::Expired,
        DerivedStatus::Disconnected,
    ];
    for s in &all {
        match s {
            DerivedStatus::Active
            | DerivedStatus::Idle
            | DerivedStatus::Expired
            | DerivedStatus::Disconnected => {}
        }
    }
    all
}

fn every_session_status() -> Vec<SessionStatus> {
    let all = vec![SessionStatus::Active, SessionStatus::Disconnected];
    for s in &all {
        match s {
            SessionStatus::Active | SessionStatus::Disconnected => {}
        }
    }
    all
}

/// Enum values as their JSON strings, sorted.
fn serialized(values: Vec<serde_json::Result<Value>>) -> Vec<String> {
    let mut out: Vec<String> = values
        .into_iter()
        .map(|v| {
            v.ok()
                .and_then(|v| v.as_str().map(String::from))
                .expect("serializes to a string")
        })
        .collect();
    out.sort();
    out
}

/// A session with every optional field set (`full`) or unset.
fn session(full: bool) -> Session {
    let now = time::now();
    let some = |t| full.then_some(t);
    Session {
        id: Uuid::new_v4(),
        application_id: Uuid::new_v4(),
        organization_id: Uuid::new_v4(),
        name: "s".into(),
        status: SessionStatus::Active,
        token_expires_at: some(now + Duration::hours(1)),
        last_active_at: some(now),
        connected_at: some(now),
        disconnected_at: some(now),
        created_at: now,
        hostname: full.then(|| "laptop".to_string()),
        user_agent: full.then(|| "agent/1".to_string()),
        client_info: full.then(|| json!({"name": "claude-ai", "version": "0.1.0"})),
        last_seen_at: None,
        disconnect_reason: None,
    }
}

fn view_json(s: &Session) -> Value {
    let ctx = StatusContext {
        now: time::now(),
        idle_window: Duration::seconds(300),
        revoked_before: None,
        heartbeat_timeout: None,
    };
    serde_json::to_value(s.view(&ctx)).expect("a view serializes")
}

/// `2026-11-30T23:36:03.123Z`: the shape the Timestamp schema's pattern describes.
fn is_wire_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn type_allows_null(schema: &Value) -> bool {
    match &schema["type"] {
        Value::Array(types) => types.iter().any(|t| t == "null"),
        t => t == "null",
    }
}

/// And the code's: `Route::ALL`, each route served by the function its `name` names.
#[test]
fn routes_are_the_same_in_the_spec_the_template_and_the_watch_router() {
    let code: BTreeSet<MethodPath> = Route::ALL
        .iter()
        .chain(Route::SHARED_SIGNALS.iter())
        .map(|r| (r.method().to_string(), r.path().to_string()))
        .collect();
    let spec_routes: BTreeSet<MethodPath> = operations(&openapi()).into_keys().collect();
    let template_routes: BTreeSet<MethodPath> = template_routes(&template()).into_keys().collect();
    let router = watch_router();
    assert_eq!(spec_routes, code, "openapi.yaml vs sessions::route::Route");
    assert_eq!(
        spec_routes, template_routes,
        "openapi.yaml vs template.yaml"
    );
    assert_eq!(
        spec_routes,
        router.keys().cloned().collect(),
        "openapi.yaml vs the watch router"
    );
    // Each route is served by the function its `name` names.
    for route in Route::ALL.into_iter().chain(Route::SHARED_SIGNALS) {
        let key = (route.method().to_string(), route.path().to_string());
        assert_eq!(router[&key], route.name(), "{route:?}");
    }
}

#[test]
fn each_operation_requires_the_scopes_the_authorizer_requires() {
    let spec = openapi();
    let deployed = template_routes(&template());
    for (route, op) in operations(&spec) {
        let (_, event) = &deployed[&route];
        // Public (the transmitter's discovery and keys): no security here, no authorizer there.
        if event["Properties"]["Auth"]["Authorizer"] == "NONE" {
            assert_eq!(op["security"], json!([]), "{route:?}");
            continue;
        }
        let alternatives: Vec<String> = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{route:?} declares its security"))
            .iter()
            .flat_map(|requirement| {
                let scopes = requirement["bearerAuth"].clone();
                assert!(scopes.is_array(), "{route:?}: bearerAuth");
                strings(&scopes)
            })
            .collect();
        let mut alternatives = alternatives;
        alternatives.sort();
        assert_eq!(
            alternatives,
            strings(&event["Properties"]["Auth"]["AuthorizationScopes"]),
            "{route:?}"
        );
    }
    let scheme = &spec["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
}

#[test]
fn the_session_schema_is_exactly_what_a_session_view_serializes() {
    let spec = openapi();
    let s = schema(&spec, "Session");
    let full = view_json(&session(true));
    let bare = view_json(&session(false));

    assert_eq!(keys(&s["properties"]), keys(&full), "properties");
    let required: BTreeSet<String> = strings(&s["required"]).into_iter().collect();
    assert_eq!(required, keys(&bare), "required = always present");
    assert_eq!(s["additionalProperties"], false);

    for (name, property) in s["properties"].as_object().expect("properties") {
        let property = resolve(&spec, property);
        let null_when_unset = bare.get(name) == Some(&Value::Null);
        assert_eq!(
            type_allows_null(property),
            null_when_unset,
            "{name}: nullable in the spec exactly when it serializes as null"
        );
        if let Some(value) = full[name].as_str() {
            if property["format"] == "date-time" {
                assert!(is_wire_timestamp(value), "{name}: {value}");
            }
        }
    }
    let timestamp = schema(&spec, "Timestamp");
    assert_eq!(
        timestamp["pattern"],
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"
    );
    for field in [
        "createdAt",
        "tokenExpiresAt",
        "lastActiveAt",
        "connectedAt",
        "disconnectedAt",
    ] {
        assert_eq!(
            s["properties"][field]["$ref"], "#/components/schemas/Timestamp",
            "{field}"
        );
    }

    assert_eq!(
        strings(&s["properties"]["derivedStatus"]["enum"]),
        serialized(
            every_derived_status()
                .iter()
                .map(serde_json::to_value)
                .collect()
        )
    );
    assert_eq!(
        strings(&s["properties"]["status"]["enum"]),
        serialized(
            every_session_status()
                .iter()
                .map(serde_json::to_value)
                .collect()
        )
    );
}

#[test]
fn the_error_schema_is_what_every_api_error_serializes() {
    let spec = openapi();
    let e = schema(&spec, "Error");
    let errors = every_api_error();
    for err in &errors {
        let body = serde_json::to_value(err.body("req-1")).expect("json");
        assert_eq!(keys(&e["properties"]), keys(&body), "{err:?}");
    }
    let required: BTreeSet<String> = strings(&e["required"]).into_iter().collect();
    assert_eq!(required, keys(&e["properties"]));

    let mut codes: Vec<String> = errors.iter().map(|e| e.code().to_string()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(strings(&e["properties"]["code"]["enum"]), codes);

    let statuses: BTreeSet<u64> = errors.iter().map(|e| u64::from(e.status_code())).collect();
    let documented: BTreeSet<u64> = e["properties"]["statusCode"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(documented, statuses);

    // Every operation documents exactly the statuses its function can answer (and API
    // Gateway's 429), each error with its headers.
    for (route, op) in operations(&spec) {
        let code_route = route_of(&route);
        let responses = &op["responses"];
        let answered: BTreeSet<u64> = errors
            .iter()
            .filter(|e| answers(code_route, e))
            .map(|e| u64::from(e.status_code()))
            .chain(successes(code_route).iter().copied())
            .chain([429])
            .collect();
        let documented: BTreeSet<u64> = keys(responses)
            .iter()
            .map(|s| {
                s.parse()
                    .unwrap_or_else(|_| panic!("{route:?}: status {s}"))
            })
            .collect();
        assert_eq!(documented, answered, "{route:?}: the statuses it documents");
        for err in errors.iter().filter(|e| answers(code_route, e)) {
            let response = resolve(&spec, &responses[err.status_code().to_string()]);
            let header_names: BTreeSet<String> = response["headers"]
                .as_object()
                .map(|h| h.keys().map(|k| k.to_lowercase()).collect())
                .unwrap_or_default();
            for (name, _) in err.headers() {
                assert!(
                    header_names.contains(name),
                    "{route:?} {} documents {name}",
                    err.status_code()
                );
            }
        }
    }
}

#[test]
fn the_list_parameters_are_the_ones_the_parser_reads() {
    let spec = openapi();
    let route = (
        "GET".to_string(),
        "/api/v1/applications/{applicationId}/sessions".to_string(),
    );
    let params = parameters(&spec, &route);
    let query: BTreeSet<String> = params
        .iter()
        .filter(|(_, p)| p["in"] == "query")
        .map(|(n, _)| n.clone())
        .collect();

    let read = RefCell::new(BTreeSet::new());
    ListParams::parse(|name| {
        read.borrow_mut().insert(name.to_string());
        None
    })
    .expect("no parameters is valid");
    assert_eq!(query, read.into_inner(), "query parameters");

    let parses =
        |name: &str, value: &str| ListParams::parse(|n| (n == name).then(|| vec![value])).is_ok();

    let limit = &params["limit"]["schema"];
    assert_eq!(limit["type"], "integer");
    assert_eq!(limit["minimum"], 1);
    assert_eq!(limit["maximum"], MAX_LIMIT);
    assert_eq!(limit["default"], DEFAULT_LIMIT);
    assert!(parses("limit", "1") && parses("limit", &MAX_LIMIT.to_string()));
    assert!(!parses("limit", "0") && !parses("limit", &(MAX_LIMIT + 1).to_string()));

    let status = &params["status"]["schema"];
    for value in strings(&status["enum"]) {
        assert!(parses("status", &value), "status={value}");
    }
    assert!(
        !parses("status", "idle"),
        "a value outside the enum is refused"
    );

    let include = &params["includeInactive"]["schema"];
    assert_eq!(include["type"], "boolean");
    assert_eq!(include["default"], false);
    assert!(parses("includeInactive", "true") && parses("includeInactive", "false"));
    assert!(!parses("includeInactive", "yes"));

    let cursor = &params["cursor"]["schema"];
    assert_eq!(cursor["type"], "string");
    assert_eq!(cursor["maxLength"], MAX_CURSOR_LEN);
    assert_eq!(cursor["minLength"], 1);
    assert!(!parses("cursor", ""));
    assert!(!parses("cursor", &"a".repeat(MAX_CURSOR_LEN + 1)));
}

/// The top-level shape a schema documents: (every property, the required ones).
fn shape(spec: &Value, name: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let s = schema(spec, name);
    (
        keys(&s["properties"]),
        strings(&s["required"]).into_iter().collect(),
    )
}

fn assert_shape(spec: &Value, name: &str, reply: &Reply) {
    let (properties, required) = shape(spec, name);
    let got = keys(&reply.body);
    assert!(
        got.is_subset(&properties),
        "{name}: {got:?} ⊄ {properties:?}"
    );
    assert!(required.is_subset(&got), "{name}: {required:?} ⊄ {got:?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.header("x-request-id").is_some());
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

/// The 200 schema of an operation, by name.
fn ok_schema(spec: &Value, method: &str, path: &str) -> String {
    schema_for(spec, method, path, 200)
}

/// The schema of an operation's `status` answer, by name.
fn schema_for(spec: &Value, method: &str, path: &str, status: u16) -> String {
    let response = resolve(
        spec,
        &spec["paths"][path][method]["responses"][status.to_string()],
    );
    response["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .expect("a named schema")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handlers_answer_the_documented_shapes() {
    let spec = openapi();
    let list_path = "/api/v1/applications/{applicationId}/sessions";
    let one_path = "/api/v1/applications/{applicationId}/sessions/{sessionId}";
    let w = World::new().await;
    let s = w.session(Duration::seconds(5));
    w.put(&s).await;

    let list = w.list(&[("limit", "1")]).await;
    assert_eq!(list.status, 200);
    assert_shape(&spec, &ok_schema(&spec, "get", list_path), &list);
    let session_schema = shape(&spec, "Session");
    for item in list.body["items"].as_array().expect("items") {
        let got = keys(item);
        assert!(got.is_subset(&session_schema.0) && session_schema.1.is_subset(&got));
    }

    let get = w.call(w.get_event(s.id)).await;
    assert_eq!(get.status, 200);
    assert_shape(&spec, &ok_schema(&spec, "get", one_path), &get);

    let one = w.call(w.revoke_one_event(s.id)).await;
    assert_eq!(one.status, 200);
    assert_shape(&spec, &ok_schema(&spec, "delete", one_path), &one);

    let all = w.call(w.event(Route::RevokeSessions)).await;
    assert_eq!(all.status, 200);
    assert_shape(&spec, &ok_schema(&spec, "delete", list_path), &all);

    let missing = w.call(w.get_event(Uuid::new_v4())).await;
    missing.expect_error(404, "not_found");
    assert_shape(&spec, "Error", &missing);

    // The connection side.
    let connect_path = Route::ConnectSession.path();
    let body = json!({"clientInfo": {"name": "claude-ai", "version": "0.1.0"}});
    let keyed = || w.connect_event(&body).header("idempotency-key", "shapes-1");
    let created = w.call(keyed()).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_shape(
        &spec,
        &schema_for(&spec, "post", connect_path, 201),
        &created,
    );
    assert!(created.header("location").is_some());
    let replayed = w.call(keyed()).await;
    assert_eq!(replayed.status, 200, "{:#}", replayed.body);
    assert_shape(&spec, &ok_schema(&spec, "post", connect_path), &replayed);
    let id = Uuid::try_parse(created.body["session"]["id"].as_str().expect("id")).expect("uuid");

    let beat = w.call(w.heartbeat_event(id, &json!({}))).await;
    assert_eq!(beat.status, 200, "{:#}", beat.body);
    assert_shape(
        &spec,
        &ok_schema(&spec, "post", Route::HeartbeatSession.path()),
        &beat,
    );
    let closed = w.call(w.disconnect_event(id)).await;
    assert_eq!(closed.status, 200, "{:#}", closed.body);
    assert_shape(
        &spec,
        &ok_schema(&spec, "post", Route::DisconnectSession.path()),
        &closed,
    );
    for (reply, status, code) in [
        (
            w.call(w.heartbeat_event(id, &json!({}))).await,
            409,
            "session_disconnected",
        ),
        (
            w.call(keyed().json_body(&json!({"name": "other"}))).await,
            409,
            "conflict",
        ),
        (
            w.call(w.connect_event(&json!({"name": "x".repeat(20_000)})))
                .await,
            413,
            "payload_too_large",
        ),
        (
            w.call(w.connect_event(&body).header("content-type", "text/plain"))
                .await,
            415,
            "unsupported_media_type",
        ),
    ] {
        reply.expect_error(status, code);
        assert_shape(&spec, "Error", &reply);
    }
}

/// The properties of a request body's schema, resolved: (the schema, its property names).
fn request_schema(spec: &Value, route: Route) -> (Value, BTreeSet<String>) {
    let op = &spec["paths"][route.path()][route.method().to_lowercase()];
    let body = &op["requestBody"];
    assert_eq!(body["required"], false, "{route:?}: no body is `{{}}`");
    let content = body["content"].as_object().expect("content");
    assert_eq!(
        content.keys().collect::<Vec<_>>(),
        ["application/json"],
        "{route:?}: JSON only"
    );
    let schema = resolve(spec, &content["application/json"]["schema"]).clone();
    assert_eq!(schema["type"], "object", "{route:?}");
    assert_eq!(schema["additionalProperties"], false, "{route:?}");
    let names = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    (schema, names)
}

#[test]
fn the_request_bodies_are_the_ones_the_parser_reads() {
    use sessions::body;
    let spec = openapi();
    let set =
        |fields: &[&str]| -> BTreeSet<String> { fields.iter().map(|f| f.to_string()).collect() };
    for route in Route::ALL {
        let op = &spec["paths"][route.path()][route.method().to_lowercase()];
        assert_eq!(
            op["requestBody"].is_object(),
            route.reads_body(),
            "{route:?}: a request body exactly when the route reads one"
        );
    }

    let (connect, fields) = request_schema(&spec, Route::ConnectSession);
    assert_eq!(fields, set(&body::CONNECT_FIELDS));
    let (heartbeat, fields) = request_schema(&spec, Route::HeartbeatSession);
    assert_eq!(fields, set(&body::HEARTBEAT_FIELDS));
    let (_, fields) = request_schema(&spec, Route::DisconnectSession);
    assert_eq!(fields, set(&body::DISCONNECT_FIELDS));

    let p = &connect["properties"];
    assert_eq!(p["name"]["minLength"], 1);
    assert_eq!(p["name"]["maxLength"], body::MAX_NAME_CHARS);
    assert_eq!(p["hostname"]["maxLength"], body::MAX_HOSTNAME_CHARS);
    assert_eq!(p["userAgent"]["maxLength"], body::MAX_USER_AGENT_CHARS);
    for (field, nullable) in [("name", false), ("hostname", true), ("userAgent", true)] {
        assert_eq!(type_allows_null(&p[field]), nullable, "{field}");
        assert_eq!(
            p[field]["pattern"], "^[^\\u0000-\\u001F\\u007F]*$",
            "{field}: no control characters"
        );
    }
    let info = &p["clientInfo"];
    assert!(type_allows_null(info));
    assert_eq!(strings(&info["required"]), ["name", "version"]);
    assert_eq!(info["properties"]["name"]["minLength"], 1);
    assert_eq!(
        info["properties"]["name"]["maxLength"],
        body::MAX_CLIENT_NAME_CHARS
    );
    assert_eq!(info["properties"]["version"]["minLength"], 1);
    assert_eq!(
        info["properties"]["version"]["maxLength"],
        body::MAX_CLIENT_VERSION_CHARS
    );
    for schema in [&connect, &heartbeat] {
        for (name, property) in schema["properties"].as_object().expect("properties") {
            if name.ends_with("At") {
                assert_eq!(property["format"], "date-time", "{name}");
            }
        }
    }

    // The connect's Idempotency-Key.
    let params = parameters(
        &spec,
        &("POST".to_string(), Route::ConnectSession.path().to_string()),
    );
    let key = &params["Idempotency-Key"];
    assert_eq!(key["in"], "header");
    assert_eq!(key["schema"]["minLength"], 1);
    assert_eq!(key["schema"]["maxLength"], body::MAX_IDEMPOTENCY_KEY_CHARS);
}
