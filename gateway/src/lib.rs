//! The session gateway: a reverse proxy for MCP's Streamable HTTP transport that puts any MCP
//! server, unchanged, under the Sessions API.
//!
//! - [`settings`]: flags and environment.
//! - [`auth`]: clients' bearer tokens (the gateway is the MCP server's resource server).
//! - [`sessions_api`]: the Sessions API's connection side (connect, heartbeat, disconnect).
//! - [`registry`]: the MCP sessions held, and the tokens of cut-off sessions.
//! - [`lifecycle`]: one task per session reporting its life, cutting its client off when the
//!   Sessions API says it is disconnected.
//! - [`proxy`]: the MCP endpoint itself.
//! - [`signals`]: the Shared Signals receiver (CAEP `session-revoked` pushed by the API).
//! - [`metrics`]: the gateway's own metrics.

pub mod auth;
pub mod lifecycle;
pub mod metrics;
pub mod proxy;
pub mod registry;
pub mod sessions_api;
pub mod settings;
pub mod signals;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::serve::ListenerExt;
use axum::Router;
use serde_json::json;
use tokio_util::task::TaskTracker;

use crate::auth::{Client, Verifier};
use crate::lifecycle::Reporter;
use crate::registry::{Entry, Registry};
use crate::sessions_api::{Connect, SessionsApi, TokenSource};
use crate::settings::Settings;

/// Everything a request handler needs.
pub struct Gateway {
    pub settings: Settings,
    pub verifier: Verifier,
    pub registry: Arc<Registry>,
    /// The client for the upstream MCP server (no overall timeout: SSE streams last).
    pub http: reqwest::Client,
    reporter: Arc<Reporter>,
    tasks: TaskTracker,
    /// The Shared Signals receiver, when a transmitter is configured.
    pub receiver: Option<signals::Receiver>,
}

impl Gateway {
    pub fn new(settings: Settings) -> Result<Gateway, String> {
        settings.check()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("the HTTP client cannot be built: {e}"))?;
        let verifier = match (&settings.jwks_url, &settings.dev_jwt_secret) {
            (Some(url), _) => Verifier::jwks(
                url.clone(),
                http.clone(),
                &settings.token_issuer,
                &settings.audience(),
                settings.required_scopes(),
            ),
            (None, Some(secret)) => Verifier::dev(
                secret,
                &settings.token_issuer,
                &settings.audience(),
                settings.required_scopes(),
            )?,
            (None, None) => return Err("one of --jwks-url or --dev-jwt-secret is needed".into()),
        };
        let token = match (&settings.sessions_token, &settings.sessions_token_file) {
            (Some(token), _) => TokenSource::Fixed(token.clone()),
            (None, Some(path)) => TokenSource::file(path.clone()),
            (None, None) => {
                return Err("one of --sessions-token or --sessions-token-file is needed".into())
            }
        };
        let registry = Arc::new(Registry::default());
        let upstream = settings.upstream_url.clone();
        let end_http = http.clone();
        let reporter = Arc::new(Reporter {
            api: SessionsApi::new(
                http.clone(),
                &settings.sessions_api_url,
                settings.application_id,
                token,
            ),
            registry: registry.clone(),
            heartbeat: settings.heartbeat_interval(),
            end_upstream: Box::new(move |mcp_session_id| {
                let request = end_http
                    .delete(upstream.clone())
                    .header(proxy::MCP_SESSION_ID, mcp_session_id)
                    .timeout(Duration::from_secs(5));
                tokio::spawn(async move {
                    if let Err(error) = request.send().await {
                        tracing::debug!(%error, "ending the upstream session failed");
                    }
                });
            }),
        });
        let receiver = match (&settings.ssf_transmitter_url, &settings.ssf_token) {
            (Some(url), Some(token)) => Some(signals::Receiver::new(url.clone(), token.clone())),
            (None, None) => None,
            _ => return Err("--ssf-transmitter-url and --ssf-token go together".into()),
        };
        Ok(Gateway {
            receiver,
            settings,
            verifier,
            registry,
            http,
            reporter,
            tasks: TaskTracker::new(),
        })
    }

    /// Holds a new MCP session and starts reporting it; waits a moment for its connect so the
    /// session is listed by the time the client's `initialize` is answered.
    pub async fn open(
        &self,
        mcp_session_id: String,
        client: &Client,
        connect: Connect,
    ) -> Arc<Entry> {
        let entry = Arc::new(Entry::new(mcp_session_id, client, connect));
        self.registry.insert(entry.clone());
        self.tasks.spawn(self.reporter.clone().run(entry.clone()));
        entry.wait_reported(self.settings.connect_wait()).await;
        entry
    }

    /// Cuts a session off on a pushed revocation (before its heartbeat would have).
    pub fn cut_off_by_event(&self, entry: &Entry) {
        if !entry.is_ended() {
            self.registry.metrics.event_cutoffs.inc();
            tracing::info!(mcp_session = %entry.mcp_session_id, "a pushed revocation cuts the session off");
        }
        self.reporter.cut_off(entry);
    }

    /// The URL the transmitter pushes to.
    pub fn push_url(&self) -> String {
        let base = self.settings.public_url.as_str().trim_end_matches('/');
        format!("{base}{}", signals::PUSH_PATH)
    }

    /// Ends every session as its transport closing: streams end, disconnects are reported.
    pub fn close_all(&self) {
        for entry in self.registry.all() {
            entry.close();
        }
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(&self.settings.mcp_path, any(proxy::mcp))
            .route(
                &self.settings.resource_metadata_path(),
                get(resource_metadata),
            )
            .route(
                "/.well-known/oauth-protected-resource",
                get(resource_metadata),
            )
            .route("/gateway/health", get(health))
            .route("/gateway/metrics", get(metrics))
            .route("/gateway/session", get(session))
            .route(signals::PUSH_PATH, post(signals::push))
            .with_state(self.clone())
    }
}

/// RFC 9728 protected resource metadata: which authorization server issues tokens for it.
async fn resource_metadata(State(gateway): State<Arc<Gateway>>) -> Response {
    let mut body = json!({
        "resource": gateway.settings.resource(),
        "authorization_servers": [gateway.settings.token_issuer],
        "bearer_methods_supported": ["header"],
    });
    let scopes = gateway.verifier.required_scopes();
    if !scopes.is_empty() {
        body["scopes_supported"] = json!(scopes);
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn health(State(gateway): State<Arc<Gateway>>) -> Response {
    let signals = match &gateway.receiver {
        None => "off",
        Some(receiver) if receiver.registration.get().is_some() => "registered",
        Some(_) => "registering",
    };
    let body = json!({"status": "ok", "sessionsOpen": gateway.registry.len(), "signals": signals});
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        gateway.registry.metrics.render(),
    )
        .into_response()
}

/// The Sessions API session behind the caller's MCP session, for a client that asks (same
/// token, `Mcp-Session-Id`).
async fn session(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let entry = match proxy::admit(&gateway, &headers).await {
        Ok((_, Some(entry))) => entry,
        Ok((_, None)) => {
            return proxy::error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the Mcp-Session-Id header is required",
            )
        }
        Err(response) => return response,
    };
    let body = json!({
        "applicationId": gateway.settings.application_id,
        "sessionId": entry.reported().map(|r| r.session_id),
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Sends each write at once: an SSE answer goes out as its head and then its events, in
/// separate small writes, and Nagle's algorithm would hold each second write for the client's
/// delayed acknowledgement (about 40 ms a request).
fn no_delay(tcp: &mut tokio::net::TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "TCP_NODELAY could not be set");
    }
}

/// Serves until `shutdown` resolves, then closes every session (reporting its disconnect)
/// and waits up to the shutdown setting for those reports.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = gateway.router();
    if gateway.receiver.is_some() {
        let registering = gateway.clone();
        tokio::spawn(async move {
            if let Some(receiver) = &registering.receiver {
                let push_url = registering.push_url();
                receiver
                    .register(
                        &registering.http,
                        &push_url,
                        registering.settings.application_id,
                    )
                    .await;
            }
        });
    }
    let closing = gateway.clone();
    axum::serve(
        listener.tap_io(no_delay),
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!(
            sessions = closing.registry.len(),
            "shutting down; closing sessions"
        );
        closing.close_all();
    })
    .await?;
    if let Some(receiver) = &gateway.receiver {
        receiver.unregister(&gateway.http).await;
    }
    gateway.tasks.close();
    let wait = Duration::from_secs(gateway.settings.shutdown_seconds);
    if tokio::time::timeout(wait, gateway.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            sessions = gateway.registry.len(),
            "shutdown: some disconnects were not reported in time"
        );
    }
    Ok(())
}
