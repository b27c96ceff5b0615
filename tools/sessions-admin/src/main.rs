//! `sessions-admin`: sets up and fills the Sessions API's table for local runs and tests, mints
//! development tokens, and makes the connection side's calls, through the same shared crate the
//! functions use.
//!
//! ```text
//! sessions-admin create-table
//! sessions-admin create-app --org ORG [--id APP] [--name NAME]
//! sessions-admin create-session --app APP [--status disconnected] [--created-at TS] ...
//! sessions-admin seed --app APP --count 40
//! sessions-admin token --org ORG [--scope "sessions:read sessions:write"] [--ttl-seconds 3600]
//! sessions-admin connect --app APP [--name S] [--hostname S] [--user-agent S]
//!                        [--client-info JSON] [--token-expires-at TS] [--idempotency-key KEY]
//! sessions-admin heartbeat --app APP --session ID [--last-active-at TS] [--token-expires-at TS]
//! sessions-admin disconnect --app APP --session ID
//! sessions-admin heartbeat-all --app APP
//! sessions-admin sweep
//! sessions-admin events [--forward URL]... [--from trim-horizon|latest]
//! sessions-admin ssf-keygen --out target/dev/ssf-signing-key.pem
//! sessions-admin ssf-push [--listen 127.0.0.1:9200] [--dead-letters FILE]
//! ```
//!
//! Configured like the functions: `SESSIONS_TABLE`, the standard AWS environment
//! (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, credentials), `SESSIONS_IDLE_SECONDS`,
//! `SESSIONS_HEARTBEAT_TIMEOUT_SECONDS`, `SESSIONS_RETENTION_DAYS` and, for `token`,
//! `SESSIONS_DEV_JWT_SECRET` / `_ISSUER` / `_AUDIENCE` and `SESSIONS_ORG_CLAIM`. Each command
//! prints one JSON document on stdout (but `events`, which prints one JSON line per event until
//! stopped, reading the stream at `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, else
//! `AWS_ENDPOINT_URL_DYNAMODB`); errors go to stderr with exit status 2 for bad
//! arguments, 1 otherwise.

mod args;
mod commands;
mod seed;
mod settings;
mod ssf;

use std::io::Write;
use std::process::ExitCode;

use args::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_checked();
    match commands::run(cli.command).await {
        Ok(document) => print(&document),
        Err(e) => fail(&e),
    }
}

/// Pretty JSON and a trailing newline: readable at a terminal, one document for `jq` or scripts.
fn print(document: &serde_json::Value) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match serde_json::to_writer_pretty(&mut out, document)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("could not write the output: {e}")),
    }
}

fn fail(message: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("sessions-admin: error: {message}");
    ExitCode::FAILURE
}
