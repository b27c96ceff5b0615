//! The session gateway with MCP software no one here wrote: the official MCP Python SDK's
//! example-style server (`scripts/mcp/example_server.py`) behind the gateway, and the SDK's
//! Streamable HTTP client (`scripts/mcp/client.py`) in front of it. The Sessions API is the
//! real handler code over real HTTP ([`sessions_tests::front::Front`]) on a real engine.

mod adversity;
mod revocation;
mod session_loop;
mod signals;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};
use sessions::api::Api;
use sessions::model::DisconnectReason;
use sessions::route::Route;
use sessions_gateway::settings::Settings;
use sessions_gateway::Gateway;
use sessions_tests::front::Front;
pub use sessions_tests::mcp::{client_token, python, Upstream, ISSUER};
use sessions_tests::process::Guard;
use sessions_tests::signals::Signals;
use sessions_tests::workspace_root;
use sessions_tests::{dev_token, World, DEV_SECRET};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};
use uuid::Uuid;

/// How often the gateway heartbeats in these tests (the real default is 30 s).
pub const HEARTBEAT_SECONDS: f64 = 0.5;

/// A world, its API over HTTP, an upstream MCP server, and a gateway in front of it.
pub struct Stack {
    pub world: World,
    _signals: Option<Signals>,
    pub front: Front,
    pub upstream: Option<Upstream>,
    pub gateway_url: String,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::with(&[]).await
    }

    /// A stack whose gateway also takes `flags`.
    pub async fn with(flags: &[&str]) -> Stack {
        Stack::build(flags, false).await
    }

    /// A stack with the published-events chain (stream consumer, Shared Signals push worker)
    /// and the gateway registered as a Shared Signals receiver.
    pub async fn with_signals(flags: &[&str]) -> Stack {
        Stack::build(flags, true).await
    }

    async fn build(flags: &[&str], with_signals: bool) -> Stack {
        let world = World::new().await;
        // The front verifies bearer tokens as a local run does; the world's own API keeps
        // taking API Gateway's authorizer claims.
        let mut vars = sessions_tests::env(world.store.table());
        vars.insert("SESSIONS_DEV_JWT_SECRET".into(), DEV_SECRET.into());
        let api = Api::new(&sessions_tests::config(&vars), world.store.clone()).expect("api");
        let front_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the API front");
        let front_url = format!("http://{}", front_listener.local_addr().expect("front"));
        let (front, signals) = if with_signals {
            let signals = Signals::start(&world, api, &front_url).await;
            (
                Front::start_on(front_listener, signals.api.clone()),
                Some(signals),
            )
        } else {
            (Front::start_on(front_listener, api), None)
        };
        let upstream = Upstream::start().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the gateway");
        let addr = listener.local_addr().expect("gateway address");
        let public = format!("http://{addr}");
        let service_token = dev_token(world.org, "sessions:connect", DEV_SECRET, 3600);
        let mut args = vec![
            "sessions-gateway".to_string(),
            format!("--upstream-url={}", upstream.url),
            format!("--public-url={public}"),
            format!("--sessions-api-url={}", front.url),
            format!("--application-id={}", world.app.id),
            format!("--sessions-token={service_token}"),
            format!("--token-issuer={ISSUER}"),
            "--log-format=text".to_string(),
        ];
        if !flags.iter().any(|f| f.starts_with("--jwks-url")) {
            args.push(format!("--dev-jwt-secret={DEV_SECRET}"));
        }
        if !flags.iter().any(|f| f.starts_with("--heartbeat-seconds")) {
            args.push(format!("--heartbeat-seconds={HEARTBEAT_SECONDS}"));
        }
        if signals.is_some() {
            let receiver_token = dev_token(world.org, "ssf:manage", DEV_SECRET, 3600);
            args.push(format!("--ssf-transmitter-url={}", front.url));
            args.push(format!("--ssf-token={receiver_token}"));
        }
        args.extend(flags.iter().map(|f| f.to_string()));
        let settings = Settings::try_parse_from(args).expect("gateway settings");
        let gateway = Arc::new(Gateway::new(settings).expect("gateway"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn({
            let gateway = gateway.clone();
            async move {
                let shutdown = async move {
                    let _ = stopped.await;
                };
                let _ = sessions_gateway::serve(gateway, listener, shutdown).await;
            }
        });
        Stack {
            world,
            _signals: signals,
            front,
            upstream: Some(upstream),
            gateway_url: public,
            http: reqwest::Client::new(),
            stop: Some(stop),
            served: Some(served),
        }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.gateway_url)
    }

    /// A client token for the gateway (audience: its MCP endpoint), for `subject`.
    pub fn token(&self, subject: &str) -> String {
        client_token(&self.mcp_url(), subject, DEV_SECRET)
    }

    /// An official MCP client, connected through the gateway with `token`.
    pub async fn client(&self, token: &str) -> McpClient {
        McpClient::start(&self.mcp_url(), token).await
    }

    /// A gateway path's answer: status and body text.
    pub async fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let mut request = self.http.get(format!("{}{path}", self.gateway_url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("gateway answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap_or_default())
    }

    /// One of the gateway's metrics, read from `/gateway/metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        let (status, _, text) = self.get("/gateway/metrics", &[]).await;
        assert_eq!(status, 200, "{text}");
        text.lines()
            .find_map(|line| {
                let (metric, value) = line.split_once(' ')?;
                (metric == name)
                    .then(|| value.parse::<f64>().ok())
                    .flatten()
            })
            .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
    }

    /// The status of one raw MCP request (`method`, e.g. `initialize` or `tools/list`) with
    /// `token`, in session `mcp_session_id` if given.
    pub async fn raw_mcp(&self, token: &str, mcp_session_id: Option<&str>, method: &str) -> u16 {
        let params = match method {
            "initialize" => json!({"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "raw", "version": "1"}}),
            _ => json!({}),
        };
        let mut request = self
            .http
            .post(self.mcp_url())
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        if let Some(id) = mcp_session_id {
            request = request.header("mcp-session-id", id);
        }
        request
            .send()
            .await
            .expect("the gateway answers")
            .status()
            .as_u16()
    }

    /// The Sessions API session behind an MCP session, as a client may ask for it.
    pub async fn session_id(&self, token: &str, mcp_session_id: &str) -> Uuid {
        let bearer = format!("Bearer {token}");
        let (status, _, body) = self
            .get(
                "/gateway/session",
                &[
                    ("authorization", &bearer),
                    ("mcp-session-id", mcp_session_id),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).expect("JSON");
        body["sessionId"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no reported session yet: {body}"))
    }

    /// The application's sessions, through the API (every page).
    pub async fn sessions(&self) -> Vec<Value> {
        let reply = self
            .world
            .list(&[("limit", "200"), ("status", "all")])
            .await;
        reply.items().clone()
    }

    /// Waits until `check` holds for the listed sessions, or panics after `within`.
    pub async fn eventually(
        &self,
        within: Duration,
        what: &str,
        check: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let sessions = self.sessions().await;
            if check(&sessions) {
                return sessions;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("{what}: not within {within:?}; sessions: {sessions:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Revokes every session of the application through the API; the moment it answered.
    pub async fn revoke_all(&self) -> Instant {
        let revoked = self
            .world
            .call(self.world.event(Route::RevokeSessions))
            .await;
        assert_eq!(revoked.status, 200, "{:#}", revoked.body);
        Instant::now()
    }

    /// Revokes session `id` through the API; the moment it answered.
    pub async fn revoke_one(&self, id: Uuid) -> Instant {
        let revoked = self.world.call(self.world.revoke_one_event(id)).await;
        assert_eq!(revoked.status, 200, "{:#}", revoked.body);
        Instant::now()
    }

    /// Why the stored session `id` was disconnected.
    pub async fn disconnect_reason(&self, id: Uuid) -> Option<DisconnectReason> {
        let (_, stored) = self
            .world
            .store
            .get_session(self.world.org, self.world.app.id, id)
            .await
            .expect("the stored session");
        stored.disconnect_reason
    }

    /// Stops the gateway the way SIGTERM does, and waits for it to finish.
    pub async fn stop_gateway(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), served).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(served) = &self.served {
            served.abort();
        }
    }
}

/// The official MCP Python client, driven one JSON command per line.
pub struct McpClient {
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    pub mcp_session_id: Option<String>,
    pub initialized: Value,
    _process: Guard,
}

impl McpClient {
    pub async fn start(url: &str, token: &str) -> McpClient {
        let mut command = std::process::Command::new(python());
        command
            .arg(workspace_root().join("scripts/mcp/client.py"))
            .args(["--url", url, "--token", token, "--timeout", "20"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut process = Guard::spawn(command).expect("start the MCP client");
        let (stdin, stdout) = process.take_pipes().expect("the client's pipes");
        let stdin = ChildStdin::from_std(stdin).expect("async stdin");
        let stdout = ChildStdout::from_std(stdout).expect("async stdout");
        let mut client = McpClient {
            stdin,
            lines: BufReader::new(stdout).lines(),
            mcp_session_id: None,
            initialized: Value::Null,
            _process: process,
        };
        client.initialized = client.read().await;
        client.mcp_session_id = client.initialized["mcpSessionId"]
            .as_str()
            .map(str::to_string);
        client
    }

    async fn read(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .expect("the MCP client answers within 60 s")
            .expect("read the MCP client")
            .unwrap_or_else(|| json!({"ok": false, "error": "the client exited"}).to_string());
        serde_json::from_str(&line).unwrap_or_else(|_| json!({"ok": false, "error": line}))
    }

    /// Sends one command, returns its answer.
    pub async fn send(&mut self, command: Value) -> Value {
        let line = format!("{command}\n");
        if self.stdin.write_all(line.as_bytes()).await.is_err() {
            return json!({"ok": false, "error": "the client exited"});
        }
        let _ = self.stdin.flush().await;
        self.read().await
    }

    pub async fn call(&mut self, tool: &str, args: Value) -> Value {
        self.send(json!({"op": "call", "tool": tool, "args": args}))
            .await
    }

    /// Starts a 30 s tool call whose answer is an SSE stream, and lets it get going.
    pub async fn start_long_call(&mut self) {
        let started = self
            .send(json!({"op": "start", "tool": "countdown", "args": {"seconds": 30}}))
            .await;
        assert_eq!(started["ok"], true, "{started}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// The long call's answer stream was closed: it ended without a result, within `within`
    /// of `since` (long before its 30 s).
    pub async fn assert_long_call_cut(&mut self, since: Instant, within: Duration) {
        let joined = self.send(json!({"op": "join"})).await;
        assert_ne!(joined["ok"], true, "{joined}");
        assert!(
            since.elapsed() < within,
            "the stream closed after {:?}",
            since.elapsed()
        );
    }

    /// Calls a tool until a call fails, which must happen within `within` of `since` (a call
    /// in flight at the cut-off fails as its answer stream ends; a later one is refused), then
    /// once more: that call must be refused for its token, 401 on every request it made (the
    /// client's GET stream reopening meanwhile included). Its answer.
    pub async fn assert_cut_off(&mut self, since: Instant, within: Duration) -> Value {
        loop {
            let answer = self.call("add", json!({"a": 1, "b": 1})).await;
            if answer["ok"] != true {
                break;
            }
            assert!(
                since.elapsed() < within,
                "still served {within:?} after the revocation: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            since.elapsed() < within,
            "cut off after {:?}",
            since.elapsed()
        );
        let next = self.call("add", json!({"a": 1, "b": 1})).await;
        let seen = statuses(&next);
        assert_ne!(next["ok"], true, "{next}");
        assert!(!seen.is_empty() && seen.iter().all(|s| *s == 401), "{next}");
        next
    }

    /// Ends the session as an MCP client does (`DELETE`), and waits for the client to exit.
    pub async fn close(mut self) {
        let _ = self.send(json!({"op": "close"})).await;
        let _ = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line()).await;
    }
}

/// The HTTP statuses a failed command saw.
pub fn statuses(answer: &Value) -> Vec<u64> {
    answer["statuses"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}
