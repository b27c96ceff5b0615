//! The gateway's settings: command-line flags, each with an environment variable, read once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use uuid::Uuid;

/// Where a session's `hostname` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostnameSource {
    /// The client's address as the gateway saw it (the TCP peer).
    Peer,
    /// The value of a request header of `initialize` (e.g. `X-Forwarded-For` behind a load
    /// balancer); its first comma-separated entry.
    Header(String),
    /// A fixed name (e.g. the gateway's own host).
    Fixed(String),
    /// No hostname.
    None,
}

impl std::str::FromStr for HostnameSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            _ if s == "peer" => Ok(HostnameSource::Peer),
            _ if s == "none" => Ok(HostnameSource::None),
            Some(("header", name)) if !name.is_empty() => Ok(HostnameSource::Header(name.into())),
            Some(("fixed", name)) if !name.is_empty() => Ok(HostnameSource::Fixed(name.into())),
            _ => Err(format!(
                "{s:?}: expected peer, none, header:<Header-Name> or fixed:<name>"
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

/// A reverse proxy for MCP's Streamable HTTP transport in front of one MCP server: it verifies
/// each client's bearer token, reports every MCP session to the Sessions API (connect,
/// heartbeats, disconnect) and cuts a revoked session's client off.
#[derive(Debug, Clone, Parser)]
#[command(name = "sessions-gateway", version)]
pub struct Settings {
    /// Address the gateway listens on.
    #[arg(long, env = "GATEWAY_LISTEN", default_value = "127.0.0.1:9100")]
    pub listen: SocketAddr,

    /// The MCP server's Streamable HTTP endpoint (http://host:port/path).
    #[arg(long, env = "GATEWAY_UPSTREAM_URL")]
    pub upstream_url: reqwest::Url,

    /// The gateway's own public base URL, as clients reach it (used for the protected
    /// resource metadata, and the default token audience).
    #[arg(
        long,
        env = "GATEWAY_PUBLIC_URL",
        default_value = "http://127.0.0.1:9100"
    )]
    pub public_url: reqwest::Url,

    /// Path of the MCP endpoint on the gateway.
    #[arg(long, env = "GATEWAY_MCP_PATH", default_value = "/mcp")]
    pub mcp_path: String,

    /// Base URL of the Sessions API (the part before `/api/v1`).
    #[arg(long, env = "GATEWAY_SESSIONS_API_URL")]
    pub sessions_api_url: reqwest::Url,

    /// The application (agent) whose sessions this MCP server's clients are.
    #[arg(long, env = "GATEWAY_APPLICATION_ID")]
    pub application_id: Uuid,

    /// The gateway's own token for the Sessions API (scope `sessions:connect`).
    #[arg(long, env = "GATEWAY_SESSIONS_TOKEN", hide_env_values = true)]
    pub sessions_token: Option<String>,

    /// A file holding that token, read again whenever it changes (for a token a sidecar
    /// refreshes); used when `--sessions-token` is not given.
    #[arg(long, env = "GATEWAY_SESSIONS_TOKEN_FILE")]
    pub sessions_token_file: Option<PathBuf>,

    /// The JWKS that signs clients' access tokens (production).
    #[arg(long, env = "GATEWAY_JWKS_URL")]
    pub jwks_url: Option<reqwest::Url>,

    /// An HS256 secret that signs clients' access tokens (local development only).
    #[arg(long, env = "GATEWAY_DEV_JWT_SECRET", hide_env_values = true)]
    pub dev_jwt_secret: Option<String>,

    /// The issuer clients' tokens must carry; also named in the protected resource metadata
    /// as the authorization server.
    #[arg(long, env = "GATEWAY_TOKEN_ISSUER")]
    pub token_issuer: String,

    /// The audience clients' tokens must carry (default: the gateway's MCP endpoint URL,
    /// its resource identifier).
    #[arg(long, env = "GATEWAY_TOKEN_AUDIENCE")]
    pub token_audience: Option<String>,

    /// Scopes a client token must carry (space separated; none by default).
    #[arg(long, env = "GATEWAY_REQUIRED_SCOPES", default_value = "")]
    pub required_scopes: String,

    /// Seconds between a session's heartbeats (each one jittered by up to a tenth).
    #[arg(long, env = "GATEWAY_HEARTBEAT_SECONDS", default_value_t = 30.0)]
    pub heartbeat_seconds: f64,

    /// How long an `initialize` answer waits for its connect to be reported before it goes to
    /// the client anyway (the connect is then retried in the background).
    #[arg(long, env = "GATEWAY_CONNECT_WAIT_MS", default_value_t = 2000)]
    pub connect_wait_ms: u64,

    /// Where a session's `hostname` comes from: peer, none, header:<Name>, fixed:<name>.
    #[arg(long, env = "GATEWAY_HOSTNAME_SOURCE", default_value = "peer")]
    pub hostname_source: HostnameSource,

    /// Largest request body forwarded (bytes).
    #[arg(long, env = "GATEWAY_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds a shutdown waits for open sessions' disconnects to be reported.
    #[arg(long, env = "GATEWAY_SHUTDOWN_SECONDS", default_value_t = 10)]
    pub shutdown_seconds: u64,

    /// The Sessions API's Shared Signals transmitter (the base URL its
    /// `/.well-known/ssf-configuration` is under). With it the gateway registers a push stream
    /// and cuts sessions off on pushed revocations, not only at their next heartbeat.
    #[arg(long, env = "GATEWAY_SSF_TRANSMITTER_URL")]
    pub ssf_transmitter_url: Option<reqwest::Url>,

    /// The gateway's token for the transmitter's stream management (scope `ssf:manage`).
    #[arg(long, env = "GATEWAY_SSF_TOKEN", hide_env_values = true)]
    pub ssf_token: Option<String>,

    /// Log format.
    #[arg(long, env = "GATEWAY_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormat,
}

impl Settings {
    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs_f64(self.heartbeat_seconds.clamp(0.05, 3600.0))
    }

    pub fn connect_wait(&self) -> Duration {
        Duration::from_millis(self.connect_wait_ms)
    }

    /// The resource identifier of the MCP endpoint (RFC 8707 / RFC 9728).
    pub fn resource(&self) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{}", self.mcp_path)
    }

    pub fn audience(&self) -> String {
        self.token_audience
            .clone()
            .unwrap_or_else(|| self.resource())
    }

    /// Where the protected resource metadata is served (RFC 9728: the well-known path with the
    /// resource's path appended).
    pub fn resource_metadata_path(&self) -> String {
        format!("/.well-known/oauth-protected-resource{}", self.mcp_path)
    }

    pub fn resource_metadata_url(&self) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}{}", self.resource_metadata_path())
    }

    pub fn required_scopes(&self) -> Vec<String> {
        self.required_scopes
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Settings that contradict each other, named.
    pub fn check(&self) -> Result<(), String> {
        if !self.mcp_path.starts_with('/') || self.mcp_path.len() < 2 {
            return Err(format!(
                "--mcp-path {:?} must start with / and name a path",
                self.mcp_path
            ));
        }
        if self.jwks_url.is_some() && self.dev_jwt_secret.is_some() {
            return Err("--jwks-url and --dev-jwt-secret exclude each other".into());
        }
        if !(self.heartbeat_seconds.is_finite() && self.heartbeat_seconds > 0.0) {
            return Err("--heartbeat-seconds must be a positive number".into());
        }
        if self.upstream_url.scheme() != "http" && self.upstream_url.scheme() != "https" {
            return Err("--upstream-url must be an http(s) URL".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_sources_parse_and_bad_ones_are_named() {
        assert_eq!("peer".parse(), Ok(HostnameSource::Peer));
        assert_eq!("none".parse(), Ok(HostnameSource::None));
        assert_eq!(
            "header:X-Forwarded-For".parse(),
            Ok(HostnameSource::Header("X-Forwarded-For".into()))
        );
        assert_eq!(
            "fixed:gw-1".parse(),
            Ok(HostnameSource::Fixed("gw-1".into()))
        );
        for bad in ["", "header:", "fixed:", "host", "header"] {
            let err = bad.parse::<HostnameSource>().unwrap_err();
            assert!(err.contains("expected"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_resource_and_its_metadata_follow_the_public_url() {
        let settings = Settings::parse_from([
            "g",
            "--upstream-url=http://127.0.0.1:1/mcp",
            "--sessions-api-url=http://127.0.0.1:2",
            "--application-id=550e8400-e29b-41d4-a716-446655440000",
            "--sessions-token=t",
            "--dev-jwt-secret=s",
            "--token-issuer=i",
            "--public-url=https://mcp.example.test/",
        ]);
        assert_eq!(settings.resource(), "https://mcp.example.test/mcp");
        assert_eq!(settings.audience(), settings.resource());
        assert_eq!(
            settings.resource_metadata_url(),
            "https://mcp.example.test/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(settings.check(), Ok(()));
    }
}
