//! A revocation reaches connected clients: the next heartbeat of their session is answered
//! `session_disconnected`, the gateway ends the MCP session (its open streams close, its id
//! answers 404) and refuses the token it was opened with (401), so the client has to
//! re-authenticate; a fresh token opens a new session.

use std::time::Duration;

use serde_json::json;
use sessions::model::DisconnectReason;

use super::{McpClient, Stack, HEARTBEAT_SECONDS};

/// A cut-off must reach a client within one heartbeat interval; this adds room for a loaded
/// machine (the interval here is half a second, so a 30 s tool call is far outside it).
const CUTOFF_WITHIN: Duration = Duration::from_secs(4);

#[tokio::test]
async fn revoke_all_cuts_every_client_off_and_a_fresh_token_opens_a_new_session() {
    let stack = Stack::start().await;
    let (token_a, token_b) = (stack.token("alice"), stack.token("bob"));
    let mut a = stack.client(&token_a).await;
    let mut b = stack.client(&token_b).await;
    assert_eq!(a.initialized["ok"], true, "{}", a.initialized);
    assert_eq!(b.initialized["ok"], true, "{}", b.initialized);

    // Alice's long tool call holds an SSE answer open; it closes on the cut-off.
    a.start_long_call().await;
    let at = stack.revoke_all().await;
    a.assert_long_call_cut(at, CUTOFF_WITHIN).await;

    // Bob's next request is refused for his token: he must re-authenticate.
    b.assert_cut_off(at, CUTOFF_WITHIN).await;
    let again = McpClient::start(&stack.mcp_url(), &token_b).await;
    assert_ne!(
        again.initialized["ok"], true,
        "the revoked token opened a session: {}",
        again.initialized
    );

    // A fresh token opens a new session, listed beside the two revoked ones.
    let mut fresh = stack.client(&stack.token("bob")).await;
    let added = fresh.call("add", json!({"a": 1, "b": 2})).await;
    assert_eq!(added["ok"], true, "{added}");
    let sessions = stack.sessions().await;
    let statuses: Vec<&str> = sessions
        .iter()
        .filter_map(|s| s["status"].as_str())
        .collect();
    assert_eq!(
        statuses,
        ["active", "disconnected", "disconnected"],
        "{sessions:#?}"
    );
    assert_eq!(stack.metric("gateway_cutoffs_total").await, 2.0);
    assert!(stack.metric("gateway_refused_tokens_total").await >= 2.0);
}

#[tokio::test]
async fn revoke_one_cuts_off_that_session_only() {
    let stack = Stack::start().await;
    let (token_a, token_b) = (stack.token("alice"), stack.token("bob"));
    let mut a = stack.client(&token_a).await;
    let mut b = stack.client(&token_b).await;
    let a_mcp = a.mcp_session_id.clone().expect("an MCP session id");
    let a_id = stack.session_id(&token_a, &a_mcp).await;
    // Alice refreshes her token mid-session: the new one is refused after the cut-off too.
    let refreshed = stack.token("alice");
    let listed = stack.raw_mcp(&refreshed, Some(&a_mcp), "tools/list").await;
    assert_eq!(listed, 200, "the refreshed token serves the same session");

    let at = stack.revoke_one(a_id).await;
    a.assert_cut_off(at, CUTOFF_WITHIN).await;
    assert_eq!(stack.raw_mcp(&refreshed, None, "initialize").await, 401);

    // Bob's session goes on, heartbeat after heartbeat.
    tokio::time::sleep(Duration::from_secs_f64(HEARTBEAT_SECONDS * 3.0)).await;
    let served = b.call("add", json!({"a": 2, "b": 2})).await;
    assert_eq!(served["ok"], true, "{served}");
    assert_eq!(
        stack.disconnect_reason(a_id).await,
        Some(DisconnectReason::Revoked)
    );
    let active: Vec<_> = stack
        .sessions()
        .await
        .into_iter()
        .filter(|s| s["status"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "{active:#?}");
    assert_ne!(active[0]["id"], a_id.to_string());
}
