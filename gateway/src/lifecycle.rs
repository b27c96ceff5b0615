//! One task per MCP session reports its life to the Sessions API: one connect (retried under
//! one idempotency key until it is through), a heartbeat every interval carrying the latest
//! activity (never one call per request), one disconnect when its transport closes. A
//! heartbeat answered `session_disconnected` cuts the session's client off.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::registry::{Entry, Registry};
use crate::sessions_api::{CallError, Reported, SessionsApi};

/// How long a session's connect and disconnect keep being retried while the Sessions API is
/// down; after that the gateway gives up on that report (and logs it).
pub const REPORT_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// Exponential backoff with full jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The wait before the next try (at least `after` when the API asked for it).
    pub fn next(&mut self, after: Option<Duration>) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(16))
            .min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let jittered = ceiling.mul_f64(rand::rng().random_range(0.5..=1.0));
        after.map_or(jittered, |a| a.max(jittered).min(self.cap.max(a)))
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// What every session's task shares.
pub struct Reporter {
    pub api: SessionsApi,
    pub registry: Arc<Registry>,
    pub heartbeat: Duration,
    /// Ends an upstream session the gateway cut off (best effort).
    pub end_upstream: Box<dyn Fn(String) + Send + Sync>,
}

impl Reporter {
    fn jittered_interval(&self) -> Duration {
        self.heartbeat.mul_f64(rand::rng().random_range(0.9..=1.0))
    }

    /// Runs `entry`'s reports until it is over, then forgets it.
    pub async fn run(self: Arc<Self>, entry: Arc<Entry>) {
        if let Some(reported) = self.connect(&entry).await {
            entry.set_reported(reported.clone());
            self.heartbeats(&entry, &reported).await;
        }
        self.registry.remove(&entry);
    }

    /// Connects until it is through (the same idempotency key every time), refused for good,
    /// or past the deadline.
    async fn connect(&self, entry: &Entry) -> Option<Reported> {
        let started = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        loop {
            match self
                .api
                .connect(&entry.connect, &entry.idempotency_key)
                .await
            {
                Ok(reported) => {
                    self.registry.metrics.connects.inc();
                    tracing::info!(mcp_session = %entry.mcp_session_id, session = %reported.session_id, "session connected");
                    return Some(reported);
                }
                Err(CallError::Retry { after, why }) if started.elapsed() < REPORT_DEADLINE => {
                    self.registry.metrics.connect_failures.inc();
                    let wait = backoff.next(after);
                    tracing::warn!(mcp_session = %entry.mcp_session_id, %why, ?wait, "connect failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(error) => {
                    self.registry.metrics.connect_failures.inc();
                    tracing::error!(mcp_session = %entry.mcp_session_id, %error, "connect not reported; the session is not tracked");
                    return None;
                }
            }
        }
    }

    async fn heartbeats(&self, entry: &Entry, reported: &Reported) {
        let mut backoff = Backoff::new(Duration::from_millis(500), self.heartbeat);
        let mut wait = self.jittered_interval();
        loop {
            // Closing first: a close ends the session too, and its disconnect must be reported.
            tokio::select! {
                biased;
                _ = entry.closing().cancelled() => {
                    self.disconnect(entry, reported).await;
                    return;
                }
                _ = entry.ended().cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let activity = entry.unreported_activity();
            let token_expiry = entry.unreported_token_expiry();
            match self
                .api
                .heartbeat(reported.session_id, activity, token_expiry)
                .await
            {
                Ok(()) => {
                    self.registry.metrics.heartbeats.inc();
                    if let Some(at) = activity {
                        entry.activity_reported(at);
                    }
                    if let Some(at) = token_expiry {
                        entry.token_expiry_reported(at);
                    }
                    backoff.reset();
                    wait = self.jittered_interval();
                }
                Err(CallError::Disconnected | CallError::NotFound) => {
                    tracing::info!(mcp_session = %entry.mcp_session_id, session = %reported.session_id, "the Sessions API disconnected the session; cutting its client off");
                    self.cut_off(entry);
                    return;
                }
                Err(error) => {
                    self.registry.metrics.heartbeat_failures.inc();
                    let after = match &error {
                        CallError::Retry { after, .. } => *after,
                        _ => None,
                    };
                    wait = backoff.next(after);
                    tracing::warn!(mcp_session = %entry.mcp_session_id, %error, ?wait, "heartbeat failed; retrying");
                }
            }
        }
    }

    /// Cuts `entry`'s client off and ends its upstream session.
    pub fn cut_off(&self, entry: &Entry) {
        self.registry.cut_off(entry);
        (self.end_upstream)(entry.mcp_session_id.clone());
    }

    async fn disconnect(&self, entry: &Entry, reported: &Reported) {
        let started = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        loop {
            match self.api.disconnect(reported.session_id).await {
                Ok(()) | Err(CallError::NotFound) => {
                    self.registry.metrics.disconnects.inc();
                    tracing::info!(mcp_session = %entry.mcp_session_id, session = %reported.session_id, "session disconnected");
                    return;
                }
                Err(CallError::Retry { after, why }) if started.elapsed() < REPORT_DEADLINE => {
                    self.registry.metrics.disconnect_failures.inc();
                    let wait = backoff.next(after);
                    tracing::warn!(mcp_session = %entry.mcp_session_id, %why, ?wait, "disconnect failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(error) => {
                    self.registry.metrics.disconnect_failures.inc();
                    tracing::error!(mcp_session = %entry.mcp_session_id, session = %reported.session_id, %error, "disconnect not reported");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_and_honours_retry_after() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let first = backoff.next(None);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        for _ in 0..20 {
            assert!(backoff.next(None) <= Duration::from_secs(2));
        }
        assert!(backoff.next(None) >= Duration::from_secs(1));
        assert!(backoff.next(Some(Duration::from_secs(5))) >= Duration::from_secs(5));
        backoff.reset();
        assert!(backoff.next(None) <= Duration::from_millis(100));
    }
}
