//! The transmitter's environment variables, read once at start-up:
//!
//! - `SESSIONS_SSF_ISSUER`: the issuer URL (every SET's `iss`, the discovery document's
//!   `issuer`, the base of its endpoint URLs);
//! - `SESSIONS_SSF_SIGNING_KEY_PEM` (a P-256 private key, local runs; its line breaks may be
//!   written `\n`, for env files that hold one line per variable) or `SESSIONS_SSF_KMS_KEY_ID`
//!   (AWS): exactly one;
//! - `SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS`: `true` lets receivers register loopback and
//!   private addresses (local runs and tests only);
//! - `SESSIONS_SSF_MAX_ATTEMPTS` (8), `SESSIONS_SSF_RETRY_BASE_MS` (5000): the retry policy;
//! - `SESSIONS_SSF_QUEUE_URL`, `SESSIONS_SSF_DEAD_LETTER_QUEUE_URL`: `ssf-push`'s queues.

use std::time::Duration;

use super::push::RetryPolicy;
use super::stream::EndpointPolicy;
use crate::config::{set, ConfigError};

/// Where the signing key is.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A P-256 private key in PEM.
    Pem(String),
    /// An AWS KMS key id or ARN.
    Kms(String),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Pem(_) => f.write_str("Pem(<redacted>)"),
            KeySource::Kms(id) => f.debug_tuple("Kms").field(id).finish(),
        }
    }
}

/// Everything the transmitter reads from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsfSettings {
    pub issuer: String,
    pub key: KeySource,
    pub endpoints: EndpointPolicy,
    pub retry: RetryPolicy,
    pub queue_url: Option<String>,
    pub dead_letter_queue_url: Option<String>,
}

impl SsfSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(crate::config::env)
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let issuer = issuer(get("SESSIONS_SSF_ISSUER"))?;
        let key =
            match (
                set(get("SESSIONS_SSF_SIGNING_KEY_PEM")),
                set(get("SESSIONS_SSF_KMS_KEY_ID")),
            ) {
                (Some(pem), None) => KeySource::Pem(pem.replace("\\n", "\n")),
                (None, Some(id)) => KeySource::Kms(id),
                _ => return Err(ConfigError(
                    "set exactly one of SESSIONS_SSF_SIGNING_KEY_PEM and SESSIONS_SSF_KMS_KEY_ID"
                        .into(),
                )),
            };
        let allow_private = match set(get("SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS")).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError(format!(
                    "SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS must be true or false, got {other:?}"
                )))
            }
        };
        let defaults = RetryPolicy::default();
        let number =
            |name: &str, default: u64, range: std::ops::RangeInclusive<u64>| match set(get(name)) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<u64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{name} must be a whole number from {} to {}, got {raw:?}",
                            range.start(),
                            range.end()
                        ))
                    }),
            };
        let max_attempts = number(
            "SESSIONS_SSF_MAX_ATTEMPTS",
            u64::from(defaults.max_attempts),
            1..=50,
        )?;
        let base_ms = number(
            "SESSIONS_SSF_RETRY_BASE_MS",
            defaults.base_delay.as_millis() as u64,
            1..=600_000,
        )?;
        Ok(SsfSettings {
            issuer,
            key,
            endpoints: EndpointPolicy { allow_private },
            retry: RetryPolicy {
                max_attempts: max_attempts as u32,
                base_delay: Duration::from_millis(base_ms),
                max_delay: defaults.max_delay,
            },
            queue_url: set(get("SESSIONS_SSF_QUEUE_URL")),
            dead_letter_queue_url: set(get("SESSIONS_SSF_DEAD_LETTER_QUEUE_URL")),
        })
    }
}

/// `SESSIONS_SSF_ISSUER`: an absolute http(s) URL without query or fragment; a trailing `/`
/// is dropped, so that endpoint URLs join cleanly.
pub fn issuer(value: Option<String>) -> Result<String, ConfigError> {
    let raw = set(value).ok_or_else(|| {
        ConfigError("SESSIONS_SSF_ISSUER is not set (the transmitter's issuer URL)".into())
    })?;
    let bad = || {
        ConfigError(format!(
            "SESSIONS_SSF_ISSUER must be an http(s) URL without query or fragment, got {raw:?}"
        ))
    };
    let url = reqwest::Url::parse(&raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.query().is_some()
        || url.fragment().is_some()
        || url.host_str().is_none()
    {
        return Err(bad());
    }
    Ok(raw.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<SsfSettings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SsfSettings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn one_key_source_and_an_issuer_url_are_required() {
        let ok = settings(&[
            ("SESSIONS_SSF_ISSUER", "https://ssf.example.com/"),
            ("SESSIONS_SSF_KMS_KEY_ID", "alias/ssf"),
        ])
        .expect("valid");
        assert_eq!(ok.issuer, "https://ssf.example.com");
        assert_eq!(ok.key, KeySource::Kms("alias/ssf".into()));
        assert!(!ok.endpoints.allow_private);
        assert_eq!(ok.retry, RetryPolicy::default());
        let escaped = settings(&[
            ("SESSIONS_SSF_ISSUER", "https://a"),
            ("SESSIONS_SSF_SIGNING_KEY_PEM", "-----BEGIN\\nx\\n-----END"),
        ])
        .expect("valid");
        assert_eq!(
            escaped.key,
            KeySource::Pem("-----BEGIN\nx\n-----END".into())
        );
        assert!(settings(&[("SESSIONS_SSF_KMS_KEY_ID", "k")]).is_err());
        assert!(settings(&[("SESSIONS_SSF_ISSUER", "https://a")]).is_err());
        assert!(settings(&[
            ("SESSIONS_SSF_ISSUER", "https://a"),
            ("SESSIONS_SSF_KMS_KEY_ID", "k"),
            ("SESSIONS_SSF_SIGNING_KEY_PEM", "p"),
        ])
        .is_err());
        for bad in ["ftp://a", "https://a/?q", "nope"] {
            assert!(issuer(Some(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn retry_settings_are_bounded() {
        let base = [
            ("SESSIONS_SSF_ISSUER", "http://127.0.0.1:9000"),
            ("SESSIONS_SSF_KMS_KEY_ID", "k"),
        ];
        let with = |extra: (&str, &str)| {
            let mut vars = base.to_vec();
            vars.push(extra);
            settings(&vars)
        };
        let s = with(("SESSIONS_SSF_MAX_ATTEMPTS", "3")).expect("valid");
        assert_eq!(s.retry.max_attempts, 3);
        assert!(with(("SESSIONS_SSF_MAX_ATTEMPTS", "0")).is_err());
        assert!(with(("SESSIONS_SSF_RETRY_BASE_MS", "x")).is_err());
        assert!(with(("SESSIONS_SSF_ALLOW_PRIVATE_ENDPOINTS", "yes")).is_err());
    }
}
