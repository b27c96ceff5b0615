//! Property-based tests of the two parsers that take raw client input before anything else:
//! the list's query parameters and the pagination cursor. Whatever they are given, they do not
//! panic, and every refusal is a 400 in the contract's shape that names what was wrong.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;
use sessions::cursor::{CursorBinding, CursorCodec, Position, CURSOR_TTL};
use sessions::error::ApiError;
use sessions::params::{ListFilter, ListParams, MAX_CURSOR_LEN, MAX_LIMIT};
use sessions::time::Timestamp;
use uuid::Uuid;

const KNOWN: [&str; 4] = ["limit", "status", "includeInactive", "cursor"];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KNOWN.to_vec()).prop_map(String::from),
        1 => ".{0,16}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,24}",
        "[0-9]{0,5}",
        "[-+ ]?[0-9]{1,3}",
        proptest::sample::select(vec!["active", "inactive", "all", "true", "false", "ACTIVE"])
            .prop_map(String::from),
        "[A-Za-z0-9_-]{60,70}",
        Just("A".repeat(MAX_CURSOR_LEN)),
        Just("A".repeat(MAX_CURSOR_LEN + 1)),
    ]
}

fn parse(pairs: &[(String, String)]) -> Result<ListParams, ApiError> {
    ListParams::parse(|name| {
        let values: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then_some(values)
    })
}

/// The error is a 400 in the contract's shape whose message names a known parameter.
fn assert_named_400(err: &ApiError) -> Result<(), TestCaseError> {
    prop_assert_eq!(err.status_code(), 400);
    prop_assert_eq!(err.code(), "invalid_request");
    let message = err.to_string();
    prop_assert!(
        KNOWN.iter().any(|k| message.starts_with(k)) || message == "invalid cursor",
        "{}",
        message
    );
    let body = serde_json::to_value(err.body("req")).expect("json");
    prop_assert_eq!(
        body,
        serde_json::json!({"message": message, "statusCode": 400,
            "code": "invalid_request", "requestId": "req"})
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn list_params_accept_exactly_the_contract_or_name_the_culprit(
        pairs in proptest::collection::vec((name(), value()), 0..8)
    ) {
        let given = |n: &str| pairs.iter().filter(|(k, _)| k == n).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        match parse(&pairs) {
            Ok(p) => {
                prop_assert!((1..=MAX_LIMIT).contains(&p.limit));
                // What was accepted is what was given, or the default.
                match given("limit").as_slice() {
                    [] => prop_assert_eq!(p.limit, 100),
                    [one] => prop_assert_eq!(one.parse::<u32>().ok(), Some(p.limit)),
                    _ => prop_assert!(false, "a repeated limit was accepted"),
                }
                match given("cursor").as_slice() {
                    [] => prop_assert_eq!(p.cursor, None),
                    [one] => {
                        prop_assert_eq!(p.cursor.as_deref(), Some(*one));
                        prop_assert!(!one.is_empty() && one.len() <= MAX_CURSOR_LEN);
                    }
                    _ => prop_assert!(false, "a repeated cursor was accepted"),
                }
                let expected = match (given("status").as_slice(), given("includeInactive").as_slice()) {
                    (["active"], _) => ListFilter::Active,
                    (["inactive"], _) => ListFilter::Inactive,
                    (["all"], _) => ListFilter::All,
                    ([], ["true"]) => ListFilter::All,
                    ([], [] | ["false"]) => ListFilter::Active,
                    other => return Err(TestCaseError::fail(format!("accepted {other:?}"))),
                };
                prop_assert_eq!(p.filter, expected);
            }
            Err(err) => assert_named_400(&err)?,
        }
    }

    #[test]
    fn every_valid_combination_is_accepted(
        limit in proptest::option::of(1u32..=MAX_LIMIT),
        status in proptest::option::of(proptest::sample::select(vec!["active", "inactive", "all"])),
        include in proptest::option::of(proptest::sample::select(vec!["true", "false"])),
        cursor in proptest::option::of("[A-Za-z0-9_-]{1,512}"),
        noise in proptest::collection::vec((".{0,8}", ".{0,8}"), 0..4),
    ) {
        let mut pairs: Vec<(String, String)> = noise
            .into_iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .collect();
        pairs.extend(limit.map(|l| ("limit".to_string(), l.to_string())));
        pairs.extend(status.map(|s| ("status".to_string(), s.to_string())));
        pairs.extend(include.map(|i| ("includeInactive".to_string(), i.to_string())));
        pairs.extend(cursor.clone().map(|c| ("cursor".to_string(), c)));
        let p = parse(&pairs).map_err(|e| TestCaseError::fail(format!("{e} for {pairs:?}")))?;
        prop_assert_eq!(p.limit, limit.unwrap_or(100));
        prop_assert_eq!(p.cursor, cursor);
    }

    #[test]
    fn any_string_decodes_to_invalid_cursor_and_nothing_else(cursor in ".{0,100}|[A-Za-z0-9_-]{0,80}") {
        let codec = CursorCodec::new(vec![b"k".repeat(32)]);
        let binding = binding(Uuid::from_u128(1), Uuid::from_u128(2), ListFilter::All);
        if let Err(err) = codec.decode(&cursor, &binding, now()) {
            prop_assert_eq!(&err, &ApiError::invalid("invalid cursor"));
            assert_named_400(&err)?;
        } else {
            prop_assert!(false, "forged a cursor: {}", cursor);
        }
    }

    #[test]
    fn random_bytes_of_the_right_length_never_pass_the_mac(bytes in proptest::collection::vec(any::<u8>(), 49)) {
        let codec = CursorCodec::new(vec![b"k".repeat(32)]);
        let binding = binding(Uuid::from_u128(1), Uuid::from_u128(2), ListFilter::All);
        let cursor = URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert_eq!(codec.decode(&cursor, &binding, now()), Err(ApiError::invalid("invalid cursor")));
    }

    #[test]
    fn a_cursor_opens_exactly_its_own_binding(
        created_at_ms in 0i64..4_102_444_800_000,
        id in any::<u128>(),
        org in any::<u128>(),
        app in any::<u128>(),
        other in any::<u128>(),
        filter in 0usize..3,
        flip in 0usize..49,
        bit in 0u8..8,
    ) {
        let filters = [ListFilter::Active, ListFilter::Inactive, ListFilter::All];
        let codec = CursorCodec::new(vec![b"k".repeat(32)]);
        let mine = binding(Uuid::from_u128(org), Uuid::from_u128(app), filters[filter]);
        let position = Position { created_at_ms, id: Uuid::from_u128(id) };
        let cursor = codec.encode(&mine, position, now());
        prop_assert!(cursor.len() <= MAX_CURSOR_LEN);
        prop_assert_eq!(codec.decode(&cursor, &mine, now()), Ok(position));
        // Not after its expiry.
        let later = now() + CURSOR_TTL + Duration::seconds(1);
        prop_assert!(codec.decode(&cursor, &mine, later).is_err());
        // Not for anyone or anything else.
        prop_assume!(org != app && other != org && other != app);
        let others = [
            binding(Uuid::from_u128(other), mine.application_id, mine.filter),
            binding(mine.organization_id, Uuid::from_u128(other), mine.filter),
            binding(mine.organization_id, mine.application_id, filters[(filter + 1) % 3]),
            // Organization and application swapped.
            binding(mine.application_id, mine.organization_id, mine.filter),
        ];
        for b in others {
            prop_assert!(codec.decode(&cursor, &b, now()).is_err());
        }
        // Not with any bit changed.
        let mut raw = URL_SAFE_NO_PAD.decode(&cursor).expect("base64");
        raw[flip] ^= 1 << bit;
        let altered = URL_SAFE_NO_PAD.encode(raw);
        prop_assert_eq!(codec.decode(&altered, &mine, now()), Err(ApiError::invalid("invalid cursor")));
        // Not under another key.
        let other_key = CursorCodec::new(vec![b"j".repeat(32)]);
        prop_assert!(other_key.decode(&cursor, &mine, now()).is_err());
    }
}

fn binding(org: Uuid, app: Uuid, filter: ListFilter) -> CursorBinding {
    CursorBinding {
        organization_id: org,
        application_id: app,
        filter,
    }
}

fn now() -> Timestamp {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .expect("a valid date")
}
