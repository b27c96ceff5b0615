//! Test harness: every test gets its own world — an embedded DynamoDB-compatible engine
//! (dynoxide) serving real DynamoDB HTTP on a free loopback port, its own table, and an [`Api`]
//! wired to it exactly as a function's `main` wires it — so tests run in parallel and never
//! depend on each other. Requests are real API Gateway HTTP API events from `events/`.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use chrono::Duration;
use lambda_http::Request;
use sessions_shared::api::Api;
use sessions_shared::config::Config;
use sessions_shared::model::{Application, Session, SessionStatus};
use sessions_shared::store::{transport, DynamoStore, TrustRoots};
use sessions_shared::time::{self, Timestamp};
use tokio::sync::oneshot;
use uuid::Uuid;

pub mod calls;
pub mod faults;
pub mod process;
pub mod tls;

pub const CURSOR_KEY: &str = "test-cursor-key-0123456789abcdef0123";
pub const DEV_SECRET: &str = "test-dev-secret-0123456789abcdef0123";

const LIST_EVENT: &str = include_str!("../../events/list-sessions.json");
const GET_EVENT: &str = include_str!("../../events/get-session.json");
const REVOKE_EVENT: &str = include_str!("../../events/revoke-sessions.json");
const REVOKE_ONE_EVENT: &str = include_str!("../../events/revoke-session.json");

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
        let api = Api::new(&config(&vars), store.clone()).expect("api");
        let org = Uuid::new_v4();
        let mut world = World {
            engine,
            store,
            api,
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

    /// An event of `kind` for the world's application, as the world's organization with both scopes.
    pub fn event(&self, kind: Kind) -> Event {
        let app = self.app.id.to_string();
        let event = match kind {
            Kind::List => Event::list(&app),
            Kind::RevokeAll => Event::revoke_all(&app),
        };
        event.claims(self.org, "sessions:read sessions:write")
    }

    pub fn get_event(&self, session: Uuid) -> Event {
        Event::get(&self.app.id.to_string(), &session.to_string())
            .claims(self.org, "sessions:read sessions:write")
    }

    pub fn revoke_one_event(&self, session: Uuid) -> Event {
        Event::revoke_one(&self.app.id.to_string(), &session.to_string())
            .claims(self.org, "sessions:read sessions:write")
    }

    pub async fn list(&self, query: &[(&str, &str)]) -> Reply {
        let mut e = self.event(Kind::List);
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

pub async fn call(api: &Api, event: Event) -> Reply {
    let route = event.route_key();
    let req = event.request();
    let one = route.ends_with("{sessionId}");
    let response = if route.starts_with("DELETE") && one {
        api.revoke_session(req).await
    } else if route.starts_with("DELETE") {
        api.revoke_sessions(req).await
    } else if one {
        api.get_session(req).await
    } else {
        api.list_sessions(req).await
    };
    Reply::from_response(response)
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
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    List,
    RevokeAll,
}

/// A real API Gateway HTTP API (payload 2.0) event from `events/`, adjusted per test.
#[derive(Debug, Clone)]
pub struct Event {
    value: serde_json::Value,
    query: Vec<(String, String)>,
}

impl Event {
    fn from_template(template: &str, route_key: &str, path_params: &[(&str, &str)]) -> Event {
        let mut value: serde_json::Value =
            serde_json::from_str(template).expect("event template is JSON");
        let mut path = route_key
            .split_once(' ')
            .map(|(_, p)| p.to_string())
            .unwrap_or_default();
        let mut params = serde_json::Map::new();
        for (name, v) in path_params {
            path = path.replace(&format!("{{{name}}}"), v);
            params.insert(name.to_string(), serde_json::Value::String(v.to_string()));
        }
        let method = route_key.split(' ').next().unwrap_or("GET");
        value["routeKey"] = route_key.into();
        value["requestContext"]["routeKey"] = route_key.into();
        value["rawPath"] = path.clone().into();
        value["requestContext"]["http"]["path"] = path.into();
        value["requestContext"]["http"]["method"] = method.into();
        value["pathParameters"] = serde_json::Value::Object(params);
        value["requestContext"]["requestId"] = Uuid::new_v4().simple().to_string().into();
        Event {
            value,
            query: Vec::new(),
        }
    }

    pub fn list(app: &str) -> Event {
        Event::from_template(
            LIST_EVENT,
            "GET /api/v1/applications/{applicationId}/sessions",
            &[("applicationId", app)],
        )
    }

    pub fn get(app: &str, session: &str) -> Event {
        Event::from_template(
            GET_EVENT,
            "GET /api/v1/applications/{applicationId}/sessions/{sessionId}",
            &[("applicationId", app), ("sessionId", session)],
        )
    }

    pub fn revoke_all(app: &str) -> Event {
        Event::from_template(
            REVOKE_EVENT,
            "DELETE /api/v1/applications/{applicationId}/sessions",
            &[("applicationId", app)],
        )
    }

    pub fn revoke_one(app: &str, session: &str) -> Event {
        Event::from_template(
            REVOKE_ONE_EVENT,
            "DELETE /api/v1/applications/{applicationId}/sessions/{sessionId}",
            &[("applicationId", app), ("sessionId", session)],
        )
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
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The ids of a list page, in order.
    pub fn ids(&self) -> Vec<String> {
        self.body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["id"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn next_cursor(&self) -> Option<String> {
        self.body["nextCursor"].as_str().map(String::from)
    }

    /// Asserts the contract's error shape and returns the message.
    pub fn expect_error(&self, status: u16, code: &str) -> String {
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

// Helpers for the security tests (`tests/tests/security_*.rs`).

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

    /// Sets the request body (the routes read none; a client may send one anyway).
    pub fn body(mut self, body: &str) -> Event {
        self.value["body"] = body.into();
        self
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
    use sessions_shared::auth::{mint_dev_token, DevClaims, DevJwtConfig};
    use sessions_shared::config::{DEFAULT_DEV_AUDIENCE, DEFAULT_DEV_ISSUER};
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
