//! The Shared Signals transmitter (OpenID SSF 1.0, CAEP 1.0): revocations delivered as signed
//! Security Event Tokens (RFC 8417) by push (RFC 8935) to the receivers an organization
//! registers. `docs/shared-signals.md` describes it and lists where it departs from the texts.
//!
//! Layout:
//! - [`stream`]: a receiver's stream configuration and status, and the strict reading of the
//!   management requests (no I/O);
//! - [`set`]: the tokens: CAEP `session-revoked` for a revocation, the SSF verification event;
//! - [`signer`]: ES256 signing by a local P-256 key or an AWS KMS key, and the JWKS;
//! - [`push`]: one RFC 8935 delivery attempt and what its answer means, and the retry policy;
//! - [`transmitter`]: an event in, one signed SET per interested stream out, each attempt's
//!   next step (the only part that reads the store);
//! - [`queue`]: the SQS worker of `ssf-push` (retries by re-enqueueing, a dead-letter queue);
//! - `local` (tooling): the same delivery code behind a loopback HTTP endpoint, with in-memory
//!   retries and a dead-letter file, for `make dev` and the tests;
//! - [`settings`]: the transmitter's environment variables.

#[cfg(feature = "tooling")]
pub mod local;
pub mod push;
pub mod queue;
pub mod set;
pub mod settings;
pub mod signer;
pub mod stream;
pub mod transmitter;

/// CAEP 1.0's session revoked event type: the one event type this transmitter supports.
pub const SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
/// SSF 1.0's verification event type (always delivered on request, never requested).
pub const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";
/// Push delivery (RFC 8935): the one delivery method offered.
pub const PUSH_METHOD: &str = "urn:ietf:rfc:8935";
/// Poll delivery (RFC 8936): named only to refuse it with a clear message.
pub const POLL_METHOD: &str = "urn:ietf:rfc:8936";
/// The media type of a SET (RFC 8417) and of a push request's body (RFC 8935).
pub const SET_MEDIA_TYPE: &str = "application/secevent+jwt";
/// The JOSE `typ` of a SET.
pub const SET_TYP: &str = "secevent+jwt";
/// The scope a receiver's token needs on the management endpoints.
pub const MANAGE_SCOPE: &str = "ssf:manage";
/// The event types the transmitter can deliver.
pub const EVENTS_SUPPORTED: [&str; 1] = [SESSION_REVOKED];
