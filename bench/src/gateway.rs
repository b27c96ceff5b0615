//! The session gateway's figures: what fronting an MCP server costs a tool call
//! (`gateway_overhead_ratio`) and how soon a revoke-all reaches connected clients
//! (`cutoff_seconds_*`).
//!
//! One stack, in process as the gateway tests build it: a world (engine and table), the API
//! over real HTTP (`sessions_tests::front::Front`), the example MCP server (the official
//! Python SDK) as its own process, and the gateway in front of it. Clients speak MCP's
//! Streamable HTTP transport themselves, over reqwest: `initialize`, then
//! `notifications/initialized`, then requests carrying `Mcp-Session-Id` and
//! `MCP-Protocol-Version`, each answer read whole (JSON or SSE).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use clap::Parser;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Value};
use sessions::route::Route;
use sessions_gateway::settings::Settings;
use sessions_gateway::Gateway;
use sessions_tests::front::Front;
use sessions_tests::mcp::{client_token, Upstream, ISSUER};
use sessions_tests::{caller_scopes, dev_token, World, DEV_SECRET};

use crate::stats::ms;

/// The protocol revision the bench's clients ask for (the example server's SDK speaks it).
pub const PROTOCOL_VERSION: &str = "2025-06-18";
const ACCEPT: &str = "application/json, text/event-stream";
const MCP_SESSION_ID: &str = "mcp-session-id";

/// Untimed tool calls on each path before the timed ones.
const WARM_UP_CALLS: usize = 30;
/// The pause between one session's pings while it waits to be cut off (it pings at once when
/// its stream ends).
pub const POLL_PAUSE: Duration = Duration::from_millis(250);
/// The margin over one heartbeat interval `cutoff_seconds_p99` is judged against: a heartbeat's
/// round trip, a poll's pause and its answer, a loaded machine.
pub const CUTOFF_MARGIN_SECONDS: f64 = 0.5;
/// Sessions opened at once before a cut-off measurement.
const OPEN_CONCURRENCY: usize = 8;

/// A world, its API over HTTP, the example MCP server, and the gateway in front of it, twice:
/// listening as its binary does (a plain `TcpListener::bind`), and on a listener whose
/// connections have `TCP_NODELAY` set, to show what Nagle's algorithm costs its answers.
pub struct Stack {
    pub world: World,
    pub front: Front,
    pub upstream: Upstream,
    /// The gateway's MCP endpoint, listening as its binary does.
    pub mcp_url: String,
    /// The same gateway's MCP endpoint on a `TCP_NODELAY` listener.
    pub mcp_url_nodelay: String,
    pub heartbeat_seconds: f64,
    http: reqwest::Client,
    served: Vec<Served>,
}

/// One gateway serving, and how to stop it.
struct Served {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stack {
    /// Starts everything; the gateways heartbeat every `heartbeat_seconds`.
    pub async fn start(heartbeat_seconds: f64) -> Result<Stack, String> {
        // The harness panics without the venv, and a panic aborts a release build: an error
        // of this phase instead.
        let python = sessions_tests::workspace_root().join(".venv/bin/python");
        if !python.is_file() {
            return Err(format!("{} is missing: run `make venv`", python.display()));
        }
        let world = World::new().await;
        // The front verifies bearer tokens as a local run does.
        let mut vars = sessions_tests::env(world.store.table());
        vars.insert("SESSIONS_DEV_JWT_SECRET".into(), DEV_SECRET.into());
        let api = sessions::api::Api::new(&sessions_tests::config(&vars), world.store.clone())
            .map_err(|e| format!("the API: {e}"))?;
        let front = Front::start(api).await;
        let upstream = Upstream::start().await;
        let mut stack = Stack {
            world,
            front,
            upstream,
            mcp_url: String::new(),
            mcp_url_nodelay: String::new(),
            heartbeat_seconds,
            http: reqwest::Client::new(),
            served: Vec::new(),
        };
        stack.mcp_url = stack.start_gateway(false).await?;
        stack.mcp_url_nodelay = stack.start_gateway(true).await?;
        Ok(stack)
    }

    /// Starts a gateway in front of the stack's upstream; its MCP endpoint.
    async fn start_gateway(&mut self, nodelay: bool) -> Result<String, String> {
        let bind = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
        let listener = if nodelay {
            // Accepted connections inherit the listening socket's TCP_NODELAY.
            let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
            socket.set_nodelay(true).map_err(|e| e.to_string())?;
            socket.bind(bind).map_err(|e| e.to_string())?;
            socket.listen(1024).map_err(|e| e.to_string())?
        } else {
            tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|e| format!("bind a gateway: {e}"))?
        };
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let service_token = dev_token(self.world.org, "sessions:connect", DEV_SECRET, 3600);
        let settings = Settings::try_parse_from([
            "sessions-gateway".to_string(),
            format!("--upstream-url={}", self.upstream.url),
            format!("--public-url=http://{addr}"),
            format!("--sessions-api-url={}", self.front.url),
            format!("--application-id={}", self.world.app.id),
            format!("--sessions-token={service_token}"),
            format!("--dev-jwt-secret={DEV_SECRET}"),
            format!("--token-issuer={ISSUER}"),
            format!("--heartbeat-seconds={}", self.heartbeat_seconds),
        ])
        .map_err(|e| format!("gateway settings: {e}"))?;
        let gateway = Arc::new(Gateway::new(settings)?);
        let mcp_url = gateway.settings.resource();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            let _ = sessions_gateway::serve(gateway, listener, shutdown).await;
        });
        self.served.push(Served {
            stop: Some(stop),
            task,
        });
        Ok(mcp_url)
    }

    /// A client token for the gateway at `mcp_url`, for `subject`.
    pub fn token(mcp_url: &str, subject: &str) -> String {
        client_token(mcp_url, subject, DEV_SECRET)
    }

    /// Revoke-all of the application, over HTTP as its owner would call it; the number of
    /// sessions it disconnected.
    pub async fn revoke_all(&self) -> Result<u64, String> {
        let route = Route::RevokeSessions;
        let path = route
            .path()
            .replace("{applicationId}", &self.world.app.id.to_string());
        let token = dev_token(self.world.org, caller_scopes(route), DEV_SECRET, 3600);
        let response = self
            .http
            .delete(format!("{}{path}", self.front.url))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| format!("revoke-all: {e}"))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status != 200 {
            return Err(format!("revoke-all answered {status}: {body}"));
        }
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|b| b["disconnectedCount"].as_u64())
            .ok_or_else(|| format!("revoke-all answered without disconnectedCount: {body}"))
    }

    /// Stops the gateways as SIGTERM does (their sessions' disconnects reported), then
    /// everything else with the stack.
    pub async fn stop(mut self) {
        for served in &mut self.served {
            if let Some(stop) = served.stop.take() {
                let _ = stop.send(());
            }
        }
        for served in &mut self.served {
            let _ = tokio::time::timeout(Duration::from_secs(20), &mut served.task).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for served in &self.served {
            served.task.abort();
        }
    }
}

/// How an MCP request was answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The JSON-RPC result.
    Served(Value),
    /// Refused by the gateway: 401 (the token was cut off) or 404 (the session ended).
    Refused(u16),
    /// Accepted, but its answer's stream ended (or broke, when `broken`) before the result:
    /// the session was cut off while the request was in flight.
    StreamEnded { broken: bool },
}

impl Answer {
    /// How a refusal is counted: its status, or how the stream ended.
    fn refusal(&self) -> Option<String> {
        match self {
            Answer::Served(_) => None,
            Answer::Refused(status) => Some(status.to_string()),
            Answer::StreamEnded { broken: false } => Some("stream ended without an answer".into()),
            Answer::StreamEnded { broken: true } => Some("stream broke without an answer".into()),
        }
    }
}

/// One MCP session over Streamable HTTP, as a client holds it.
pub struct McpSession {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    id: String,
    next_id: AtomicU64,
}

impl McpSession {
    /// `initialize`, then `notifications/initialized`; `token` is the bearer, if any.
    pub async fn open(
        http: &reqwest::Client,
        url: &str,
        token: Option<String>,
    ) -> Result<McpSession, String> {
        let mut session = McpSession {
            http: http.clone(),
            url: url.to_string(),
            token,
            id: String::new(),
            next_id: AtomicU64::new(1),
        };
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "sessions-bench", "version": env!("CARGO_PKG_VERSION")},
        });
        let response = session
            .post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}))
            .send()
            .await
            .map_err(|e| format!("initialize: {e}"))?;
        session.id = response
            .headers()
            .get(MCP_SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "initialize answered {} without a session id",
                    response.status()
                )
            })?;
        match answer(response, 0).await? {
            Answer::Served(result) if result["protocolVersion"] == PROTOCOL_VERSION => {}
            other => return Err(format!("initialize: {other:?}")),
        }
        let response = session
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .map_err(|e| format!("notifications/initialized: {e}"))?;
        if response.status() != reqwest::StatusCode::ACCEPTED {
            return Err(format!(
                "notifications/initialized answered {}",
                response.status()
            ));
        }
        Ok(session)
    }

    fn post(&self, message: &Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, ACCEPT)
            .body(message.to_string());
        if !self.id.is_empty() {
            request = request
                .header(MCP_SESSION_ID, &self.id)
                .header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// One JSON-RPC request and its answer, read whole.
    pub async fn request(&self, method: &str, params: Value) -> Result<Answer, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self
            .post(&message)
            .send()
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        answer(response, id).await
    }

    /// `tools/call` of the example server's `add`, its result checked.
    pub async fn add(&self, a: u64, b: u64) -> Result<Answer, String> {
        let answer = self
            .request(
                "tools/call",
                json!({"name": "add", "arguments": {"a": a, "b": b}}),
            )
            .await?;
        match &answer {
            Answer::Served(result)
                if result["isError"] == false
                    && result["content"][0]["text"].as_str() == Some(&(a + b).to_string()) =>
            {
                Ok(answer)
            }
            Answer::Served(result) => Err(format!("add({a}, {b}) answered {result}")),
            Answer::Refused(_) | Answer::StreamEnded { .. } => Ok(answer),
        }
    }

    /// Opens the session's `GET` stream (for messages the server sends unasked); the response,
    /// whose body ends when the stream does.
    pub async fn listen(&self) -> Result<reqwest::Response, String> {
        let mut request = self
            .http
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .header(MCP_SESSION_ID, &self.id)
            .header("mcp-protocol-version", PROTOCOL_VERSION);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("GET stream: {e}"))?;
        match response.status().as_u16() {
            200 => Ok(response),
            status => Err(format!("GET stream answered {status}")),
        }
    }

    /// Ends the session as a client does (`DELETE`); best effort.
    pub async fn close(&self) {
        let mut request = self
            .http
            .delete(&self.url)
            .header(MCP_SESSION_ID, &self.id)
            .header("mcp-protocol-version", PROTOCOL_VERSION);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let _ = request.send().await;
    }
}

/// The answer to JSON-RPC request `id`: its result from a JSON body or from the SSE events of
/// one, or a refusal.
async fn answer(response: reqwest::Response, id: u64) -> Result<Answer, String> {
    let status = response.status().as_u16();
    let sse = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = match response.text().await {
        Ok(body) => body,
        Err(_) if sse && status == 200 => return Ok(Answer::StreamEnded { broken: true }),
        Err(e) => return Err(format!("reading an answer: {e}")),
    };
    match status {
        200 => {}
        401 | 404 => return Ok(Answer::Refused(status)),
        _ => return Err(format!("answered {status}: {body}")),
    }
    let messages: Vec<Value> = if sse {
        sse_data(&body)
            .iter()
            .filter_map(|data| serde_json::from_str(data).ok())
            .collect()
    } else {
        match serde_json::from_str(&body) {
            Ok(Value::Array(batch)) => batch,
            Ok(single) => vec![single],
            Err(e) => return Err(format!("an answer that is not JSON ({e}): {body}")),
        }
    };
    let Some(reply) = messages.into_iter().find(|m| m["id"] == id) else {
        return if sse {
            Ok(Answer::StreamEnded { broken: false })
        } else {
            Err(format!("no answer to request {id} in: {body}"))
        };
    };
    match reply.get("result") {
        Some(result) => Ok(Answer::Served(result.clone())),
        None => Err(format!("request {id} failed: {reply}")),
    }
}

/// The data of each event of an SSE body (multi-line data joined by newlines; events without
/// data, such as a priming event, left out).
fn sse_data(body: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut data: Vec<&str> = Vec::new();
    for line in body.lines().chain([""]) {
        if line.is_empty() {
            if !data.is_empty() {
                events.push(data.join("\n"));
                data.clear();
            }
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    events
}

/// Tool-call latencies straight to the upstream, through the gateway, and through the gateway
/// on a `TCP_NODELAY` listener (milliseconds).
#[derive(Debug, Default)]
pub struct Overhead {
    pub direct_ms: Vec<f64>,
    pub gateway_ms: Vec<f64>,
    pub gateway_nodelay_ms: Vec<f64>,
}

/// `calls` timed `add` calls on each path, interleaved (the order of the paths rotates every
/// round), one MCP session per path opened the same way, after a few untimed ones.
pub async fn overhead(stack: &Stack, calls: usize) -> Result<Overhead, String> {
    let http = reqwest::Client::new();
    let mut paths = Vec::new();
    for url in [&stack.upstream.url, &stack.mcp_url, &stack.mcp_url_nodelay] {
        let token = (url != &stack.upstream.url).then(|| Stack::token(url, "bench-overhead"));
        paths.push(McpSession::open(&http, url, token).await?);
    }
    let mut samples: [Vec<f64>; 3] = Default::default();
    for round in 0..WARM_UP_CALLS + calls {
        for k in 0..paths.len() {
            let path = (round + k) % paths.len();
            let started = Instant::now();
            let answer = paths[path].add(round as u64, 1).await?;
            let elapsed = ms(started.elapsed());
            if let Some(refused) = answer.refusal() {
                return Err(format!("a tool call was refused: {refused}"));
            }
            if round >= WARM_UP_CALLS {
                samples[path].push(elapsed);
            }
        }
    }
    for session in &paths {
        session.close().await;
    }
    let [direct_ms, gateway_ms, gateway_nodelay_ms] = samples;
    Ok(Overhead {
        direct_ms,
        gateway_ms,
        gateway_nodelay_ms,
    })
}

/// For each session, from the revoke-all's answer to its first refused request.
#[derive(Debug)]
pub struct Cutoffs {
    pub sessions: usize,
    pub heartbeat_seconds: f64,
    /// Seconds, one per session (0 for a session refused before the answer arrived).
    pub seconds: Vec<f64>,
    /// The same from the moment the revoke-all was sent.
    pub seconds_from_request: Vec<f64>,
    /// How long the revoke-all took to answer.
    pub revoke_all_seconds: f64,
    /// Sessions refused before the revoke-all's answer arrived (counted as 0).
    pub before_answer: usize,
    /// The refusals, counted by status (or a stream that ended without its answer).
    pub refusals: BTreeMap<String, usize>,
    /// Sessions whose `GET` stream ended before any of their requests was refused.
    pub streams_ended_first: usize,
    /// Per session, from sending its last served request to its first refused answer
    /// (milliseconds): the window polling alone would bracket the cut-off in.
    pub bracket_ms: Vec<f64>,
    /// Requests served before the revoke-all was sent, across all sessions.
    pub served_before: u64,
    /// What the revoke-all reported.
    pub disconnected_count: u64,
    /// Seconds spent opening the sessions.
    pub open_seconds: f64,
}

/// What one session's poller saw.
struct Polled {
    refused: Option<(Instant, String)>,
    stream_ended: Option<Instant>,
    last_served_sent: Option<Instant>,
    served_before: u64,
}

/// Opens `sessions` MCP sessions through the stack's gateway (one client token each), each
/// holding its `GET` stream open and pinging every [`POLL_PAUSE`], or at once when its stream
/// ends, as a client that reconnects would; revokes all through the API; and times each
/// session's first refused request from the revoke-all's answer. The stack's gateway decides
/// how the revocation reaches it (heartbeats, or pushed events in a later variant).
pub async fn cutoff(stack: &Stack, sessions: usize) -> Result<Cutoffs, String> {
    let http = reqwest::Client::new();
    let opening = Instant::now();
    let opened: Vec<McpSession> = stream::iter(0..sessions)
        .map(|i| {
            let token = Stack::token(&stack.mcp_url, &format!("bench-client-{i}"));
            let http = http.clone();
            let url = stack.mcp_url.clone();
            async move { McpSession::open(&http, &url, Some(token)).await }
        })
        .buffer_unordered(OPEN_CONCURRENCY)
        .try_collect()
        .await?;
    let open_seconds = opening.elapsed().as_secs_f64();

    let revoking_at: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let give_up = Duration::from_secs_f64(stack.heartbeat_seconds * 3.0 + 10.0);
    let pollers: Vec<_> = opened
        .into_iter()
        .map(|session| tokio::spawn(poll(session, revoking_at.clone(), give_up)))
        .collect();
    // Every session served for a while, its heartbeats under way.
    let settle = Duration::from_secs_f64(stack.heartbeat_seconds * 1.5).max(POLL_PAUSE * 5);
    tokio::time::sleep(settle).await;
    let revoking = Instant::now();
    let _ = revoking_at.set(revoking);
    let revoked = stack.revoke_all().await;
    let answered = Instant::now();
    let disconnected_count = revoked?;

    let mut cut = Cutoffs {
        sessions,
        heartbeat_seconds: stack.heartbeat_seconds,
        seconds: Vec::new(),
        seconds_from_request: Vec::new(),
        revoke_all_seconds: answered.duration_since(revoking).as_secs_f64(),
        before_answer: 0,
        refusals: BTreeMap::new(),
        streams_ended_first: 0,
        bracket_ms: Vec::new(),
        served_before: 0,
        disconnected_count,
        open_seconds,
    };
    let mut failures = Vec::new();
    for poller in pollers {
        let polled = match poller.await {
            Ok(Ok(polled)) => polled,
            Ok(Err(e)) => {
                failures.push(e);
                continue;
            }
            Err(e) => {
                failures.push(format!("a poller failed: {e}"));
                continue;
            }
        };
        cut.served_before += polled.served_before;
        let (Some((at, refusal)), Some(last_served)) = (polled.refused, polled.last_served_sent)
        else {
            failures.push(format!(
                "a session was never served, or still served {give_up:?} after the revoke-all"
            ));
            continue;
        };
        let early = |t: Instant| t < revoking;
        if early(at) || polled.stream_ended.is_some_and(early) {
            failures.push(format!(
                "a session was cut off ({refusal}) before the revoke-all"
            ));
            continue;
        }
        if at < answered {
            cut.before_answer += 1;
        }
        if polled.stream_ended.is_some_and(|ended| ended <= at) {
            cut.streams_ended_first += 1;
        }
        *cut.refusals.entry(refusal).or_default() += 1;
        cut.seconds
            .push(at.saturating_duration_since(answered).as_secs_f64());
        cut.seconds_from_request
            .push(at.duration_since(revoking).as_secs_f64());
        cut.bracket_ms
            .push(ms(at.saturating_duration_since(last_served)));
    }
    match failures.first() {
        Some(first) => Err(format!(
            "{} of {sessions} sessions failed; the first: {first}",
            failures.len()
        )),
        None => Ok(cut),
    }
}

/// Holds the session's `GET` stream and pings until refused, or until `give_up` after the
/// revoke-all; an error for a failed request.
async fn poll(
    session: McpSession,
    revoking_at: Arc<OnceLock<Instant>>,
    give_up: Duration,
) -> Result<Polled, String> {
    let mut polled = Polled {
        refused: None,
        stream_ended: None,
        last_served_sent: None,
        served_before: 0,
    };
    let (ended_tx, mut ended) = tokio::sync::oneshot::channel::<Instant>();
    let mut stream = session.listen().await?;
    let watcher = tokio::spawn(async move {
        while let Ok(Some(_)) = stream.chunk().await {}
        let _ = ended_tx.send(Instant::now());
    });
    let outcome = loop {
        let sent = Instant::now();
        let revoking = revoking_at.get().copied();
        let answer = match session.request("ping", json!({})).await {
            Ok(answer) => answer,
            Err(e) => break Err(e),
        };
        if let Some(refusal) = answer.refusal() {
            polled.refused = Some((Instant::now(), refusal));
            break Ok(());
        }
        polled.last_served_sent = Some(sent);
        if revoking.is_none() {
            polled.served_before += 1;
        }
        if revoking.is_some_and(|r| r.elapsed() > give_up) {
            break Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_PAUSE) => {}
            at = &mut ended, if polled.stream_ended.is_none() => {
                polled.stream_ended = Some(at.unwrap_or_else(|_| Instant::now()));
            }
        }
    };
    watcher.abort();
    outcome.map(|()| polled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_are_split_and_their_data_joined() {
        let body = "id: 1\ndata:\n\nevent: message\ndata: {\"a\":\ndata: 1}\n\nevent: message\r\ndata: {}\r\n";
        assert_eq!(sse_data(body), ["", "{\"a\":\n1}", "{}"]);
    }
}
