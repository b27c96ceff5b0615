//! Who is calling: the caller's organization and scopes, from a verified token.
//!
//! In AWS, API Gateway's JWT authorizer verifies the token and hands its claims to the function
//! in the request context ([`claims`] reads them). Locally (`cargo lambda watch` has no
//! authorizer) the function verifies an HS256 development token itself ([`dev`], on the
//! HS256-only crypto provider in [`hs256`]); that verifier exists only when
//! `SESSIONS_DEV_JWT_SECRET` is set, which the SAM template never does.

mod claims;
pub mod dev;
mod hs256;

use std::collections::BTreeSet;

use lambda_http::{http, Request};
use uuid::Uuid;

use crate::config::DevJwtConfig;
use crate::error::ApiError;

/// The scope Kontext service-account tokens carry; it grants every management route (the
/// reads and the revocations), never the connection side.
pub const MANAGEMENT_ALL: &str = "management:all";
/// Longer bearer tokens are refused before they are parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// List and get.
    SessionsRead,
    /// Revoke all, revoke one.
    SessionsWrite,
    /// The connection side (connect, heartbeat, disconnect): the service token of the component
    /// that holds the MCP connections. Granted by itself only.
    SessionsConnect,
    /// The Shared Signals stream management: a receiver's token. Granted by itself only.
    SsfManage,
    /// No token at all: the transmitter's discovery document and keys.
    Public,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SessionsRead => "sessions:read",
            Scope::SessionsWrite => "sessions:write",
            Scope::SessionsConnect => "sessions:connect",
            Scope::SsfManage => crate::ssf::MANAGE_SCOPE,
            Scope::Public => "",
        }
    }

    /// The token scopes any one of which satisfies this scope: itself, and `management:all`
    /// for the management scopes. The authorizer's `AuthorizationScopes` of a route are these.
    pub fn accepted(self) -> &'static [&'static str] {
        match self {
            Scope::SessionsRead => &["sessions:read", MANAGEMENT_ALL],
            Scope::SessionsWrite => &["sessions:write", MANAGEMENT_ALL],
            Scope::SessionsConnect => &["sessions:connect"],
            Scope::SsfManage => &[crate::ssf::MANAGE_SCOPE],
            Scope::Public => &[],
        }
    }
}

/// A verified caller. Every key the store reads or writes is derived from `organization_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub organization_id: Uuid,
    pub subject: Option<String>,
    pub scopes: BTreeSet<String>,
}

impl Caller {
    /// 403 unless the caller holds one of the scopes that satisfy `scope` ([`Scope::accepted`]):
    /// `management:all` grants reads and revocations, never `sessions:connect`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if scope == Scope::Public || scope.accepted().iter().any(|s| self.scopes.contains(*s)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "token lacks the {} scope",
                scope.as_str()
            )))
        }
    }
}

/// Turns a request into a [`Caller`], or a 401.
#[derive(Debug, Clone)]
pub enum Authenticator {
    /// Trust the claims API Gateway's JWT authorizer put in the request context.
    Gateway { org_claim: String },
    /// Verify an HS256 bearer token in the function (local runs only).
    DevHs256(dev::Verifier),
}

impl Authenticator {
    pub fn gateway(org_claim: impl Into<String>) -> Self {
        Authenticator::Gateway {
            org_claim: org_claim.into(),
        }
    }

    /// The algorithm is pinned to HS256: a token that says `none` or `RS256` is refused.
    pub fn dev_hs256(
        config: &DevJwtConfig,
        org_claim: impl Into<String>,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        Ok(Authenticator::DevHs256(dev::Verifier::new(
            config, org_claim,
        )?))
    }

    pub fn authenticate(&self, req: &Request) -> Result<Caller, ApiError> {
        match self {
            Authenticator::Gateway { org_claim } => {
                let claims = claims::from_authorizer(req).ok_or_else(|| {
                    if req.headers().contains_key(http::header::AUTHORIZATION) {
                        ApiError::Unauthorized("missing or invalid bearer token".into())
                    } else {
                        ApiError::MissingCredentials
                    }
                })?;
                claims::caller_from_gateway_claims(claims, org_claim)
            }
            Authenticator::DevHs256(verifier) => verifier.verify(bearer_token(req)?),
        }
    }
}

/// The token of an `Authorization: Bearer …` header, refused when absent, malformed or too long.
fn bearer_token(req: &Request) -> Result<&str, ApiError> {
    let missing = || ApiError::Unauthorized("missing or invalid bearer token".into());
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .ok_or(ApiError::MissingCredentials)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(missing());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(scopes: &[&str]) -> Caller {
        Caller {
            organization_id: Uuid::nil(),
            subject: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    const ALL: [Scope; 4] = [
        Scope::SessionsRead,
        Scope::SessionsWrite,
        Scope::SessionsConnect,
        Scope::SsfManage,
    ];

    #[test]
    fn each_scope_grants_itself_only() {
        for held in ALL {
            let c = caller(&[held.as_str()]);
            for needed in ALL {
                assert_eq!(
                    c.require(needed).is_ok(),
                    held == needed,
                    "{held:?} for {needed:?}"
                );
            }
        }
    }

    #[test]
    fn management_all_grants_the_management_scopes_but_not_connect() {
        let c = caller(&[MANAGEMENT_ALL]);
        assert!(c.require(Scope::SessionsRead).is_ok());
        assert!(c.require(Scope::SessionsWrite).is_ok());
        let err = c.require(Scope::SessionsConnect).expect_err("not connect");
        assert_eq!(err.status_code(), 403);
        assert_eq!(err.to_string(), "token lacks the sessions:connect scope");
        let every_other = caller(&[MANAGEMENT_ALL, "sessions:read", "sessions:write"]);
        assert!(every_other.require(Scope::SessionsConnect).is_err());
        assert!(every_other.require(Scope::SsfManage).is_err());
        assert!(caller(&[]).require(Scope::Public).is_ok());
    }

    #[test]
    fn accepted_scopes_start_with_the_scope_itself() {
        for scope in ALL {
            assert_eq!(scope.accepted()[0], scope.as_str());
        }
        assert_eq!(Scope::SessionsConnect.accepted(), ["sessions:connect"]);
    }
}
