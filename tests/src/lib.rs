//! Test harness: every test gets its own world — an embedded DynamoDB-compatible engine
//! (dynoxide) serving real DynamoDB HTTP on a free loopback port, its own table, and an [`Api`]
//! wired to it exactly as a function's `main` wires it — so tests run in parallel and never
//! depend on each other. Requests are real API Gateway HTTP API events from `events/`.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use chrono::Duration;
use lambda_http::Request;
use sessions::api::Api;
use sessions::auth::Scope;
use sessions::config::{Config, TrustRoots};
use sessions::model::{Application, Session, SessionStatus};
use sessions::route::Route;
use sessions::store::{transport, DynamoStore};
use sessions::time::{self, Timestamp};
use tokio::sync::oneshot;
use uuid::Uuid;

pub mod calls;
pub mod faults;
pub mod front;
pub mod mcp;
pub mod process;
pub mod signals;
pub mod tls;

pub const CURSOR_KEY: &str = "test-cursor-key-0123456789abcdef0123";
pub const DEV_SECRET: &str = "test-dev-secret-0123456789abcdef0123";

/// The example event of `route`'s function: `events/<function>.json`.
fn event_template(route: Route) -> &'static str {
    match route {
        Route::ListSessions => include_str!("../../events/list-sessions.json"),
        Route::GetSession => include_str!("../../events/get-session.json"),
        Route::RevokeSessions => include_str!("../../events/revoke-sessions.json"),
        Route::RevokeSession => include_str!("../../events/revoke-session.json"),
        Route::ConnectSession => include_str!("../../events/connect-session.json"),
        Route::HeartbeatSession => include_str!("../../events/heartbeat-session.json"),
        Route::DisconnectSession => include_str!("../../events/disconnect-session.json"),
        Route::SsfConfiguration => include_str!("../../events/ssf-configuration.json"),
        Route::SsfJwks => include_str!("../../events/ssf-jwks.json"),
        Route::SsfStreamCreate => include_str!("../../events/ssf-stream-create.json"),
        Route::SsfStreamRead => include_str!("../../events/ssf-stream-read.json"),
        Route::SsfStreamUpdate => include_str!("../../events/ssf-stream-update.json"),
        Route::SsfStreamReplace => include_str!("../../events/ssf-stream-replace.json"),
        Route::SsfStreamDelete => include_str!("../../events/ssf-stream-delete.json"),
        Route::SsfStatusRead => include_str!("../../events/ssf-status-read.json"),
        Route::SsfStatusUpdate => include_str!("../../events/ssf-status-update.json"),
        Route::SsfVerify => include_str!("../../events/ssf-verify.json"),
    }
}

/// The scopes the harness's caller holds on `route`: both management scopes on the management
/// routes (neither grants the connection side), `sessions:connect` on the connection side.
pub fn caller_scopes(route: Route) -> &'static str {
    match route.scope() {
        Scope::SessionsConnect => "sessions:connect",
        Scope::SessionsRead | Scope::SessionsWrite => "sessions:read sessions:write",
        Scope::SsfManage => "ssf:manage",
        Scope::Public => "",
    }
}

/// Whether `route`'s path names one session (`…/sessions/{sessionId}`).
pub fn takes_session(route: Route) -> bool {
    route.path().contains("{sessionId}")
}

/// A dynoxide engine on a free loopback port; stops when dropped (or with its runtime).
pub struct Engine {
    pub endpoint: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Engine {
    pub async fn start() -> Engine {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let db = dynoxide::Database::memory().expect("in-memory engine");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = dynoxide::server::serve_with_shutdown(listener, db, async {
                let _ = rx.await;
            })
            .await;
        });
        Engine {
            endpoint: format!("http://{addr}"),
            shutdown: Some(tx),
        }
    }

    /// An SDK client for this engine: the same client the functions build, pointed here.
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        client_for(&self.endpoint)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn client_for(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(local_config(endpoint).build())
}

/// A client configuration for a local engine: the HTTP client and timeouts the functions build
/// (`store::transport`), a fixed region and static credentials.
pub fn local_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .http_client(
            transport::http_client(TrustRoots::default()).expect("the embedded trust store"),
        )
        .timeout_config(transport::timeouts())
}

/// The variables a function would read, for a test world.
pub fn env(table: &str) -> HashMap<String, String> {
    HashMap::from([
        ("SESSIONS_TABLE".to_string(), table.to_string()),
        ("SESSIONS_CURSOR_KEY".to_string(), CURSOR_KEY.to_string()),
    ])
}

pub fn config(vars: &HashMap<String, String>) -> Config {
    Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test configuration")
}

/// One isolated world: engine, table, an organization with one application, and the API.
pub struct World {
    pub engine: Engine,
    pub store: DynamoStore,
    pub api: Api,
    /// The configuration the API was built with.
    pub config: Config,
    pub org: Uuid,
    pub app: Application,
}

impl World {
    pub async fn new() -> World {
        World::with_env(|_| {}).await
    }

    /// A world whose API reads `vars` tweaked by `tweak` (e.g. a shorter idle window).
    pub async fn with_env(tweak: impl FnOnce(&mut HashMap<String, String>)) -> World {
        let engine = Engine::start().await;
        let table = format!("sessions-{}", Uuid::new_v4().simple());
        let store = DynamoStore::new(engine.client(), table.clone());
        store.create_table().await.expect("create table");
        let mut vars = env(&table);
        tweak(&mut vars);
        let config = config(&vars);
        let api = Api::new(&config, store.clone()).expect("api");
        let org = Uuid::new_v4();
        let mut world = World {
            engine,
            store,
            api,
            config,
            org,
            app: placeholder_app(),
        };
        world.app = world.add_app(org).await;
        world
    }

    pub async fn add_app(&self, org: Uuid) -> Application {
        let app = Application {
            id: Uuid::new_v4(),
            organization_id: org,
            name: "test agent".into(),
            created_at: time::now(),
            revoked_before: None,
        };
        self.store
            .create_application(&app)
            .await
            .expect("create application");
        app
    }

    /// The API the world's functions would build, but talking to `endpoint` (a fault proxy in
    /// front of the world's engine, say) about the world's table.
    pub fn api_through(&self, endpoint: &str) -> Api {
        api_at(endpoint, self.store.table())
    }

    /// Every stream record of the table, oldest first.
    pub async fn stream_records(&self) -> Vec<aws_sdk_dynamodbstreams::types::Record> {
        use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
        use aws_sdk_dynamodbstreams::types::ShardIteratorType;
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .endpoint_url(&self.engine.endpoint)
            .build();
        let streams = aws_sdk_dynamodbstreams::Client::from_conf(config);
        let listed = streams
            .list_streams()
            .table_name(self.store.table())
            .send()
            .await
            .expect("ListStreams");
        let arn = listed
            .streams()
            .first()
            .and_then(|s| s.stream_arn())
            .expect("the table has a stream")
            .to_string();
        let described = streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .expect("DescribeStream");
        let mut records = Vec::new();
        for shard in described
            .stream_description()
            .map(|d| d.shards().to_vec())
            .unwrap_or_default()
        {
            let mut iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(shard.shard_id().unwrap_or_default())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .expect("GetShardIterator")
                .shard_iterator;
            while let Some(it) = iterator.take() {
                let out = streams
                    .get_records()
                    .shard_iterator(it)
                    .send()
                    .await
                    .expect("GetRecords");
                let empty = out.records().is_empty();
                records.extend(out.records().iter().cloned());
                if !empty {
                    iterator = out.next_shard_iterator;
                }
            }
        }
        records
    }

    /// `n` active sessions of the world's application, created 10 s ago and earlier, one
    /// millisecond apart; their ids, newest first.
    pub async fn seed(&self, n: i64) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for i in 0..n {
            let s = self.session(Duration::seconds(10) + Duration::milliseconds(i));
            self.put(&s).await;
            ids.push(s.id);
        }
        ids
    }

    /// A fresh active session of the world's application, created `age` ago.
    pub fn session(&self, age: Duration) -> Session {
        session_of(&self.app, time::now() - age)
    }

    pub async fn put(&self, session: &Session) {
        self.store
            .create_session(session)
            .await
            .expect("create session");
    }

    /// A new application of the world's organization with one active session: something a
    /// refused revoke could have changed.
    pub async fn app_with_session(&self) -> (Application, Session) {
        let app = self.add_app(self.org).await;
        let session = session_of(&app, time::now() - Duration::seconds(5));
        self.put(&session).await;
        (app, session)
    }

    /// Asserts that nothing a revoke changes happened to `app` and `session`: no revocation
    /// watermark on the application, the session stored `active`, and read `active` through
    /// the API.
    pub async fn assert_untouched(&self, app: &Application, session: &Session, case: &str) {
        let stored_app = self
            .store
            .get_application(self.org, app.id)
            .await
            .expect("read the application");
        assert_eq!(
            stored_app.revoked_before, None,
            "{case}: the application got a revocation watermark"
        );
        let (_, stored) = self
            .store
            .get_session(self.org, app.id, session.id)
            .await
            .expect("read the session");
        assert_eq!(
            stored.status,
            SessionStatus::Active,
            "{case}: the session is stored disconnected"
        );
        let read = self
            .call(self.as_caller(
                Event::get(&app.id.to_string(), &session.id.to_string()),
                "sessions:read",
            ))
            .await;
        assert_eq!(read.status, 200, "{case}: {:#}", read.body);
        assert_eq!(read.body["session"]["status"], "active", "{case}");
        assert_eq!(read.body["session"]["derivedStatus"], "active", "{case}");
    }

    /// `event` with credentials the world's API accepts, for the world's organization with
    /// `scope`: API Gateway's claims, or a development token when the dev verifier is on (under
    /// the configured organization claim either way).
    pub fn as_caller(&self, event: Event, scope: &str) -> Event {
        let org_claim = self.config.org_claim.as_str();
        match &self.config.dev_jwt {
            None => event.raw_claims(serde_json::json!({
                org_claim: self.org.to_string(),
                "scope": scope,
                "sub": "svc-test",
            })),
            Some(dev) => {
                let now = chrono::Utc::now().timestamp();
                let token = sessions::auth::dev::mint_dev_token(
                    dev,
                    org_claim,
                    &sessions::auth::dev::DevClaims {
                        sub: "tests".into(),
                        organization_id: self.org.to_string(),
                        scope: scope.into(),
                        iss: dev.issuer.clone(),
                        aud: dev.audience.clone(),
                        iat: now,
                        exp: now + 300,
                    },
                )
                .expect("mint a dev token");
                event.without_authorizer().bearer(&token)
            }
        }
    }

    /// An event of a collection route (`ListSessions`, `RevokeSessions`, `ConnectSession`)
    /// for the world's application, as the world's organization with the route's scopes
    /// ([`caller_scopes`]).
    pub fn event(&self, route: Route) -> Event {
        assert!(
            !takes_session(route),
            "{route:?} names a session: use World::session_event"
        );
        Event::new(route, &self.app.id.to_string(), None).claims(self.org, caller_scopes(route))
    }

    /// An event of a session route (`GetSession`, `RevokeSession`, `HeartbeatSession`,
    /// `DisconnectSession`) for `session` of the world's application, as the world's
    /// organization with the route's scopes ([`caller_scopes`]).
    pub fn session_event(&self, route: Route, session: Uuid) -> Event {
        assert!(
            takes_session(route),
            "{route:?} names no session: use World::event"
        );
        Event::new(route, &self.app.id.to_string(), Some(&session.to_string()))
            .claims(self.org, caller_scopes(route))
    }

    /// One event per route of [`Route::ALL`] for the world's application (the session routes
    /// for a session that does not exist): what "on every route" means.
    pub fn every_route(&self) -> Vec<Event> {
        Route::ALL
            .into_iter()
            .map(|route| {
                if takes_session(route) {
                    self.session_event(route, Uuid::new_v4())
                } else {
                    self.event(route)
                }
            })
            .collect()
    }

    pub fn get_event(&self, session: Uuid) -> Event {
        self.session_event(Route::GetSession, session)
    }

    pub fn revoke_one_event(&self, session: Uuid) -> Event {
        self.session_event(Route::RevokeSession, session)
    }

    /// A connect to the world's application with `body` (as JSON), as its connection side.
    pub fn connect_event(&self, body: &serde_json::Value) -> Event {
        self.event(Route::ConnectSession).json_body(body)
    }

    /// A heartbeat of `session` with `body` (as JSON), as the world's connection side.
    pub fn heartbeat_event(&self, session: Uuid, body: &serde_json::Value) -> Event {
        self.session_event(Route::HeartbeatSession, session)
            .json_body(body)
    }

    /// A disconnect of `session` with the example event's body (`{}`), as the world's
    /// connection side.
    pub fn disconnect_event(&self, session: Uuid) -> Event {
        self.session_event(Route::DisconnectSession, session)
    }

    /// Connects a session to the world's application with `body`; its id and the answer.
    /// Panics unless the answer is a 201 with a session.
    pub async fn connect(&self, body: &serde_json::Value) -> (Uuid, Reply) {
        let reply = self.call(self.connect_event(body)).await;
        assert_eq!(reply.status, 201, "connect: {:#}", reply.body);
        let id = reply.body["session"]["id"]
            .as_str()
            .and_then(|id| Uuid::try_parse(id).ok())
            .unwrap_or_else(|| panic!("a session id in {:#}", reply.body));
        (id, reply)
    }

    /// The session `id` as a get reads it now (`sessions:read`). Panics unless that is a 200.
    pub async fn read(&self, id: Uuid) -> serde_json::Value {
        let reply = self.call(self.get_event(id)).await;
        assert_eq!(reply.status, 200, "get {id}: {:#}", reply.body);
        reply.body["session"].clone()
    }

    pub async fn list(&self, query: &[(&str, &str)]) -> Reply {
        let mut e = self.event(Route::ListSessions);
        for (k, v) in query {
            e = e.query(k, v);
        }
        self.call(e).await
    }

    /// Routes the event to the handler its route key names, as API Gateway would.
    pub async fn call(&self, event: Event) -> Reply {
        call(&self.api, event).await
    }
}

fn placeholder_app() -> Application {
    Application {
        id: Uuid::nil(),
        organization_id: Uuid::nil(),
        name: String::new(),
        created_at: time::now(),
        revoked_before: None,
    }
}

/// Routes the event to the handler of the route its route key names, as API Gateway would.
/// An API configured as in the tests' environment, over `table` at `endpoint`.
pub fn api_at(endpoint: &str, table: &str) -> Api {
    Api::new(
        &config(&env(table)),
        DynamoStore::new(client_for(endpoint), table),
    )
    .expect("api")
}

pub async fn call(api: &Api, event: Event) -> Reply {
    let route = event.route();
    Reply::from_response(api.handle(route, event.request()).await)
}

pub fn session_of(app: &Application, created_at: Timestamp) -> Session {
    let created_at = time::to_millis_precision(created_at);
    let id = Uuid::new_v4();
    Session {
        id,
        application_id: app.id,
        organization_id: app.organization_id,
        name: format!("session-{}", &id.simple().to_string()[..8]),
        status: SessionStatus::Active,
        token_expires_at: None,
        last_active_at: None,
        connected_at: Some(created_at),
        disconnected_at: None,
        created_at,
        hostname: None,
        user_agent: None,
        client_info: None,
        last_seen_at: None,
        disconnect_reason: None,
    }
}

/// A real API Gateway HTTP API (payload 2.0) event from `events/`, adjusted per test.
#[derive(Debug, Clone)]
pub struct Event {
    value: serde_json::Value,
    query: Vec<(String, String)>,
}

impl Event {
    /// The example event of `route`, for application `app` and, on the session routes,
    /// `session` (given as the client sent them: any string).
    pub fn new(route: Route, app: &str, session: Option<&str>) -> Event {
        let route_key = route.route_key();
        let mut value: serde_json::Value =
            serde_json::from_str(event_template(route)).expect("event template is JSON");
        assert_eq!(
            value["routeKey"],
            route_key,
            "events/{}.json is an event of {route:?}",
            route.name()
        );
        let mut path = route.path().to_string();
        let mut params = serde_json::Map::new();
        let mut set = |name: &str, v: &str| {
            path = path.replace(&format!("{{{name}}}"), v);
            params.insert(name.to_string(), serde_json::Value::String(v.to_string()));
        };
        if route.path().contains("{applicationId}") {
            set("applicationId", app);
        }
        match (takes_session(route), session) {
            (true, Some(session)) => set("sessionId", session),
            (false, None) => {}
            (takes, given) => panic!("{route:?}: takes a session {takes}, given {given:?}"),
        }
        value["routeKey"] = route_key.clone().into();
        value["requestContext"]["routeKey"] = route_key.into();
        value["rawPath"] = path.clone().into();
        value["requestContext"]["http"]["path"] = path.into();
        value["requestContext"]["http"]["method"] = route.method().into();
        value["pathParameters"] = serde_json::Value::Object(params);
        value["requestContext"]["requestId"] = Uuid::new_v4().simple().to_string().into();
        Event {
            value,
            query: Vec::new(),
        }
    }

    pub fn list(app: &str) -> Event {
        Event::new(Route::ListSessions, app, None)
    }

    pub fn get(app: &str, session: &str) -> Event {
        Event::new(Route::GetSession, app, Some(session))
    }

    pub fn revoke_all(app: &str) -> Event {
        Event::new(Route::RevokeSessions, app, None)
    }

    pub fn revoke_one(app: &str, session: &str) -> Event {
        Event::new(Route::RevokeSession, app, Some(session))
    }

    /// The route its route key names (the harness builds events of the API's routes only).
    pub fn route(&self) -> Route {
        let key = self.route_key();
        Route::from_route_key(&key).unwrap_or_else(|| panic!("no route has the key {key:?}"))
    }

    pub fn route_key(&self) -> String {
        self.value["routeKey"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn query(mut self, name: &str, value: &str) -> Event {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// The JWT authorizer's claims as API Gateway passes them: every value a string.
    pub fn claims(mut self, org: Uuid, scope: &str) -> Event {
        let claims = serde_json::json!({
            "aud": "sessions-api",
            "exp": "1796086800",
            "iat": "1796083200",
            "iss": "https://auth.example.com/",
            "org_id": org.to_string(),
            "scope": scope,
            "sub": "svc-test",
        });
        self.value["requestContext"]["authorizer"] =
            serde_json::json!({"jwt": {"claims": claims, "scopes": null}});
        self
    }

    pub fn raw_claims(mut self, claims: serde_json::Value) -> Event {
        self.value["requestContext"]["authorizer"] =
            serde_json::json!({"jwt": {"claims": claims, "scopes": null}});
        self
    }

    pub fn without_authorizer(mut self) -> Event {
        if let Some(ctx) = self.value["requestContext"].as_object_mut() {
            ctx.remove("authorizer");
        }
        self
    }

    pub fn bearer(mut self, token: &str) -> Event {
        self.value["headers"]["authorization"] = format!("Bearer {token}").into();
        self
    }

    pub fn without_bearer(mut self) -> Event {
        if let Some(h) = self.value["headers"].as_object_mut() {
            h.remove("authorization");
        }
        self
    }

    /// The JSON API Gateway would send.
    pub fn json(&self) -> serde_json::Value {
        let mut value = self.value.clone();
        let raw: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        value["rawQueryString"] = raw.join("&").into();
        // API Gateway joins repeated parameters with commas in `queryStringParameters`.
        let mut joined: serde_json::Map<String, serde_json::Value> = serde_json::Map::new();
        for (k, v) in &self.query {
            let entry = joined
                .entry(k.clone())
                .or_insert_with(|| serde_json::Value::String(String::new()));
            let prev = entry.as_str().unwrap_or_default().to_string();
            *entry = if prev.is_empty() {
                v.clone().into()
            } else {
                format!("{prev},{v}").into()
            };
        }
        value["queryStringParameters"] = if joined.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::Object(joined)
        };
        value
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.json().to_string()).expect("a valid API Gateway event")
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The contract's error codes, each with the one status it goes with (`openapi.yaml`'s `Error`
/// schema; `rate_limited` is API Gateway's throttling, which never reaches a function). 409 has
/// two codes: `conflict` and `session_disconnected`.
pub const ERROR_CODES: [(u16, &str); 11] = [
    (400, "invalid_request"),
    (401, "unauthorized"),
    (403, "forbidden"),
    (404, "not_found"),
    (409, "conflict"),
    (409, "session_disconnected"),
    (413, "payload_too_large"),
    (415, "unsupported_media_type"),
    (429, "rate_limited"),
    (500, "internal"),
    (503, "unavailable"),
];

/// Whether `code` is one of the contract's codes for `status`.
pub fn is_error_code(status: u16, code: &str) -> bool {
    ERROR_CODES.contains(&(status, code))
}

/// A handler's response, decoded.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn from_response(response: lambda_http::Response<lambda_http::Body>) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.body().to_vec();
        // A 204 has no body at all.
        let body = if bytes.is_empty() && status == 204 {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The items of a list page. Panics unless this is a 200 whose body has an `items` array:
    /// an error answer is never an empty page.
    pub fn items(&self) -> &Vec<serde_json::Value> {
        assert_eq!(
            self.status, 200,
            "expected a list page, got {} {:#}",
            self.status, self.body
        );
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("expected a list page, got {:#}", self.body))
    }

    /// The ids of a list page, in order. Panics unless this is a list page ([`Reply::items`])
    /// whose every item has a string `id`.
    pub fn ids(&self) -> Vec<String> {
        self.items()
            .iter()
            .map(|item| {
                item["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("an item without a string id: {item:#}"))
                    .to_string()
            })
            .collect()
    }

    /// A list page's `nextCursor`: `None` when it is `null`. Panics unless this is a list page
    /// ([`Reply::items`]) with a `nextCursor` member that is a string or `null`.
    pub fn next_cursor(&self) -> Option<String> {
        self.items();
        match self.body.get("nextCursor") {
            Some(serde_json::Value::String(cursor)) => Some(cursor.clone()),
            Some(serde_json::Value::Null) => None,
            other => panic!("nextCursor is {other:?} in {:#}", self.body),
        }
    }

    /// `Retry-After` in seconds. Panics unless the header is there and a positive integer
    /// (RFC 9110's delay-seconds; the value itself is the API's to choose).
    pub fn retry_after(&self) -> u64 {
        let value = self
            .header("retry-after")
            .unwrap_or_else(|| panic!("no Retry-After on {} {:#}", self.status, self.body));
        match value.parse::<u64>() {
            Ok(seconds) if seconds > 0 && value.bytes().all(|b| b.is_ascii_digit()) => seconds,
            _ => panic!("Retry-After is not a positive number of seconds: {value:?}"),
        }
    }

    /// The `WWW-Authenticate` challenge's `error` attribute: `None` for a challenge without one.
    /// Panics unless the header is there and a `Bearer` challenge (RFC 6750, section 3).
    pub fn bearer_error(&self) -> Option<String> {
        let value = self
            .header("www-authenticate")
            .unwrap_or_else(|| panic!("no WWW-Authenticate on {} {:#}", self.status, self.body));
        let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
        assert_eq!(scheme, "Bearer", "a Bearer challenge: {value:?}");
        params.split(',').find_map(|param| {
            let (name, v) = param.trim().split_once('=')?;
            (name.trim() == "error").then(|| v.trim().trim_matches('"').to_string())
        })
    }

    /// Asserts the contract's error shape and returns the message.
    /// The code must be a contract's code for the status ([`ERROR_CODES`]).
    pub fn expect_error(&self, status: u16, code: &str) -> String {
        assert!(
            is_error_code(status, code),
            "{code} is not a contract's code for {status}"
        );
        assert_eq!(self.status, status, "status of {:#}", self.body);
        assert_eq!(self.body["statusCode"], status, "{:#}", self.body);
        assert_eq!(self.body["code"], code, "{:#}", self.body);
        assert!(
            self.body["requestId"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "requestId in {:#}",
            self.body
        );
        let keys: Vec<&String> = self
            .body
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys.len(),
            4,
            "exactly message, statusCode, code, requestId: {keys:?}"
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        self.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

// Helpers for the security tests (`tests/tests/api/security/`).

impl Event {
    /// Sets (or replaces) a request header as the client sent it; API Gateway lowercases names.
    pub fn header(mut self, name: &str, value: &str) -> Event {
        self.value["headers"][name.to_ascii_lowercase()] = value.into();
        self
    }

    /// Sets API Gateway's request id (`requestContext.requestId`).
    pub fn request_id(mut self, id: &str) -> Event {
        self.value["requestContext"]["requestId"] = id.into();
        self
    }

    /// Sets the request body as the client sent it (text; `Content-Length` to match). The
    /// management routes read none; a client may send one anyway.
    pub fn body(self, body: &str) -> Event {
        self.encoded_body(body, false, body.len())
    }

    /// Sets the body as API Gateway passes it: `body` is the text of the event's `body` member,
    /// base64 of the received bytes when `base64`; `received` is their length.
    pub fn encoded_body(mut self, body: &str, base64: bool, received: usize) -> Event {
        self.value["body"] = body.into();
        self.value["isBase64Encoded"] = base64.into();
        self.header("content-length", &received.to_string())
    }

    /// Sets `value` as the JSON body (`Content-Type` as in the example event).
    pub fn json_body(self, value: &serde_json::Value) -> Event {
        self.body(&value.to_string())
    }

    /// No body at all (API Gateway leaves the member out), and no `Content-Length`.
    pub fn without_body(mut self) -> Event {
        if let Some(event) = self.value.as_object_mut() {
            event.remove("body");
            event.insert("isBase64Encoded".into(), false.into());
        }
        self.without_header("content-length")
    }

    /// Removes a request header.
    pub fn without_header(mut self, name: &str) -> Event {
        if let Some(h) = self.value["headers"].as_object_mut() {
            h.remove(&name.to_ascii_lowercase());
        }
        self
    }

    /// The body the event carries: the `body` member's text (`None` without one).
    pub fn body_text(&self) -> Option<&str> {
        self.value["body"].as_str()
    }
}

impl Reply {
    /// The body without `requestId`, the one field in which two identical answers differ.
    pub fn body_without_request_id(&self) -> serde_json::Value {
        let mut body = self.body.clone();
        if let Some(object) = body.as_object_mut() {
            object.remove("requestId");
        }
        body
    }
}

/// An HS256 development token as `sessions-admin token` mints it: `org` in `org_id`, `scope`,
/// signed with `secret`, valid for `ttl_seconds` (negative: already expired).
pub fn dev_token(org: Uuid, scope: &str, secret: &str, ttl_seconds: i64) -> String {
    use sessions::auth::dev::{mint_dev_token, DevClaims};
    use sessions::config::DevJwtConfig;
    use sessions::config::{DEFAULT_DEV_AUDIENCE, DEFAULT_DEV_ISSUER};
    let now = chrono::Utc::now().timestamp();
    mint_dev_token(
        &DevJwtConfig {
            secret: secret.as_bytes().to_vec(),
            issuer: DEFAULT_DEV_ISSUER.into(),
            audience: DEFAULT_DEV_AUDIENCE.into(),
        },
        "org_id",
        &DevClaims {
            sub: "tests".into(),
            organization_id: org.to_string(),
            scope: scope.into(),
            iss: DEFAULT_DEV_ISSUER.into(),
            aud: DEFAULT_DEV_AUDIENCE.into(),
            iat: now,
            exp: now + ttl_seconds,
        },
    )
    .expect("mint a dev token")
}

/// The repository's root (where `Cargo.toml`, `scripts/` and `.venv/` are).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::PathBuf::from)
        .unwrap_or_default()
}
