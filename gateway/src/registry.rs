//! The MCP sessions the gateway holds, and the tokens it stopped accepting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::auth::{Client, TokenKey};
use crate::metrics::Metrics;
use crate::sessions_api::{Connect, Reported};

/// One MCP session (one `Mcp-Session-Id` the upstream assigned).
pub struct Entry {
    pub mcp_session_id: String,
    /// The token subject that opened it: only that subject may use it.
    pub subject: String,
    /// Every token its requests carried (a client may refresh its token mid-session), with
    /// its expiry: all of them are refused once it is cut off.
    tokens: Mutex<HashMap<TokenKey, i64>>,
    /// The latest token expiry seen, and the last one a heartbeat reported.
    token_expires_at: AtomicI64,
    reported_token_expires_at: AtomicI64,
    /// Sent with every try of its connect, so the Sessions API makes one session of them.
    pub idempotency_key: String,
    /// What its connect reports.
    pub connect: Connect,
    /// Last request seen (milliseconds since the epoch), and the last one a heartbeat carried.
    last_activity_ms: AtomicI64,
    reported_activity_ms: AtomicI64,
    reported: watch::Sender<Option<Reported>>,
    /// Fires when clients may no longer use it (cut off, closed, or the gateway stops): its
    /// streams end and its requests are answered 404.
    ended: CancellationToken,
    /// Fires when its transport closed (client DELETE, the upstream ended it, the gateway
    /// stops): its disconnect must be reported.
    closing: CancellationToken,
}

impl Entry {
    pub fn new(mcp_session_id: String, client: &Client, connect: Connect) -> Entry {
        let now = Utc::now().timestamp_millis();
        Entry {
            mcp_session_id,
            subject: client.subject.clone(),
            tokens: Mutex::new(HashMap::from([(client.token_key, client.expires_at)])),
            token_expires_at: AtomicI64::new(client.expires_at),
            reported_token_expires_at: AtomicI64::new(client.expires_at),
            idempotency_key: format!("gateway-{}", Uuid::new_v4()),
            connect,
            last_activity_ms: AtomicI64::new(now),
            reported_activity_ms: AtomicI64::new(now),
            reported: watch::Sender::new(None),
            ended: CancellationToken::new(),
            closing: CancellationToken::new(),
        }
    }

    /// A request of this session was seen, with `client`'s token.
    pub fn touch(&self, client: &Client) {
        self.last_activity_ms
            .fetch_max(Utc::now().timestamp_millis(), Ordering::Relaxed);
        lock(&self.tokens).insert(client.token_key, client.expires_at);
        self.token_expires_at
            .fetch_max(client.expires_at, Ordering::Relaxed);
    }

    /// A later token expiry than the last one reported (the client refreshed its token).
    pub fn unreported_token_expiry(&self) -> Option<DateTime<Utc>> {
        let latest = self.token_expires_at.load(Ordering::Relaxed);
        (latest > self.reported_token_expires_at.load(Ordering::Relaxed))
            .then(|| DateTime::from_timestamp(latest, 0))
            .flatten()
    }

    /// A heartbeat reported the token expiry `at`.
    pub fn token_expiry_reported(&self, at: DateTime<Utc>) {
        self.reported_token_expires_at
            .fetch_max(at.timestamp(), Ordering::Relaxed);
    }

    /// Activity newer than the last heartbeat reported, if any.
    pub fn unreported_activity(&self) -> Option<DateTime<Utc>> {
        let last = self.last_activity_ms.load(Ordering::Relaxed);
        (last > self.reported_activity_ms.load(Ordering::Relaxed))
            .then(|| DateTime::from_timestamp_millis(last))
            .flatten()
    }

    /// A heartbeat carried activity up to `at`.
    pub fn activity_reported(&self, at: DateTime<Utc>) {
        self.reported_activity_ms
            .fetch_max(at.timestamp_millis(), Ordering::Relaxed);
    }

    pub fn set_reported(&self, reported: Reported) {
        self.reported.send_replace(Some(reported));
    }

    pub fn reported(&self) -> Option<Reported> {
        self.reported.borrow().clone()
    }

    /// Waits up to `wait` for its connect to be reported.
    pub async fn wait_reported(&self, wait: Duration) -> Option<Reported> {
        let mut rx = self.reported.subscribe();
        let found = tokio::time::timeout(wait, rx.wait_for(Option::is_some)).await;
        match found {
            Ok(Ok(reported)) => reported.clone(),
            _ => None,
        }
    }

    pub fn ended(&self) -> &CancellationToken {
        &self.ended
    }

    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    pub fn is_ended(&self) -> bool {
        self.ended.is_cancelled()
    }

    /// Its transport closed: it ends for clients and its disconnect is reported.
    pub fn close(&self) {
        self.ended.cancel();
        self.closing.cancel();
    }
}

/// Every session the gateway holds, and the tokens of those it cut off.
#[derive(Default)]
pub struct Registry {
    sessions: Mutex<HashMap<String, Arc<Entry>>>,
    /// Tokens refused until they expire (seconds since the epoch).
    refused: Mutex<HashMap<TokenKey, i64>>,
    pub metrics: Metrics,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    pub fn insert(&self, entry: Arc<Entry>) {
        let replaced = lock(&self.sessions).insert(entry.mcp_session_id.clone(), entry);
        if let Some(old) = replaced {
            // An upstream reusing a session id: the old one is over.
            old.close();
        } else {
            self.metrics.sessions_open.inc();
        }
        self.metrics.sessions_opened.inc();
    }

    pub fn get(&self, mcp_session_id: &str) -> Option<Arc<Entry>> {
        lock(&self.sessions).get(mcp_session_id).cloned()
    }

    /// Forgets `entry` (if it is still the one held under its id).
    pub fn remove(&self, entry: &Arc<Entry>) {
        let mut sessions = lock(&self.sessions);
        if sessions
            .get(&entry.mcp_session_id)
            .is_some_and(|held| Arc::ptr_eq(held, entry))
        {
            sessions.remove(&entry.mcp_session_id);
            self.metrics.sessions_open.dec();
        }
    }

    pub fn all(&self) -> Vec<Arc<Entry>> {
        lock(&self.sessions).values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        lock(&self.sessions).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sessions whose Sessions API session is `session_id`.
    pub fn by_session_id(&self, session_id: Uuid) -> Vec<Arc<Entry>> {
        self.all()
            .into_iter()
            .filter(|e| e.reported().is_some_and(|r| r.session_id == session_id))
            .collect()
    }

    /// Cuts `entry` off: its streams end, its id answers 404, and the token it was opened
    /// with is refused from now on, so its client has to re-authenticate.
    pub fn cut_off(&self, entry: &Entry) {
        let tokens: Vec<(TokenKey, i64)> =
            lock(&entry.tokens).iter().map(|(k, v)| (*k, *v)).collect();
        let already = entry.ended.is_cancelled() && tokens.iter().all(|(k, _)| self.is_refused(k));
        for (token, until) in tokens {
            self.refuse(token, until);
        }
        entry.ended.cancel();
        if !already {
            self.metrics.cutoffs.inc();
        }
    }

    pub fn refuse(&self, token: TokenKey, until: i64) {
        let now = Utc::now().timestamp();
        let mut refused = lock(&self.refused);
        refused.retain(|_, exp| *exp >= now);
        refused.insert(token, until);
    }

    pub fn is_refused(&self, token: &TokenKey) -> bool {
        lock(&self.refused).contains_key(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token_key;

    fn client(token: &str) -> Client {
        Client {
            subject: "u1".into(),
            expires_at: Utc::now().timestamp() + 60,
            token_key: token_key(token),
        }
    }

    #[test]
    fn activity_is_reported_once() {
        let entry = Entry::new("m1".into(), &client("t"), Connect::default());
        assert_eq!(entry.unreported_activity(), None);
        std::thread::sleep(Duration::from_millis(3));
        entry.touch(&client("t"));
        let seen = entry.unreported_activity().expect("activity");
        entry.activity_reported(seen);
        assert_eq!(entry.unreported_activity(), None);
    }

    #[test]
    fn a_cut_off_session_refuses_its_token_and_counts_once() {
        let registry = Registry::default();
        let entry = Arc::new(Entry::new("m1".into(), &client("t"), Connect::default()));
        registry.insert(entry.clone());
        // The client refreshed its token mid-session: both are refused after the cut-off.
        let mut refreshed = client("t2");
        refreshed.expires_at += 600;
        entry.touch(&refreshed);
        assert!(entry.unreported_token_expiry().is_some());
        assert_eq!(registry.len(), 1);
        registry.cut_off(&entry);
        registry.cut_off(&entry);
        assert!(entry.is_ended());
        assert!(registry.is_refused(&token_key("t")));
        assert!(registry.is_refused(&token_key("t2")));
        assert!(!registry.is_refused(&token_key("other")));
        assert!(registry
            .metrics
            .render()
            .contains("gateway_cutoffs_total 1"));
        registry.remove(&entry);
        assert!(registry.is_empty());
        assert!(registry
            .metrics
            .render()
            .contains("gateway_sessions_open 0"));
    }
}
