//! The environment the CLI shares with the functions, read by the functions' own rules.
//!
//! The shared crate validates `SESSIONS_IDLE_SECONDS` and the `SESSIONS_DEV_JWT_*` variables
//! only as part of the whole [`Config`], which also insists on variables a CLI command may not
//! need (`SESSIONS_CURSOR_KEY`, and `SESSIONS_TABLE` for `token`). Rather than copy those
//! rules, [`functions_config`] runs the real parser with just the variables a command uses and
//! placeholders for the rest, so the CLI can never disagree with the functions about them.

use chrono::Duration;
use sessions_shared::auth::DevJwtConfig;
use sessions_shared::config::{self, Config, ConfigError};

/// Stands in for variables a command does not read; never used for anything.
const PLACEHOLDER_TABLE: &str = "unused-by-sessions-admin";
/// Long enough to pass the cursor-key length check; never used for anything.
const PLACEHOLDER_CURSOR_KEY: &str = "unused-by-sessions-admin-placeholder-cursor-key";

const IDLE_VARS: &[&str] = &["SESSIONS_IDLE_SECONDS"];
const DEV_JWT_VARS: &[&str] = &[
    "SESSIONS_DEV_JWT_SECRET",
    "SESSIONS_DEV_JWT_ISSUER",
    "SESSIONS_DEV_JWT_AUDIENCE",
];

/// `SESSIONS_TABLE`, required by every command that touches the table.
pub fn table() -> Result<String, ConfigError> {
    config::table_name(std::env::var("SESSIONS_TABLE").ok())
}

/// `SESSIONS_IDLE_SECONDS` (300 s by default): the window the functions use, so the derived
/// statuses the CLI prints are the ones the API will serve.
pub fn idle_window() -> Result<Duration, ConfigError> {
    idle_window_from(env)
}

/// The development JWT settings `token` signs with; the secret is required.
pub fn dev_jwt() -> Result<DevJwtConfig, ConfigError> {
    dev_jwt_from(env)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn idle_window_from(get: impl Fn(&str) -> Option<String>) -> Result<Duration, ConfigError> {
    Ok(functions_config(IDLE_VARS, get)?.idle_window)
}

fn dev_jwt_from(get: impl Fn(&str) -> Option<String>) -> Result<DevJwtConfig, ConfigError> {
    functions_config(DEV_JWT_VARS, get)?.dev_jwt.ok_or_else(|| {
        ConfigError(format!(
            "SESSIONS_DEV_JWT_SECRET is not set (the HS256 secret the functions verify development tokens with, at least {} bytes)",
            sessions_shared::auth::MIN_DEV_SECRET_BYTES
        ))
    })
}

/// The functions' [`Config`] parser over the variables in `forward` only; see the module docs.
fn functions_config(
    forward: &[&str],
    get: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    Config::from_lookup(|name| {
        if forward.contains(&name) {
            get(name)
        } else {
            match name {
                "SESSIONS_TABLE" => Some(PLACEHOLDER_TABLE.into()),
                "SESSIONS_CURSOR_KEY" => Some(PLACEHOLDER_CURSOR_KEY.into()),
                _ => None,
            }
        }
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

    #[test]
    fn idle_window_defaults_and_is_validated_like_the_functions() {
        assert_eq!(
            idle_window_from(vars(&[])).expect("default"),
            Duration::seconds(config::DEFAULT_IDLE_SECONDS)
        );
        assert_eq!(
            idle_window_from(vars(&[("SESSIONS_IDLE_SECONDS", "60")])).expect("set"),
            Duration::seconds(60)
        );
        assert!(idle_window_from(vars(&[("SESSIONS_IDLE_SECONDS", "0")])).is_err());
        // A short dev secret is `token`'s business, not the idle window's.
        assert!(idle_window_from(vars(&[("SESSIONS_DEV_JWT_SECRET", "short")])).is_ok());
    }
}
