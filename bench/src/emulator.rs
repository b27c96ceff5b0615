//! A local Lambda Runtime API: the HTTP interface a `provided.al2023` function polls for its
//! invocations. Enough of it to start a real release binary, time its init (exec to its first
//! `GET /invocation/next`), hand it API Gateway events and collect its answers.
//!
//! One emulator serves one function process, on its own loopback port, as Lambda gives each
//! execution environment its own Runtime API.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a function has for one invocation, as Lambda's deadline header tells it.
const DEADLINE: Duration = Duration::from_secs(29);

/// What the function said about one invocation (or about its init).
#[derive(Debug)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`, with the time from handing out the event to the answer.
    Response { body: Bytes, latency: Duration },
    /// `POST /invocation/{id}/error`.
    Error { body: Bytes },
    /// `POST /init/error`: the function could not start.
    InitError { body: Bytes },
}

struct Invocation {
    id: String,
    body: Vec<u8>,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    polls: mpsc::UnboundedSender<Instant>,
    outcomes: mpsc::UnboundedSender<Outcome>,
    handed_out: Mutex<HashMap<String, Instant>>,
}

/// A running emulator. Dropping it stops the server.
pub struct RuntimeApi {
    addr: SocketAddr,
    invocations: mpsc::UnboundedSender<Invocation>,
    polls: mpsc::UnboundedReceiver<Instant>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: JoinHandle<()>,
    next_id: u64,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (invocations, queue) = mpsc::unbounded_channel();
        let (polls_tx, polls) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(queue),
            polls: polls_tx,
            outcomes: outcomes_tx,
            handed_out: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(RuntimeApi {
            addr,
            invocations,
            polls,
            outcomes,
            server,
            next_id: 0,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function next polled for an invocation (its first poll ends its init).
    pub async fn next_poll(&mut self) -> Option<Instant> {
        self.polls.recv().await
    }

    /// Hands the function one event and waits for what it says about it.
    pub async fn invoke(&mut self, event: Vec<u8>, timeout: Duration) -> Result<Outcome, String> {
        self.next_id += 1;
        let id = format!("bench-{:08}", self.next_id);
        self.invocations
            .send(Invocation { id, body: event })
            .map_err(|_| "the emulator stopped".to_string())?;
        match tokio::time::timeout(timeout, self.outcomes.recv()).await {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => Err("the emulator stopped".into()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    /// An init error the function reported, if any (does not wait).
    pub fn reported_init_error(&mut self) -> Option<String> {
        match self.outcomes.try_recv() {
            Ok(Outcome::InitError { body }) => Some(String::from_utf8_lossy(&body).into_owned()),
            _ => None,
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.polls.send(Instant::now());
    let invocation = shared.queue.lock().await.recv().await;
    let Some(invocation) = invocation else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_add(DEADLINE)
        .as_millis();
    let pairs = [
        ("lambda-runtime-aws-request-id", invocation.id.clone()),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".to_string(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0".to_string(),
        ),
        ("content-type", "application/json".to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    shared
        .handed_out
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(invocation.id, Instant::now());
    (StatusCode::OK, headers, invocation.body).into_response()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let answered = Instant::now();
    let handed_out = shared
        .handed_out
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    let latency = handed_out
        .map(|t| answered.duration_since(t))
        .unwrap_or_default();
    let _ = shared.outcomes.send(Outcome::Response { body, latency });
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(_id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let _ = shared.outcomes.send(Outcome::Error { body });
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let _ = shared.outcomes.send(Outcome::InitError { body });
    StatusCode::ACCEPTED
}
