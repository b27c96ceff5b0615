//! An MCP client over Streamable HTTP, raw, on reqwest: what the bench's clients send and how
//! they read the answers, refusals included.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

/// The protocol revision the bench's clients ask for (the example server's SDK speaks it).
pub const PROTOCOL_VERSION: &str = "2025-06-18";
const ACCEPT: &str = "application/json, text/event-stream";
const MCP_SESSION_ID: &str = "mcp-session-id";

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
    pub fn refusal(&self) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_are_split_and_their_data_joined() {
        let body = "id: 1\ndata:\n\nevent: message\ndata: {\"a\":\ndata: 1}\n\nevent: message\r\ndata: {}\r\n";
        assert_eq!(sse_data(body), ["", "{\"a\":\n1}", "{}"]);
    }

    fn response(status: u16, content_type: &str, body: &str) -> reqwest::Response {
        axum::http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(body.to_string())
            .map(reqwest::Response::from)
            .expect("a response")
    }

    #[tokio::test]
    async fn answers_are_picked_out_by_id_and_refusals_told_apart() {
        let sse = "text/event-stream";
        let primed = "id: p\ndata:\n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"ok\":1}}\n\n";
        assert_eq!(
            answer(response(200, sse, primed), 7).await,
            Ok(Answer::Served(json!({"ok": 1})))
        );
        let other = primed.replace("\"id\":7", "\"id\":8");
        assert_eq!(
            answer(response(200, sse, &other), 7).await,
            Ok(Answer::StreamEnded { broken: false })
        );
        let batch =
            r#"[{"jsonrpc":"2.0","id":2,"result":{}},{"jsonrpc":"2.0","id":3,"result":[]}]"#;
        assert_eq!(
            answer(response(200, "application/json", batch), 3).await,
            Ok(Answer::Served(json!([])))
        );
        assert!(answer(response(200, "application/json", "{}"), 3)
            .await
            .is_err());
        let failed = r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32601}}"#;
        assert!(answer(response(200, "application/json", failed), 3)
            .await
            .is_err());
        for status in [401, 404] {
            assert_eq!(
                answer(response(status, "application/json", "{}"), 3).await,
                Ok(Answer::Refused(status))
            );
        }
        assert!(answer(response(502, "application/json", "{}"), 3)
            .await
            .is_err());
    }
}
