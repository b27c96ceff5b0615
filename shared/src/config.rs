//! Configuration from the environment, checked once at start-up so a bad deployment fails
//! loudly at init instead of per request.

use chrono::Duration;

use crate::auth::{DevJwtConfig, MIN_DEV_SECRET_BYTES};

pub const DEFAULT_IDLE_SECONDS: i64 = 300;
pub const DEFAULT_ORG_CLAIM: &str = "org_id";
pub const DEFAULT_DEV_ISSUER: &str = "sessions-api-dev";
pub const DEFAULT_DEV_AUDIENCE: &str = "sessions-api";
pub const MIN_CURSOR_KEY_BYTES: usize = 32;

/// Everything the functions read from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SESSIONS_TABLE`.
    pub table: String,
    /// `SESSIONS_IDLE_SECONDS`: how long without activity before a session reads as idle.
    pub idle_window: Duration,
    /// `SESSIONS_ORG_CLAIM`: the claim that names the caller's organization.
    pub org_claim: String,
    /// `SESSIONS_DEV_JWT_SECRET` (+ `_ISSUER`, `_AUDIENCE`): local runs only.
    pub dev_jwt: Option<DevJwtConfig>,
    /// `SESSIONS_CURSOR_KEY`, then `SESSIONS_CURSOR_KEY_PREVIOUS` during a rotation.
    pub cursor_keys: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same as [`Config::from_env`] over any source of variables, for tests.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        let table = table_name(get("SESSIONS_TABLE"))?;
        let idle_window = match get("SESSIONS_IDLE_SECONDS") {
            None => Duration::seconds(DEFAULT_IDLE_SECONDS),
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=86_400 * 30).contains(&n) => Duration::seconds(n),
                _ => {
                    return Err(ConfigError(format!(
                        "SESSIONS_IDLE_SECONDS must be a whole number of seconds from 1 to 2592000, got {raw:?}"
                    )))
                }
            },
        };
        let org_claim = get("SESSIONS_ORG_CLAIM").unwrap_or_else(|| DEFAULT_ORG_CLAIM.into());
        let dev_jwt = match get("SESSIONS_DEV_JWT_SECRET") {
            None => None,
            Some(secret) if secret.len() < MIN_DEV_SECRET_BYTES => {
                return Err(ConfigError(format!(
                    "SESSIONS_DEV_JWT_SECRET must be at least {MIN_DEV_SECRET_BYTES} bytes"
                )))
            }
            Some(secret) => Some(DevJwtConfig {
                secret: secret.into_bytes(),
                issuer: get("SESSIONS_DEV_JWT_ISSUER").unwrap_or_else(|| DEFAULT_DEV_ISSUER.into()),
                audience: get("SESSIONS_DEV_JWT_AUDIENCE")
                    .unwrap_or_else(|| DEFAULT_DEV_AUDIENCE.into()),
            }),
        };
        let mut cursor_keys = Vec::new();
        for name in ["SESSIONS_CURSOR_KEY", "SESSIONS_CURSOR_KEY_PREVIOUS"] {
            match get(name) {
                Some(key) if key.len() >= MIN_CURSOR_KEY_BYTES => cursor_keys.push(key.into_bytes()),
                Some(_) => {
                    return Err(ConfigError(format!(
                        "{name} must be at least {MIN_CURSOR_KEY_BYTES} bytes"
                    )))
                }
                None if name == "SESSIONS_CURSOR_KEY" => {
                    return Err(ConfigError(
                        "SESSIONS_CURSOR_KEY is not set (a secret of at least 32 bytes that signs pagination cursors)".into(),
                    ))
                }
                None => {}
            }
        }
        Ok(Config {
            table,
            idle_window,
            org_claim,
            dev_jwt,
            cursor_keys,
        })
    }
}

/// `SESSIONS_TABLE`, required by every binary that touches the table.
pub fn table_name(value: Option<String>) -> Result<String, ConfigError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ConfigError("SESSIONS_TABLE is not set (the DynamoDB table name)".into()))
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
}
