//! A client's whole session through the gateway: it appears with the client's real
//! `clientInfo`, its tool calls move `lastActiveAt` (in heartbeats, not one write per call),
//! and its `DELETE` disconnects it with the reason `closed`.

use std::time::Duration;

use serde_json::json;
use sessions::model::DisconnectReason;

use super::{Stack, HEARTBEAT_SECONDS};

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn an_official_client_through_the_gateway_is_a_session_until_it_closes() {
    let stack = Stack::start().await;
    let token = stack.token("alice");
    let mut client = stack.client(&token).await;
    assert_eq!(client.initialized["ok"], true, "{}", client.initialized);
    assert_eq!(client.initialized["server"], "example-tools");

    let tools = client.send(json!({"op": "list_tools"})).await;
    let names = strings(&tools["tools"]);
    for tool in ["add", "echo", "countdown"] {
        assert!(names.contains(&tool.to_string()), "{tools}");
    }
    let added = client.call("add", json!({"a": 2, "b": 3})).await;
    assert_eq!(strings(&added["result"]), ["5"], "{added}");

    // Listed by the time `initialize` was answered, with what the client itself reported.
    let sessions = stack.sessions().await;
    assert_eq!(sessions.len(), 1, "{sessions:#?}");
    let session = &sessions[0];
    assert_eq!(session["status"], "active");
    assert_eq!(
        session["clientInfo"],
        json!({"name": "sessions-example-client", "version": "0.3.1", "title": "Example client"})
    );
    assert_eq!(session["userAgent"], "sessions-example-client/0.3.1");
    assert_eq!(session["hostname"], "127.0.0.1");
    let id: uuid::Uuid = session["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    // The client did not see that id; it may ask for it.
    let mcp_session_id = client.mcp_session_id.clone().expect("an MCP session id");
    assert_ne!(mcp_session_id, id.to_string());
    assert_eq!(stack.session_id(&token, &mcp_session_id).await, id);

    // Tool calls move lastActiveAt, through heartbeats: many calls, few API calls.
    let before = session["lastActiveAt"]
        .as_str()
        .expect("lastActiveAt")
        .to_string();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let calls_before = stack.front.calls();
    let rounds = 20;
    for i in 0..rounds {
        let echoed = client
            .call("echo", json!({"text": format!("hi {i}")}))
            .await;
        assert_eq!(echoed["ok"], true, "{echoed}");
    }
    let moved = stack
        .eventually(Duration::from_secs(5), "lastActiveAt moves", |s| {
            s[0]["lastActiveAt"]
                .as_str()
                .is_some_and(|at| at > before.as_str())
        })
        .await;
    assert_eq!(moved[0]["status"], "active");
    let api_calls = stack.front.calls() - calls_before;
    assert!(
        api_calls < rounds / 2,
        "{rounds} tool calls made {api_calls} Sessions API calls (heartbeats every {HEARTBEAT_SECONDS} s)"
    );
    assert!(stack.metric("gateway_heartbeats_total").await >= 1.0);
    assert_eq!(stack.metric("gateway_connects_total").await, 1.0);

    client.close().await;
    stack
        .eventually(Duration::from_secs(5), "the session is disconnected", |s| {
            s[0]["status"] == "disconnected"
        })
        .await;
    assert_eq!(
        stack.disconnect_reason(id).await,
        Some(DisconnectReason::Closed)
    );
    assert_eq!(stack.metric("gateway_disconnects_total").await, 1.0);
    assert_eq!(stack.metric("gateway_sessions_open").await, 0.0);
    assert_eq!(
        stack.sessions().await.len(),
        1,
        "one session, reported once"
    );
}

#[tokio::test]
async fn tokens_are_checked_and_refusals_say_where_the_resource_metadata_is() {
    let stack = Stack::start().await;
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        stack.gateway_url
    );
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let post = |token: Option<String>| {
        let mut request = reqwest::Client::new()
            .post(stack.mcp_url())
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let missing = post(None).await.expect("answer");
    assert_eq!(missing.status(), 401);
    let challenge = missing.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{metadata_url}\"")
    );

    let other_audience =
        super::client_token("http://elsewhere/mcp", "alice", sessions_tests::DEV_SECRET);
    let wrong_key = super::client_token(&stack.mcp_url(), "alice", "another-secret");
    for (token, why) in [
        (other_audience, "audience"),
        (wrong_key, "signature"),
        ("x.y.z".into(), "garbage"),
    ] {
        let refused = post(Some(token)).await.expect("answer");
        assert_eq!(refused.status(), 401, "{why}");
        let challenge = refused.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .to_string();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{why}: {challenge}"
        );
        assert!(challenge.contains(&metadata_url), "{why}: {challenge}");
        let body: serde_json::Value = refused.json().await.expect("JSON error");
        assert_eq!(body["statusCode"], 401, "{body}");
    }
    assert!(
        stack.sessions().await.is_empty(),
        "no session for a refused client"
    );

    let (status, _, body) = stack
        .get("/.well-known/oauth-protected-resource/mcp", &[])
        .await;
    assert_eq!(status, 200);
    let metadata: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(metadata["resource"], stack.mcp_url());
    assert_eq!(metadata["authorization_servers"], json!([super::ISSUER]));

    let (status, _, body) = stack.get("/gateway/health", &[]).await;
    assert_eq!(status, 200, "{body}");
}

/// Production's path: clients' tokens signed by an authorization server's key, published in
/// its JWKS (here ES256, a P-256 key served on loopback), not a shared secret.
#[tokio::test]
async fn tokens_signed_by_a_jwks_key_are_verified_and_others_refused() {
    use sessions::ssf::signer::{LocalSigner, Signer};

    let signer = LocalSigner::from_pem(&LocalSigner::generate_pem()).expect("a P-256 key");
    let stranger = LocalSigner::from_pem(&LocalSigner::generate_pem()).expect("a P-256 key");
    let jwks = json!({"keys": [signer.jwk()]});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the JWKS server");
    let jwks_url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    let served = tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        );
        let _ = axum::serve(listener, app).await;
    });
    let stack = Stack::with(&[&format!("--jwks-url={jwks_url}")]).await;
    let mut client = stack.client(&mint(&signer, stack.mcp_url()).await).await;
    assert_eq!(client.initialized["ok"], true, "{}", client.initialized);
    let added = client.call("add", json!({"a": 20, "b": 22})).await;
    assert_eq!(strings(&added["result"]), ["42"], "{added}");
    for (token, why) in [
        (
            mint(&stranger, stack.mcp_url()).await,
            "a key the JWKS lacks",
        ),
        (
            mint(&signer, "http://elsewhere/mcp".into()).await,
            "another audience",
        ),
        (
            super::client_token(&stack.mcp_url(), "erin", sessions_tests::DEV_SECRET),
            "an HS256 token",
        ),
    ] {
        assert_eq!(
            stack.raw_mcp(&token, None, "initialize").await,
            401,
            "{why}"
        );
    }
    served.abort();
}

/// An ES256 JWT for the gateway signed by `key`, with its kid (signed the way SETs are; the
/// gateway does not look at a client token's typ).
async fn mint(key: &sessions::ssf::signer::LocalSigner, aud: String) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"iss": super::ISSUER, "aud": aud, "sub": "erin", "iat": now,
                        "exp": now + 600});
    sessions::ssf::signer::sign_set(key, &claims)
        .await
        .expect("sign")
}
