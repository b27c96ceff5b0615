//! The HTTPS client the SDK talks to DynamoDB through, and the SDK configuration built on it.
//!
//! TLS is rustls with the *ring* provider, trusting by default only the roots of Amazon Trust
//! Services, which issue the certificates of every AWS service endpoint. Against the SDK's
//! default (AWS-LC, every root in the system store) this:
//! - starts faster: parsing five embedded roots instead of reading and parsing the system
//!   bundle (about 150 certificates) at init, and no CPU-jitter entropy collection on the first
//!   handshake (`docs/benchmarks.md` has the figures);
//! - ships a smaller package (no AWS-LC in the binary);
//! - narrows trust: a certificate for DynamoDB from any other authority is refused.
//!
//! `SESSIONS_TLS_ROOTS=system` trusts the system store instead (`SSL_CERT_FILE` and
//! `SSL_CERT_DIR` apply), for an endpoint behind a TLS-inspecting proxy or with a private CA.
//! Plain `http://` endpoints (the local engine) use no TLS at all.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;

use crate::config::{self, ConfigError, TrustRoots};

/// The Amazon Trust Services roots (Amazon Root CA 1-4, Starfield Services Root CA - G2).
pub const AMAZON_TRUST_SERVICES_PEM: &str = include_str!("amazon-trust-services.pem");

/// The trust store `roots` names.
fn trust_store(roots: TrustRoots) -> TrustStore {
    match roots {
        TrustRoots::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_PEM),
        TrustRoots::System => TrustStore::empty().with_native_roots(true),
    }
}

/// The HTTP client: rustls on ring, trusting `roots`. Fails closed: a trust store the TLS
/// library will not take is an error at init, never a silent fall-back to a wider one.
pub fn http_client(roots: TrustRoots) -> Result<SharedHttpClient, ConfigError> {
    let context = TlsContext::builder()
        .with_trust_store(trust_store(roots))
        .build()
        .map_err(|e| ConfigError(format!("the TLS trust store ({roots:?}): {e}")))?;
    Ok(Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https())
}

/// Timeouts that fit one API call inside API Gateway's 29 s: a stuck connection or attempt is
/// abandoned and retried long before the caller gives up.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build()
}

/// The SDK configuration loader the functions and tools use: the standard environment
/// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_DYNAMODB`), [`timeouts`] and [`http_client`].
///
/// Where the environment carries the region and the credentials, as Lambda's always does, the
/// loader is handed those two providers directly. The default chains would settle on the very
/// same variables (they look there first) but build every later link before asking (profile
/// files, SSO, web identity, container and instance metadata): 0.5 ms of a function's init
/// (`docs/benchmarks.md`). Elsewhere (the admin CLI on a laptop) the default chains apply.
pub fn sdk_loader(roots: TrustRoots) -> Result<ConfigLoader, ConfigError> {
    sdk_loader_from(roots, config::env)
}

fn sdk_loader_from(
    roots: TrustRoots,
    env: impl Fn(&str) -> Option<String>,
) -> Result<ConfigLoader, ConfigError> {
    let set = |name: &str| config::set(env(name));
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .http_client(http_client(roots)?);
    if let Some(region) = set("AWS_REGION") {
        loader = loader.region(Region::new(region));
    }
    if set("AWS_ACCESS_KEY_ID").is_some() && set("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    Ok(loader)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    async fn loaded(vars: &[(&str, &str)]) -> aws_config::SdkConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        sdk_loader_from(TrustRoots::Amazon, |name| vars.get(name).cloned())
            .expect("the embedded trust store")
            .load()
            .await
    }

    fn provider_of(config: &aws_config::SdkConfig) -> String {
        format!("{:?}", config.credentials_provider())
    }

    #[tokio::test]
    async fn lambdas_environment_is_used_directly() {
        let config = loaded(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])
        .await;
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        let provider = provider_of(&config);
        assert!(
            provider.contains("EnvironmentVariableCredentialsProvider")
                && !provider.contains("DefaultCredentialsChain"),
            "{provider}"
        );
        assert_eq!(
            config.timeout_config().and_then(|t| t.operation_timeout()),
            Some(Duration::from_secs(12)),
            "the API's timeouts"
        );
    }

    #[tokio::test]
    async fn without_credentials_in_the_environment_the_default_chain_applies() {
        for vars in [
            &[("AWS_REGION", "eu-west-1")][..],
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ][..],
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", ""),
            ][..],
        ] {
            let config = loaded(vars).await;
            assert!(
                provider_of(&config).contains("DefaultCredentialsChain"),
                "{vars:?}: {}",
                provider_of(&config)
            );
        }
    }
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    use sha2::{Digest, Sha256};

    /// The embedded bundle holds exactly the five roots its labels name, byte for byte: each
    /// certificate's SHA-256 is the fingerprint AWS and Mozilla publish for it.
    #[test]
    fn the_embedded_roots_are_the_amazon_trust_services_roots() {
        let certs = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_PEM.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the bundle parses");
        let fingerprints: Vec<String> = certs
            .iter()
            .map(|c| {
                Sha256::digest(c.as_ref())
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect::<Vec<_>>()
                    .join(":")
            })
            .collect();
        assert_eq!(
            fingerprints,
            [
                // Amazon Root CA 1
                "8E:CD:E6:88:4F:3D:87:B1:12:5B:A3:1A:C3:FC:B1:3D:70:16:DE:7F:57:CC:90:4F:E1:CB:97:C6:AE:98:19:6E",
                // Amazon Root CA 2
                "1B:A5:B2:AA:8C:65:40:1A:82:96:01:18:F8:0B:EC:4F:62:30:4D:83:CE:C4:71:3A:19:C3:9C:01:1E:A4:6D:B4",
                // Amazon Root CA 3
                "18:CE:6C:FE:7B:F1:4E:60:B2:E3:47:B8:DF:E8:68:CB:31:D0:2E:BB:3A:DA:27:15:69:F5:03:43:B4:6D:B3:A4",
                // Amazon Root CA 4
                "E3:5D:28:41:9E:D0:20:25:CF:A6:90:38:CD:62:39:62:45:8D:A5:C6:95:FB:DE:A3:C2:2B:0B:FB:25:89:70:92",
                // Starfield Services Root Certificate Authority - G2
                "56:8D:69:05:A2:C8:87:08:A4:B3:02:51:90:ED:CF:ED:B1:97:4A:60:6A:13:C6:E5:29:0F:CB:2A:E6:3E:DA:B5",
            ]
        );
        // The labels above each block say the same.
        for fingerprint in &fingerprints {
            assert!(AMAZON_TRUST_SERVICES_PEM.contains(&format!("# SHA-256 {fingerprint}")));
        }
    }
}
