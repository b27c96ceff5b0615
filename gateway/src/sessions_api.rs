//! The Sessions API's connection side, as the gateway calls it: connect, heartbeat,
//! disconnect, with the gateway's own `sessions:connect` token.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

/// One call's deadline.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The contract's limits on what a connect reports.
const CLIENT_INFO_MAX_BYTES: usize = 4096;
const USER_AGENT_MAX_CHARS: usize = 512;
const HOSTNAME_MAX_CHARS: usize = 253;

/// Why a call did not do what it asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 409 `session_disconnected`: the session was revoked, revoked with its application,
    /// closed or timed out; its client must be cut off.
    #[error("the session is disconnected")]
    Disconnected,
    /// 404: the session (or the application) is not there.
    #[error("not found")]
    NotFound,
    /// Worth trying again: the API or the network failed, throttled, or refused the gateway's
    /// own token (which may be refreshed).
    #[error("{why}")]
    Retry {
        after: Option<Duration>,
        why: String,
    },
    /// Refused for good (a request the API will never accept).
    #[error("refused with {status}: {why}")]
    Refused { status: u16, why: String },
}

/// What a connect reported back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub session_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// What the gateway knows of a new MCP session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Connect {
    pub client_info: Option<Value>,
    pub user_agent: Option<String>,
    pub hostname: Option<String>,
    pub token_expires_at: Option<DateTime<Utc>>,
}

impl Connect {
    /// The connect body, keeping only what the contract accepts (a malformed `clientInfo` is
    /// left out rather than failing the connect; long strings are cut).
    pub fn body(&self, now: DateTime<Utc>) -> Value {
        let mut body = serde_json::Map::new();
        if let Some(info) = self
            .client_info
            .as_ref()
            .filter(|i| acceptable_client_info(i))
        {
            body.insert("clientInfo".into(), info.clone());
        }
        if let Some(agent) = self
            .user_agent
            .as_deref()
            .and_then(|a| clean(a, USER_AGENT_MAX_CHARS))
        {
            body.insert("userAgent".into(), json!(agent));
        }
        if let Some(host) = self
            .hostname
            .as_deref()
            .and_then(|h| clean(h, HOSTNAME_MAX_CHARS))
        {
            body.insert("hostname".into(), json!(host));
        }
        if let Some(exp) = self.token_expires_at.filter(|exp| *exp > now) {
            body.insert("tokenExpiresAt".into(), json!(timestamp(exp)));
        }
        Value::Object(body)
    }
}

fn acceptable_client_info(info: &Value) -> bool {
    let text = |name: &str, max: usize| {
        info.get(name)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty() && s.chars().count() <= max)
    };
    info.is_object()
        && text("name", 200)
        && text("version", 100)
        && serde_json::to_vec(info).is_ok_and(|b| b.len() <= CLIENT_INFO_MAX_BYTES)
}

/// Control characters dropped, at most `max` characters, `None` when nothing is left.
fn clean(s: &str, max: usize) -> Option<String> {
    let cleaned: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    let cleaned = cleaned.trim().to_string();
    (!cleaned.is_empty()).then_some(cleaned)
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Where the gateway's own token comes from.
pub enum TokenSource {
    Fixed(String),
    /// Read again whenever the file's modification time changes.
    File {
        path: PathBuf,
        cached: std::sync::Mutex<Option<(SystemTime, String)>>,
    },
}

impl TokenSource {
    pub fn file(path: PathBuf) -> TokenSource {
        TokenSource::File {
            path,
            cached: std::sync::Mutex::new(None),
        }
    }

    fn token(&self) -> Result<String, CallError> {
        match self {
            TokenSource::Fixed(token) => Ok(token.clone()),
            TokenSource::File { path, cached } => {
                let unreadable = |e: std::io::Error| CallError::Retry {
                    after: None,
                    why: format!("the sessions token file cannot be read: {e}"),
                };
                let modified = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .map_err(unreadable)?;
                let mut cached = cached.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((at, token)) = cached.as_ref() {
                    if *at == modified {
                        return Ok(token.clone());
                    }
                }
                let token = std::fs::read_to_string(path)
                    .map_err(unreadable)?
                    .trim()
                    .to_string();
                *cached = Some((modified, token.clone()));
                Ok(token)
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionAnswer {
    session: SessionBody,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionBody {
    id: Uuid,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A client of one application's connection routes.
pub struct SessionsApi {
    http: reqwest::Client,
    sessions_url: String,
    token: TokenSource,
}

impl SessionsApi {
    pub fn new(
        http: reqwest::Client,
        base: &reqwest::Url,
        application: Uuid,
        token: TokenSource,
    ) -> Self {
        let base = base.as_str().trim_end_matches('/');
        SessionsApi {
            http,
            sessions_url: format!("{base}/api/v1/applications/{application}/sessions"),
            token,
        }
    }

    /// Connects a session; the same `idempotency_key` never makes a second one.
    pub async fn connect(
        &self,
        connect: &Connect,
        idempotency_key: &str,
    ) -> Result<Reported, CallError> {
        let body = connect.body(Utc::now());
        let answer = self
            .send(
                self.http
                    .post(&self.sessions_url)
                    .header("Idempotency-Key", idempotency_key)
                    .json(&body),
            )
            .await?;
        let parsed: SessionAnswer =
            serde_json::from_slice(&answer).map_err(|e| CallError::Retry {
                after: None,
                why: format!("the connect answer is not a session: {e}"),
            })?;
        Ok(Reported {
            session_id: parsed.session.id,
            created_at: parsed.session.created_at,
        })
    }

    /// The session is alive; `last_active_at` is the last MCP activity since the last report,
    /// `token_expires_at` the expiry of a token the client refreshed to.
    pub async fn heartbeat(
        &self,
        session: Uuid,
        last_active_at: Option<DateTime<Utc>>,
        token_expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), CallError> {
        let mut body = serde_json::Map::new();
        if let Some(at) = last_active_at {
            body.insert("lastActiveAt".into(), json!(timestamp(at)));
        }
        if let Some(exp) = token_expires_at.filter(|exp| *exp > Utc::now()) {
            body.insert("tokenExpiresAt".into(), json!(timestamp(exp)));
        }
        let body = Value::Object(body);
        let url = format!("{}/{session}/heartbeat", self.sessions_url);
        self.send(self.http.post(url).json(&body)).await.map(drop)
    }

    /// The transport closed (idempotent).
    pub async fn disconnect(&self, session: Uuid) -> Result<(), CallError> {
        let url = format!("{}/{session}/disconnect", self.sessions_url);
        self.send(self.http.post(url).json(&json!({})))
            .await
            .map(drop)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<bytes::Bytes, CallError> {
        let token = self.token.token()?;
        let response = request
            .bearer_auth(token)
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| CallError::Retry {
                after: None,
                why: format!("the Sessions API is unreachable: {e}"),
            })?;
        let status = response.status().as_u16();
        let after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response.bytes().await.map_err(|e| CallError::Retry {
            after,
            why: format!("the Sessions API's answer was cut: {e}"),
        })?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let error: ErrorBody = serde_json::from_slice(&body).unwrap_or(ErrorBody {
            code: String::new(),
            message: String::from_utf8_lossy(&body).chars().take(200).collect(),
        });
        let why = format!("{status} {}: {}", error.code, error.message);
        Err(match status {
            409 if error.code == "session_disconnected" => CallError::Disconnected,
            404 => CallError::NotFound,
            401 | 403 | 408 | 429 | 500..=599 => CallError::Retry { after, why },
            _ => CallError::Refused { status, why },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_body_keeps_only_what_the_contract_accepts() {
        let now = Utc::now();
        let connect = Connect {
            client_info: Some(json!({"name": "claude", "version": "1.2", "title": "Claude"})),
            user_agent: Some("agent/1\u{7}".into()),
            hostname: Some("  ".into()),
            token_expires_at: Some(now + chrono::Duration::seconds(60)),
        };
        let body = connect.body(now);
        assert_eq!(body["clientInfo"]["title"], "Claude");
        assert_eq!(body["userAgent"], "agent/1");
        assert!(body.get("hostname").is_none());
        assert!(body["tokenExpiresAt"].is_string());

        for bad in [
            json!({"name": "x"}),
            json!({"name": "", "version": "1"}),
            json!({"name": "x", "version": 1}),
            json!({"name": "x", "version": "1", "pad": "y".repeat(5000)}),
            json!("claude"),
        ] {
            let body = Connect {
                client_info: Some(bad.clone()),
                ..Connect::default()
            }
            .body(now);
            assert!(body.get("clientInfo").is_none(), "{bad}");
        }
        let expired = Connect {
            token_expires_at: Some(now - chrono::Duration::seconds(1)),
            ..Connect::default()
        };
        assert_eq!(expired.body(now), json!({}));
    }
}
