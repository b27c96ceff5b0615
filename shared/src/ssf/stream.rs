//! A receiver's stream: what it asked for (delivery, events, description), what the
//! transmitter set (id, `iss`, `aud`, the events delivered), its status; and the strict reading
//! of the configuration endpoint's request bodies (SSF 1.0, section 8.1.1).
//!
//! Every rule here is pure: the store keeps a [`Stream`], the HTTP layer shows a
//! [`StreamView`], and a malformed request is an [`ApiError::InvalidRequest`] naming the field.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{EVENTS_SUPPORTED, POLL_METHOD, PUSH_METHOD};
use crate::error::ApiError;
use crate::time::Timestamp;

/// Longest `endpoint_url` accepted.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest `authorization_header` accepted.
pub const MAX_AUTHORIZATION_BYTES: usize = 4096;
/// Longest `description`, status `reason` and verification `state`.
pub const MAX_TEXT_CHARS: usize = 256;
/// Most event types one stream may request.
pub const MAX_EVENTS_REQUESTED: usize = 32;
/// Most streams one organization may hold.
pub const MAX_STREAMS_PER_ORGANIZATION: usize = 10;

/// A stream's status (SSF 1.0, section 8.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamStatus {
    /// Events are transmitted.
    Enabled,
    /// Events are not transmitted (and, a departure, not held for later either).
    Paused,
    /// Events are not transmitted.
    Disabled,
}

impl StreamStatus {
    fn parse(value: &str) -> Option<StreamStatus> {
        match value {
            "enabled" => Some(StreamStatus::Enabled),
            "paused" => Some(StreamStatus::Paused),
            "disabled" => Some(StreamStatus::Disabled),
            _ => None,
        }
    }
}

/// Where and how SETs are pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Always [`PUSH_METHOD`].
    pub method: String,
    pub endpoint_url: String,
    /// Sent as the push request's `Authorization` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_header: Option<String>,
}

/// A stream as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    pub stream_id: Uuid,
    /// The organization of the receiver that created it: the only one that sees it.
    pub organization_id: Uuid,
    /// The `aud` of every SET of this stream.
    pub aud: String,
    pub delivery: Delivery,
    pub events_requested: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: StreamStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(with = "crate::time::serde_ts")]
    pub created_at: Timestamp,
}

impl Stream {
    /// The requested event types the transmitter delivers, in the order requested.
    pub fn events_delivered(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for event in &self.events_requested {
            if EVENTS_SUPPORTED.contains(&event.as_str()) && !out.contains(event) {
                out.push(event.clone());
            }
        }
        out
    }

    /// Whether a SET of `event_type` goes out on this stream now.
    pub fn transmits(&self, event_type: &str) -> bool {
        self.status == StreamStatus::Enabled
            && self.events_delivered().iter().any(|e| e == event_type)
    }

    /// The stream as the configuration endpoint shows it, with the transmitter's `iss`.
    pub fn view(&self, issuer: &str) -> StreamView {
        StreamView {
            stream_id: self.stream_id.to_string(),
            iss: issuer.to_string(),
            aud: self.aud.clone(),
            delivery: self.delivery.clone(),
            events_supported: EVENTS_SUPPORTED.iter().map(|e| e.to_string()).collect(),
            events_requested: self.events_requested.clone(),
            events_delivered: self.events_delivered(),
            description: self.description.clone(),
        }
    }

    /// The status endpoint's answer.
    pub fn status_view(&self) -> StatusView {
        StatusView {
            stream_id: self.stream_id.to_string(),
            status: self.status,
            reason: self.status_reason.clone(),
        }
    }
}

/// The stream configuration of SSF 1.0, section 8.1.1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamView {
    pub stream_id: String,
    pub iss: String,
    pub aud: String,
    pub delivery: Delivery,
    pub events_supported: Vec<String>,
    pub events_requested: Vec<String>,
    pub events_delivered: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The status endpoint's body (SSF 1.0, section 8.1.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub stream_id: String,
    pub status: StreamStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Which push endpoints a receiver may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointPolicy {
    /// Loopback, private and link-local addresses (and `localhost`): for local runs and tests
    /// only (`SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS`); refused by default, so a receiver cannot
    /// point the transmitter at the transmitter's own network.
    pub allow_private: bool,
}

/// What a receiver may set: the receiver-supplied members of SSF 1.0, section 8.1.1.
#[derive(Debug, Clone, PartialEq)]
pub struct Requested {
    pub delivery: Option<Delivery>,
    pub events_requested: Option<Vec<String>>,
    /// `Some(None)`: the member was sent as `null` (cleared).
    pub description: Option<Option<String>>,
}

/// Members the transmitter sets; a receiver may echo them back unchanged on update and
/// replace, never change them.
const TRANSMITTER_SUPPLIED: [&str; 5] = [
    "iss",
    "aud",
    "events_supported",
    "events_delivered",
    "stream_id",
];
const RECEIVER_SUPPLIED: [&str; 3] = ["delivery", "events_requested", "description"];

/// A JSON object body, or the 400 that says it is not one.
pub fn object(body: &Value) -> Result<&Map<String, Value>, ApiError> {
    body.as_object()
        .ok_or_else(|| ApiError::invalid("the request body must be a JSON object"))
}

/// The `stream_id` member of a body, or of a query.
pub fn stream_id(value: Option<&Value>) -> Result<Uuid, ApiError> {
    match value {
        None | Some(Value::Null) => Err(ApiError::invalid("stream_id is required")),
        Some(Value::String(s)) => parse_stream_id(s),
        Some(_) => Err(ApiError::invalid("stream_id must be a string")),
    }
}

/// A stream id as a client sent it: a hyphenated UUID, else 400.
pub fn parse_stream_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(raw)
        .ok()
        .filter(|_| raw.len() == 36)
        .ok_or_else(|| ApiError::invalid("stream_id must be a stream id (a UUID)"))
}

/// A create request (`POST`): receiver-supplied members only; `delivery` required.
pub fn read_create(
    body: &Value,
    policy: EndpointPolicy,
) -> Result<(Delivery, Vec<String>, Option<String>), ApiError> {
    let body = object(body)?;
    for (name, _) in body {
        if TRANSMITTER_SUPPLIED.contains(&name.as_str()) {
            return Err(ApiError::invalid(format!(
                "{name} is set by the transmitter, not in a create request"
            )));
        }
    }
    let requested = read_members(body, None, policy)?;
    let delivery = requested
        .delivery
        .ok_or_else(|| ApiError::invalid("delivery is required"))?;
    Ok((
        delivery,
        requested.events_requested.unwrap_or_default(),
        requested.description.flatten(),
    ))
}

/// An update (`PATCH`, `replace` false) or replace (`PUT`, `replace` true) of `current`: the
/// stream it becomes. Transmitter-supplied members may be echoed, unchanged.
pub fn apply_change(
    current: &Stream,
    issuer: &str,
    body: &Value,
    replace: bool,
    policy: EndpointPolicy,
) -> Result<Stream, ApiError> {
    let body = object(body)?;
    let view = serde_json::to_value(current.view(issuer)).map_err(|_| ApiError::Internal)?;
    let requested = read_members(body, Some(&view), policy)?;
    let mut next = current.clone();
    if replace {
        next.delivery = requested
            .delivery
            .ok_or_else(|| ApiError::invalid("delivery is required"))?;
        next.events_requested = requested.events_requested.unwrap_or_default();
        next.description = requested.description.flatten();
    } else {
        if let Some(delivery) = requested.delivery {
            next.delivery = delivery;
        }
        if let Some(events) = requested.events_requested {
            next.events_requested = events;
        }
        if let Some(description) = requested.description {
            next.description = description;
        }
    }
    Ok(next)
}

/// The receiver-supplied members of `body`; any other member is refused, except (with
/// `current`, on update and replace) a transmitter-supplied one equal to its current value.
fn read_members(
    body: &Map<String, Value>,
    current: Option<&Value>,
    policy: EndpointPolicy,
) -> Result<Requested, ApiError> {
    for (name, value) in body {
        if RECEIVER_SUPPLIED.contains(&name.as_str()) {
            continue;
        }
        match current {
            Some(view) if TRANSMITTER_SUPPLIED.contains(&name.as_str()) => {
                if &view[name] != value {
                    return Err(ApiError::invalid(format!(
                        "{name} is set by the transmitter and cannot be changed"
                    )));
                }
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "unknown member {}: a stream takes delivery, events_requested and description",
                    printable(name)
                )))
            }
        }
    }
    Ok(Requested {
        delivery: body
            .get("delivery")
            .map(|d| read_delivery(d, policy))
            .transpose()?,
        events_requested: body.get("events_requested").map(read_events).transpose()?,
        description: body
            .get("description")
            .map(|d| optional_text(d, "description"))
            .transpose()?,
    })
}

fn read_delivery(value: &Value, policy: EndpointPolicy) -> Result<Delivery, ApiError> {
    let delivery = value
        .as_object()
        .ok_or_else(|| ApiError::invalid("delivery must be an object"))?;
    for name in delivery.keys() {
        if !["method", "endpoint_url", "authorization_header"].contains(&name.as_str()) {
            return Err(ApiError::invalid(format!(
                "unknown member delivery.{}: delivery takes method, endpoint_url and \
                 authorization_header",
                printable(name)
            )));
        }
    }
    let method = match delivery.get("method") {
        Some(Value::String(m)) if m == PUSH_METHOD => m.clone(),
        Some(Value::String(m)) if m == POLL_METHOD => {
            return Err(ApiError::invalid(format!(
                "delivery.method {POLL_METHOD} (poll) is not offered; use {PUSH_METHOD} (push)"
            )))
        }
        Some(Value::String(_)) => {
            return Err(ApiError::invalid(format!(
                "delivery.method is not supported; the one method offered is {PUSH_METHOD} (push)"
            )))
        }
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(format!(
                "delivery.method is required: {PUSH_METHOD}"
            )))
        }
        Some(_) => return Err(ApiError::invalid("delivery.method must be a string")),
    };
    let endpoint_url = match delivery.get("endpoint_url") {
        Some(Value::String(url)) => check_endpoint_url(url, policy)?,
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(
                "delivery.endpoint_url is required for push delivery",
            ))
        }
        Some(_) => return Err(ApiError::invalid("delivery.endpoint_url must be a string")),
    };
    let authorization_header = match delivery.get("authorization_header") {
        None | Some(Value::Null) => None,
        Some(Value::String(h)) => {
            let visible = h.bytes().all(|b| (0x20..0x7f).contains(&b));
            if h.is_empty() || h.len() > MAX_AUTHORIZATION_BYTES || !visible {
                return Err(ApiError::invalid(format!(
                    "delivery.authorization_header must be 1 to {MAX_AUTHORIZATION_BYTES} \
                     printable ASCII characters"
                )));
            }
            Some(h.clone())
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "delivery.authorization_header must be a string",
            ))
        }
    };
    Ok(Delivery {
        method,
        endpoint_url,
        authorization_header,
    })
}

/// An absolute `http` or `https` URL with a host, no credentials and no fragment; a private
/// address only where `policy` allows it.
fn check_endpoint_url(raw: &str, policy: EndpointPolicy) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::invalid(format!("delivery.endpoint_url {why}"));
    if raw.len() > MAX_URL_BYTES {
        return Err(bad(&format!("must be at most {MAX_URL_BYTES} bytes")));
    }
    let url = reqwest::Url::parse(raw).map_err(|_| bad("must be an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must be an http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not carry credentials; use delivery.authorization_header",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    let host = url.host_str().ok_or_else(|| bad("must name a host"))?;
    if !policy.allow_private && is_private_host(host) {
        return Err(bad(
            "must not name a loopback, private or link-local address",
        ));
    }
    Ok(url.to_string())
}

/// `localhost`, or an IP literal that is not a public address.
fn is_private_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") || host.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64
        }
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || (ip.segments()[0] & 0xfe00) == 0xfc00
                || (ip.segments()[0] & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private_host(&v4.to_string()))
        }
        Err(_) => false,
    }
}

fn read_events(value: &Value) -> Result<Vec<String>, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "events_requested must be a list of at most {MAX_EVENTS_REQUESTED} event type URIs"
        ))
    };
    let items = value.as_array().ok_or_else(bad)?;
    if items.len() > MAX_EVENTS_REQUESTED {
        return Err(bad());
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) if !s.is_empty() && s.len() <= MAX_URL_BYTES && is_printable(s) => {
                Ok(s.clone())
            }
            _ => Err(bad()),
        })
        .collect()
}

/// A string of 1 to [`MAX_TEXT_CHARS`] characters without control characters, or `null`.
pub fn optional_text(value: &Value, name: &str) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s)
            if !s.is_empty() && s.chars().count() <= MAX_TEXT_CHARS && is_printable(s) =>
        {
            Ok(Some(s.clone()))
        }
        _ => Err(ApiError::invalid(format!(
            "{name} must be a string of 1 to {MAX_TEXT_CHARS} characters without control \
             characters"
        ))),
    }
}

/// A status change (`POST` of the status endpoint): the stream, its new status and reason.
pub fn read_status_change(body: &Value) -> Result<(Uuid, StreamStatus, Option<String>), ApiError> {
    let body = object(body)?;
    only(body, &["stream_id", "status", "reason"])?;
    let id = stream_id(body.get("stream_id"))?;
    let status = body
        .get("status")
        .and_then(Value::as_str)
        .and_then(StreamStatus::parse)
        .ok_or_else(|| ApiError::invalid("status must be one of enabled, paused, disabled"))?;
    let reason = body
        .get("reason")
        .map(|r| optional_text(r, "reason"))
        .transpose()?
        .flatten();
    Ok((id, status, reason))
}

/// A verification request: the stream and the optional `state` to echo.
pub fn read_verification(body: &Value) -> Result<(Uuid, Option<String>), ApiError> {
    let body = object(body)?;
    only(body, &["stream_id", "state"])?;
    let id = stream_id(body.get("stream_id"))?;
    let state = body
        .get("state")
        .map(|s| optional_text(s, "state"))
        .transpose()?
        .flatten();
    Ok((id, state))
}

fn only(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(name) => Err(ApiError::invalid(format!(
            "unknown member {}: accepted are {}",
            printable(name),
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

fn is_printable(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

/// A client-sent name, shortened and stripped of control characters, for an error message.
fn printable(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LOCAL: EndpointPolicy = EndpointPolicy {
        allow_private: true,
    };

    fn push(url: &str) -> Value {
        json!({"method": PUSH_METHOD, "endpoint_url": url})
    }

    fn stream() -> Stream {
        let (delivery, events_requested, description) = read_create(
            &json!({"delivery": push("https://rx.example.com/ssf"), "events_requested": [super::super::SESSION_REVOKED, "urn:other"]}),
            EndpointPolicy::default(),
        )
        .expect("valid");
        Stream {
            stream_id: Uuid::new_v4(),
            organization_id: Uuid::new_v4(),
            aud: "rx".into(),
            delivery,
            events_requested,
            description,
            status: StreamStatus::Enabled,
            status_reason: None,
            created_at: crate::time::now(),
        }
    }

    fn message(r: Result<impl std::fmt::Debug, ApiError>) -> String {
        r.expect_err("refused").to_string()
    }

    #[test]
    fn a_create_needs_push_delivery_to_an_http_url() {
        let create = |body: Value| read_create(&body, LOCAL).map(|_| ());
        assert!(create(json!({"delivery": push("http://127.0.0.1:9/x")})).is_ok());
        assert_eq!(message(create(json!({}))), "delivery is required");
        assert!(
            message(create(json!({"delivery": {"method": POLL_METHOD}})))
                .contains("(poll) is not offered")
        );
        assert!(message(create(
            json!({"delivery": {"method": "urn:x", "endpoint_url": "https://a"}})
        ))
        .contains("is not supported"));
        for url in [
            "ftp://a.example/x",
            "not a url",
            "https://u:p@a.example/",
            "https://a.example/#f",
        ] {
            assert!(
                message(create(json!({"delivery": push(url)})))
                    .starts_with("delivery.endpoint_url"),
                "{url}"
            );
        }
        assert!(message(create(
            json!({"delivery": push("https://a.example"), "extra": 1})
        ))
        .contains("unknown member extra"));
        assert!(message(create(
            json!({"delivery": push("https://a.example"), "stream_id": "x"})
        ))
        .contains("set by the transmitter"));
        assert!(message(create(
            json!({"delivery": push("https://a.example"), "events_requested": "x"})
        ))
        .contains("events_requested"));
        assert!(message(create(json!([]))).contains("JSON object"));
    }

    #[test]
    fn private_endpoints_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1/x",
            "http://localhost:8080/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            let body = json!({"delivery": push(url)});
            assert!(
                read_create(&body, EndpointPolicy::default()).is_err(),
                "{url}"
            );
            assert!(read_create(&body, LOCAL).is_ok(), "{url}");
        }
        let public = json!({"delivery": push("https://93.184.216.34/ssf")});
        assert!(read_create(&public, EndpointPolicy::default()).is_ok());
    }

    #[test]
    fn only_supported_events_are_delivered() {
        let s = stream();
        assert_eq!(s.events_delivered(), [super::super::SESSION_REVOKED]);
        assert!(s.transmits(super::super::SESSION_REVOKED));
        let paused = Stream {
            status: StreamStatus::Paused,
            ..s
        };
        assert!(!paused.transmits(super::super::SESSION_REVOKED));
    }

    #[test]
    fn update_changes_what_it_names_and_replace_everything() {
        let s = stream();
        let view = serde_json::to_value(s.view("https://iss")).expect("json");
        let patched = apply_change(
            &s,
            "https://iss",
            &json!({"stream_id": view["stream_id"], "iss": "https://iss", "description": "rx"}),
            false,
            LOCAL,
        )
        .expect("update");
        assert_eq!(patched.description.as_deref(), Some("rx"));
        assert_eq!(patched.events_requested, s.events_requested);
        let replaced = apply_change(
            &s,
            "https://iss",
            &json!({"delivery": push("https://b.example/")}),
            true,
            LOCAL,
        )
        .expect("replace");
        assert!(replaced.events_requested.is_empty());
        assert_eq!(replaced.delivery.endpoint_url, "https://b.example/");
        assert!(message(apply_change(
            &s,
            "https://iss",
            &json!({"description": "x"}),
            true,
            LOCAL
        ))
        .contains("delivery is required"));
        assert!(message(apply_change(
            &s,
            "https://iss",
            &json!({"aud": "other"}),
            false,
            LOCAL
        ))
        .contains("cannot be changed"));
    }

    #[test]
    fn status_and_verification_bodies_are_strict() {
        let id = Uuid::new_v4().to_string();
        let (_, status, reason) = read_status_change(
            &json!({"stream_id": id, "status": "paused", "reason": "maintenance"}),
        )
        .expect("valid");
        assert_eq!(status, StreamStatus::Paused);
        assert_eq!(reason.as_deref(), Some("maintenance"));
        assert!(read_status_change(&json!({"stream_id": id, "status": "on"})).is_err());
        assert!(read_status_change(&json!({"status": "enabled"})).is_err());
        let (_, state) = read_verification(&json!({"stream_id": id, "state": "abc"})).expect("ok");
        assert_eq!(state.as_deref(), Some("abc"));
        assert!(read_verification(&json!({"stream_id": "nope"})).is_err());
        assert!(read_verification(&json!({"stream_id": id, "state": "a\u{0}"})).is_err());
    }
}
