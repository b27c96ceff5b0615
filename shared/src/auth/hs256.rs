//! jsonwebtoken's cryptography, reduced to the one algorithm the development verifier accepts.
//!
//! jsonwebtoken 12 takes its primitives from a process-wide [`CryptoProvider`]; its bundled
//! providers carry RSA, ECDSA and EdDSA as well, about 300 KB of code in every function. This
//! one signs and verifies HS256 with `hmac` and `sha2` (constant-time comparison) and refuses
//! every other algorithm and key type; parsing and claim validation stay jsonwebtoken's.

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

/// Makes this the process's provider before any token is signed or verified. Idempotent.
/// Where a build enables one of jsonwebtoken's own providers (the tests, the bench and the
/// gateway do; the functions never), that one is the process's: it verifies HS256 the same
/// way, and the other algorithms a process with a gateway or a Shared Signals receiver in it
/// needs as well.
pub(crate) fn install() {
    if CryptoProvider::try_get_default().is_none() {
        let _ = PROVIDER.install_default();
    }
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
