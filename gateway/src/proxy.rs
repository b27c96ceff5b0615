//! The MCP endpoint: every request's token verified, then forwarded to the upstream MCP
//! server as it is (JSON or SSE answers streamed back as they come, never buffered whole),
//! with the session bookkeeping around it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::auth::{challenge, Client, Refusal};
use crate::registry::Entry;
use crate::sessions_api::Connect;
use crate::settings::HostnameSource;
use crate::Gateway;

pub const MCP_SESSION_ID: &str = "mcp-session-id";

/// Headers that belong to one connection, never forwarded (RFC 9110 section 7.6.1), plus what
/// the gateway sets itself.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// An error answer in the Sessions API's error shape.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "message": message,
        "statusCode": status.as_u16(),
        "code": code,
        "requestId": uuid::Uuid::new_v4().to_string(),
    });
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// A refused token: 401 (or 403 for scope) with the `WWW-Authenticate` challenge.
pub fn refusal(gateway: &Gateway, refusal: &Refusal) -> Response {
    let (status, code, message) = match refusal {
        Refusal::Missing => (
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a bearer token is required",
        ),
        Refusal::Invalid(why) => (StatusCode::UNAUTHORIZED, "invalid_token", *why),
        Refusal::InsufficientScope => (
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the token lacks a scope this MCP server requires",
        ),
    };
    let mut response = error(status, code, message);
    let value = challenge(
        refusal,
        &gateway.settings.resource_metadata_url(),
        gateway.verifier.required_scopes(),
    );
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The `WWW-Authenticate`-bearing 401 a cut-off session's token gets.
pub const TOKEN_CUT_OFF: Refusal =
    Refusal::Invalid("the session opened with this token was revoked; authenticate again");

/// Verifies the request's token and finds its session, or the answer that refuses it.
pub async fn admit(
    gateway: &Gateway,
    headers: &HeaderMap,
) -> Result<(Client, Option<Arc<Entry>>), Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let client = gateway
        .verifier
        .verify(authorization)
        .await
        .map_err(|r| refusal(gateway, &r))?;
    if gateway.registry.is_refused(&client.token_key) {
        gateway.registry.metrics.refused_tokens.inc();
        return Err(refusal(gateway, &TOKEN_CUT_OFF));
    }
    let Some(id) = headers.get(MCP_SESSION_ID) else {
        return Ok((client, None));
    };
    // A session the gateway does not hold (ended, never seen, or held by another subject) is
    // 404, which tells an MCP client to start a new session.
    let entry = id
        .to_str()
        .ok()
        .and_then(|id| gateway.registry.get(id))
        .filter(|e| e.subject == client.subject && !e.is_ended());
    match entry {
        Some(entry) => Ok((client, Some(entry))),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            "MCP session not found; initialize a new session",
        )),
    }
}

/// The `clientInfo` of an `initialize` request (a single message or one in a batch).
pub fn initialize_client_info(body: &[u8]) -> Option<Option<Value>> {
    let parsed: Value = serde_json::from_slice(body).ok()?;
    let messages = match parsed {
        Value::Array(items) => items,
        single => vec![single],
    };
    messages
        .into_iter()
        .find(|m| m.get("method").and_then(Value::as_str) == Some("initialize"))
        .map(|m| m.pointer("/params/clientInfo").cloned())
}

fn hostname(source: &HostnameSource, headers: &HeaderMap, peer: SocketAddr) -> Option<String> {
    match source {
        HostnameSource::Peer => Some(peer.ip().to_string()),
        HostnameSource::Header(name) => headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty()),
        HostnameSource::Fixed(name) => Some(name.clone()),
        HostnameSource::None => None,
    }
}

fn forwarded_headers(headers: &HeaderMap, peer: SocketAddr) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || name == header::HOST
            || name == header::AUTHORIZATION
            || name == header::CONTENT_LENGTH
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        out.insert(HeaderName::from_static("x-forwarded-for"), value);
    }
    out
}

/// The MCP endpoint (POST, GET, DELETE).
pub async fn mcp(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let (parts, body) = request.into_parts();
    if ![Method::POST, Method::GET, Method::DELETE].contains(&parts.method) {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the MCP endpoint accepts POST, GET and DELETE",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST, GET, DELETE"));
        return response;
    }
    let (client, entry) = match admit(&gateway, &parts.headers).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let body = if parts.method == Method::POST {
        match axum::body::to_bytes(body, gateway.settings.max_body_bytes).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    &format!(
                        "the request body exceeds {} bytes",
                        gateway.settings.max_body_bytes
                    ),
                )
            }
        }
    } else {
        Bytes::new()
    };
    let initialize = match (&entry, &parts.method) {
        (None, &Method::POST) => initialize_client_info(&body),
        _ => None,
    };
    if let Some(entry) = &entry {
        entry.touch(&client);
    }

    let mut url = gateway.settings.upstream_url.clone();
    url.set_query(parts.uri.query());
    let upstream = gateway
        .http
        .request(parts.method.clone(), url)
        .headers(forwarded_headers(&parts.headers, peer))
        .body(body)
        .send()
        .await;
    let upstream = match upstream {
        Ok(response) => response,
        Err(e) => {
            // A client closing its session is closed here even when the upstream is gone.
            if let (Some(entry), &Method::DELETE) = (&entry, &parts.method) {
                entry.close();
            }
            gateway.registry.metrics.upstream_failures.inc();
            tracing::warn!(error = %e, "the upstream MCP server could not be reached");
            return error(
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "the MCP server could not be reached",
            );
        }
    };
    let status = upstream.status();

    if let Some(entry) = &entry {
        // The upstream ended the session (404 to its id), or the client closed it.
        let closed_by_client = parts.method == Method::DELETE && status.is_success();
        if status == StatusCode::NOT_FOUND || closed_by_client {
            entry.close();
        }
    }
    let entry = match (entry, initialize) {
        (Some(entry), _) => Some(entry),
        (None, Some(client_info)) if status.is_success() => {
            let id = upstream
                .headers()
                .get(MCP_SESSION_ID)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            match id {
                Some(id) => {
                    let connect = Connect {
                        client_info,
                        user_agent: parts
                            .headers
                            .get(header::USER_AGENT)
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_string),
                        hostname: hostname(&gateway.settings.hostname_source, &parts.headers, peer),
                        token_expires_at: chrono::DateTime::from_timestamp(client.expires_at, 0),
                    };
                    Some(gateway.open(id, &client, connect).await)
                }
                None => None,
            }
        }
        _ => None,
    };

    let mut response = Response::builder().status(status);
    if let Some(headers) = response.headers_mut() {
        for (name, value) in upstream.headers() {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                headers.append(name.clone(), value.clone());
            }
        }
    }
    let stream = upstream.bytes_stream();
    let body = match entry {
        // A session's streams end the moment it is cut off or closed (the answer that closed
        // it, e.g. to its DELETE, goes out whole).
        Some(entry) if !entry.is_ended() => {
            Body::from_stream(stream.take_until(entry.ended().clone().cancelled_owned()))
        }
        _ => Body::from_stream(stream),
    };
    response.body(body).unwrap_or_else(|_| {
        error(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "the MCP server's answer could not be relayed",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initialize_is_found_alone_or_in_a_batch() {
        let single = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"c","version":"1"}}}"#;
        assert_eq!(
            initialize_client_info(single),
            Some(Some(json!({"name": "c", "version": "1"})))
        );
        let batch = br#"[{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}]"#;
        assert_eq!(initialize_client_info(batch), Some(None));
        assert_eq!(initialize_client_info(br#"{"method":"tools/list"}"#), None);
        assert_eq!(initialize_client_info(b"not json"), None);
    }

    #[test]
    fn the_token_and_connection_headers_never_reach_the_upstream() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        headers.insert(header::HOST, HeaderValue::from_static("gw"));
        headers.insert(MCP_SESSION_ID, HeaderValue::from_static("abc"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        let peer: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let out = forwarded_headers(&headers, peer);
        assert!(out.get(header::AUTHORIZATION).is_none());
        assert!(out.get(header::CONNECTION).is_none());
        assert!(out.get(header::HOST).is_none());
        assert_eq!(
            out.get(MCP_SESSION_ID).map(|v| v.as_bytes()),
            Some(&b"abc"[..])
        );
        assert_eq!(
            out.get("x-forwarded-for").map(|v| v.as_bytes()),
            Some(&b"10.0.0.1, 127.0.0.1"[..])
        );
    }

    #[test]
    fn hostnames_come_from_the_configured_source() {
        let peer: SocketAddr = "10.1.2.3:5000".parse().expect("addr");
        let mut headers = HeaderMap::new();
        headers.insert("x-client-host", HeaderValue::from_static("laptop-7, proxy"));
        assert_eq!(
            hostname(&HostnameSource::Peer, &headers, peer).as_deref(),
            Some("10.1.2.3")
        );
        assert_eq!(
            hostname(
                &HostnameSource::Header("x-client-host".into()),
                &headers,
                peer
            )
            .as_deref(),
            Some("laptop-7")
        );
        assert_eq!(
            hostname(&HostnameSource::Header("absent".into()), &headers, peer),
            None
        );
        assert_eq!(hostname(&HostnameSource::None, &headers, peer), None);
    }
}
