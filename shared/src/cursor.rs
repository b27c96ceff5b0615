//! Pagination cursors: opaque, tamper-evident, and bound to who asked for what.
//!
//! A cursor carries only the position of the last session on a page and an expiry. Its MAC
//! (HMAC-SHA256, truncated to 128 bits) also covers the caller's organization, the application
//! and the filter, which are *not* in the cursor: a cursor altered, replayed against another
//! application or filter, or presented by another organization fails the MAC and is refused
//! without touching the table. Nothing about the tenant can be read out of it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

use crate::error::ApiError;
use crate::params::ListFilter;
use crate::time::Timestamp;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"sessions-api/cursor/v1";
const PAYLOAD_LEN: usize = 1 + 8 + 16 + 8;
const TAG_LEN: usize = 16;
/// How long a cursor stays valid: long enough to page through anything, short enough to bound replay.
pub const CURSOR_TTL: Duration = Duration::hours(24);

pub use crate::model::Position;

/// What a cursor is bound to. None of it is stored in the cursor; all of it is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorBinding {
    pub organization_id: Uuid,
    pub application_id: Uuid,
    pub filter: ListFilter,
}

/// Signs with the first key and accepts any of them, so keys can be rotated without
/// breaking cursors in flight.
#[derive(Clone)]
pub struct CursorCodec {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for CursorCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorCodec")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl CursorCodec {
    /// `keys[0]` signs; every key verifies. Callers check key length at configuration time.
    pub fn new(keys: Vec<Vec<u8>>) -> Self {
        CursorCodec { keys }
    }

    pub fn encode(&self, binding: &CursorBinding, position: Position, now: Timestamp) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = VERSION;
        payload[1..9].copy_from_slice(&position.created_at_ms.to_be_bytes());
        payload[9..25].copy_from_slice(position.id.as_bytes());
        let expires = (now + CURSOR_TTL).timestamp();
        payload[25..33].copy_from_slice(&expires.to_be_bytes());

        let key = self.keys.first().map(Vec::as_slice).unwrap_or_default();
        let tag = mac(key, &payload, binding).finalize().into_bytes();
        let mut out = Vec::with_capacity(PAYLOAD_LEN + TAG_LEN);
        out.extend_from_slice(&payload);
        out.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Every failure is the same `400 invalid cursor`: the caller learns nothing about why.
    pub fn decode(
        &self,
        cursor: &str,
        binding: &CursorBinding,
        now: Timestamp,
    ) -> Result<Position, ApiError> {
        let invalid = || ApiError::invalid("invalid cursor");
        let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        if raw.len() != PAYLOAD_LEN + TAG_LEN {
            return Err(invalid());
        }
        let (payload, tag) = raw.split_at(PAYLOAD_LEN);
        let authentic = self.keys.iter().any(|key| {
            mac(key, payload, binding)
                .verify_truncated_left(tag)
                .is_ok()
        });
        if !authentic || payload[0] != VERSION {
            return Err(invalid());
        }
        let int = |range: std::ops::Range<usize>| {
            payload
                .get(range)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(i64::from_be_bytes)
        };
        let created_at_ms = int(1..9).ok_or_else(invalid)?;
        let expires = int(25..33).ok_or_else(invalid)?;
        let id = Uuid::from_slice(&payload[9..25]).map_err(|_| invalid())?;
        if expires < now.timestamp() {
            return Err(invalid());
        }
        Ok(Position { created_at_ms, id })
    }
}

fn mac(key: &[u8], payload: &[u8], binding: &CursorBinding) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail; an empty key only happens in a
    // misconfiguration that configuration loading already refuses.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(DOMAIN);
    mac.update(payload);
    mac.update(binding.organization_id.as_bytes());
    mac.update(binding.application_id.as_bytes());
    mac.update(&[binding.filter.tag()]);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;

    fn codec() -> CursorCodec {
        CursorCodec::new(vec![b"k".repeat(32)])
    }

    fn binding() -> CursorBinding {
        CursorBinding {
            organization_id: Uuid::from_u128(1),
            application_id: Uuid::from_u128(2),
            filter: ListFilter::All,
        }
    }

    fn now() -> Timestamp {
        time::parse("2026-12-01T00:00:00Z").expect("valid")
    }

    fn position() -> Position {
        Position {
            created_at_ms: 1_764_547_200_123,
            id: Uuid::from_u128(42),
        }
    }

    #[test]
    fn round_trips() {
        let c = codec().encode(&binding(), position(), now());
        assert_eq!(codec().decode(&c, &binding(), now()), Ok(position()));
        assert!(c.len() < 100, "cursor is compact: {}", c.len());
    }

    #[test]
    fn is_opaque() {
        // Two cursors to the same position for different organizations, applications and
        // filters: the bytes before the MAC are the same, so nothing of the binding is in them,
        // in any encoding; the binding changes only the MAC.
        let mine = CursorBinding {
            organization_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            application_id: Uuid::from_u128(0xfedc_ba98_7654_3210_fedc_ba98_7654_3210),
            filter: ListFilter::All,
        };
        let theirs = CursorBinding {
            organization_id: Uuid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888),
            application_id: Uuid::from_u128(0x9999_aaaa_bbbb_cccc_dddd_eeee_ffff_0000),
            filter: ListFilter::Active,
        };
        let raw = |b: &CursorBinding| {
            let c = codec().encode(b, position(), now());
            URL_SAFE_NO_PAD.decode(&c).expect("base64")
        };
        let (a, b) = (raw(&mine), raw(&theirs));
        assert_eq!(a.len(), PAYLOAD_LEN + TAG_LEN, "no room for anything else");
        assert_eq!(
            a[..PAYLOAD_LEN],
            b[..PAYLOAD_LEN],
            "the payload ignores the binding"
        );
        assert_ne!(a[PAYLOAD_LEN..], b[PAYLOAD_LEN..], "the MAC covers it");
    }

    #[test]
    fn refuses_other_application_filter_or_organization() {
        let c = codec().encode(&binding(), position(), now());
        let mut other = binding();
        other.application_id = Uuid::from_u128(3);
        assert!(codec().decode(&c, &other, now()).is_err());
        let mut other = binding();
        other.filter = ListFilter::Active;
        assert!(codec().decode(&c, &other, now()).is_err());
        let mut other = binding();
        other.organization_id = Uuid::from_u128(9);
        assert!(codec().decode(&c, &other, now()).is_err());
    }

    #[test]
    fn refuses_any_altered_byte() {
        let c = codec().encode(&binding(), position(), now());
        let raw = URL_SAFE_NO_PAD.decode(&c).expect("base64");
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            let bad = URL_SAFE_NO_PAD.encode(bad);
            assert_eq!(
                codec().decode(&bad, &binding(), now()),
                Err(ApiError::invalid("invalid cursor")),
                "byte {i}"
            );
        }
    }

    #[test]
    fn refuses_garbage_and_expired() {
        for bad in ["", "!!!", "AAAA", &"A".repeat(66)] {
            assert!(codec().decode(bad, &binding(), now()).is_err(), "{bad}");
        }
        let c = codec().encode(&binding(), position(), now());
        let later = now() + CURSOR_TTL + Duration::seconds(1);
        assert!(codec().decode(&c, &binding(), later).is_err());
    }

    #[test]
    fn rotation_accepts_the_previous_key() {
        let old = CursorCodec::new(vec![b"o".repeat(32)]);
        let c = old.encode(&binding(), position(), now());
        let rotated = CursorCodec::new(vec![b"n".repeat(32), b"o".repeat(32)]);
        assert_eq!(rotated.decode(&c, &binding(), now()), Ok(position()));
        assert!(codec().decode(&c, &binding(), now()).is_err());
    }
}
