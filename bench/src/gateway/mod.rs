//! The session gateway's figures: what fronting an MCP server costs a tool call
//! (`gateway_overhead_ratio`) and how soon a revoke-all reaches connected clients
//! (`cutoff_seconds_*`).
//!
//! - [`mcp`]: an MCP client over Streamable HTTP, raw: `initialize`, then
//!   `notifications/initialized`, then requests carrying `Mcp-Session-Id` and
//!   `MCP-Protocol-Version`, each answer read whole (JSON or SSE).
//! - [`overhead`]: a tool call through the gateway against the same call straight to the server.
//! - [`cutoff`]: from a revoke-all's answer to each connected client's first refused request.
//!
//! Both measure one stack, built in process as the gateway tests build theirs (this module): a
//! world (engine and table), the API over real HTTP (`sessions_tests::front::Front`), the
//! example MCP server (the official Python SDK) as its own process, and the gateway in front
//! of it.

pub mod cutoff;
pub mod mcp;
pub mod overhead;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use serde_json::Value;
use sessions::route::Route;
use sessions_gateway::settings::Settings;
use sessions_gateway::Gateway;
use sessions_tests::front::Front;
use sessions_tests::mcp::{client_token, Upstream, ISSUER};
use sessions_tests::{caller_scopes, dev_token, World, DEV_SECRET};

pub use cutoff::{cutoff, Cutoffs, CUTOFF_MARGIN_SECONDS, POLL_PAUSE};
pub use overhead::{overhead, Overhead};

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
