//! The Shared Signals tests' world: a [`World`] whose API also serves the transmitter's routes
//! (a fresh P-256 key, short retries), the local push worker on a free port, receivers that are
//! small axum servers on free ports, and the joserfc verifier of `tests/py/verify_set.py`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use sessions::api::Api;
use sessions::events::{Envelope, EventKind, SessionEvent, DETAIL_VERSION};
use sessions::model::DisconnectReason;
use sessions::route::Route;
use sessions::ssf::local::{self, LocalScheduler};
use sessions::ssf::transmitter::Transmitter;
use sessions::ssf::{PUSH_METHOD, SESSION_REVOKED};
use sessions_tests::{call, Event, Reply, World};
use tokio::sync::oneshot;
use uuid::Uuid;

pub const ISSUER: &str = "https://ssf.test.example";
/// How long a test waits for a SET it expects.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// One SET as a receiver got it.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub set: String,
}

struct ReceiverState {
    answer: AtomicU16,
    attempts: AtomicUsize,
    accepted: Mutex<Vec<Pushed>>,
}

/// A push receiver (RFC 8935) on a loopback port: answers every POST with the status it is
/// told (a 400 with `{"err": "invalid_audience"}`), and keeps the SETs it accepted.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Receiver {
    pub async fn start(answer: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        Receiver::serve(listener, answer)
    }

    /// A receiver on `addr`, a port where nothing listened before.
    pub async fn start_on(addr: SocketAddr, answer: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the reserved port");
        Receiver::serve(listener, answer)
    }

    fn serve(listener: tokio::net::TcpListener, answer: u16) -> Receiver {
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(ReceiverState {
            answer: AtomicU16::new(answer),
            attempts: AtomicUsize::new(0),
            accepted: Mutex::new(Vec::new()),
        });
        async fn receive(
            axum::extract::State(state): axum::extract::State<Arc<ReceiverState>>,
            headers: HeaderMap,
            body: String,
        ) -> (StatusCode, String) {
            state.attempts.fetch_add(1, Ordering::SeqCst);
            let status = state.answer.load(Ordering::SeqCst);
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(String::from)
            };
            if (200..300).contains(&status) {
                state.accepted.lock().expect("lock").push(Pushed {
                    authorization: header("authorization"),
                    content_type: header("content-type"),
                    set: body,
                });
            }
            let reply = if status == 400 {
                json!({"err": "invalid_audience", "description": "not for us"}).to_string()
            } else {
                String::new()
            };
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                reply,
            )
        }
        let app = axum::Router::new()
            .route("/events", axum::routing::post(receive))
            .with_state(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Receiver {
            url: format!("http://{addr}/events"),
            state,
            shutdown: Some(tx),
        }
    }

    /// From now on, answer `status`.
    pub fn answer(&self, status: u16) {
        self.state.answer.store(status, Ordering::SeqCst);
    }

    /// Every push it got, accepted or not.
    pub fn attempts(&self) -> usize {
        self.state.attempts.load(Ordering::SeqCst)
    }

    pub fn accepted(&self) -> Vec<Pushed> {
        self.state.accepted.lock().expect("lock").clone()
    }

    /// The first `n` SETs it accepted; panics unless they arrive within [`PATIENCE`].
    pub async fn wait_for(&self, n: usize) -> Vec<Pushed> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} accepted SETs after {PATIENCE:?}, expected {n} ({} pushes)",
                accepted.len(),
                self.attempts()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A loopback address where nothing listens (yet).
pub async fn free_addr() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    listener.local_addr().expect("local addr")
}

/// The world, its transmitter and its local push worker.
pub struct Rig {
    pub world: World,
    pub api: Api,
    pub transmitter: Transmitter,
    /// The local push worker's URL.
    pub worker: String,
    pub dead_letters: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Rig {
    /// Retries after 50 ms, 100 ms, …, `max_attempts` in all.
    pub async fn new(max_attempts: u32) -> Rig {
        let world = World::new().await;
        let attempts = max_attempts.to_string();
        let transmitter = sessions_tests::signals::transmitter(
            &world,
            ISSUER,
            &[
                ("SESSIONS_SSF_MAX_ATTEMPTS", attempts.as_str()),
                ("SESSIONS_SSF_RETRY_BASE_MS", "50"),
            ],
        )
        .await;
        let api = world.api.clone().with_transmitter(transmitter.clone());
        let dead_letters =
            std::env::temp_dir().join(format!("ssf-dead-letters-{}.jsonl", Uuid::new_v4()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let worker = format!("http://{}/", listener.local_addr().expect("local addr"));
        let scheduler = LocalScheduler::new(transmitter.clone(), dead_letters.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(local::serve(listener, scheduler, async {
            let _ = rx.await;
        }));
        Rig {
            world,
            api,
            transmitter,
            worker,
            dead_letters,
            shutdown: Some(tx),
        }
    }

    /// An event of `route` as `org`'s receiver (scope `ssf:manage`).
    pub fn event_as(&self, route: Route, org: Uuid) -> Event {
        Event::new(route, "", None).claims(org, sessions::ssf::MANAGE_SCOPE)
    }

    /// An event of `route` as the world's organization's receiver.
    pub fn event(&self, route: Route) -> Event {
        self.event_as(route, self.world.org)
    }

    pub async fn call(&self, event: Event) -> Reply {
        call(&self.api, event).await
    }

    /// Creates a stream of `org` that pushes to `receiver` with an `Authorization` header;
    /// its id. Panics unless that is a 201.
    pub async fn create_stream_as(&self, org: Uuid, receiver: &str) -> String {
        let reply = self
            .call(
                self.event_as(Route::SsfStreamCreate, org)
                    .json_body(&json!({
                        "delivery": {"method": PUSH_METHOD, "endpoint_url": receiver,
                            "authorization_header": "Bearer receiver-secret"},
                        "events_requested": [SESSION_REVOKED],
                    })),
            )
            .await;
        assert_eq!(reply.status, 201, "create: {:#}", reply.body);
        reply.body["stream_id"]
            .as_str()
            .unwrap_or_else(|| panic!("a stream_id in {:#}", reply.body))
            .to_string()
    }

    pub async fn create_stream(&self, receiver: &str) -> String {
        self.create_stream_as(self.world.org, receiver).await
    }

    /// Hands `event` to the local push worker as EventBridge would; panics unless it is taken.
    pub async fn publish(&self, event: SessionEvent) {
        self.post_to_worker(&serde_json::to_value(Envelope::of(event)).expect("json"))
            .await;
    }

    pub async fn post_to_worker(&self, message: &Value) {
        let response = reqwest::Client::new()
            .post(&self.worker)
            .json(message)
            .send()
            .await
            .expect("the push worker answers");
        assert_eq!(
            response.status().as_u16(),
            202,
            "the worker takes {message}"
        );
    }

    /// The dead letters written so far.
    pub fn dead_letters(&self) -> Vec<Value> {
        match std::fs::read_to_string(&self.dead_letters) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).expect("a dead letter is JSON"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read the dead letters: {e}"),
        }
    }

    /// The published JWKS. Panics unless `GET /ssf/jwks` is a 200.
    pub async fn jwks(&self) -> Value {
        let reply = self.call(Event::new(Route::SsfJwks, "", None)).await;
        assert_eq!(reply.status, 200, "jwks: {:#}", reply.body);
        reply.body
    }

    /// `sets` verified by joserfc against the published JWKS: each one's header and claims.
    pub async fn verify_with_joserfc(&self, sets: &[Pushed]) -> Vec<(Value, Value)> {
        verify_with_joserfc(&self.jwks().await, sets)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_file(&self.dead_letters);
    }
}

/// `SESSIONS_TESTS_PYTHON`, else the project venv's python (`make venv` installs joserfc).
fn python() -> PathBuf {
    std::env::var_os("SESSIONS_TESTS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::spec_files::workspace_root().join(".venv/bin/python"))
}

/// Runs `tests/py/verify_set.py` over `sets`; panics unless every one verifies.
pub fn verify_with_joserfc(jwks: &Value, sets: &[Pushed]) -> Vec<(Value, Value)> {
    use std::io::Write;
    let jwks_file = std::env::temp_dir().join(format!("ssf-jwks-{}.json", Uuid::new_v4()));
    std::fs::write(&jwks_file, jwks.to_string()).expect("write the JWKS");
    let script = crate::spec_files::workspace_root().join("tests/py/verify_set.py");
    let mut child = std::process::Command::new(python())
        .arg(&script)
        .arg(&jwks_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); `make venv` installs joserfc into .venv, or set \
                 SESSIONS_TESTS_PYTHON",
                python().display()
            )
        });
    let input: String = sets.iter().map(|p| format!("{}\n", p.set)).collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the SETs");
    let out = child.wait_with_output().expect("the verifier ran");
    let _ = std::fs::remove_file(&jwks_file);
    assert!(
        out.status.success(),
        "joserfc refused a SET: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verified: Vec<(Value, Value)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("the verifier prints JSON");
            (v["header"].clone(), v["claims"].clone())
        })
        .collect();
    assert_eq!(verified.len(), sets.len(), "one verified SET per SET");
    verified
}

/// A published event of `org`'s application `app`: `kind` with `reason`, for `session`.
pub fn session_event(
    org: Uuid,
    app: Uuid,
    kind: EventKind,
    session: Option<Uuid>,
    reason: Option<DisconnectReason>,
) -> SessionEvent {
    SessionEvent {
        version: DETAIL_VERSION.into(),
        event_id: Uuid::new_v4(),
        kind,
        organization_id: org,
        application_id: app,
        session_id: session,
        occurred_at: sessions::time::to_millis_precision(sessions::time::now()),
        reason,
    }
}

/// A revoke-one of a session of `org`'s application `app`.
pub fn revoked(org: Uuid, app: Uuid) -> SessionEvent {
    session_event(
        org,
        app,
        EventKind::SessionDisconnected,
        Some(Uuid::new_v4()),
        Some(DisconnectReason::Revoked),
    )
}

/// A revoke-all of `org`'s application `app`.
pub fn revoked_all(org: Uuid, app: Uuid) -> SessionEvent {
    session_event(org, app, EventKind::ApplicationSessionsRevoked, None, None)
}
