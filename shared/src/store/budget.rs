//! Time and retries: how long a request may keep calling DynamoDB, and the one retry loop
//! every write that can be refused for a while (throttling, a transaction in flight) goes
//! through.

use std::future::Future;
use std::time::{Duration, Instant};

use super::StoreError;

/// How close to its deadline a request stops starting new calls, leaving time to answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// The least time a call is given, however close the deadline: the watermark write that
/// makes a revocation take effect is worth starting even at the last moment.
const MIN_CALL_TIME: Duration = Duration::from_millis(250);

/// The time left to an invocation, for bounding each call to DynamoDB by it.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    deadline: Option<Instant>,
    margin: Duration,
}

impl Budget {
    /// The margin shrinks with a short invocation (a local runner's 3 s default) so that some
    /// work still happens; in AWS, with a 29 s timeout, it is the full [`DEADLINE_MARGIN`].
    pub fn new(deadline: Option<Instant>) -> Self {
        let margin = deadline.map_or(DEADLINE_MARGIN, |d| {
            DEADLINE_MARGIN.min(d.saturating_duration_since(Instant::now()) / 3)
        });
        Budget { deadline, margin }
    }

    /// No deadline: calls run as long as the SDK lets them.
    pub fn unbounded() -> Self {
        Budget::new(None)
    }

    /// No new call should start.
    pub fn spent(&self) -> bool {
        self.deadline
            .is_some_and(|d| Instant::now() + self.margin >= d)
    }

    /// Whether a pause of `pause` still leaves room for the call after it.
    fn allows(&self, pause: Duration) -> bool {
        self.deadline
            .is_none_or(|d| Instant::now() + pause + self.margin < d)
    }

    /// Runs one call, cut off when it would overrun the deadline less half the margin: an SDK
    /// attempt (12 s) plus its retries can be longer than what is left, and a function killed
    /// at its deadline answers nothing at all. A call cut off is [`StoreError::Unavailable`].
    pub async fn bound<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Some(deadline) = self.deadline else {
            return call.await;
        };
        let left = deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(self.margin / 2)
            .max(MIN_CALL_TIME);
        tokio::time::timeout(left, call)
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable(format!("{op}: out of time"))))
    }

    /// Runs `call` (each attempt bounded as by [`Budget::bound`]) until it answers something
    /// other than [`StoreError::Unavailable`], at most `attempts` times, with jittered
    /// exponential backoff between attempts while time remains. Only for calls that are safe
    /// to repeat: conditional writes, transactions that wrote nothing, reads.
    pub async fn retrying<T, F, Fut>(
        &self,
        op: &'static str,
        attempts: u32,
        mut call: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        let mut attempt = 0u32;
        loop {
            match self.bound(op, call()).await {
                Err(StoreError::Unavailable(detail)) => {
                    attempt += 1;
                    let pause = backoff(attempt);
                    if attempt >= attempts || !self.allows(pause) {
                        return Err(StoreError::Unavailable(detail));
                    }
                    tracing::debug!(op, attempt, error = %detail, "retrying");
                    tokio::time::sleep(pause).await;
                }
                other => return other,
            }
        }
    }
}

/// Jittered exponential backoff: about 50 ms, 100 ms, 200 ms, … up to 1.6 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((25u64 << attempt.min(6)) + rand::random_range(0..25u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_call_is_cut_off_before_the_deadline_and_reads_as_unavailable() {
        let budget = Budget::new(Some(Instant::now() + Duration::from_millis(900)));
        let started = Instant::now();
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, StoreError>(())
        };
        let result = budget.bound("Query", slow).await;
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{result:?}"
        );
        // Cut off, not waited out (the call alone takes 5 s); the exact instant is the timer's,
        // which a loaded machine delays.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn without_a_deadline_calls_run_to_the_end() {
        let budget = Budget::unbounded();
        let result = budget
            .bound("Query", async { Ok::<_, StoreError>(7) })
            .await;
        assert_eq!(result.ok(), Some(7));
        assert!(!budget.spent());
    }

    #[test]
    fn the_margin_shrinks_with_a_short_invocation() {
        let short = Budget::new(Some(Instant::now() + Duration::from_secs(3)));
        assert!(short.margin <= Duration::from_secs(1));
        let long = Budget::new(Some(Instant::now() + Duration::from_secs(29)));
        assert_eq!(long.margin, DEADLINE_MARGIN);
    }

    #[tokio::test]
    async fn only_unavailable_is_retried_and_only_so_often() {
        let calls = AtomicU32::new(0);
        let budget = Budget::unbounded();
        let result: Result<(), _> = budget
            .retrying("UpdateItem", 3, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(StoreError::Unavailable("throttled".into()))
            })
            .await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), _> = budget
            .retrying("UpdateItem", 3, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(StoreError::Internal("bug".into()))
            })
            .await;
        assert!(matches!(result, Err(StoreError::Internal(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not retried");

        calls.store(0, Ordering::SeqCst);
        let result = budget
            .retrying("UpdateItem", 5, || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(StoreError::Unavailable("conflict".into())),
                    n => Ok(n),
                }
            })
            .await;
        assert_eq!(result.ok(), Some(2), "succeeds on the third attempt");
    }
}
