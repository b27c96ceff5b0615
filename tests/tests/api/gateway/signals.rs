//! The gateway as a Shared Signals receiver, through the whole published-events chain: a
//! revocation is a change of the table, the stream consumer publishes it, the transmitter
//! pushes a signed CAEP `session-revoked` SET to the stream the gateway registered, and the
//! gateway cuts the clients off on it, long before their next heartbeat would have.

use std::time::{Duration, Instant};

use serde_json::json;

use super::Stack;

/// Heartbeats far apart: a cut-off within seconds can only come from the pushed event.
const HEARTBEAT: &str = "--heartbeat-seconds=60";
/// The pushed event's path: stream poll (100 ms), push worker, signature, push, cut-off.
const CUTOFF_WITHIN: Duration = Duration::from_secs(5);

async fn registered(stack: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, _, body) = stack.get("/gateway/health", &[]).await;
        if body.contains("\"signals\":\"registered\"") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway registered no stream: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn pushed_revocations_cut_clients_off_before_any_heartbeat() {
    let stack = Stack::with_signals(&[HEARTBEAT]).await;
    registered(&stack).await;
    let mut a = stack.client(&stack.token("alice")).await;
    let mut b = stack.client(&stack.token("bob")).await;
    b.start_long_call().await;

    // Revoke-all: one SET for the application, both clients cut off.
    let at = stack.revoke_all().await;
    b.assert_long_call_cut(at, CUTOFF_WITHIN).await;
    a.assert_cut_off(at, CUTOFF_WITHIN).await;
    assert_eq!(stack.metric("gateway_event_cutoffs_total").await, 2.0);
    assert_eq!(
        stack.metric("gateway_heartbeats_total").await,
        0.0,
        "no heartbeat did it"
    );

    // A session opened after the revocation is not covered by it ...
    let carol_token = stack.token("carol");
    let mut carol = stack.client(&carol_token).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let served = carol.call("add", json!({"a": 1, "b": 2})).await;
    assert_eq!(
        served["ok"], true,
        "a session newer than the revocation was cut: {served}"
    );

    // ... and a revoke-one reaches exactly its session.
    let carol_mcp = carol.mcp_session_id.clone().expect("an MCP session id");
    let carol_id = stack.session_id(&carol_token, &carol_mcp).await;
    let mut dave = stack.client(&stack.token("dave")).await;
    let at = stack.revoke_one(carol_id).await;
    carol.assert_cut_off(at, CUTOFF_WITHIN).await;
    let served = dave.call("add", json!({"a": 2, "b": 2})).await;
    assert_eq!(served["ok"], true, "{served}");
    assert_eq!(stack.metric("gateway_event_cutoffs_total").await, 3.0);
}
