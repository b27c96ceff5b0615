//! The development verifier: HS256 tokens checked in the function, for local runs where no
//! API Gateway authorizer stands in front (`cargo lambda watch`). Minting such tokens is for the
//! admin CLI and the tests only (feature `tooling`): it is not compiled into the functions.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
#[cfg(feature = "tooling")]
use jsonwebtoken::{EncodingKey, Header};

use super::claims::caller_from_json_claims;
use super::{hs256, Caller};
use crate::config::DevJwtConfig;
#[cfg(feature = "tooling")]
use crate::config::RESERVED_CLAIMS;
use crate::error::ApiError;

/// Clock skew tolerated on `exp` and `nbf` of development tokens.
pub const DEV_LEEWAY_SECONDS: u64 = 30;

/// Verifies HS256 development tokens: the algorithm pinned, `exp`, `iss` and `aud` required.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Box<Validation>,
    org_claim: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("org_claim", &self.org_claim)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(
        config: &DevJwtConfig,
        org_claim: impl Into<String>,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        hs256::install();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = DEV_LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Ok(Verifier {
            key: DecodingKey::from_secret(&config.secret)?,
            validation: Box::new(validation),
            org_claim: org_claim.into(),
        })
    }

    /// The caller a valid token names; every failure is the same 401.
    pub fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        hs256::install();
        let invalid = || ApiError::Unauthorized("invalid or expired bearer token".into());
        // The error says which check failed; the caller is told none of it.
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &self.key,
            &self.validation,
        )
        .map_err(|_| invalid())?;
        // The library accepts an `iss` list that merely includes ours; RFC 7519 has one.
        if !data
            .claims
            .get("iss")
            .is_some_and(serde_json::Value::is_string)
        {
            return Err(invalid());
        }
        caller_from_json_claims(&data.claims, &self.org_claim)
    }
}

/// The claims of a development token, as `sessions-admin token` mints them.
#[cfg(feature = "tooling")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevClaims {
    pub sub: String,
    /// Written under the organization claim the functions read (`SESSIONS_ORG_CLAIM`).
    pub organization_id: String,
    /// Space-separated scopes.
    pub scope: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Mints an HS256 development token whose organization is in the claim `org_claim` (the
/// functions' `SESSIONS_ORG_CLAIM`, `org_id` by default), so that the functions, configured the
/// same way, accept it. An `org_claim` that names one of the other claims is refused.
#[cfg(feature = "tooling")]
pub fn mint_dev_token(
    config: &DevJwtConfig,
    org_claim: &str,
    claims: &DevClaims,
) -> Result<String, jsonwebtoken::errors::Error> {
    let mut payload = serde_json::Map::new();
    payload.insert("sub".into(), claims.sub.clone().into());
    payload.insert("scope".into(), claims.scope.clone().into());
    payload.insert("iss".into(), claims.iss.clone().into());
    payload.insert("aud".into(), claims.aud.clone().into());
    payload.insert("iat".into(), claims.iat.into());
    payload.insert("exp".into(), claims.exp.into());
    if RESERVED_CLAIMS.contains(&org_claim) || org_claim.is_empty() {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidClaimFormat(org_claim.into()).into());
    }
    payload.insert(org_claim.into(), claims.organization_id.clone().into());
    hs256::install();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &payload,
        &EncodingKey::from_secret(&config.secret)?,
    )
}

#[cfg(all(test, feature = "tooling"))]
mod tests {
    use super::*;
    use crate::auth::Authenticator;
    use crate::config::MIN_DEV_SECRET_BYTES;
    use jsonwebtoken::{EncodingKey, Header};
    use lambda_http::{http, Request};

    const ORG: &str = "0b7e0d4e-5d6f-4f7a-9a53-1d2b3c4d5e6f";

    fn dev_config() -> DevJwtConfig {
        DevJwtConfig {
            secret: b"s".repeat(MIN_DEV_SECRET_BYTES),
            issuer: "iss-dev".into(),
            audience: "aud-dev".into(),
        }
    }

    fn dev_claims() -> DevClaims {
        let now = chrono::Utc::now().timestamp();
        DevClaims {
            sub: "dev".into(),
            organization_id: ORG.into(),
            scope: "sessions:read".into(),
            iss: "iss-dev".into(),
            aud: "aud-dev".into(),
            iat: now,
            exp: now + 60,
        }
    }

    fn bearer(token: &str) -> Request {
        http::Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(lambda_http::Body::Empty)
            .expect("request")
    }

    #[test]
    fn dev_tokens_carry_the_organization_under_the_configured_claim() {
        let token = mint_dev_token(&dev_config(), "tenant", &dev_claims()).expect("mint");
        let tenant = Authenticator::dev_hs256(&dev_config(), "tenant").expect("verifier");
        let caller = tenant.authenticate(&bearer(&token)).expect("valid");
        assert_eq!(caller.organization_id.to_string(), ORG);
        assert_eq!(caller.subject.as_deref(), Some("dev"));
        let org_id = Authenticator::dev_hs256(&dev_config(), "org_id").expect("verifier");
        let err = org_id.authenticate(&bearer(&token)).expect_err("no org_id");
        assert_eq!(err.status_code(), 401);
    }

    #[test]
    fn minting_refuses_an_organization_claim_that_names_another_claim() {
        for name in ["sub", "scope", "iss", "aud", "iat", "exp", ""] {
            assert!(
                mint_dev_token(&dev_config(), name, &dev_claims()).is_err(),
                "{name}"
            );
        }
    }

    #[test]
    fn dev_verifier_wants_a_single_issuer() {
        let mut payload = serde_json::Map::new();
        payload.insert("org_id".into(), ORG.into());
        payload.insert("scope".into(), "sessions:read".into());
        payload.insert("aud".into(), "aud-dev".into());
        payload.insert("exp".into(), (chrono::Utc::now().timestamp() + 60).into());
        let key = EncodingKey::from_secret(&dev_config().secret).expect("key");
        hs256::install();
        let sign = |payload: &serde_json::Map<String, serde_json::Value>| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), payload, &key).expect("sign")
        };
        let verifier = Authenticator::dev_hs256(&dev_config(), "org_id").expect("verifier");

        payload.insert("iss".into(), "iss-dev".into());
        assert!(verifier.authenticate(&bearer(&sign(&payload))).is_ok());
        payload.insert("iss".into(), serde_json::json!(["iss-dev", "someone-else"]));
        let err = verifier
            .authenticate(&bearer(&sign(&payload)))
            .expect_err("a list of issuers");
        assert_eq!(err.status_code(), 401);
    }
}
