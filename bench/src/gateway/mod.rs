//! The session gateway's figures: what fronting an MCP server costs a tool call
//! (`gateway_overhead_ratio`) and how soon a revoke-all reaches connected clients, by
//! heartbeats (`cutoff_seconds_*`) and by a pushed Shared Signals event
//! (`cutoff_event_seconds_*`).
//!
//! - [`mcp`]: an MCP client over Streamable HTTP, raw: `initialize`, then
//!   `notifications/initialized`, then requests carrying `Mcp-Session-Id` and
//!   `MCP-Protocol-Version`, each answer read whole (JSON or SSE).
//! - [`overhead`]: a tool call through the gateway against the same call straight to the server.
//! - [`cutoff`]: from a revoke-all's answer to each connected client's first refused request.
//!
//! Each measures a stack built in process as the gateway tests build theirs (this module): a
//! world (engine and table), the API over real HTTP (`sessions_tests::front::Front`), the
//! example MCP server (the official Python SDK) as its own process, and the gateway in front
//! of it; for the pushed-event cut-off, also the published-events chain
//! (`sessions_tests::signals::Signals`: stream consumer, Shared Signals push worker) with the
//! gateway registered as a receiver.

pub mod cutoff;
pub mod mcp;
pub mod overhead;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::Value;
use sessions::route::Route;
use sessions_gateway::settings::Settings;
use sessions_gateway::Gateway;
use sessions_tests::front::Front;
use sessions_tests::mcp::{client_token, Upstream, ISSUER};
use sessions_tests::signals::Signals;
use sessions_tests::{caller_scopes, dev_token, World, DEV_SECRET};

pub use cutoff::{cutoff, Cutoffs, CUTOFF_MARGIN_SECONDS, POLL_PAUSE};
pub use overhead::{overhead, Overhead};

/// How long a receiving gateway may take to register its Shared Signals stream.
const REGISTRATION_WITHIN: Duration = Duration::from_secs(30);

/// A world, its API over HTTP, the example MCP server, and the gateway in front of it, served
/// by `sessions_gateway::serve` as its binary serves it; with the published-events chain, the
/// gateway is also a Shared Signals receiver.
pub struct Stack {
    pub world: World,
    pub front: Front,
    pub upstream: Upstream,
    /// The gateway's MCP endpoint.
    pub mcp_url: String,
    /// The gateway's own base URL (`/gateway/health` and the like).
    pub gateway_url: String,
    pub heartbeat_seconds: f64,
    /// The stream consumer and push worker, when the gateway receives pushed events.
    signals: Option<Signals>,
    http: reqwest::Client,
    served: Option<Served>,
}

/// The gateway serving, and how to stop it.
struct Served {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stack {
    /// Starts everything; the gateway heartbeats every `heartbeat_seconds`. With `signals`,
    /// the published-events chain runs too (stream consumer, Shared Signals push worker, the
    /// transmitter's routes on the API, the API's URL its issuer) and the gateway registers
    /// as a receiver; this returns once it has.
    pub async fn start(heartbeat_seconds: f64, signals: bool) -> Result<Stack, String> {
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
        // Bound first: its URL is the transmitter's issuer.
        let front_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind the API front: {e}"))?;
        let front_addr = front_listener.local_addr().map_err(|e| e.to_string())?;
        let (front, signals) = if signals {
            let signals = Signals::start(&world, api, &format!("http://{front_addr}")).await;
            let front = Front::start_on(front_listener, signals.api.clone());
            (front, Some(signals))
        } else {
            (Front::start_on(front_listener, api), None)
        };
        let upstream = Upstream::start().await;
        let mut stack = Stack {
            world,
            front,
            upstream,
            mcp_url: String::new(),
            gateway_url: String::new(),
            heartbeat_seconds,
            signals,
            http: reqwest::Client::new(),
            served: None,
        };
        stack.start_gateway().await?;
        if stack.signals.is_some() {
            stack.registered(REGISTRATION_WITHIN).await?;
        }
        Ok(stack)
    }

    /// Starts the gateway in front of the stack's upstream, listening as its binary does.
    async fn start_gateway(&mut self) -> Result<(), String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind the gateway: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let service_token = dev_token(self.world.org, "sessions:connect", DEV_SECRET, 3600);
        let mut args = vec![
            "sessions-gateway".to_string(),
            format!("--upstream-url={}", self.upstream.url),
            format!("--public-url=http://{addr}"),
            format!("--sessions-api-url={}", self.front.url),
            format!("--application-id={}", self.world.app.id),
            format!("--sessions-token={service_token}"),
            format!("--dev-jwt-secret={DEV_SECRET}"),
            format!("--token-issuer={ISSUER}"),
            format!("--heartbeat-seconds={}", self.heartbeat_seconds),
        ];
        if self.signals.is_some() {
            let receiver_token = dev_token(self.world.org, "ssf:manage", DEV_SECRET, 3600);
            args.push(format!("--ssf-transmitter-url={}", self.front.url));
            args.push(format!("--ssf-token={receiver_token}"));
        }
        let settings =
            Settings::try_parse_from(args).map_err(|e| format!("gateway settings: {e}"))?;
        let gateway = Arc::new(Gateway::new(settings)?);
        self.mcp_url = gateway.settings.resource();
        self.gateway_url = format!("http://{addr}");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            let _ = sessions_gateway::serve(gateway, listener, shutdown).await;
        });
        self.served = Some(Served {
            stop: Some(stop),
            task,
        });
        Ok(())
    }

    /// Waits until the gateway's health says it registered its Shared Signals stream.
    async fn registered(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let url = format!("{}/gateway/health", self.gateway_url);
        loop {
            let body = match self.http.get(&url).send().await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            if body.contains("\"signals\":\"registered\"") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the gateway registered no Shared Signals stream within {within:?}: {body}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the gateway is a Shared Signals receiver (revocations pushed to it).
    pub fn receives_events(&self) -> bool {
        self.signals.is_some()
    }

    /// One of the gateway's counters, read from `/gateway/metrics`.
    pub async fn metric(&self, name: &str) -> Result<f64, String> {
        let url = format!("{}/gateway/metrics", self.gateway_url);
        let text = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .text()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        // OpenMetrics text: `<name> <value>` on a line of its own.
        text.lines()
            .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .find_map(|value| value.trim().parse::<f64>().ok())
            .ok_or_else(|| format!("no metric {name} at {url}"))
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

    /// Stops the gateway as SIGTERM does (its sessions' disconnects reported), then everything
    /// else with the stack.
    pub async fn stop(mut self) {
        if let Some(served) = &mut self.served {
            if let Some(stop) = served.stop.take() {
                let _ = stop.send(());
            }
            let _ = tokio::time::timeout(Duration::from_secs(20), &mut served.task).await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if let Some(served) = &self.served {
            served.task.abort();
        }
    }
}
