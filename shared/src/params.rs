//! Query parameters of the list endpoint: their validation, defaults and precedence.

use crate::error::ApiError;
use crate::model::DerivedStatus;

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 200;
/// Cursors we issue are far shorter; anything longer is refused before it is decoded.
pub const MAX_CURSOR_LEN: usize = 512;

/// Which sessions a list returns, after `status` / `includeInactive` precedence is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    /// derivedStatus `active` or `idle`.
    Active,
    /// derivedStatus `expired` or `disconnected`.
    Inactive,
    All,
}

impl ListFilter {
    pub fn matches(self, status: DerivedStatus) -> bool {
        match self {
            ListFilter::Active => status.is_connected(),
            ListFilter::Inactive => !status.is_connected(),
            ListFilter::All => true,
        }
    }

    /// A stable tag, bound into cursors so that one cannot be replayed under another filter.
    pub fn tag(self) -> u8 {
        match self {
            ListFilter::Active => 1,
            ListFilter::Inactive => 2,
            ListFilter::All => 3,
        }
    }
}

/// A validated list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub limit: u32,
    pub filter: ListFilter,
    /// Still opaque here: the cursor codec checks it against the caller and the filter.
    pub cursor: Option<String>,
}

impl ListParams {
    /// Parses the query. `lookup(name)` returns every value given for `name`, in order.
    /// Unknown parameters are ignored; a known one given twice or with a bad value is a 400.
    pub fn parse<'a>(lookup: impl Fn(&str) -> Option<Vec<&'a str>>) -> Result<Self, ApiError> {
        let single = |name: &str| -> Result<Option<&'a str>, ApiError> {
            match lookup(name).as_deref() {
                None | Some([]) => Ok(None),
                Some([one]) => Ok(Some(*one)),
                Some(_) => Err(ApiError::invalid(format!(
                    "{name} must be given at most once"
                ))),
            }
        };

        let limit = match single("limit")? {
            None => DEFAULT_LIMIT,
            Some(raw) => parse_limit(raw)?,
        };
        let status = match single("status")? {
            None => None,
            Some("active") => Some(ListFilter::Active),
            Some("inactive") => Some(ListFilter::Inactive),
            Some("all") => Some(ListFilter::All),
            Some(_) => {
                return Err(ApiError::invalid(
                    "status must be one of active, inactive, all",
                ))
            }
        };
        let include_inactive = match single("includeInactive")? {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(ApiError::invalid("includeInactive must be true or false")),
        };
        let cursor = match single("cursor")? {
            None => None,
            Some(c) if c.is_empty() || c.len() > MAX_CURSOR_LEN => {
                return Err(ApiError::invalid("invalid cursor"))
            }
            Some(c) => Some(c.to_string()),
        };

        let filter = status.unwrap_or(if include_inactive {
            ListFilter::All
        } else {
            ListFilter::Active
        });
        Ok(ListParams {
            limit,
            filter,
            cursor,
        })
    }
}

fn parse_limit(raw: &str) -> Result<u32, ApiError> {
    let bad = || ApiError::invalid(format!("limit must be an integer from 1 to {MAX_LIMIT}"));
    if raw.is_empty() || raw.len() > 3 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&'static str, &'static str)]) -> Result<ListParams, ApiError> {
        ListParams::parse(|name| {
            let values: Vec<&str> = pairs
                .iter()
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| *v)
                .collect();
            (!values.is_empty()).then_some(values)
        })
    }

    #[test]
    fn defaults() {
        let p = parse(&[]).expect("valid");
        assert_eq!(p.limit, 100);
        assert_eq!(p.filter, ListFilter::Active);
        assert_eq!(p.cursor, None);
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(parse(&[("limit", "1")]).expect("valid").limit, 1);
        assert_eq!(parse(&[("limit", "200")]).expect("valid").limit, 200);
        for bad in [
            "0",
            "201",
            "-1",
            "1.5",
            "abc",
            "",
            " 5",
            "+5",
            "1e2",
            "99999999999",
        ] {
            let err = parse(&[("limit", bad)]).expect_err(bad);
            assert_eq!(
                err,
                ApiError::invalid("limit must be an integer from 1 to 200"),
                "{bad}"
            );
        }
    }

    #[test]
    fn status_wins_over_include_inactive() {
        let p = parse(&[("status", "active"), ("includeInactive", "true")]).expect("valid");
        assert_eq!(p.filter, ListFilter::Active);
        let p = parse(&[("status", "inactive"), ("includeInactive", "false")]).expect("valid");
        assert_eq!(p.filter, ListFilter::Inactive);
        let p = parse(&[("status", "all")]).expect("valid");
        assert_eq!(p.filter, ListFilter::All);
    }

    #[test]
    fn include_inactive_alone() {
        assert_eq!(
            parse(&[("includeInactive", "true")]).expect("valid").filter,
            ListFilter::All
        );
        assert_eq!(
            parse(&[("includeInactive", "false")])
                .expect("valid")
                .filter,
            ListFilter::Active
        );
    }

    #[test]
    fn bad_values_name_the_parameter_and_the_accepted_values() {
        let err = parse(&[("status", "ACTIVE")]).expect_err("case matters");
        assert_eq!(
            err.to_string(),
            "status must be one of active, inactive, all"
        );
        let err = parse(&[("includeInactive", "yes")]).expect_err("not a boolean");
        assert_eq!(err.to_string(), "includeInactive must be true or false");
    }

    #[test]
    fn repeated_known_parameters_are_refused() {
        let err = parse(&[("limit", "5"), ("limit", "6")]).expect_err("twice");
        assert_eq!(err.to_string(), "limit must be given at most once");
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        assert!(parse(&[("foo", "bar"), ("limit", "5")]).is_ok());
    }

    #[test]
    fn oversized_or_empty_cursor_is_invalid() {
        let long: &'static str = Box::leak("a".repeat(MAX_CURSOR_LEN + 1).into_boxed_str());
        assert_eq!(
            parse(&[("cursor", long)]).expect_err("too long"),
            ApiError::invalid("invalid cursor")
        );
        assert_eq!(
            parse(&[("cursor", "")]).expect_err("empty"),
            ApiError::invalid("invalid cursor")
        );
    }

    #[test]
    fn filter_membership() {
        use DerivedStatus::*;
        assert!(ListFilter::Active.matches(Active) && ListFilter::Active.matches(Idle));
        assert!(!ListFilter::Active.matches(Expired) && !ListFilter::Active.matches(Disconnected));
        assert!(
            ListFilter::Inactive.matches(Expired) && ListFilter::Inactive.matches(Disconnected)
        );
        assert!(!ListFilter::Inactive.matches(Active) && !ListFilter::Inactive.matches(Idle));
        for s in [Active, Idle, Expired, Disconnected] {
            assert!(ListFilter::All.matches(s));
        }
    }
}
