//! The environment the CLI shares with the functions, read by the shared crate's own parsers
//! ([`sessions::config`]) one variable at a time: the CLI can never disagree with the
//! functions about a variable, and a command needs only the variables it uses (`token` runs
//! with no table and no cursor key).

use chrono::Duration;
use sessions::config::{self, env, ConfigError, DevJwtConfig, TrustRoots, MIN_DEV_SECRET_BYTES};

/// `SESSIONS_TABLE`, required by every command that touches the table.
pub fn table() -> Result<String, ConfigError> {
    config::table_name(env("SESSIONS_TABLE"))
}

/// `SESSIONS_TLS_ROOTS` (`amazon` by default): the authorities the functions trust.
pub fn tls_roots() -> Result<TrustRoots, ConfigError> {
    config::tls_roots(env("SESSIONS_TLS_ROOTS"))
}

/// `SESSIONS_IDLE_SECONDS` (300 s by default): the window the functions use, so the derived
/// statuses the CLI prints are the ones the API will serve.
pub fn idle_window() -> Result<Duration, ConfigError> {
    config::idle_window(env("SESSIONS_IDLE_SECONDS"))
}

/// `SESSIONS_ORG_CLAIM` (`org_id` by default): the claim `token` writes the organization in,
/// the one the functions read it from.
pub fn org_claim() -> Result<String, ConfigError> {
    config::org_claim(env("SESSIONS_ORG_CLAIM"))
}

/// The development JWT settings `token` signs with; unlike for the functions, the secret is
/// required.
pub fn dev_jwt() -> Result<DevJwtConfig, ConfigError> {
    dev_jwt_from(env)
}

fn dev_jwt_from(get: impl Fn(&str) -> Option<String>) -> Result<DevJwtConfig, ConfigError> {
    config::dev_jwt(get)?.ok_or_else(|| {
        ConfigError(format!(
            "SESSIONS_DEV_JWT_SECRET is not set (the HS256 secret the functions verify \
             development tokens with, at least {MIN_DEV_SECRET_BYTES} bytes)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn dev_jwt_needs_a_long_enough_secret_and_nothing_else() {
        let err = dev_jwt_from(vars(&[])).expect_err("missing");
        assert!(
            err.0.contains("SESSIONS_DEV_JWT_SECRET is not set"),
            "{err}"
        );
        let err = dev_jwt_from(vars(&[("SESSIONS_DEV_JWT_SECRET", "short")])).expect_err("short");
        assert!(err.0.contains("at least 32 bytes"), "{err}");
        // No table, no cursor key, and a broken idle window do not matter to `token`.
        let c = dev_jwt_from(vars(&[
            ("SESSIONS_DEV_JWT_SECRET", SECRET),
            ("SESSIONS_IDLE_SECONDS", "nonsense"),
        ]))
        .expect("valid");
        assert_eq!(c.issuer, config::DEFAULT_DEV_ISSUER);
        assert_eq!(c.audience, config::DEFAULT_DEV_AUDIENCE);
    }

    #[test]
    fn dev_jwt_issuer_and_audience_come_from_the_environment() {
        let c = dev_jwt_from(vars(&[
            ("SESSIONS_DEV_JWT_SECRET", SECRET),
            ("SESSIONS_DEV_JWT_ISSUER", "me"),
            ("SESSIONS_DEV_JWT_AUDIENCE", "them"),
        ]))
        .expect("valid");
        assert_eq!((c.issuer.as_str(), c.audience.as_str()), ("me", "them"));
    }
}
