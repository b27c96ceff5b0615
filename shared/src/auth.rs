//! Who is calling: the caller's organization and scopes, from a verified token.
//!
//! In AWS, API Gateway's JWT authorizer verifies the token and hands its claims to the function
//! in the request context. Locally (`cargo lambda watch` has no authorizer) the function verifies
//! an HS256 development token itself; that verifier exists only when `SESSIONS_DEV_JWT_SECRET`
//! is set, which the SAM template never does.

use std::collections::{BTreeSet, HashMap};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lambda_http::request::RequestContext;
use lambda_http::{http, Request, RequestExt};
use uuid::Uuid;

use crate::error::ApiError;

/// The scope Kontext service-account tokens carry; it grants every route.
pub const MANAGEMENT_ALL: &str = "management:all";
/// Clock skew tolerated on `exp` and `nbf` of development tokens.
pub const DEV_LEEWAY_SECONDS: u64 = 30;
/// The shortest development secret accepted: HS256 with less is guessable.
pub const MIN_DEV_SECRET_BYTES: usize = 32;
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

/// Settings of the local HS256 verifier.
#[derive(Clone)]
pub struct DevJwtConfig {
    pub secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
}

impl std::fmt::Debug for DevJwtConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevJwtConfig")
            .field("secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// Turns a request into a [`Caller`], or a 401.
#[derive(Clone)]
pub enum Authenticator {
    /// Trust the claims API Gateway's JWT authorizer put in the request context.
    Gateway { org_claim: String },
    /// Verify an HS256 bearer token in the function (local runs only).
    DevHs256 {
        key: DecodingKey,
        validation: Box<Validation>,
        org_claim: String,
    },
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Authenticator::Gateway { org_claim } => {
                write!(f, "Authenticator::Gateway {{ org_claim: {org_claim:?} }}")
            }
            Authenticator::DevHs256 { org_claim, .. } => {
                write!(f, "Authenticator::DevHs256 {{ org_claim: {org_claim:?} }}")
            }
        }
    }
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
        hs256::install();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = DEV_LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Ok(Authenticator::DevHs256 {
            key: DecodingKey::from_secret(&config.secret)?,
            validation: Box::new(validation),
            org_claim: org_claim.into(),
        })
    }

    pub fn authenticate(&self, req: &Request) -> Result<Caller, ApiError> {
        match self {
            Authenticator::Gateway { org_claim } => {
                let claims = gateway_claims(req).ok_or_else(|| {
                    ApiError::Unauthorized("missing or invalid bearer token".into())
                })?;
                caller_from_gateway_claims(claims, org_claim)
            }
            Authenticator::DevHs256 {
                key,
                validation,
                org_claim,
            } => {
                let token = bearer_token(req)?;
                hs256::install();
                let invalid = || ApiError::Unauthorized("invalid or expired bearer token".into());
                // The error says which check failed; the caller is told none of it.
                let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
                    token, key, validation,
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
                caller_from_json_claims(&data.claims, org_claim)
            }
        }
    }
}

fn gateway_claims(req: &Request) -> Option<&HashMap<String, String>> {
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

fn bearer_token(req: &Request) -> Result<&str, ApiError> {
    let missing = || ApiError::Unauthorized("missing or invalid bearer token".into());
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(missing());
    }
    Ok(token)
}

fn organization(value: Option<&str>) -> Result<Uuid, ApiError> {
    value
        .and_then(|v| Uuid::try_parse(v).ok())
        .ok_or_else(|| ApiError::Unauthorized("token carries no valid organization".into()))
}

/// API Gateway renders every claim as a string; a list claim arrives as `[a b]`.
fn caller_from_gateway_claims(
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

fn caller_from_json_claims(
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

/// jsonwebtoken's cryptography, reduced to the one algorithm the development verifier accepts.
///
/// jsonwebtoken 12 takes its primitives from a process-wide [`CryptoProvider`]; its bundled
/// providers carry RSA, ECDSA and EdDSA as well, about 300 KB of code in every function. This
/// one signs and verifies HS256 with `hmac` and `sha2` (constant-time comparison) and refuses
/// every other algorithm and key type; parsing and claim validation stay jsonwebtoken's.
mod hs256 {
    use hmac::{Hmac, Mac};
    use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
    use jsonwebtoken::errors::{ErrorKind, Result};
    use jsonwebtoken::signature::{self, Signer, Verifier};
    use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
    use sha2::Sha256;

    struct Hs256(Hmac<Sha256>);

    impl Hs256 {
        fn new(alg: &Algorithm, family: AlgorithmFamily, secret: &[u8]) -> Result<Self> {
            if *alg != Algorithm::HS256 {
                return Err(ErrorKind::InvalidAlgorithm.into());
            }
            if family != AlgorithmFamily::Hmac {
                return Err(ErrorKind::InvalidKeyFormat.into());
            }
            let mac =
                Hmac::<Sha256>::new_from_slice(secret).map_err(|_| ErrorKind::InvalidKeyFormat)?;
            Ok(Hs256(mac))
        }
    }

    impl Signer<Vec<u8>> for Hs256 {
        fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
            let mut mac = self.0.clone();
            mac.update(msg);
            Ok(mac.finalize().into_bytes().to_vec())
        }
    }

    impl Verifier<Vec<u8>> for Hs256 {
        fn verify(&self, msg: &[u8], tag: &Vec<u8>) -> std::result::Result<(), signature::Error> {
            let mut mac = self.0.clone();
            mac.update(msg);
            mac.verify_slice(tag).map_err(|_| signature::Error::new())
        }
    }

    impl JwtSigner for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }

    impl JwtVerifier for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }

    fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
        Ok(Box::new(Hs256::new(alg, key.family(), key.as_bytes())?))
    }

    fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
        match key.kind() {
            DecodingKeyKind::SecretOrDer(secret) => {
                Ok(Box::new(Hs256::new(alg, key.family(), secret)?))
            }
            _ => Err(ErrorKind::InvalidKeyFormat.into()),
        }
    }

    static PROVIDER: CryptoProvider = CryptoProvider {
        signer_factory: signer,
        verifier_factory: verifier,
        key_utils: KeyUtils::new_unimplemented(),
    };

    /// Makes this the process's provider before any token is signed or verified. Idempotent;
    /// where a test build enables one of jsonwebtoken's own providers and it got there first,
    /// that one stays (it verifies HS256 the same way).
    pub(super) fn install() {
        let _ = PROVIDER.install_default();
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

        fn sign_with(key: &[u8], alg: Algorithm) -> Result<Box<dyn JwtSigner>> {
            signer(&alg, &EncodingKey::from_secret(key)?)
        }

        fn verify_with(key: &[u8], alg: Algorithm) -> Result<Box<dyn JwtVerifier>> {
            verifier(&alg, &DecodingKey::from_secret(key)?)
        }

        #[test]
        fn only_hs256_with_a_secret_is_built() {
            assert!(sign_with(KEY, Algorithm::HS256).is_ok());
            assert!(verify_with(KEY, Algorithm::HS256).is_ok());
            for alg in [
                Algorithm::HS384,
                Algorithm::HS512,
                Algorithm::RS256,
                Algorithm::ES256,
                Algorithm::EdDSA,
            ] {
                assert!(sign_with(KEY, alg).is_err(), "{alg:?}");
                assert!(verify_with(KEY, alg).is_err(), "{alg:?}");
            }
            let rsa = DecodingKey::from_rsa_raw_components(&[1, 2, 3], &[1, 0, 1]);
            assert!(verifier(&Algorithm::HS256, &rsa).is_err());
        }

        #[test]
        fn tags_verify_only_for_their_message_and_key() -> Result<()> {
            // RFC 4231 test case 2 pins the primitive itself.
            let rfc = sign_with(b"Jefe", Algorithm::HS256)?
                .try_sign(b"what do ya want for nothing?")
                .expect("tag");
            assert_eq!(
                rfc.iter().map(|b| format!("{b:02x}")).collect::<String>(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
            );
            let tag = sign_with(KEY, Algorithm::HS256)?
                .try_sign(b"header.payload")
                .expect("tag");
            let verify = verify_with(KEY, Algorithm::HS256)?;
            assert!(verify.verify(b"header.payload", &tag).is_ok());
            assert!(verify.verify(b"header.payloaD", &tag).is_err());
            let mut flipped = tag.clone();
            flipped[0] ^= 1;
            assert!(verify.verify(b"header.payload", &flipped).is_err());
            assert!(verify
                .verify(b"header.payload", &tag[..31].to_vec())
                .is_err());
            let other = verify_with(b"another key, another key, another", Algorithm::HS256)?;
            assert!(other.verify(b"header.payload", &tag).is_err());
            Ok(())
        }
    }
}

/// The claims of a development token, as `sessions-admin token` mints them.
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
    if payload.contains_key(org_claim) || org_claim.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

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
