//! Where a function's init time goes: the calls a function's `main` makes before its first
//! poll, timed one by one in a fresh process with the function's environment. `Api::from_env`
//! is split into its steps (configuration, SDK configuration, SDK client) as
//! `DynamoStore::from_env` makes them, so a regression points at its cause.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};
use sessions::api::Api;
use sessions::config::Config;
use sessions::store::{transport, DynamoStore};
use sessions::telemetry;

use crate::process::json_of;
use crate::stats::ms;

/// Milliseconds per step, in the order a function runs them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct InitSteps {
    /// `#[tokio::main(flavor = "current_thread")]`: the functions' runtime.
    pub runtime: f64,
    /// `telemetry::init()`: the JSON log subscriber.
    pub telemetry: f64,
    /// `Config::from_env()`.
    pub config: f64,
    /// `transport::sdk_loader(..).load()`: region, credentials, endpoint, timeouts, the HTTPS
    /// client and its trust store.
    pub sdk_config: f64,
    /// `aws_sdk_dynamodb::Client::new`.
    pub sdk_client: f64,
    /// `Api::new`: authenticator and cursor codec.
    pub api: f64,
}

/// Runs in the probe process (`sessions-bench probe-init`), which has the function's env.
pub fn probe() -> InitSteps {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let runtime_ms = ms(started.elapsed());
    runtime.block_on(async {
        let t = Instant::now();
        telemetry::init();
        let telemetry_ms = ms(t.elapsed());
        let t = Instant::now();
        let config = Config::from_env().expect("the function's configuration");
        let config_ms = ms(t.elapsed());
        let t = Instant::now();
        let sdk = transport::sdk_loader(config.tls_roots)
            .expect("the trust store")
            .load()
            .await;
        let sdk_config_ms = ms(t.elapsed());
        let t = Instant::now();
        let client = Client::new(&sdk);
        let sdk_client_ms = ms(t.elapsed());
        let t = Instant::now();
        let api = Api::new(&config, DynamoStore::new(client, config.table.clone()));
        let api_ms = ms(t.elapsed());
        assert!(api.is_ok(), "the function's API builds");
        InitSteps {
            runtime: runtime_ms,
            telemetry: telemetry_ms,
            config: config_ms,
            sdk_config: sdk_config_ms,
            sdk_client: sdk_client_ms,
            api: api_ms,
        }
    })
}

/// `runs` fresh probe processes of this executable with exactly `env`.
pub fn measure(
    exe: &Path,
    env: &[(String, String)],
    runs: usize,
) -> Result<Vec<InitSteps>, String> {
    (0..runs)
        .map(|_| {
            let mut command = Command::new(exe);
            command
                .arg("probe-init")
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            json_of(command, "probe-init")
        })
        .collect()
}
