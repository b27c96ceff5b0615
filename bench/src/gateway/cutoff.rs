//! `cutoff_seconds_*`: how soon a revoke-all reaches the MCP clients connected through a
//! gateway, as each of them notices it.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;

use super::mcp::McpSession;
use super::Stack;
use crate::stats::ms;

/// The pause between one session's pings while it waits to be cut off (it pings at once when
/// its stream ends).
pub const POLL_PAUSE: Duration = Duration::from_millis(250);
/// The margin over one heartbeat interval `cutoff_seconds_p99` is judged against: a heartbeat's
/// round trip, a poll's pause and its answer, a loaded machine.
pub const CUTOFF_MARGIN_SECONDS: f64 = 0.5;
/// The gateway's count of sessions cut off on a pushed revocation.
const EVENT_CUTOFFS: &str = "gateway_event_cutoffs_total";
/// Sessions opened at once before a cut-off measurement.
const OPEN_CONCURRENCY: usize = 8;

/// For each session, from the revoke-all's answer to its first refused request.
#[derive(Debug)]
pub struct Cutoffs {
    pub sessions: usize,
    pub heartbeat_seconds: f64,
    /// Whether the gateway received the revocation as a pushed Shared Signals event.
    pub pushed_event: bool,
    /// Sessions the gateway cut off on a pushed event, by its own count
    /// (`gateway_event_cutoffs_total`).
    pub event_cutoffs: f64,
    /// Seconds, one per session (0 for a session refused before the answer arrived).
    pub seconds: Vec<f64>,
    /// The same from the moment the revoke-all was sent.
    pub seconds_from_request: Vec<f64>,
    /// How long the revoke-all took to answer.
    pub revoke_all_seconds: f64,
    /// Sessions refused before the revoke-all's answer arrived (counted as 0).
    pub before_answer: usize,
    /// The refusals, counted by status (or a stream that ended without its answer).
    pub refusals: BTreeMap<String, usize>,
    /// Sessions whose `GET` stream ended before any of their requests was refused.
    pub streams_ended_first: usize,
    /// Per session, from sending its last served request to its first refused answer
    /// (milliseconds): the window polling alone would bracket the cut-off in.
    pub bracket_ms: Vec<f64>,
    /// Requests served before the revoke-all was sent, across all sessions.
    pub served_before: u64,
    /// What the revoke-all reported.
    pub disconnected_count: u64,
    /// Seconds spent opening the sessions.
    pub open_seconds: f64,
}

/// What one session's poller saw.
struct Polled {
    refused: Option<(Instant, String)>,
    stream_ended: Option<Instant>,
    last_served_sent: Option<Instant>,
    served_before: u64,
}

/// Opens `sessions` MCP sessions through the stack's gateway (one client token each), each
/// holding its `GET` stream open and pinging every [`POLL_PAUSE`], or at once when its stream
/// ends, as a client that reconnects would; revokes all through the API; and times each
/// session's first refused request from the revoke-all's answer. The stack's gateway decides
/// how the revocation reaches it: its heartbeats, or the Shared Signals event pushed to it.
pub async fn cutoff(stack: &Stack, sessions: usize) -> Result<Cutoffs, String> {
    let http = reqwest::Client::new();
    let opening = Instant::now();
    let opened: Vec<McpSession> = stream::iter(0..sessions)
        .map(|i| {
            let token = Stack::token(&stack.mcp_url, &format!("bench-client-{i}"));
            let http = http.clone();
            let url = stack.mcp_url.clone();
            async move { McpSession::open(&http, &url, Some(token)).await }
        })
        .buffer_unordered(OPEN_CONCURRENCY)
        .try_collect()
        .await?;
    let open_seconds = opening.elapsed().as_secs_f64();

    let revoking_at: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let give_up = Duration::from_secs_f64(stack.heartbeat_seconds * 3.0 + 10.0);
    let pollers: Vec<_> = opened
        .into_iter()
        .map(|session| tokio::spawn(poll(session, revoking_at.clone(), give_up)))
        .collect();
    // Every session served for a while; when heartbeats are what cuts them off, those under
    // way. A gateway receiving pushed events is revoked long before its first heartbeat.
    let settle = if stack.receives_events() {
        POLL_PAUSE * 5
    } else {
        Duration::from_secs_f64(stack.heartbeat_seconds * 1.5).max(POLL_PAUSE * 5)
    };
    tokio::time::sleep(settle).await;
    let revoking = Instant::now();
    let _ = revoking_at.set(revoking);
    let revoked = stack.revoke_all().await;
    let answered = Instant::now();
    let disconnected_count = revoked?;

    let mut cut = Cutoffs {
        sessions,
        heartbeat_seconds: stack.heartbeat_seconds,
        pushed_event: stack.receives_events(),
        event_cutoffs: 0.0,
        seconds: Vec::new(),
        seconds_from_request: Vec::new(),
        revoke_all_seconds: answered.duration_since(revoking).as_secs_f64(),
        before_answer: 0,
        refusals: BTreeMap::new(),
        streams_ended_first: 0,
        bracket_ms: Vec::new(),
        served_before: 0,
        disconnected_count,
        open_seconds,
    };
    let mut failures = Vec::new();
    for poller in pollers {
        let polled = match poller.await {
            Ok(Ok(polled)) => polled,
            Ok(Err(e)) => {
                failures.push(e);
                continue;
            }
            Err(e) => {
                failures.push(format!("a poller failed: {e}"));
                continue;
            }
        };
        cut.served_before += polled.served_before;
        let (Some((at, refusal)), Some(last_served)) = (polled.refused, polled.last_served_sent)
        else {
            failures.push(format!(
                "a session was never served, or still served {give_up:?} after the revoke-all"
            ));
            continue;
        };
        let early = |t: Instant| t < revoking;
        if early(at) || polled.stream_ended.is_some_and(early) {
            failures.push(format!(
                "a session was cut off ({refusal}) before the revoke-all"
            ));
            continue;
        }
        if at < answered {
            cut.before_answer += 1;
        }
        if polled.stream_ended.is_some_and(|ended| ended <= at) {
            cut.streams_ended_first += 1;
        }
        *cut.refusals.entry(refusal).or_default() += 1;
        cut.seconds
            .push(at.saturating_duration_since(answered).as_secs_f64());
        cut.seconds_from_request
            .push(at.duration_since(revoking).as_secs_f64());
        cut.bracket_ms
            .push(ms(at.saturating_duration_since(last_served)));
    }
    cut.event_cutoffs = stack.metric(EVENT_CUTOFFS).await?;
    // Measuring the pushed event: every session must have been cut off by it.
    if cut.pushed_event && (cut.event_cutoffs as usize) < sessions {
        failures.push(format!(
            "the gateway cut {} of {sessions} sessions off on the pushed event",
            cut.event_cutoffs
        ));
    }
    match failures.first() {
        Some(first) => Err(format!(
            "{} of {sessions} sessions failed; the first: {first}",
            failures.len()
        )),
        None => Ok(cut),
    }
}

/// Holds the session's `GET` stream and pings until refused, or until `give_up` after the
/// revoke-all; an error for a failed request.
async fn poll(
    session: McpSession,
    revoking_at: Arc<OnceLock<Instant>>,
    give_up: Duration,
) -> Result<Polled, String> {
    let mut polled = Polled {
        refused: None,
        stream_ended: None,
        last_served_sent: None,
        served_before: 0,
    };
    let (ended_tx, mut ended) = tokio::sync::oneshot::channel::<Instant>();
    let mut stream = session.listen().await?;
    let watcher = tokio::spawn(async move {
        while let Ok(Some(_)) = stream.chunk().await {}
        let _ = ended_tx.send(Instant::now());
    });
    let outcome = loop {
        let sent = Instant::now();
        let revoking = revoking_at.get().copied();
        let answer = match session.request("ping", json!({})).await {
            Ok(answer) => answer,
            Err(e) => break Err(e),
        };
        if let Some(refusal) = answer.refusal() {
            polled.refused = Some((Instant::now(), refusal));
            break Ok(());
        }
        polled.last_served_sent = Some(sent);
        if revoking.is_none() {
            polled.served_before += 1;
        }
        if revoking.is_some_and(|r| r.elapsed() > give_up) {
            break Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_PAUSE) => {}
            at = &mut ended, if polled.stream_ended.is_none() => {
                polled.stream_ended = Some(at.unwrap_or_else(|_| Instant::now()));
            }
        }
    };
    watcher.abort();
    outcome.map(|()| polled)
}
