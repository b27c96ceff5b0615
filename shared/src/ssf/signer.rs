//! ES256 signing of SETs and the transmitter's JWKS: a local P-256 key (`make dev`, tests) or an
//! AWS KMS asymmetric key (`ECC_NIST_P256`, `SIGN_VERIFY`, `ECDSA_SHA_256`) in AWS.
//!
//! Both publish their public key as a JWK whose `kid` is its RFC 7638 thumbprint, so the `kid`
//! of a SET names its key without any configuration.

use std::future::Future;
use std::pin::Pin;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey};
use p256::PublicKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Why a SET could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// KMS is throttling or unreachable: worth retrying.
    #[error("signing key unavailable: {0}")]
    Unavailable(String),
    #[error("signing failed: {0}")]
    Failed(String),
}

/// A public key in the JWKS (RFC 7517, 7518).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub y: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
}

impl Jwk {
    /// The JWK of a P-256 public key, its `kid` the RFC 7638 thumbprint.
    pub fn of(key: &PublicKey) -> Jwk {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let point = key.to_encoded_point(false);
        let coordinate =
            |c: Option<&p256::FieldBytes>| c.map(|c| URL_SAFE_NO_PAD.encode(c)).unwrap_or_default();
        let (x, y) = (coordinate(point.x()), coordinate(point.y()));
        // RFC 7638: the required members, in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        Jwk {
            kty: "EC",
            crv: "P-256",
            kid: URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())),
            x,
            y,
            use_: "sig",
            alg: "ES256",
        }
    }
}

/// The JWKS document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<[u8; 64], SignError>> + Send + 'a>>;

/// What signs SETs: ES256 over a JWS signing input, and the public key it publishes.
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// The public key, with its `kid`.
    fn jwk(&self) -> &Jwk;
    /// The JOSE signature (`r || s`, 64 bytes) of `signing_input` with ECDSA P-256 SHA-256.
    fn sign<'a>(&'a self, signing_input: &'a [u8]) -> SignFuture<'a>;
}

/// Signs `claims` as a compact JWS with header `typ: secevent+jwt`, `alg: ES256` and the key's
/// `kid`.
pub async fn sign_set(signer: &dyn Signer, claims: &impl Serialize) -> Result<String, SignError> {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'static str,
        typ: &'static str,
        kid: &'a str,
    }
    let header = Header {
        alg: "ES256",
        typ: super::SET_TYP,
        kid: &signer.jwk().kid,
    };
    let json = |v: &dyn erased::Json| v.to_vec().map_err(|e| SignError::Failed(e.to_string()));
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(json(&header)?),
        URL_SAFE_NO_PAD.encode(json(claims)?)
    );
    let signature = signer.sign(input.as_bytes()).await?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

mod erased {
    /// Serializes through a trait object, so one closure takes both the header and the claims.
    pub trait Json {
        fn to_vec(&self) -> serde_json::Result<Vec<u8>>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_vec(&self) -> serde_json::Result<Vec<u8>> {
            serde_json::to_vec(self)
        }
    }
}

/// A P-256 private key held in memory (PKCS#8 or SEC1 PEM).
pub struct LocalSigner {
    key: SigningKey,
    jwk: Jwk,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSigner")
            .field("kid", &self.jwk.kid)
            .finish_non_exhaustive()
    }
}

impl LocalSigner {
    /// The key of a PEM document: `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1), P-256.
    pub fn from_pem(pem: &str) -> Result<LocalSigner, SignError> {
        let key = SigningKey::from_pkcs8_pem(pem)
            .or_else(|_| p256::SecretKey::from_sec1_pem(pem).map(SigningKey::from))
            .map_err(|_| {
                SignError::Failed("the signing key is not a P-256 private key in PEM".into())
            })?;
        Ok(LocalSigner::from_key(key))
    }

    fn from_key(key: SigningKey) -> LocalSigner {
        let jwk = Jwk::of(&PublicKey::from(key.verifying_key()));
        LocalSigner { key, jwk }
    }

    /// A fresh key, as PKCS#8 PEM (the admin CLI's `ssf-keygen`, the tests).
    #[cfg(feature = "tooling")]
    pub fn generate_pem() -> String {
        use p256::pkcs8::{EncodePrivateKey, LineEnding};
        use rand::RngCore;
        loop {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            // Fails only for a value outside the curve's order: about once in 2^32 draws.
            if let Ok(key) = SigningKey::from_bytes(&bytes.into()) {
                if let Ok(pem) = key.to_pkcs8_pem(LineEnding::LF) {
                    return pem.to_string();
                }
            }
        }
    }
}

impl Signer for LocalSigner {
    fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn sign<'a>(&'a self, signing_input: &'a [u8]) -> SignFuture<'a> {
        let signature: Signature = self.key.sign(signing_input);
        let bytes: [u8; 64] = signature.to_bytes().into();
        Box::pin(async move { Ok(bytes) })
    }
}

/// An AWS KMS key: KMS signs the SHA-256 of the input (`ECDSA_SHA_256`, message type `RAW`) and
/// answers DER, turned into JOSE's `r || s` here.
#[derive(Debug)]
pub struct KmsSigner {
    client: aws_sdk_kms::Client,
    key_id: String,
    jwk: Jwk,
}

impl KmsSigner {
    /// Reads the key's public half once (GetPublicKey), for the JWKS and the `kid`.
    pub async fn new(client: aws_sdk_kms::Client, key_id: String) -> Result<KmsSigner, SignError> {
        let out = client
            .get_public_key()
            .key_id(&key_id)
            .send()
            .await
            .map_err(|e| {
                SignError::Unavailable(format!(
                    "GetPublicKey: {}",
                    aws_sdk_kms::error::DisplayErrorContext(&e)
                ))
            })?;
        let der = out
            .public_key()
            .ok_or_else(|| SignError::Failed("GetPublicKey returned no key".into()))?;
        let public = PublicKey::from_public_key_der(der.as_ref())
            .map_err(|_| SignError::Failed("the KMS key is not an ECC_NIST_P256 key".into()))?;
        Ok(KmsSigner {
            client,
            key_id,
            jwk: Jwk::of(&public),
        })
    }
}

/// KMS's DER-encoded ECDSA signature as JOSE's fixed-size `r || s` (RFC 7518, section 3.4).
pub fn der_to_jose(der: &[u8]) -> Result<[u8; 64], SignError> {
    let signature = Signature::from_der(der)
        .map_err(|_| SignError::Failed("KMS returned a signature that is not DER".into()))?;
    Ok(signature.to_bytes().into())
}

impl Signer for KmsSigner {
    fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn sign<'a>(&'a self, signing_input: &'a [u8]) -> SignFuture<'a> {
        use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
        Box::pin(async move {
            let out = self
                .client
                .sign()
                .key_id(&self.key_id)
                .message(aws_sdk_kms::primitives::Blob::new(signing_input))
                .message_type(MessageType::Raw)
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .send()
                .await
                .map_err(|e| {
                    SignError::Unavailable(format!(
                        "Sign: {}",
                        aws_sdk_kms::error::DisplayErrorContext(&e)
                    ))
                })?;
            let der = out
                .signature()
                .ok_or_else(|| SignError::Failed("Sign returned no signature".into()))?;
            der_to_jose(der.as_ref())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::VerifyingKey;

    /// A test key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256).
    const PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgoOCer3ckjllBAuy7
sJiuJgv86TXVl+bpP6vzt0l8TmKhRANCAAQWSqb224NUOHmEWGmRSPIFrcCjjr59
K7Ch9FfcQYZ9BNj+9rev0NwYXpUb9hL+QBfbekQHZYN5Oh4LxWBMy4ip
-----END PRIVATE KEY-----
";

    #[tokio::test]
    async fn a_local_set_is_a_compact_es256_jws_that_verifies() {
        let signer = LocalSigner::from_pem(PEM).expect("key");
        let jws = sign_set(&signer, &serde_json::json!({"iss": "x"}))
            .await
            .expect("signed");
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(header["typ"], "secevent+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], signer.jwk().kid.as_str());
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).expect("b64");
        let signature = Signature::from_slice(&signature).expect("r||s");
        let key = VerifyingKey::from(&signer.key);
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(key.verify(input.as_bytes(), &signature).is_ok());
        assert!(key.verify(b"tampered", &signature).is_err());
    }

    /// RFC 7638, section 3.1's example is RSA; this pins the EC form against a thumbprint
    /// computed by hand over `{"crv","kty","x","y"}`.
    #[test]
    fn the_kid_is_the_rfc_7638_thumbprint() {
        let signer = LocalSigner::from_pem(PEM).expect("key");
        let jwk = signer.jwk();
        let canonical = format!(
            "{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{}\",\"y\":\"{}\"}}",
            jwk.x, jwk.y
        );
        assert_eq!(
            jwk.kid,
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
        );
        assert_eq!(jwk.x.len(), 43);
        assert_eq!(jwk.y.len(), 43);
    }

    #[test]
    fn kms_der_signatures_become_r_and_s() {
        let signer = LocalSigner::from_pem(PEM).expect("key");
        let signature: Signature = signer.key.sign(b"message");
        let der = signature.to_der();
        assert_eq!(
            der_to_jose(der.as_bytes()).expect("der"),
            <[u8; 64]>::from(signature.to_bytes())
        );
        assert!(der_to_jose(b"\x30\x02\x01").is_err());
    }

    #[test]
    fn a_pem_that_is_not_a_p256_key_is_refused() {
        assert!(LocalSigner::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        )
        .is_err());
        assert!(LocalSigner::from_pem("").is_err());
    }
}
