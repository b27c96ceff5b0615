//! Push delivery (RFC 8935): one POST of one SET, what its answer means, and when to try again.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::stream::Delivery;
use super::SET_MEDIA_TYPE;

/// How long one push may take, connection included.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The most of a receiver's error body kept for the log.
const MAX_ERROR_BODY_BYTES: usize = 1024;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PushOutcome {
    /// Any 2xx (RFC 8935 says 202).
    Delivered { status: u16 },
    /// The receiver refused this SET (400 with an `err`, or another 4xx that no retry
    /// changes): sending it again would be refused again.
    Refused {
        status: u16,
        err: Option<String>,
        description: Option<String>,
    },
    /// Worth another attempt: a 5xx, 408 or 429, a timeout, a connection failure.
    Failed { detail: String },
}

/// The HTTP client that pushes SETs: rustls with the web PKI roots, no redirects (a SET goes
/// to the registered endpoint or nowhere), bounded timeouts.
#[derive(Debug, Clone)]
pub struct Pusher {
    client: reqwest::Client,
}

impl Pusher {
    pub fn new() -> Result<Pusher, String> {
        let client = reqwest::Client::builder()
            .timeout(PUSH_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("sessions-api-ssf-transmitter")
            .build()
            .map_err(|e| format!("the push HTTP client: {e}"))?;
        Ok(Pusher { client })
    }

    /// POSTs `set` (a compact JWS) to `delivery`'s endpoint with its `Authorization` header.
    pub async fn push(&self, delivery: &Delivery, set: &str) -> PushOutcome {
        let mut request = self
            .client
            .post(&delivery.endpoint_url)
            .header(reqwest::header::CONTENT_TYPE, SET_MEDIA_TYPE)
            .header(reqwest::header::ACCEPT, "application/json")
            .body(set.to_string());
        if let Some(authorization) = &delivery.authorization_header {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                classify(status, &body[..body.len().min(MAX_ERROR_BODY_BYTES)])
            }
            // No URL, header or error text of reqwest's that could carry the receiver's
            // credentials: only what kind of failure it was.
            Err(e) if e.is_timeout() => PushOutcome::Failed {
                detail: "timed out".into(),
            },
            Err(e) if e.is_connect() => PushOutcome::Failed {
                detail: "connection failed".into(),
            },
            Err(_) => PushOutcome::Failed {
                detail: "request failed".into(),
            },
        }
    }
}

/// The meaning of a receiver's answer (RFC 8935, sections 2.2 and 2.3).
pub fn classify(status: u16, body: &[u8]) -> PushOutcome {
    match status {
        200..=299 => PushOutcome::Delivered { status },
        408 | 429 | 500..=599 => PushOutcome::Failed {
            detail: format!("HTTP {status}"),
        },
        _ => {
            #[derive(Deserialize)]
            struct ErrorBody {
                err: Option<String>,
                description: Option<String>,
            }
            let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
            let clip = |s: String| s.chars().filter(|c| !c.is_control()).take(256).collect();
            PushOutcome::Refused {
                status,
                err: parsed.as_ref().and_then(|b| b.err.clone()).map(clip),
                description: parsed.and_then(|b| b.description).map(clip),
            }
        }
    }
}

/// When to try a failed push again: exponential backoff with jitter, up to `max_attempts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; after the last failure the SET is dead-lettered.
    pub max_attempts: u32,
    /// The delay after the first failure (before jitter).
    pub base_delay: Duration,
    /// No delay is longer (SQS's `DelaySeconds` stops at 15 minutes).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(900),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` after attempt `attempt` (1-based) failed, or
    /// `None` when that was the last: `base * 2^(attempt-1)`, capped, then a random point in
    /// its upper half, so receivers coming back are not met by every transmitter at once.
    pub fn next_delay(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_delay);
        let half = exponential / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        Some(half + Duration::from_millis(jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_delivered_refused_or_worth_retrying() {
        assert_eq!(classify(202, b""), PushOutcome::Delivered { status: 202 });
        assert_eq!(classify(200, b"x"), PushOutcome::Delivered { status: 200 });
        assert_eq!(
            classify(400, br#"{"err":"invalid_audience","description":"aud"}"#),
            PushOutcome::Refused {
                status: 400,
                err: Some("invalid_audience".into()),
                description: Some("aud".into())
            }
        );
        assert!(matches!(
            classify(401, b""),
            PushOutcome::Refused { err: None, .. }
        ));
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(status, b""), PushOutcome::Failed { .. }),
                "{status}"
            );
        }
    }

    #[test]
    fn delays_grow_are_jittered_capped_and_end() {
        let policy = RetryPolicy {
            max_attempts: 12,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
        };
        for attempt in 1..12 {
            let full = (Duration::from_secs(2) * (1 << (attempt - 1))).min(Duration::from_secs(60));
            let delay = policy.next_delay(attempt).expect("more attempts");
            assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
        }
        assert_eq!(policy.next_delay(12), None);
        assert_eq!(policy.next_delay(13), None);
        let draws: std::collections::HashSet<_> = (0..20).map(|_| policy.next_delay(5)).collect();
        assert!(draws.len() > 1, "jittered");
    }
}
