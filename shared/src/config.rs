//! Configuration from the environment, checked once at start-up so a bad deployment fails
//! loudly at init instead of per request.
//!
//! Each variable has one parsing function here ([`table_name`], [`idle_window`], [`org_claim`],
//! [`dev_jwt`], [`cursor_keys`]); [`Config::from_lookup`] is their sum, and other binaries (the
//! admin CLI) call the ones they need, so nothing can disagree with the functions about them.

use chrono::Duration;

pub const DEFAULT_IDLE_SECONDS: i64 = 300;
/// A connected session without a connect or heartbeat for this long reads as disconnected.
pub const DEFAULT_HEARTBEAT_TIMEOUT_SECONDS: i64 = 90;
/// The longest idle window accepted: 30 days.
pub const MAX_IDLE_SECONDS: i64 = 86_400 * 30;
pub const DEFAULT_ORG_CLAIM: &str = "org_id";
pub const DEFAULT_DEV_ISSUER: &str = "sessions-api-dev";
pub const DEFAULT_DEV_AUDIENCE: &str = "sessions-api";
pub const MIN_CURSOR_KEY_BYTES: usize = 32;
/// The shortest development secret accepted: HS256 with less is guessable.
pub const MIN_DEV_SECRET_BYTES: usize = 32;
/// The metrics namespace when `SESSIONS_METRICS_NAMESPACE` is not set.
pub const DEFAULT_METRICS_NAMESPACE: &str = "SessionsApi";
/// Claims that already mean something else to the verifier (RFC 7519's registered claims and
/// the two scope claims): naming one of them as the organization claim is a mistake.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "scp",
];
const MAX_CLAIM_NAME_BYTES: usize = 128;

/// Which certificate authorities the DynamoDB client trusts (`SESSIONS_TLS_ROOTS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustRoots {
    /// `amazon` (the default): only Amazon Trust Services.
    #[default]
    Amazon,
    /// `system`: the operating system's store.
    System,
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

/// Where per-request metrics go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `SESSIONS_METRICS_NAMESPACE`: the CloudWatch namespace.
    pub namespace: String,
    /// On inside Lambda (and `cargo lambda watch`: `AWS_LAMBDA_FUNCTION_NAME` is set) unless
    /// `SESSIONS_METRICS=off`; off in-process (tests), keeping their output clean.
    pub enabled: bool,
}

/// Everything the functions read from the environment.
#[derive(Clone)]
pub struct Config {
    /// `SESSIONS_TABLE`.
    pub table: String,
    /// `SESSIONS_IDLE_SECONDS`: how long without activity before a session reads as idle.
    pub idle_window: Duration,
    /// `SESSIONS_HEARTBEAT_TIMEOUT_SECONDS`: how long without a connect or heartbeat before a
    /// connected session reads as disconnected; `None` (0) turns the rule off.
    pub heartbeat_timeout: Option<Duration>,
    /// `SESSIONS_ORG_CLAIM`: the claim that names the caller's organization.
    pub org_claim: String,
    /// `SESSIONS_DEV_JWT_SECRET` (+ `_ISSUER`, `_AUDIENCE`): local runs only.
    pub dev_jwt: Option<DevJwtConfig>,
    /// `SESSIONS_CURSOR_KEY`, then `SESSIONS_CURSOR_KEY_PREVIOUS` during a rotation.
    pub cursor_keys: Vec<Vec<u8>>,
    /// `SESSIONS_RETENTION_DAYS`: how long a disconnected session is kept before the table's
    /// TTL deletes it; unset keeps it forever.
    pub retention: Option<Duration>,
    /// `SESSIONS_TLS_ROOTS`: which authorities the DynamoDB client trusts.
    pub tls_roots: TrustRoots,
    /// `SESSIONS_METRICS_NAMESPACE`, `SESSIONS_METRICS` (and the runtime's
    /// `AWS_LAMBDA_FUNCTION_NAME`).
    pub metrics: MetricsConfig,
}

/// Secrets stay out of logs and panic messages: the keys are shown as a count only.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table", &self.table)
            .field("idle_window", &self.idle_window)
            .field("heartbeat_timeout", &self.heartbeat_timeout)
            .field("org_claim", &self.org_claim)
            .field("dev_jwt", &self.dev_jwt)
            .field("retention", &self.retention)
            .field("tls_roots", &self.tls_roots)
            .field("metrics", &self.metrics)
            .field(
                "cursor_keys",
                &format_args!("<{} redacted>", self.cursor_keys.len()),
            )
            .finish()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env)
    }

    /// The same as [`Config::from_env`] over any source of variables, for tests.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Config {
            table: table_name(get("SESSIONS_TABLE"))?,
            idle_window: idle_window(get("SESSIONS_IDLE_SECONDS"))?,
            heartbeat_timeout: heartbeat_timeout(get("SESSIONS_HEARTBEAT_TIMEOUT_SECONDS"))?,
            org_claim: org_claim(get("SESSIONS_ORG_CLAIM"))?,
            dev_jwt: dev_jwt(&get)?,
            cursor_keys: cursor_keys(&get)?,
            retention: retention(get("SESSIONS_RETENTION_DAYS"))?,
            tls_roots: tls_roots(get("SESSIONS_TLS_ROOTS"))?,
            metrics: metrics(&get)?,
        })
    }
}

/// The process environment, as a lookup for the functions below.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// An empty variable counts as unset, as shells and templates often leave them.
pub(crate) fn set(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// `SESSIONS_TABLE`, required by every binary that touches the table.
pub fn table_name(value: Option<String>) -> Result<String, ConfigError> {
    set(value)
        .ok_or_else(|| ConfigError("SESSIONS_TABLE is not set (the DynamoDB table name)".into()))
}

/// `SESSIONS_IDLE_SECONDS`: 300 s when unset, else whole seconds from 1 to 30 days.
pub fn idle_window(value: Option<String>) -> Result<Duration, ConfigError> {
    let Some(raw) = set(value) else {
        return Ok(Duration::seconds(DEFAULT_IDLE_SECONDS));
    };
    match raw.parse::<i64>() {
        Ok(n) if (1..=MAX_IDLE_SECONDS).contains(&n) => Ok(Duration::seconds(n)),
        _ => Err(ConfigError(format!(
            "SESSIONS_IDLE_SECONDS must be a whole number of seconds from 1 to {MAX_IDLE_SECONDS}, got {raw:?}"
        ))),
    }
}

/// `SESSIONS_HEARTBEAT_TIMEOUT_SECONDS`: 90 s when unset, `0` for off, else whole seconds up
/// to 30 days.
pub fn heartbeat_timeout(value: Option<String>) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = set(value) else {
        return Ok(Some(Duration::seconds(DEFAULT_HEARTBEAT_TIMEOUT_SECONDS)));
    };
    match raw.parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(n) if (1..=MAX_IDLE_SECONDS).contains(&n) => Ok(Some(Duration::seconds(n))),
        _ => Err(ConfigError(format!(
            "SESSIONS_HEARTBEAT_TIMEOUT_SECONDS must be 0 (off) or a whole number of seconds up to {MAX_IDLE_SECONDS}, got {raw:?}"
        ))),
    }
}

/// `SESSIONS_TLS_ROOTS`: `amazon` (the default: only Amazon Trust Services, which issues every
/// AWS endpoint's certificate) or `system` (the operating system's store, for a proxy or a
/// private CA in front of the endpoint).
pub fn tls_roots(value: Option<String>) -> Result<TrustRoots, ConfigError> {
    match set(value).as_deref() {
        None | Some("amazon") => Ok(TrustRoots::Amazon),
        Some("system") => Ok(TrustRoots::System),
        Some(other) => Err(ConfigError(format!(
            "SESSIONS_TLS_ROOTS must be \"amazon\" or \"system\", got {other:?}"
        ))),
    }
}

/// `SESSIONS_RETENTION_DAYS`: whole days from 1 to 3650, or unset (no expiry).
pub fn retention(value: Option<String>) -> Result<Option<Duration>, ConfigError> {
    let Some(raw) = set(value) else {
        return Ok(None);
    };
    match raw.parse::<i64>() {
        Ok(n) if (1..=3650).contains(&n) => Ok(Some(Duration::days(n))),
        _ => Err(ConfigError(format!(
            "SESSIONS_RETENTION_DAYS must be a whole number of days from 1 to 3650, got {raw:?}"
        ))),
    }
}

/// `SESSIONS_ORG_CLAIM`: `org_id` when unset. A name the verifier already reads for something
/// else (`sub`, `scope`, ...) is refused, so the organization can never be read out of a claim
/// that the issuer fills with something other than an organization.
pub fn org_claim(value: Option<String>) -> Result<String, ConfigError> {
    let Some(name) = set(value) else {
        return Ok(DEFAULT_ORG_CLAIM.into());
    };
    if RESERVED_CLAIMS.contains(&name.as_str()) {
        return Err(ConfigError(format!(
            "SESSIONS_ORG_CLAIM must name the claim that carries the organization id, not the \
             registered claim {name:?}"
        )));
    }
    if name.len() > MAX_CLAIM_NAME_BYTES
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ConfigError(format!(
            "SESSIONS_ORG_CLAIM must be a claim name of at most {MAX_CLAIM_NAME_BYTES} bytes \
             without spaces"
        )));
    }
    Ok(name)
}

/// `SESSIONS_DEV_JWT_SECRET` (+ `_ISSUER`, `_AUDIENCE`): `None` when the secret is unset, which
/// is how every deployed function runs. A secret shorter than [`MIN_DEV_SECRET_BYTES`] is
/// refused: HS256 with less is guessable offline from one token.
pub fn dev_jwt(get: impl Fn(&str) -> Option<String>) -> Result<Option<DevJwtConfig>, ConfigError> {
    let Some(secret) = set(get("SESSIONS_DEV_JWT_SECRET")) else {
        return Ok(None);
    };
    if secret.len() < MIN_DEV_SECRET_BYTES {
        return Err(ConfigError(format!(
            "SESSIONS_DEV_JWT_SECRET must be at least {MIN_DEV_SECRET_BYTES} bytes"
        )));
    }
    Ok(Some(DevJwtConfig {
        secret: secret.into_bytes(),
        issuer: set(get("SESSIONS_DEV_JWT_ISSUER")).unwrap_or_else(|| DEFAULT_DEV_ISSUER.into()),
        audience: set(get("SESSIONS_DEV_JWT_AUDIENCE"))
            .unwrap_or_else(|| DEFAULT_DEV_AUDIENCE.into()),
    }))
}

/// `SESSIONS_METRICS_NAMESPACE` (default `SessionsApi`) and `SESSIONS_METRICS` (`on`, the
/// default, or `off`); metrics are written only where the Lambda runtime names the function.
pub fn metrics(get: impl Fn(&str) -> Option<String>) -> Result<MetricsConfig, ConfigError> {
    let switched_on = match set(get("SESSIONS_METRICS")).as_deref() {
        None | Some("on") => true,
        Some("off") => false,
        Some(other) => {
            return Err(ConfigError(format!(
                "SESSIONS_METRICS must be \"on\" or \"off\", got {other:?}"
            )))
        }
    };
    Ok(MetricsConfig {
        namespace: set(get("SESSIONS_METRICS_NAMESPACE"))
            .unwrap_or_else(|| DEFAULT_METRICS_NAMESPACE.into()),
        enabled: switched_on && set(get("AWS_LAMBDA_FUNCTION_NAME")).is_some(),
    })
}

/// `SESSIONS_CURSOR_KEY` (required; it signs) then `SESSIONS_CURSOR_KEY_PREVIOUS` (optional;
/// still verifies during a rotation), each at least [`MIN_CURSOR_KEY_BYTES`].
pub fn cursor_keys(get: impl Fn(&str) -> Option<String>) -> Result<Vec<Vec<u8>>, ConfigError> {
    let mut keys = Vec::new();
    for name in ["SESSIONS_CURSOR_KEY", "SESSIONS_CURSOR_KEY_PREVIOUS"] {
        match set(get(name)) {
            Some(key) if key.len() >= MIN_CURSOR_KEY_BYTES => keys.push(key.into_bytes()),
            Some(_) => {
                return Err(ConfigError(format!(
                    "{name} must be at least {MIN_CURSOR_KEY_BYTES} bytes"
                )))
            }
            None if name == "SESSIONS_CURSOR_KEY" => {
                return Err(ConfigError(format!(
                    "SESSIONS_CURSOR_KEY is not set (a secret of at least {MIN_CURSOR_KEY_BYTES} \
                     bytes that signs pagination cursors)"
                )))
            }
            None => {}
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn retention_is_optional_and_checked() {
        assert_eq!(retention(None), Ok(None));
        assert_eq!(retention(Some("7".into())), Ok(Some(Duration::days(7))));
        for bad in ["0", "3651", "x", "-1"] {
            assert!(retention(Some(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_roots_default_to_amazon_and_are_checked() {
        assert_eq!(tls_roots(None), Ok(TrustRoots::Amazon));
        assert_eq!(tls_roots(Some(String::new())), Ok(TrustRoots::Amazon));
        assert_eq!(tls_roots(Some("amazon".into())), Ok(TrustRoots::Amazon));
        assert_eq!(tls_roots(Some("system".into())), Ok(TrustRoots::System));
        for bad in ["System", "native", "none", " amazon"] {
            assert!(tls_roots(Some(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn metrics_are_on_in_lambda_unless_switched_off() {
        let m = |pairs: &[(&str, &str)]| {
            let vars: std::collections::HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            metrics(|name| vars.get(name).cloned())
        };
        let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "list-sessions");
        assert_eq!(
            m(&[lambda]),
            Ok(MetricsConfig {
                namespace: DEFAULT_METRICS_NAMESPACE.into(),
                enabled: true
            })
        );
        assert!(!m(&[]).expect("valid").enabled, "off outside Lambda");
        assert!(
            !m(&[lambda, ("SESSIONS_METRICS", "off")])
                .expect("valid")
                .enabled
        );
        assert_eq!(
            m(&[("SESSIONS_METRICS_NAMESPACE", "Mine")])
                .expect("valid")
                .namespace,
            "Mine"
        );
        assert!(m(&[("SESSIONS_METRICS", "no")])
            .expect_err("refused")
            .0
            .contains("SESSIONS_METRICS"));
    }

    #[test]
    fn heartbeat_timeout_defaults_to_90_s_and_0_turns_it_off() {
        assert_eq!(heartbeat_timeout(None), Ok(Some(Duration::seconds(90))));
        assert_eq!(heartbeat_timeout(Some("0".into())), Ok(None));
        assert_eq!(
            heartbeat_timeout(Some("30".into())),
            Ok(Some(Duration::seconds(30)))
        );
        for bad in ["-1", "1.5", "x", "2592001"] {
            let err = heartbeat_timeout(Some(bad.into())).expect_err(bad);
            assert!(
                err.0.contains("SESSIONS_HEARTBEAT_TIMEOUT_SECONDS"),
                "{err}"
            );
        }
    }

    #[test]
    fn defaults() {
        let c = load(&[("SESSIONS_TABLE", "t"), ("SESSIONS_CURSOR_KEY", KEY)]).expect("valid");
        assert_eq!(c.idle_window, Duration::seconds(300));
        assert_eq!(c.org_claim, "org_id");
        assert!(c.dev_jwt.is_none());
        assert_eq!(c.cursor_keys.len(), 1);
    }

    #[test]
    fn idle_window_is_configurable_and_checked() {
        let c = load(&[
            ("SESSIONS_TABLE", "t"),
            ("SESSIONS_CURSOR_KEY", KEY),
            ("SESSIONS_IDLE_SECONDS", "60"),
        ])
        .expect("valid");
        assert_eq!(c.idle_window, Duration::seconds(60));
        for bad in ["0", "-5", "abc", "1.5"] {
            assert!(load(&[
                ("SESSIONS_TABLE", "t"),
                ("SESSIONS_CURSOR_KEY", KEY),
                ("SESSIONS_IDLE_SECONDS", bad),
            ])
            .is_err());
        }
    }

    #[test]
    fn short_secrets_are_refused_with_a_clear_message() {
        let err = load(&[
            ("SESSIONS_TABLE", "t"),
            ("SESSIONS_CURSOR_KEY", KEY),
            ("SESSIONS_DEV_JWT_SECRET", "short"),
        ])
        .expect_err("short");
        assert!(err
            .0
            .contains("SESSIONS_DEV_JWT_SECRET must be at least 32 bytes"));
        let err =
            load(&[("SESSIONS_TABLE", "t"), ("SESSIONS_CURSOR_KEY", "short")]).expect_err("short");
        assert!(err.0.contains("SESSIONS_CURSOR_KEY"));
    }

    #[test]
    fn table_and_cursor_key_are_required() {
        assert!(load(&[("SESSIONS_CURSOR_KEY", KEY)]).is_err());
        assert!(load(&[("SESSIONS_TABLE", "t")]).is_err());
    }

    #[test]
    fn helpers_parse_one_variable_each() {
        assert_eq!(idle_window(None), Ok(Duration::seconds(300)));
        assert_eq!(idle_window(Some(String::new())), Ok(Duration::seconds(300)));
        assert_eq!(idle_window(Some("2592000".into())), Ok(Duration::days(30)));
        assert!(idle_window(Some("2592001".into())).is_err());

        assert!(matches!(dev_jwt(|_| None), Ok(None)));
        let dev = dev_jwt(|k| (k == "SESSIONS_DEV_JWT_SECRET").then(|| KEY.to_string()))
            .expect("valid")
            .expect("set");
        assert_eq!(dev.secret, KEY.as_bytes());
        assert_eq!(
            (dev.issuer.as_str(), dev.audience.as_str()),
            (DEFAULT_DEV_ISSUER, DEFAULT_DEV_AUDIENCE)
        );
    }

    #[test]
    fn org_claim_is_configurable_but_not_a_registered_claim() {
        assert_eq!(org_claim(None).as_deref(), Ok("org_id"));
        assert_eq!(org_claim(Some("tenant".into())).as_deref(), Ok("tenant"));
        assert_eq!(
            org_claim(Some("https://example.com/org".into())).as_deref(),
            Ok("https://example.com/org")
        );
        for bad in [
            "sub",
            "scope",
            "scp",
            "iss",
            "aud",
            "exp",
            "a b",
            &"x".repeat(129),
        ] {
            assert!(org_claim(Some(bad.to_string())).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let c = load(&[
            ("SESSIONS_TABLE", "t"),
            ("SESSIONS_CURSOR_KEY", KEY),
            (
                "SESSIONS_CURSOR_KEY_PREVIOUS",
                "previous-key-previous-key-previous-key",
            ),
            (
                "SESSIONS_DEV_JWT_SECRET",
                "dev-secret-dev-secret-dev-secret-dev",
            ),
        ])
        .expect("valid");
        let shown = format!("{c:?} {c:#?}");
        assert!(shown.contains("<2 redacted>"), "{shown}");
        for secret in [KEY, "previous-key", "dev-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // Nor as the bytes a derived Debug of Vec<u8> would print.
        assert!(
            !shown.contains(&format!("{:?}", &KEY.as_bytes()[..4])),
            "{shown}"
        );
    }
}
