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

/// The scope Kontext service-account tokens carry; it grants every management route.
pub const MANAGEMENT_ALL: &str = "management:all";
/// Longer bearer tokens are refused before they are parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    SessionsRead,
    SessionsWrite,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::SessionsRead => "sessions:read",
            Scope::SessionsWrite => "sessions:write",
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
    /// 403 unless the caller holds `scope` or `management:all`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope.as_str()) || self.scopes.contains(MANAGEMENT_ALL) {
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
