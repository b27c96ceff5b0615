//! `gateway_overhead_ratio`: a tool call through the gateway against the same call straight to
//! the example server, interleaved in one run.

use std::time::Instant;

use super::mcp::McpSession;
use super::Stack;
use crate::stats::ms;

/// Untimed tool calls on each path before the timed ones.
const WARM_UP_CALLS: usize = 30;

/// Tool-call latencies straight to the upstream and through the gateway (milliseconds).
#[derive(Debug, Default)]
pub struct Overhead {
    pub direct_ms: Vec<f64>,
    pub gateway_ms: Vec<f64>,
}

/// `calls` timed `add` calls on each path, interleaved (the order of the paths rotates every
/// round), one MCP session per path opened the same way, after a few untimed ones.
pub async fn overhead(stack: &Stack, calls: usize) -> Result<Overhead, String> {
    let http = reqwest::Client::new();
    let mut paths = Vec::new();
    for url in [&stack.upstream.url, &stack.mcp_url] {
        let token = (url != &stack.upstream.url).then(|| Stack::token(url, "bench-overhead"));
        paths.push(McpSession::open(&http, url, token).await?);
    }
    let mut samples: [Vec<f64>; 2] = Default::default();
    for round in 0..WARM_UP_CALLS + calls {
        for k in 0..paths.len() {
            let path = (round + k) % paths.len();
            let started = Instant::now();
            let answer = paths[path].add(round as u64, 1).await?;
            let elapsed = ms(started.elapsed());
            if let Some(refused) = answer.refusal() {
                return Err(format!("a tool call was refused: {refused}"));
            }
            if round >= WARM_UP_CALLS {
                samples[path].push(elapsed);
            }
        }
    }
    for session in &paths {
        session.close().await;
    }
    let [direct_ms, gateway_ms] = samples;
    Ok(Overhead {
        direct_ms,
        gateway_ms,
    })
}
