//! The gateway when its neighbours fail: MCP traffic keeps flowing while the Sessions API is
//! down, and every connect and disconnect is reported once it is back, exactly once; an
//! upstream that dies or forgets its sessions neither crashes the gateway nor loses a
//! disconnect; a gateway that stops reports its sessions closed.

use std::time::Duration;

use serde_json::json;
use sessions::model::DisconnectReason;

use super::{statuses, Stack, Upstream};

#[tokio::test]
async fn the_sessions_api_down_mid_session_loses_and_doubles_nothing() {
    let stack = Stack::with(&["--connect-wait-ms=300"]).await;
    let mut carol = stack.client(&stack.token("carol")).await;
    assert_eq!(carol.initialized["ok"], true, "{}", carol.initialized);

    stack.front.set_down(true);
    for i in 0..5 {
        let added = carol.call("add", json!({"a": i, "b": 1})).await;
        assert_eq!(
            added["ok"], true,
            "traffic stops with the Sessions API down: {added}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(stack.metric("gateway_heartbeat_failures_total").await >= 1.0);

    // A session opened while the API is down is served, and reported later.
    let mut dave = stack.client(&stack.token("dave")).await;
    assert_eq!(dave.initialized["ok"], true, "{}", dave.initialized);
    let added = dave.call("add", json!({"a": 1, "b": 1})).await;
    assert_eq!(added["ok"], true, "{added}");
    assert!(stack.metric("gateway_connect_failures_total").await >= 1.0);

    // Carol closes while the API is still down.
    carol.close().await;
    assert_eq!(
        stack.sessions().await.len(),
        1,
        "only carol's session is reported yet"
    );
    stack.front.set_down(false);

    let sessions = stack
        .eventually(Duration::from_secs(20), "both reported", |s| {
            s.len() == 2 && s.iter().any(|x| x["status"] == "disconnected")
        })
        .await;
    let active: Vec<_> = sessions
        .iter()
        .filter(|s| s["status"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "{sessions:#?}");
    // Reported once each, however many tries it took.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(stack.sessions().await.len(), 2);
    assert_eq!(stack.metric("gateway_connects_total").await, 2.0);
    assert_eq!(stack.metric("gateway_disconnects_total").await, 1.0);
    let closed = sessions
        .iter()
        .find(|s| s["status"] == "disconnected")
        .and_then(|s| s["id"].as_str())
        .and_then(|s| s.parse().ok())
        .expect("carol's session");
    assert_eq!(
        stack.disconnect_reason(closed).await,
        Some(DisconnectReason::Closed)
    );
}

#[tokio::test]
async fn an_upstream_that_dies_or_forgets_its_sessions_loses_no_disconnect() {
    let mut stack = Stack::start().await;
    let token = stack.token("erin");
    let mut erin = stack.client(&token).await;
    assert_eq!(erin.initialized["ok"], true, "{}", erin.initialized);
    let port = stack.upstream.as_ref().map(|u| u.port).expect("upstream");

    drop(stack.upstream.take());
    let failed = erin.call("add", json!({"a": 1, "b": 1})).await;
    assert_ne!(failed["ok"], true, "{failed}");
    let seen = statuses(&failed);
    assert!(
        !seen.is_empty() && seen.iter().all(|s| *s == 502),
        "{failed}"
    );
    let (status, _, _) = stack.get("/gateway/health", &[]).await;
    assert_eq!(status, 200, "the gateway is up");
    assert!(stack.metric("gateway_upstream_failures_total").await >= 1.0);

    // Back, but without the session: its 404 ends the session here too. (Raw HTTP: the
    // official client gave up on its session when its stream broke.)
    stack.upstream = Some(Upstream::start_on(port).await);
    let erin_mcp = erin.mcp_session_id.clone().expect("an MCP session id");
    let forgotten = stack.raw_mcp(&token, Some(&erin_mcp), "tools/list").await;
    assert_eq!(forgotten, 404);
    let sessions = stack
        .eventually(Duration::from_secs(10), "disconnected", |s| {
            s.len() == 1 && s[0]["status"] == "disconnected"
        })
        .await;
    let id = sessions[0]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");
    assert_eq!(
        stack.disconnect_reason(id).await,
        Some(DisconnectReason::Closed)
    );

    // A new session through the restarted upstream works.
    let mut again = stack.client(&stack.token("erin")).await;
    let added = again.call("add", json!({"a": 2, "b": 2})).await;
    assert_eq!(added["ok"], true, "{added}");
}

#[tokio::test]
async fn a_gateway_that_stops_reports_its_sessions_closed() {
    let mut stack = Stack::start().await;
    let frank = stack.client(&stack.token("frank")).await;
    assert_eq!(frank.initialized["ok"], true, "{}", frank.initialized);
    stack.stop_gateway().await;
    let sessions = stack.sessions().await;
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["status"], "disconnected", "{sessions:#?}");
}
