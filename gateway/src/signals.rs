//! The gateway as a Shared Signals receiver: it registers a push stream with the Sessions
//! API's transmitter (SSF 1.0) and cuts sessions off the moment a CAEP `session-revoked`
//! Security Event Token arrives, instead of at their next heartbeat (which stays as the
//! fallback when an event is lost).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::Validation;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::auth::{jwks_key_for, Jwks};
use crate::lifecycle::Backoff;
use crate::Gateway;

/// CAEP 1.0's session-revoked event type.
pub const SESSION_REVOKED: &str =
    "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
/// SSF 1.0's verification event type.
pub const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";
/// RFC 8935 push delivery.
pub const PUSH: &str = "urn:ietf:rfc:8935";
/// Where the transmitter pushes SETs, on the gateway's own listener.
pub const PUSH_PATH: &str = "/gateway/ssf/events";

/// What one SET asks of the gateway.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    /// Cut off the sessions of this Sessions API session.
    Session(Uuid),
    /// Cut off every session of the application connected at or before this time
    /// (milliseconds since the epoch).
    Application { before_ms: i64 },
    /// A verification event (nothing to do but accept it).
    Verification,
    /// An event of another application, or of a type the gateway does not act on.
    Ignored,
}

/// Reads the claims of a verified SET for `application`.
pub fn signal_of(claims: &Value, application: Uuid) -> Result<Signal, &'static str> {
    let events = claims
        .get("events")
        .and_then(Value::as_object)
        .ok_or("the SET has no events claim")?;
    if events.contains_key(VERIFICATION) {
        return Ok(Signal::Verification);
    }
    let Some(revoked) = events.get(SESSION_REVOKED) else {
        return Ok(Signal::Ignored);
    };
    let subject = claims
        .get("sub_id")
        .or_else(|| revoked.get("subject"))
        .ok_or("the SET names no subject")?;
    let id_of = |member: &str| {
        subject
            .get(member)
            .and_then(|m| m.get("id"))
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<Uuid>().ok())
    };
    if id_of("application") != Some(application) {
        return Ok(Signal::Ignored);
    }
    if let Some(session) = subject.get("session") {
        return session
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| id.parse().ok())
            .map(Signal::Session)
            .ok_or("the session subject is not a session id");
    }
    let at = revoked
        .get("event_timestamp")
        .and_then(Value::as_f64)
        .ok_or("a revocation of every session needs its event_timestamp")?;
    Ok(Signal::Application {
        before_ms: (at * 1000.0).round() as i64,
    })
}

/// The transmitter's discovery document, the parts the receiver uses.
#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    configuration_endpoint: String,
}

/// The stream the transmitter created for this gateway.
pub struct Registration {
    pub issuer: String,
    pub stream_id: String,
    pub audience: Option<String>,
    configuration_endpoint: reqwest::Url,
    jwks: Jwks,
}

/// The receiver's state: its push secret, and its stream once registered.
pub struct Receiver {
    transmitter: reqwest::Url,
    token: String,
    /// The `Authorization` value the transmitter must send with each push.
    push_authorization: String,
    pub registration: OnceCell<Registration>,
}

impl Receiver {
    pub fn new(transmitter: reqwest::Url, token: String) -> Receiver {
        Receiver {
            transmitter,
            token,
            push_authorization: format!("Bearer {}", Uuid::new_v4().simple()),
            registration: OnceCell::new(),
        }
    }

    /// Registers a push stream, retrying with backoff until it is through.
    pub async fn register(&self, http: &reqwest::Client, push_url: &str, application: Uuid) {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        loop {
            match self.try_register(http, push_url, application).await {
                Ok(registration) => {
                    tracing::info!(stream = %registration.stream_id, issuer = %registration.issuer, "Shared Signals stream registered");
                    let _ = self.registration.set(registration);
                    return;
                }
                Err(why) => {
                    let wait = backoff.next(None);
                    tracing::warn!(%why, ?wait, "registering the Shared Signals stream failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    async fn try_register(
        &self,
        http: &reqwest::Client,
        push_url: &str,
        application: Uuid,
    ) -> Result<Registration, String> {
        let base = self.transmitter.as_str().trim_end_matches('/');
        let discovery: Discovery = http
            .get(format!("{base}/.well-known/ssf-configuration"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("discovery: {e}"))?
            .json()
            .await
            .map_err(|e| format!("discovery document: {e}"))?;
        let parse = |url: &str| {
            reqwest::Url::parse(url).map_err(|e| format!("discovery document: {url:?}: {e}"))
        };
        let configuration_endpoint = parse(&discovery.configuration_endpoint)?;
        let jwks_uri = parse(&discovery.jwks_uri)?;
        let body = json!({
            "delivery": {
                "method": PUSH,
                "endpoint_url": push_url,
                "authorization_header": self.push_authorization,
            },
            "events_requested": [SESSION_REVOKED],
            "description": format!("sessions-gateway for application {application}"),
        });
        let created: Value = http
            .post(configuration_endpoint.clone())
            .bearer_auth(&self.token)
            .json(&body)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("stream creation: {e}"))?
            .json()
            .await
            .map_err(|e| format!("stream creation answer: {e}"))?;
        let stream_id = created
            .get("stream_id")
            .and_then(Value::as_str)
            .ok_or("the stream creation answer has no stream_id")?
            .to_string();
        let audience = match created.get("aud") {
            Some(Value::String(aud)) => Some(aud.clone()),
            Some(Value::Array(auds)) => auds.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        Ok(Registration {
            issuer: discovery.issuer,
            stream_id,
            audience,
            configuration_endpoint,
            jwks: Jwks::new(jwks_uri, http.clone()),
        })
    }

    /// Deletes the stream (on shutdown; best effort).
    pub async fn unregister(&self, http: &reqwest::Client) {
        let Some(registration) = self.registration.get() else {
            return;
        };
        let mut url = registration.configuration_endpoint.clone();
        url.query_pairs_mut()
            .append_pair("stream_id", &registration.stream_id);
        let deleted = http
            .delete(url)
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Err(error) = deleted {
            tracing::warn!(%error, "deleting the Shared Signals stream failed");
        }
    }

    /// Verifies a pushed SET: the transmitter's push secret, `typ`, signature (the
    /// transmitter's JWKS), `iss` and `aud`; its claims.
    async fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, (StatusCode, &'static str, &'static str)> {
        let authorized = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == self.push_authorization);
        if !authorized {
            return Err((
                StatusCode::UNAUTHORIZED,
                "authentication_failed",
                "the push is not authorized",
            ));
        }
        let registration = self.registration.get().ok_or((
            StatusCode::SERVICE_UNAVAILABLE,
            "invalid_request",
            "no stream is registered yet",
        ))?;
        let token = std::str::from_utf8(body).map(str::trim).map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body is not a compact JWS",
            )
        })?;
        let head = jsonwebtoken::decode_header(token).map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body is not a compact JWS",
            )
        })?;
        if head.typ.as_deref() != Some("secevent+jwt") {
            return Err((
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the SET's typ is not secevent+jwt",
            ));
        }
        let (key, algorithm) = jwks_key_for(&registration.jwks, &head).await.map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                "invalid_key",
                "the SET's key is not the transmitter's",
            )
        })?;
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["iss"]);
        validation.set_issuer(&[&registration.issuer]);
        match &registration.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            tracing::warn!(error = %e, "a pushed SET was refused");
            match e.kind() {
                ErrorKind::InvalidIssuer => (
                    StatusCode::BAD_REQUEST,
                    "invalid_issuer",
                    "the SET's issuer is not the transmitter",
                ),
                ErrorKind::InvalidAudience => (
                    StatusCode::BAD_REQUEST,
                    "invalid_audience",
                    "the SET is for another audience",
                ),
                _ => (
                    StatusCode::BAD_REQUEST,
                    "invalid_key",
                    "the SET's signature does not verify",
                ),
            }
        })?;
        Ok(data.claims)
    }
}

/// RFC 8935's error answer.
fn push_error(status: StatusCode, err: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"err": err, "description": description}).to_string(),
    )
        .into_response()
}

/// The push endpoint: one SET per request; 202 once acted on.
pub async fn push(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(receiver) = gateway.receiver.as_ref() else {
        return push_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "this gateway receives no Shared Signals",
        );
    };
    let claims = match receiver.verify(&headers, &body).await {
        Ok(claims) => claims,
        Err((status, err, description)) => return push_error(status, err, description),
    };
    match signal_of(&claims, gateway.settings.application_id) {
        Ok(Signal::Session(session)) => {
            for entry in gateway.registry.by_session_id(session) {
                gateway.cut_off_by_event(&entry);
            }
        }
        Ok(Signal::Application { before_ms }) => {
            for entry in gateway.registry.all() {
                let connected_before = entry
                    .reported()
                    .is_some_and(|r| r.created_at.timestamp_millis() <= before_ms);
                if connected_before {
                    gateway.cut_off_by_event(&entry);
                }
            }
        }
        Ok(Signal::Verification | Signal::Ignored) => {}
        Err(why) => return push_error(StatusCode::BAD_REQUEST, "invalid_request", why),
    }
    StatusCode::ACCEPTED.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revoked(subject: Value, at: f64) -> Value {
        json!({"iss": "t", "sub_id": subject, "events": {SESSION_REVOKED: {"event_timestamp": at}}})
    }

    #[test]
    fn a_set_names_a_session_or_every_session_of_its_application() {
        let app = Uuid::new_v4();
        let session = Uuid::new_v4();
        let opaque = |id: Uuid| json!({"format": "opaque", "id": id.to_string()});
        let one = revoked(
            json!({"format": "complex", "session": opaque(session), "application": opaque(app)}),
            1.0,
        );
        assert_eq!(signal_of(&one, app), Ok(Signal::Session(session)));
        let all = revoked(
            json!({"format": "complex", "application": opaque(app)}),
            1700000000.25,
        );
        assert_eq!(
            signal_of(&all, app),
            Ok(Signal::Application {
                before_ms: 1_700_000_000_250
            })
        );
        let other = revoked(
            json!({"format": "complex", "application": opaque(Uuid::new_v4())}),
            1.0,
        );
        assert_eq!(signal_of(&other, app), Ok(Signal::Ignored));
        let verification = json!({"events": {VERIFICATION: {"state": "x"}}});
        assert_eq!(signal_of(&verification, app), Ok(Signal::Verification));
        assert!(signal_of(&json!({"iss": "t"}), app).is_err());
        let no_time =
            json!({"sub_id": {"application": opaque(app)}, "events": {SESSION_REVOKED: {}}});
        assert!(signal_of(&no_time, app).is_err());
    }
}
