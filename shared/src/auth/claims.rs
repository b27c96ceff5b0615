//! Claims to a [`Caller`]: the organization from the configured claim, scopes from `scope` or
//! `scp`, in the two renderings a verified token arrives in (API Gateway's strings, or a
//! development token's JSON).

use std::collections::{BTreeSet, HashMap};

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use uuid::Uuid;

use super::Caller;
use crate::error::ApiError;

/// The claims API Gateway's JWT authorizer verified, if it ran.
pub(super) fn from_authorizer(req: &Request) -> Option<&HashMap<String, String>> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx
            .authorizer
            .as_ref()?
            .jwt
            .as_ref()
            .map(|jwt| &jwt.claims)
            .filter(|claims| !claims.is_empty()),
        _ => None,
    }
}

fn organization(value: Option<&str>) -> Result<Uuid, ApiError> {
    value
        .and_then(|v| Uuid::try_parse(v).ok())
        .ok_or_else(|| ApiError::Unauthorized("token carries no valid organization".into()))
}

/// API Gateway renders every claim as a string; a list claim arrives as `[a b]`.
pub(super) fn caller_from_gateway_claims(
    claims: &HashMap<String, String>,
    org_claim: &str,
) -> Result<Caller, ApiError> {
    let organization_id = organization(claims.get(org_claim).map(String::as_str))?;
    let scopes = ["scope", "scp"]
        .iter()
        .filter_map(|name| claims.get(*name))
        .flat_map(|v| split_scopes(unbracket(v)))
        .collect();
    Ok(Caller {
        organization_id,
        subject: claims.get("sub").cloned(),
        scopes,
    })
}

pub(super) fn caller_from_json_claims(
    claims: &serde_json::Map<String, serde_json::Value>,
    org_claim: &str,
) -> Result<Caller, ApiError> {
    let organization_id = organization(claims.get(org_claim).and_then(|v| v.as_str()))?;
    let mut scopes = BTreeSet::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(serde_json::Value::String(s)) => scopes.extend(split_scopes(s)),
            Some(serde_json::Value::Array(items)) => scopes.extend(
                items
                    .iter()
                    .filter_map(|i| i.as_str())
                    .flat_map(split_scopes),
            ),
            _ => {}
        }
    }
    Ok(Caller {
        organization_id,
        subject: claims.get("sub").and_then(|v| v.as_str()).map(String::from),
        scopes,
    })
}

/// Scopes are space separated (RFC 6749, section 3.3). Nothing else separates them: a comma is
/// part of a scope name, so `sessions:read,x` is one scope that grants nothing here.
fn split_scopes(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split_whitespace().map(String::from)
}

/// `[a b]`, API Gateway's rendering of a list claim, without its one pair of brackets.
fn unbracket(value: &str) -> &str {
    value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Scope, MANAGEMENT_ALL};

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const ORG: &str = "0b7e0d4e-5d6f-4f7a-9a53-1d2b3c4d5e6f";

    #[test]
    fn gateway_claims_give_org_and_scopes() {
        let c = caller_from_gateway_claims(
            &claims(&[("org_id", ORG), ("scope", "sessions:read sessions:write")]),
            "org_id",
        )
        .expect("valid");
        assert_eq!(c.organization_id.to_string(), ORG);
        assert!(c.require(Scope::SessionsRead).is_ok());
        assert!(c.require(Scope::SessionsWrite).is_ok());
    }

    #[test]
    fn gateway_list_claims_are_unbracketed() {
        let c = caller_from_gateway_claims(
            &claims(&[("org_id", ORG), ("scp", "[sessions:read management:all]")]),
            "org_id",
        )
        .expect("valid");
        assert!(c.scopes.contains("sessions:read"));
        assert!(c.scopes.contains(MANAGEMENT_ALL));
    }

    #[test]
    fn management_all_grants_both() {
        let c = caller_from_gateway_claims(
            &claims(&[("org_id", ORG), ("scope", "management:all")]),
            "org_id",
        )
        .expect("valid");
        assert!(c.require(Scope::SessionsRead).is_ok());
        assert!(c.require(Scope::SessionsWrite).is_ok());
    }

    #[test]
    fn missing_scope_is_forbidden() {
        let c = caller_from_gateway_claims(
            &claims(&[("org_id", ORG), ("scope", "sessions:read")]),
            "org_id",
        )
        .expect("valid");
        let err = c.require(Scope::SessionsWrite).expect_err("no write");
        assert_eq!(err.status_code(), 403);
        assert_eq!(err.to_string(), "token lacks the sessions:write scope");
    }

    #[test]
    fn organization_claim_is_configurable_and_required() {
        let c = claims(&[("tenant", ORG), ("scope", "sessions:read")]);
        assert!(caller_from_gateway_claims(&c, "org_id").is_err());
        assert!(caller_from_gateway_claims(&c, "tenant").is_ok());
        let bad = claims(&[("org_id", "not-a-uuid")]);
        assert_eq!(
            caller_from_gateway_claims(&bad, "org_id")
                .expect_err("bad org")
                .status_code(),
            401
        );
    }

    #[test]
    fn json_scopes_as_string_or_list() {
        let mut m = serde_json::Map::new();
        m.insert("org_id".into(), ORG.into());
        m.insert("scp".into(), serde_json::json!(["sessions:read"]));
        let c = caller_from_json_claims(&m, "org_id").expect("valid");
        assert!(c.require(Scope::SessionsRead).is_ok());
        assert!(c.require(Scope::SessionsWrite).is_err());
    }

    #[test]
    fn commas_do_not_separate_scopes_and_one_bracket_pair_is_removed() {
        for (value, reads) in [
            ("sessions:read,sessions:write", false),
            ("[sessions:read]", true),
            ("[[sessions:read]]", false),
            ("[sessions:read", false),
            ("sessions:read\tmanagement:none", true),
        ] {
            let c =
                caller_from_gateway_claims(&claims(&[("org_id", ORG), ("scp", value)]), "org_id")
                    .expect("valid");
            assert_eq!(c.require(Scope::SessionsRead).is_ok(), reads, "{value}");
        }
    }
}
