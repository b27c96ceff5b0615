//! Timestamps: one wire format everywhere, RFC 3339 in UTC with milliseconds and `Z`
//! (what JavaScript's `toISOString` prints), both in API responses and in table items.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// A point in time, always at millisecond precision so that what is stored is what is served.
pub type Timestamp = DateTime<Utc>;

/// Truncates to whole milliseconds: the precision of the wire format.
pub fn to_millis_precision(t: Timestamp) -> Timestamp {
    Utc.timestamp_millis_opt(t.timestamp_millis())
        .single()
        .unwrap_or(t)
}

/// The current time at the wire format's precision; one call per request gives that request's `now`.
pub fn now() -> Timestamp {
    to_millis_precision(Utc::now())
}

/// `2026-11-30T23:36:03.123Z`.
pub fn format(t: &Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Accepts any RFC 3339 timestamp (any offset, any fraction) and normalises it to UTC milliseconds.
pub fn parse(s: &str) -> Result<Timestamp, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| to_millis_precision(t.with_timezone(&Utc)))
}

/// Serde adapter for a required timestamp in the wire format.
pub mod serde_ts {
    use super::Timestamp;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s).map_err(D::Error::custom)
    }
}

/// Serde adapter for an optional timestamp; pair it with `skip_serializing_if = "Option::is_none"`.
pub mod serde_opt_ts {
    use super::Timestamp;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format(t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| super::parse(&s).map_err(D::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_z() {
        let t = parse("2026-11-30T23:36:03.123456+00:00").expect("valid");
        assert_eq!(format(&t), "2026-11-30T23:36:03.123Z");
    }

    #[test]
    fn whole_seconds_still_carry_milliseconds() {
        let t = parse("2026-11-30T23:36:03Z").expect("valid");
        assert_eq!(format(&t), "2026-11-30T23:36:03.000Z");
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let t = parse("2026-12-01T01:36:03.5+02:00").expect("valid");
        assert_eq!(format(&t), "2026-11-30T23:36:03.500Z");
    }

    #[test]
    fn garbage_is_refused() {
        assert!(parse("yesterday").is_err());
        assert!(parse("2026-13-01T00:00:00Z").is_err());
    }
}
