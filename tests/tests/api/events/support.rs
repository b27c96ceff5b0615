//! What the event tests share: the world's stream as the batch Lambda hands the consumer, a
//! publisher that keeps what it is given, and the `detail` schema of `docs/events.md`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use session_events::local::{lambda_record, StartAt, StreamPoller};
use session_events::{Handler, Publisher};
use sessions::events::SessionEvent;
use sessions_tests::World;

/// Every record of the world's stream so far, oldest first, as Lambda's `Records`.
pub async fn batch(world: &World) -> Vec<Value> {
    world
        .stream_records()
        .await
        .iter()
        .map(lambda_record)
        .collect()
}

/// A publisher that takes everything and keeps it, in order.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<SessionEvent>>>);

impl Recorder {
    pub fn events(&self) -> Vec<SessionEvent> {
        self.0.lock().expect("not poisoned").clone()
    }
}

impl Publisher for Recorder {
    async fn publish(&self, events: &[SessionEvent]) -> Vec<usize> {
        assert!(
            events.len() <= session_events::MAX_ENTRIES,
            "{}",
            events.len()
        );
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(events);
        Vec::new()
    }
}

/// The events the consumer publishes for the world's whole stream; the batch must go through
/// without a failure.
pub async fn published(world: &World) -> Vec<SessionEvent> {
    let recorder = Recorder::default();
    let handler = Handler::new(recorder.clone());
    let answer = handler.handle_records(&batch(world).await, "test").await;
    assert_eq!(answer.resume_at(), None, "every event published");
    recorder.events()
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// `docs/events.md`.
pub fn events_doc() -> String {
    std::fs::read_to_string(workspace_root().join("docs/events.md")).expect("docs/events.md")
}

/// The fenced `json` blocks of `doc`, parsed; a block that does not parse fails the test.
pub fn json_blocks(doc: &str) -> Vec<Value> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```json") => current = Some(String::new()),
            (Some(text), "```") => {
                blocks.push(
                    serde_json::from_str(text)
                        .unwrap_or_else(|e| panic!("a json block of docs/events.md: {e}\n{text}")),
                );
                current = None;
            }
            (Some(text), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// The JSON Schema of `detail` in `docs/events.md` (the block that declares draft 2020-12).
pub fn detail_schema() -> Value {
    json_blocks(&events_doc())
        .into_iter()
        .find(|b| b["$schema"] == "https://json-schema.org/draft/2020-12/schema")
        .expect("docs/events.md has a draft 2020-12 JSON Schema of detail")
}

/// Validates each of `details` against `schema` with the Python `jsonschema` package of the
/// project's venv (`make venv`), formats checked; panics with every error.
pub fn assert_valid(schema: &Value, details: &[Value]) {
    let python = workspace_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: `make venv` installs the schema validator",
        python.display()
    );
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
schema, details = json.load(sys.stdin)
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
errors = [f"{i}: {e.message} at {list(e.absolute_path)}" for i, d in enumerate(details)
          for e in validator.iter_errors(d)]
print("\n".join(errors))
sys.exit(1 if errors else 0)
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    {
        use std::io::Write;
        let input = serde_json::to_vec(&(schema, details)).expect("JSON");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&input)
            .expect("write to python");
    }
    let out = child.wait_with_output().expect("python finishes");
    assert!(
        out.status.success(),
        "not valid against the schema of docs/events.md:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The local runner's stream reader over the world's table.
pub fn poller(world: &World, start: StartAt) -> StreamPoller {
    sessions_tests::signals::stream_poller(world, start)
}

/// A loopback HTTP server standing in for EventBridge's API or for a rule's target: it keeps
/// every request's JSON body and answers as `answer` says for the request's number (from 0)
/// and body. It stops with the test's runtime.
pub struct Server {
    pub endpoint: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

/// What a [`Server`] answers: a status and a JSON body.
pub type Answer = Box<dyn Fn(usize, &Value) -> (u16, Value) + Send + Sync>;

impl Server {
    pub async fn start(answer: Answer) -> Server {
        use axum::body::Bytes;
        use axum::http::StatusCode;
        use axum::response::IntoResponse;

        #[derive(Clone)]
        struct State {
            bodies: Arc<Mutex<Vec<Value>>>,
            answer: Arc<Answer>,
        }

        async fn handle(
            axum::extract::State(st): axum::extract::State<State>,
            body: Bytes,
        ) -> axum::response::Response {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let n = {
                let mut bodies = st.bodies.lock().expect("not poisoned");
                bodies.push(body.clone());
                bodies.len() - 1
            };
            let (status, reply) = (st.answer)(n, &body);
            (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                [("content-type", "application/x-amz-json-1.1")],
                reply.to_string(),
            )
                .into_response()
        }

        let bodies = Arc::new(Mutex::new(Vec::new()));
        let state = State {
            bodies: bodies.clone(),
            answer: Arc::new(answer),
        };
        let app = axum::Router::new()
            .fallback(axum::routing::any(handle))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server {
            endpoint: format!("http://{addr}"),
            bodies,
        }
    }

    /// Every request body so far, in arrival order.
    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().expect("not poisoned").clone()
    }
}
