//! Clients' bearer tokens: the gateway is the MCP server's OAuth resource server. It verifies
//! every request's token (signature, `iss`, `aud` = this resource, `exp`, `nbf`), never passes
//! it on to the MCP server, and answers what the MCP authorization spec asks for when a token
//! is missing or refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;
/// A token naming a key the cached JWKS lacks fetches the JWKS again, at most this often.
const JWKS_REFRESH_MIN: Duration = Duration::from_secs(30);
/// Asymmetric algorithms accepted from a JWKS (never `none`, never a shared secret).
const JWKS_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The token's `sub`: an MCP session belongs to it.
    pub subject: String,
    /// The token's `exp` (seconds since the epoch).
    pub expires_at: i64,
    /// SHA-256 of the token: what a cut-off session's token is refused by.
    pub token_key: TokenKey,
}

pub type TokenKey = [u8; 32];

pub fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

/// Why a request's token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer token at all.
    Missing,
    /// A token that is malformed, badly signed, expired, for another audience or issuer, or
    /// one the gateway stopped accepting (its session was revoked).
    Invalid(&'static str),
    /// A valid token without the scopes this resource requires.
    InsufficientScope,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<serde_json::Value>,
}

impl Claims {
    fn scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = self
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        match &self.scp {
            Some(serde_json::Value::String(s)) => {
                scopes.extend(s.split_whitespace().map(str::to_string))
            }
            Some(serde_json::Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(|v| v.as_str().map(str::to_string)))
            }
            _ => {}
        }
        scopes
    }
}

enum Keys {
    Secret(DecodingKey),
    Jwks(Jwks),
}

/// A JWKS fetched on demand: a key id it lacks fetches it again, at most every 30 s.
pub struct Jwks {
    url: reqwest::Url,
    http: reqwest::Client,
    cache: Mutex<JwksCache>,
}

struct JwksCache {
    keys: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched: Option<Instant>,
}

impl Jwks {
    pub fn new(url: reqwest::Url, http: reqwest::Client) -> Jwks {
        Jwks {
            url,
            http,
            cache: Mutex::new(JwksCache {
                keys: HashMap::new(),
                fetched: None,
            }),
        }
    }

    /// The key `kid` names, and the algorithm its JWK pins (if it pins one).
    pub async fn key(&self, kid: &str) -> Result<(DecodingKey, Option<Algorithm>), &'static str> {
        let mut cache = self.cache.lock().await;
        if let Some(found) = cache.keys.get(kid) {
            return Ok(found.clone());
        }
        let stale = cache
            .fetched
            .is_none_or(|at| at.elapsed() >= JWKS_REFRESH_MIN);
        if stale {
            cache.fetched = Some(Instant::now());
            match fetch_jwks(&self.url, &self.http).await {
                Ok(set) => {
                    cache.keys = set
                        .keys
                        .iter()
                        .filter_map(|jwk| {
                            let kid = jwk.common.key_id.clone()?;
                            let key = DecodingKey::from_jwk(jwk).ok()?;
                            let alg = jwk
                                .common
                                .key_algorithm
                                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
                            Some((kid, (key, alg)))
                        })
                        .collect();
                }
                Err(error) => tracing::warn!(%error, url = %self.url, "fetching a JWKS failed"),
            }
        }
        cache
            .keys
            .get(kid)
            .cloned()
            .ok_or("the token's key is not in the JWKS")
    }
}

/// The key a JWT's header names in `jwks`, checked against the algorithms accepted from a
/// JWKS, and the algorithm to verify with.
pub async fn jwks_key_for(
    jwks: &Jwks,
    header: &jsonwebtoken::Header,
) -> Result<(DecodingKey, Algorithm), &'static str> {
    if !JWKS_ALGORITHMS.contains(&header.alg) {
        return Err("the token's algorithm is not accepted");
    }
    let kid = header
        .kid
        .as_deref()
        .ok_or("the token names no key (kid)")?;
    let (key, key_alg) = jwks.key(kid).await?;
    if key_alg.is_some_and(|alg| alg != header.alg) {
        return Err("the token's algorithm does not match its key");
    }
    Ok((key, header.alg))
}

/// Verifies clients' tokens against an HS256 development secret or a JWKS.
pub struct Verifier {
    keys: Keys,
    issuer: String,
    audience: String,
    required_scopes: Vec<String>,
}

impl Verifier {
    pub fn dev(
        secret: &str,
        issuer: &str,
        audience: &str,
        scopes: Vec<String>,
    ) -> Result<Verifier, String> {
        let key = DecodingKey::from_secret(secret.as_bytes())
            .map_err(|e| format!("the development secret is not usable: {e}"))?;
        Ok(Verifier {
            keys: Keys::Secret(key),
            issuer: issuer.into(),
            audience: audience.into(),
            required_scopes: scopes,
        })
    }

    pub fn jwks(
        url: reqwest::Url,
        http: reqwest::Client,
        issuer: &str,
        audience: &str,
        scopes: Vec<String>,
    ) -> Verifier {
        Verifier {
            keys: Keys::Jwks(Jwks::new(url, http)),
            issuer: issuer.into(),
            audience: audience.into(),
            required_scopes: scopes,
        }
    }

    /// The client an `Authorization` header value names.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Client, Refusal> {
        let token = bearer(authorization).ok_or(Refusal::Missing)?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Refusal::Invalid("the bearer token is not a JWT"))?;
        let (key, algorithm) = match &self.keys {
            Keys::Secret(key) => {
                if header.alg != Algorithm::HS256 {
                    return Err(Refusal::Invalid("the token's algorithm is not accepted"));
                }
                (key.clone(), Algorithm::HS256)
            }
            Keys::Jwks(jwks) => jwks_key_for(jwks, &header)
                .await
                .map_err(Refusal::Invalid)?,
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| Refusal::Invalid("the token is invalid or expired"))?;
        let scopes = data.claims.scopes();
        if !self.required_scopes.iter().all(|s| scopes.contains(s)) {
            return Err(Refusal::InsufficientScope);
        }
        if data.claims.sub.is_empty() {
            return Err(Refusal::Invalid("the token names no subject"));
        }
        Ok(Client {
            subject: data.claims.sub,
            expires_at: data.claims.exp,
            token_key: token_key(token),
        })
    }

    pub fn required_scopes(&self) -> &[String] {
        &self.required_scopes
    }
}

fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn fetch_jwks(url: &reqwest::Url, http: &reqwest::Client) -> Result<JwkSet, reqwest::Error> {
    http.get(url.clone())
        .timeout(Duration::from_secs(5))
        .send()
        .await?
        .error_for_status()?
        .json::<JwkSet>()
        .await
}

/// The `WWW-Authenticate` value for a refusal (RFC 6750, with RFC 9728's `resource_metadata`
/// as the MCP authorization spec requires).
pub fn challenge(refusal: &Refusal, resource_metadata: &str, scopes: &[String]) -> String {
    let metadata = format!("resource_metadata=\"{resource_metadata}\"");
    match refusal {
        Refusal::Missing => format!("Bearer {metadata}"),
        Refusal::Invalid(why) => {
            format!("Bearer error=\"invalid_token\", error_description=\"{why}\", {metadata}")
        }
        Refusal::InsufficientScope => format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\", {metadata}",
            scopes.join(" ")
        ),
    }
}

pub type SharedVerifier = Arc<Verifier>;

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    fn mint(claims: serde_json::Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()).expect("key"),
        )
        .expect("mint")
    }

    fn claims(aud: &str, exp_in: i64) -> serde_json::Value {
        let now = chrono::Utc::now().timestamp();
        serde_json::json!({"sub": "u1", "iss": "iss", "aud": aud, "exp": now + exp_in,
                           "scope": "mcp:tools other"})
    }

    #[tokio::test]
    async fn a_token_is_checked_for_audience_expiry_signature_and_scope() {
        let verifier = Verifier::dev("s3cret", "iss", "http://gw/mcp", vec!["mcp:tools".into()])
            .expect("verifier");
        let good = mint(claims("http://gw/mcp", 60), "s3cret");
        let client = verifier
            .verify(Some(&format!("Bearer {good}")))
            .await
            .expect("valid");
        assert_eq!(client.subject, "u1");
        assert_eq!(client.token_key, token_key(&good));

        for (token, why) in [
            (mint(claims("http://other/mcp", 60), "s3cret"), "audience"),
            (mint(claims("http://gw/mcp", -120), "s3cret"), "expired"),
            (mint(claims("http://gw/mcp", 60), "other"), "signature"),
            ("not-a-jwt".to_string(), "garbage"),
        ] {
            let refused = verifier.verify(Some(&format!("Bearer {token}"))).await;
            assert!(
                matches!(refused, Err(Refusal::Invalid(_))),
                "{why}: {refused:?}"
            );
        }
        assert_eq!(verifier.verify(None).await, Err(Refusal::Missing));
        assert_eq!(
            verifier.verify(Some("Basic abc")).await,
            Err(Refusal::Missing)
        );

        let strict = Verifier::dev("s3cret", "iss", "http://gw/mcp", vec!["admin".into()])
            .expect("verifier");
        assert_eq!(
            strict.verify(Some(&format!("Bearer {good}"))).await,
            Err(Refusal::InsufficientScope)
        );
    }

    #[test]
    fn challenges_carry_the_resource_metadata() {
        let url = "http://gw/.well-known/oauth-protected-resource/mcp";
        assert_eq!(
            challenge(&Refusal::Missing, url, &[]),
            format!("Bearer resource_metadata=\"{url}\"")
        );
        let invalid = challenge(&Refusal::Invalid("revoked"), url, &[]);
        assert!(
            invalid.starts_with("Bearer error=\"invalid_token\""),
            "{invalid}"
        );
        assert!(
            invalid.contains(&format!("resource_metadata=\"{url}\"")),
            "{invalid}"
        );
    }
}
