//! The request bodies of the connection side, read strictly: bytes and two headers in, typed
//! values or an [`ApiError`] out. No I/O.
//!
//! A body is read in this order, and the first failure is the answer:
//!
//! 1. no body (or an empty one) is the same as `{}`, whatever `Content-Type` says;
//! 2. `Content-Type` must be `application/json` (parameters such as `; charset=utf-8` allowed,
//!    another charset not), else 415 `unsupported_media_type`;
//! 3. at most [`MAX_BODY_BYTES`] as received (API Gateway's base64 already undone by
//!    `lambda_http`), else 413 `payload_too_large`;
//! 4. one JSON value, and an object: else 400 `invalid_request`;
//! 5. every member a field the route accepts, none given twice (not even inside `clientInfo`),
//!    each of its type and within its limits: else 400 naming the field and what it accepts.
//!
//! [`idempotency_key`] validates the `Idempotency-Key` header and [`fingerprint`] is what the
//! store compares when a key is used again: the SHA-256 of the body exactly as received.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::time::{self, Timestamp};

/// The largest body accepted, in bytes (16 KiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_HOSTNAME_CHARS: usize = 253;
pub const MAX_USER_AGENT_CHARS: usize = 512;
/// The largest `clientInfo`, in bytes of compact JSON.
pub const MAX_CLIENT_INFO_BYTES: usize = 4 * 1024;
pub const MAX_CLIENT_NAME_CHARS: usize = 200;
pub const MAX_CLIENT_VERSION_CHARS: usize = 100;
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
/// The name of a session whose connect says nothing to build one from.
pub const DEFAULT_NAME: &str = "MCP session";

/// The fields of each route's body, in the order messages list them.
pub const CONNECT_FIELDS: [&str; 5] = [
    "name",
    "hostname",
    "userAgent",
    "clientInfo",
    "tokenExpiresAt",
];
pub const HEARTBEAT_FIELDS: [&str; 2] = ["lastActiveAt", "tokenExpiresAt"];
pub const DISCONNECT_FIELDS: [&str; 0] = [];

// The 400 messages: each names the field and what it accepts, never the value sent.
pub const NOT_JSON: &str = "the request body must be valid JSON: one object, in UTF-8";
pub const NOT_AN_OBJECT: &str = "the request body must be a JSON object";
pub const NAME: &str = "name must be a string of 1 to 200 characters without control characters";
pub const HOSTNAME: &str =
    "hostname must be null or a string of at most 253 characters without control characters";
pub const USER_AGENT: &str =
    "userAgent must be null or a string of at most 512 characters without control characters";
pub const CLIENT_INFO: &str =
    "clientInfo must be null or an object with the members name and version";
pub const CLIENT_INFO_NAME: &str = "clientInfo.name must be a string of 1 to 200 characters";
pub const CLIENT_INFO_VERSION: &str = "clientInfo.version must be a string of 1 to 100 characters";
pub const CLIENT_INFO_SIZE: &str = "clientInfo must be at most 4096 bytes as JSON";
pub const TOKEN_EXPIRES_AT: &str = "tokenExpiresAt must be an RFC 3339 timestamp after now";
pub const LAST_ACTIVE_AT: &str = "lastActiveAt must be an RFC 3339 timestamp";
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key must be 1 to 255 visible ASCII characters";

/// A connect's body, validated, with the session's name already defaulted.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectBody {
    /// As given, else [`default_name`]: never empty.
    pub name: String,
    pub hostname: Option<String>,
    pub user_agent: Option<String>,
    /// The MCP `Implementation` object, every member kept.
    pub client_info: Option<Value>,
    pub token_expires_at: Option<Timestamp>,
}

/// A heartbeat's body, validated. Both fields optional: `{}` (or no body) only proves liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeartbeatBody {
    /// The last MCP activity the caller saw; may lie in the future (the store takes it as now).
    pub last_active_at: Option<Timestamp>,
    /// The client's refreshed token expiry, after now.
    pub token_expires_at: Option<Timestamp>,
}

impl ConnectBody {
    /// Reads a connect's body. `now` is the request's: `tokenExpiresAt` must be after it.
    pub fn parse(
        content_type: Option<&[u8]>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<Self, ApiError> {
        let fields = fields(content_type, body, &CONNECT_FIELDS)?;
        let text = |field: &str, max: usize, message: &str| -> Result<Option<String>, ApiError> {
            match fields.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => plain_text(value, 0, max)
                    .map(|s| Some(s.to_string()))
                    .ok_or_else(|| ApiError::invalid(message)),
            }
        };
        let hostname = text("hostname", MAX_HOSTNAME_CHARS, HOSTNAME)?;
        let user_agent = text("userAgent", MAX_USER_AGENT_CHARS, USER_AGENT)?;
        let client_info = match fields.get("clientInfo") {
            None | Some(Value::Null) => None,
            Some(value) => Some(client_info(value)?),
        };
        let name = match fields.get("name") {
            None => default_name(client_info.as_ref(), hostname.as_deref()),
            Some(value) => plain_text(value, 1, MAX_NAME_CHARS)
                .ok_or_else(|| ApiError::invalid(NAME))?
                .to_string(),
        };
        let token_expires_at = fields
            .get("tokenExpiresAt")
            .map(|v| token_expiry(v, now))
            .transpose()?;
        Ok(ConnectBody {
            name,
            hostname,
            user_agent,
            client_info,
            token_expires_at,
        })
    }
}

impl HeartbeatBody {
    /// Reads a heartbeat's body. `now` is the request's: `tokenExpiresAt` must be after it.
    pub fn parse(
        content_type: Option<&[u8]>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<Self, ApiError> {
        let fields = fields(content_type, body, &HEARTBEAT_FIELDS)?;
        let last_active_at = fields
            .get("lastActiveAt")
            .map(|v| timestamp(v).ok_or_else(|| ApiError::invalid(LAST_ACTIVE_AT)))
            .transpose()?;
        let token_expires_at = fields
            .get("tokenExpiresAt")
            .map(|v| token_expiry(v, now))
            .transpose()?;
        Ok(HeartbeatBody {
            last_active_at,
            token_expires_at,
        })
    }
}

/// Reads a disconnect's body: none, or `{}`.
pub fn parse_disconnect(content_type: Option<&[u8]>, body: &[u8]) -> Result<(), ApiError> {
    fields(content_type, body, &DISCONNECT_FIELDS).map(|_| ())
}

/// The `Idempotency-Key` header: absent, or 1 to 255 visible ASCII characters (`!` to `~`).
pub fn idempotency_key(raw: Option<&[u8]>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let visible = (1..=MAX_IDEMPOTENCY_KEY_CHARS).contains(&raw.len())
        && raw.iter().all(|b| (0x21..=0x7e).contains(b));
    if !visible {
        return Err(ApiError::invalid(IDEMPOTENCY_KEY));
    }
    // Visible ASCII is UTF-8.
    String::from_utf8(raw.to_vec())
        .map(Some)
        .map_err(|_| ApiError::invalid(IDEMPOTENCY_KEY))
}

/// What a retried connect is compared by: the SHA-256 of the body exactly as received (no
/// body hashes as the empty string).
pub fn fingerprint(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// A session's name when the connect gives none: `<clientInfo.name> on <hostname>`, else
/// either one, else [`DEFAULT_NAME`]; control characters left out, at most
/// [`MAX_NAME_CHARS`] characters, never empty.
pub fn default_name(client_info: Option<&Value>, hostname: Option<&str>) -> String {
    let clean = |s: &str| -> Option<String> {
        let kept: String = s.chars().filter(|c| !is_control(*c)).collect();
        let kept = kept.trim();
        (!kept.is_empty()).then(|| kept.to_string())
    };
    let client = client_info
        .and_then(|c| c.get("name"))
        .and_then(Value::as_str)
        .and_then(clean);
    let host = hostname.and_then(clean);
    let name = match (client, host) {
        (Some(client), Some(host)) => format!("{client} on {host}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => return DEFAULT_NAME.to_string(),
    };
    let cut: String = name.chars().take(MAX_NAME_CHARS).collect();
    cut.trim_end().to_string()
}

/// Whether `Content-Type` says JSON: the media type `application/json` in any case, with any
/// parameters but a `charset` other than UTF-8.
pub fn is_json(content_type: Option<&[u8]>) -> bool {
    let Some(raw) = content_type.and_then(|b| std::str::from_utf8(b).ok()) else {
        return false;
    };
    let mut parts = raw.split(';');
    let media = parts.next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/json")
        && parts.all(|parameter| match parameter.split_once('=') {
            None => parameter.trim().is_empty(),
            Some((name, value)) => {
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                !name.trim().eq_ignore_ascii_case("charset") || value.eq_ignore_ascii_case("utf-8")
            }
        })
}

/// U+0000 to U+001F and U+007F.
fn is_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}')
}

/// `value` if it is a string of `min` to `max` characters without control characters.
fn plain_text(value: &Value, min: usize, max: usize) -> Option<&str> {
    let s = value.as_str()?;
    let chars = s.chars().count();
    ((min..=max).contains(&chars) && !s.chars().any(is_control)).then_some(s)
}

/// `value` if it is a string of `min` to `max` characters.
fn any_text(value: &Value, min: usize, max: usize) -> Option<&str> {
    let s = value.as_str()?;
    (min..=max).contains(&s.chars().count()).then_some(s)
}

fn timestamp(value: &Value) -> Option<Timestamp> {
    value.as_str().and_then(|s| time::parse(s).ok())
}

/// `tokenExpiresAt`: a timestamp after `now`.
fn token_expiry(value: &Value, now: Timestamp) -> Result<Timestamp, ApiError> {
    timestamp(value)
        .filter(|t| *t > now)
        .ok_or_else(|| ApiError::invalid(TOKEN_EXPIRES_AT))
}

/// The MCP `Implementation` object: `name` and `version` required, the rest kept as given.
fn client_info(value: &Value) -> Result<Value, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::invalid(CLIENT_INFO))?;
    let name = object
        .get("name")
        .ok_or_else(|| ApiError::invalid(CLIENT_INFO))?;
    let version = object
        .get("version")
        .ok_or_else(|| ApiError::invalid(CLIENT_INFO))?;
    any_text(name, 1, MAX_CLIENT_NAME_CHARS).ok_or_else(|| ApiError::invalid(CLIENT_INFO_NAME))?;
    any_text(version, 1, MAX_CLIENT_VERSION_CHARS)
        .ok_or_else(|| ApiError::invalid(CLIENT_INFO_VERSION))?;
    let size = serde_json::to_vec(value).map_or(usize::MAX, |json| json.len());
    if size > MAX_CLIENT_INFO_BYTES {
        return Err(ApiError::invalid(CLIENT_INFO_SIZE));
    }
    Ok(value.clone())
}

/// Steps 1 to 5 of the module's list, up to the fields' own rules: the body's members, each
/// one of `accepted` and given once.
pub fn fields(
    content_type: Option<&[u8]>,
    body: &[u8],
    accepted: &[&str],
) -> Result<Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    if !is_json(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            max_bytes: MAX_BODY_BYTES,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let top = TopLevel
        .deserialize(&mut de)
        .and_then(|top| de.end().map(|()| top))
        .map_err(|_| ApiError::invalid(NOT_JSON))?;
    let Some(members) = top else {
        return Err(ApiError::invalid(NOT_AN_OBJECT));
    };
    let mut fields = Map::new();
    for member in members {
        if !accepted.contains(&member.name.as_str()) {
            return Err(unknown_field(&member.name, accepted));
        }
        if fields.contains_key(&member.name) || member.repeats_inside {
            return Err(ApiError::invalid(format!(
                "{} must not repeat a member name",
                member.name
            )));
        }
        fields.insert(member.name, member.value);
    }
    Ok(fields)
}

/// 400 for a member the route does not accept. The name is repeated only when it is short and
/// plain (letters, digits, `_`, `-`, `.`); the message always lists what is accepted.
fn unknown_field(name: &str, accepted: &[&str]) -> ApiError {
    let plain = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    let which = if plain {
        format!("unknown field {name}")
    } else {
        "unknown field".to_string()
    };
    if accepted.is_empty() {
        ApiError::invalid(format!(
            "{which}: this route accepts no fields (no body, or {{}})"
        ))
    } else {
        ApiError::invalid(format!(
            "{which}: the accepted fields are {}",
            accepted.join(", ")
        ))
    }
}

/// A top-level member, in the order given.
struct Member {
    name: String,
    value: Value,
    /// An object somewhere inside the value names a member twice.
    repeats_inside: bool,
}

/// Reads one JSON value: `Some(members)` for an object (repeated names kept, for the caller to
/// refuse), `None` for anything else.
struct TopLevel;

impl<'de> DeserializeSeed<'de> for TopLevel {
    type Value = Option<Vec<Member>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel {
    type Value = Option<Vec<Member>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let repeats = Cell::new(false);
            let value = map.next_value_seed(Strict { repeats: &repeats })?;
            members.push(Member {
                name,
                value,
                repeats_inside: repeats.get(),
            });
        }
        Ok(Some(members))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let repeats = Cell::new(false);
        while seq
            .next_element_seed(Strict { repeats: &repeats })?
            .is_some()
        {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Reads any JSON value into a [`Value`], noting in `repeats` an object that names a member
/// twice (serde_json's own `Value` keeps the last silently).
struct Strict<'a> {
    repeats: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(Strict {
                repeats: self.repeats,
            })?;
            if object.insert(name, value).is_some() {
                self.repeats.set(true);
            }
        }
        Ok(Value::Object(object))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict {
            repeats: self.repeats,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("not a finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const JSON: Option<&[u8]> = Some(b"application/json");

    fn now() -> Timestamp {
        time::parse("2026-12-01T10:00:00Z").expect("test timestamp")
    }

    fn connect(body: &str) -> Result<ConnectBody, ApiError> {
        ConnectBody::parse(JSON, body.as_bytes(), now())
    }

    fn connect_json(body: Value) -> Result<ConnectBody, ApiError> {
        connect(&body.to_string())
    }

    fn message(result: Result<impl fmt::Debug, ApiError>) -> String {
        let err = result.expect_err("refused");
        assert_eq!(err.status_code(), 400, "{err:?}");
        assert_eq!(err.code(), "invalid_request");
        err.to_string()
    }

    #[test]
    fn no_body_or_an_empty_object_is_every_default() {
        for body in ["", "{}", " { } ", "\n{}\n"] {
            let parsed = connect(body).expect(body);
            assert_eq!(parsed.name, DEFAULT_NAME, "{body:?}");
            assert_eq!(
                (parsed.hostname, parsed.user_agent, parsed.client_info),
                (None, None, None)
            );
            assert_eq!(parsed.token_expires_at, None);
        }
        // No body needs no Content-Type.
        assert!(ConnectBody::parse(None, b"", now()).is_ok());
        assert_eq!(
            HeartbeatBody::parse(None, b"", now()),
            Ok(HeartbeatBody::default())
        );
        assert_eq!(parse_disconnect(None, b""), Ok(()));
        assert_eq!(parse_disconnect(JSON, b"{}"), Ok(()));
    }

    #[test]
    fn a_full_connect_is_read_as_given() {
        let parsed = connect_json(json!({
            "name": "Claude on laptop",
            "hostname": "laptop.local",
            "userAgent": "claude-desktop/0.9.3 (ünïcødé ✓)",
            "clientInfo": {"name": "claude-ai", "version": "0.1.0", "title": "Claude",
                           "extra": {"nested": [1, 2.5, null, true]}},
            "tokenExpiresAt": "2026-12-01T11:00:00.5+01:00",
        }))
        .expect("valid");
        assert_eq!(parsed.name, "Claude on laptop");
        assert_eq!(parsed.hostname.as_deref(), Some("laptop.local"));
        assert_eq!(
            parsed.user_agent.as_deref(),
            Some("claude-desktop/0.9.3 (ünïcødé ✓)")
        );
        assert_eq!(
            parsed.client_info,
            Some(
                json!({"name": "claude-ai", "version": "0.1.0", "title": "Claude",
                        "extra": {"nested": [1, 2.5, null, true]}})
            )
        );
        // Any offset, normalised to UTC milliseconds.
        assert_eq!(
            parsed.token_expires_at.map(|t| time::format(&t)).as_deref(),
            Some("2026-12-01T10:00:00.500Z")
        );
    }

    #[test]
    fn nulls_are_unknown_where_null_is_accepted() {
        let parsed = connect_json(json!({"hostname": null, "userAgent": null, "clientInfo": null}))
            .expect("valid");
        assert_eq!(
            (parsed.hostname, parsed.user_agent, parsed.client_info),
            (None, None, None)
        );
        assert_eq!(parsed.name, DEFAULT_NAME);
        for (field, expected) in [("name", NAME), ("tokenExpiresAt", TOKEN_EXPIRES_AT)] {
            assert_eq!(message(connect_json(json!({ field: null }))), expected);
        }
    }

    #[test]
    fn the_default_name_is_built_from_client_info_and_hostname() {
        let info = json!({"name": "claude-ai", "version": "1"});
        let name = |body: Value| connect_json(body).expect("valid").name;
        assert_eq!(
            name(json!({"clientInfo": info, "hostname": "laptop"})),
            "claude-ai on laptop"
        );
        assert_eq!(name(json!({"clientInfo": info})), "claude-ai");
        assert_eq!(name(json!({"hostname": "laptop"})), "laptop");
        assert_eq!(name(json!({"hostname": ""})), DEFAULT_NAME);
        assert_eq!(name(json!({"userAgent": "x/1"})), DEFAULT_NAME);
        // A given name wins.
        assert_eq!(
            name(json!({"name": "mine", "clientInfo": info, "hostname": "h"})),
            "mine"
        );
        // Control characters in clientInfo.name (allowed there) stay out of the name; a name
        // of nothing but them falls back.
        assert_eq!(
            default_name(Some(&json!({"name": "a\u{0}b\n"})), Some("h")),
            "ab on h"
        );
        assert_eq!(
            default_name(Some(&json!({"name": "\u{1}\t "})), None),
            DEFAULT_NAME
        );
        // Never longer than a name may be.
        let long = default_name(
            Some(&json!({"name": "c".repeat(200)})),
            Some(&"h".repeat(253)),
        );
        assert_eq!(long.chars().count(), MAX_NAME_CHARS);
        assert!(long.starts_with(&"c".repeat(200)));
        assert!(connect_json(json!({"name": long})).is_ok());
    }

    #[test]
    fn string_limits_are_characters_and_inclusive() {
        let ok = |body: Value| connect_json(body).expect("valid");
        ok(json!({"name": "n".repeat(200)}));
        ok(json!({"name": "é".repeat(200)}));
        ok(json!({"name": "🔥".repeat(200)}));
        ok(json!({"hostname": "h".repeat(253)}));
        ok(json!({"userAgent": "u".repeat(512)}));
        assert_eq!(message(connect_json(json!({"name": ""}))), NAME);
        assert_eq!(
            message(connect_json(json!({"name": "n".repeat(201)}))),
            NAME
        );
        assert_eq!(
            message(connect_json(json!({"name": "é".repeat(201)}))),
            NAME
        );
        assert_eq!(
            message(connect_json(json!({"hostname": "h".repeat(254)}))),
            HOSTNAME
        );
        assert_eq!(
            message(connect_json(json!({"userAgent": "u".repeat(513)}))),
            USER_AGENT
        );
    }

    #[test]
    fn control_characters_are_refused_in_name_hostname_and_user_agent() {
        for c in [
            '\u{0}', '\u{1}', '\t', '\n', '\r', '\u{1b}', '\u{1f}', '\u{7f}',
        ] {
            let text = format!("a{c}b");
            assert_eq!(message(connect_json(json!({"name": text}))), NAME, "{c:?}");
            assert_eq!(
                message(connect_json(json!({"hostname": text}))),
                HOSTNAME,
                "{c:?}"
            );
            assert_eq!(
                message(connect_json(json!({"userAgent": text}))),
                USER_AGENT,
                "{c:?}"
            );
        }
        // Escaped in the JSON text or not, it is the same character.
        assert_eq!(message(connect(r#"{"name": "a\u0000b"}"#)), NAME);
        assert_eq!(message(connect("{\"name\": \"a\u{7f}b\"}")), NAME);
        // Next to them, but not control characters: U+0080 to U+009F (C1), U+00A0, U+2028.
        for c in [
            '\u{80}', '\u{9f}', '\u{a0}', '\u{2028}', '\u{202e}', '\u{feff}',
        ] {
            assert!(
                connect_json(json!({"name": format!("a{c}b")})).is_ok(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn wrong_types_name_the_field() {
        for (field, value, expected) in [
            ("name", json!(5), NAME),
            ("name", json!(["a"]), NAME),
            ("name", json!({"a": 1}), NAME),
            ("name", json!(true), NAME),
            ("hostname", json!(1), HOSTNAME),
            ("hostname", json!(false), HOSTNAME),
            ("userAgent", json!({}), USER_AGENT),
            ("clientInfo", json!("claude"), CLIENT_INFO),
            ("clientInfo", json!([]), CLIENT_INFO),
            ("clientInfo", json!(1), CLIENT_INFO),
            ("tokenExpiresAt", json!(1796083200), TOKEN_EXPIRES_AT),
            ("tokenExpiresAt", json!("tomorrow"), TOKEN_EXPIRES_AT),
            ("tokenExpiresAt", json!("2026-12-01"), TOKEN_EXPIRES_AT),
            (
                "tokenExpiresAt",
                json!("2026-13-01T00:00:00Z"),
                TOKEN_EXPIRES_AT,
            ),
        ] {
            assert_eq!(
                message(connect_json(json!({ field: value }))),
                expected,
                "{field}: {value}"
            );
        }
    }

    #[test]
    fn client_info_needs_name_and_version_and_fits_in_4_kib() {
        let check = |info: Value| connect_json(json!({ "clientInfo": info }));
        assert_eq!(message(check(json!({"name": "a"}))), CLIENT_INFO);
        assert_eq!(message(check(json!({"version": "1"}))), CLIENT_INFO);
        assert_eq!(message(check(json!({}))), CLIENT_INFO);
        for bad in [json!(""), json!(1), json!(null), json!("n".repeat(201))] {
            assert_eq!(
                message(check(json!({"name": bad, "version": "1"}))),
                CLIENT_INFO_NAME
            );
        }
        for bad in [json!(""), json!(1.0), json!(["1"]), json!("v".repeat(101))] {
            assert_eq!(
                message(check(json!({"name": "a", "version": bad}))),
                CLIENT_INFO_VERSION
            );
        }
        assert!(check(json!({"name": "n".repeat(200), "version": "v".repeat(100)})).is_ok());
        // 4096 bytes of compact JSON pass, 4097 do not.
        let base = json!({"name": "a", "version": "1", "pad": ""})
            .to_string()
            .len();
        let fits = json!({"name": "a", "version": "1", "pad": "p".repeat(4096 - base)});
        assert_eq!(fits.to_string().len(), 4096);
        assert!(check(fits).is_ok());
        let over = json!({"name": "a", "version": "1", "pad": "p".repeat(4097 - base)});
        assert_eq!(message(check(over)), CLIENT_INFO_SIZE);
    }

    #[test]
    fn token_expiry_must_be_after_now() {
        let at = |t: &str| connect_json(json!({ "tokenExpiresAt": t }));
        assert_eq!(message(at("2026-12-01T10:00:00Z")), TOKEN_EXPIRES_AT);
        assert_eq!(message(at("2026-12-01T09:59:59.999Z")), TOKEN_EXPIRES_AT);
        assert_eq!(message(at("2020-01-01T00:00:00Z")), TOKEN_EXPIRES_AT);
        assert!(at("2026-12-01T10:00:00.001Z").is_ok());
        let beat = |t: &str| {
            HeartbeatBody::parse(
                JSON,
                json!({ "tokenExpiresAt": t }).to_string().as_bytes(),
                now(),
            )
        };
        assert_eq!(message(beat("2026-12-01T10:00:00Z")), TOKEN_EXPIRES_AT);
        assert!(beat("2026-12-01T10:00:01Z").is_ok());
    }

    #[test]
    fn heartbeat_fields() {
        let beat = |body: Value| HeartbeatBody::parse(JSON, body.to_string().as_bytes(), now());
        let parsed = beat(json!({
            "lastActiveAt": "2026-12-01T09:59:00Z",
            "tokenExpiresAt": "2026-12-01T11:00:00Z",
        }))
        .expect("valid");
        assert_eq!(
            parsed.last_active_at.map(|t| time::format(&t)).as_deref(),
            Some("2026-12-01T09:59:00.000Z")
        );
        assert!(parsed.token_expires_at.is_some());
        // A future lastActiveAt is the store's to clamp, not a 400.
        assert!(beat(json!({"lastActiveAt": "2027-01-01T00:00:00Z"})).is_ok());
        for bad in [
            json!(null),
            json!(5),
            json!("now"),
            json!("2026-12-01T09:59:00"),
        ] {
            assert_eq!(
                message(beat(json!({ "lastActiveAt": bad }))),
                LAST_ACTIVE_AT
            );
        }
        assert_eq!(
            message(beat(json!({"name": "x"}))),
            "unknown field name: the accepted fields are lastActiveAt, tokenExpiresAt"
        );
    }

    #[test]
    fn unknown_fields_are_named_when_plain_and_list_what_is_accepted() {
        assert_eq!(
            message(connect_json(json!({"status": "active"}))),
            "unknown field status: the accepted fields are name, hostname, userAgent, \
             clientInfo, tokenExpiresAt"
        );
        // Names are case sensitive.
        assert!(message(connect_json(json!({"Name": "x"}))).starts_with("unknown field Name:"));
        for hostile in ["a b", "<script>", "ünï", "x\u{0}", "", &"a".repeat(65)] {
            let m = message(connect_json(json!({ hostile: 1 })));
            assert!(
                m.starts_with("unknown field: the accepted fields are name,"),
                "{hostile:?}: {m}"
            );
        }
        assert_eq!(
            parse_disconnect(JSON, br#"{"reason": "bye"}"#)
                .expect_err("no fields")
                .to_string(),
            "unknown field reason: this route accepts no fields (no body, or {})"
        );
    }

    #[test]
    fn a_member_given_twice_is_refused_even_deep_inside() {
        assert_eq!(
            message(connect(r#"{"name": "a", "name": "b"}"#)),
            "name must not repeat a member name"
        );
        assert_eq!(
            message(connect(
                r#"{"clientInfo": {"name": "a", "version": "1", "name": "b"}}"#
            )),
            "clientInfo must not repeat a member name"
        );
        assert_eq!(
            message(connect(
                r#"{"clientInfo": {"name": "a", "version": "1", "x": [{"k": 1, "k": 2}]}}"#
            )),
            "clientInfo must not repeat a member name"
        );
        // An unknown member is reported as unknown, whatever it holds.
        assert!(message(connect(r#"{"x": {"k": 1, "k": 2}}"#)).starts_with("unknown field x:"));
    }

    #[test]
    fn the_body_must_be_one_json_object() {
        for body in ["[]", "[{}]", "\"name\"", "5", "null", "true"] {
            assert_eq!(message(connect(body)), NOT_AN_OBJECT, "{body}");
        }
        for body in [
            "{",
            "{\"name\": \"a\"",
            "{} {}",
            "{}x",
            "{'name': 'a'}",
            "{name: \"a\"}",
            "{\"name\": \"a\",}",
            " ",
            "\u{feff}{}",
            "{\"name\": \"\\ud800\"}",
            "{\"a\": NaN}",
        ] {
            assert_eq!(message(connect(body)), NOT_JSON, "{body:?}");
        }
        // Not UTF-8.
        assert_eq!(
            message(ConnectBody::parse(JSON, b"{\"name\": \"\xff\"}", now())),
            NOT_JSON
        );
        // Nested too deep for the parser.
        let deep = format!("{{\"x\": {}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(message(connect(&deep)), NOT_JSON);
    }

    #[test]
    fn content_type_must_be_json_when_there_is_a_body() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
            "application/json ; foo=bar",
            "application/json;",
        ] {
            assert!(is_json(Some(ok.as_bytes())), "{ok}");
            assert!(
                ConnectBody::parse(Some(ok.as_bytes()), b"{}", now()).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            None,
            Some(&b""[..]),
            Some(b"text/plain"),
            Some(b"application/x-www-form-urlencoded"),
            Some(b"application/jsonp"),
            Some(b"application/merge-patch+json"),
            Some(b"application/json, text/plain"),
            Some(b"application/json; charset=latin1"),
            Some(b"application/json; garbage"),
            Some(b"application/json\xff"),
        ] {
            assert!(!is_json(bad), "{bad:?}");
            for result in [
                ConnectBody::parse(bad, b"{}", now()).map(|_| ()),
                HeartbeatBody::parse(bad, b"{}", now()).map(|_| ()),
                parse_disconnect(bad, b"{}"),
            ] {
                let err = result.expect_err("415");
                assert_eq!(
                    (err.status_code(), err.code()),
                    (415, "unsupported_media_type")
                );
            }
        }
    }

    #[test]
    fn the_body_is_at_most_16_kib() {
        // Exactly 16384 bytes: a valid object padded with whitespace.
        let mut body = b"{}".to_vec();
        body.resize(MAX_BODY_BYTES, b' ');
        assert!(ConnectBody::parse(JSON, &body, now()).is_ok());
        body.push(b' ');
        for result in [
            ConnectBody::parse(JSON, &body, now()).map(|_| ()),
            HeartbeatBody::parse(JSON, &body, now()).map(|_| ()),
            parse_disconnect(JSON, &body),
        ] {
            let err = result.expect_err("413");
            assert_eq!((err.status_code(), err.code()), (413, "payload_too_large"));
            assert_eq!(
                err.to_string(),
                "the request body must be at most 16384 bytes"
            );
        }
        // 415 is decided first: a large body of another type is 415.
        let err = ConnectBody::parse(Some(b"text/plain"), &body, now()).expect_err("415");
        assert_eq!(err.status_code(), 415);
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert_eq!(idempotency_key(None), Ok(None));
        for ok in [
            "k",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "!~",
            &"k".repeat(255),
        ] {
            assert_eq!(
                idempotency_key(Some(ok.as_bytes())),
                Ok(Some(ok.to_string()))
            );
        }
        for bad in [
            &b""[..],
            b"a b",
            b" a",
            b"a\t",
            b"a\x7f",
            b"a\x00",
            "é".as_bytes(),
            &[b'k'; 256][..],
        ] {
            assert_eq!(
                idempotency_key(Some(bad)),
                Err(ApiError::invalid(IDEMPOTENCY_KEY)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_fingerprint_is_the_sha256_of_the_bytes_as_received() {
        // SHA-256 of the empty string and of "abc" (FIPS 180-2's test vector).
        let hex = |b: [u8; 32]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(fingerprint(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(fingerprint(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // The same object spelled differently is another body.
        assert_ne!(fingerprint(b"{}"), fingerprint(b"{ }"));
    }
}
