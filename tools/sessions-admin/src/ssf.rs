//! The Shared Signals commands: `ssf-keygen` writes the local signing key `make dev` passes to
//! the functions, and `ssf-push` runs the local push worker: the delivery code of the
//! `ssf-push` function behind a loopback HTTP endpoint, retrying in memory and writing dead
//! letters to a file (`sessions::ssf::local`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};
use sessions::ssf::local::{self, LocalScheduler};
use sessions::ssf::settings::SsfSettings;
use sessions::ssf::signer::{LocalSigner, Signer};
use sessions::ssf::transmitter::Transmitter;

use crate::commands::{store, CliError};
use crate::settings;

/// `ssf-keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where the PEM (PKCS#8, P-256) goes; an existing key there is kept.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `ssf-push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The loopback address to accept delivery messages on (EventBridge envelopes as JSON).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9200")]
    pub listen: SocketAddr,
    /// The file dead letters are appended to, one JSON object per line.
    #[arg(
        long,
        value_name = "FILE",
        default_value = ".dev/ssf-dead-letters.jsonl"
    )]
    pub dead_letters: PathBuf,
}

/// Writes a fresh key to `out` unless one is there; prints its file and `kid`.
pub fn keygen(args: KeygenArgs) -> Result<Value, CliError> {
    let failed = |e: std::io::Error| CliError::new(format!("{}: {e}", args.out.display()));
    let created = !args.out.exists();
    if created {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&args.out)
            .map_err(failed)?;
        file.write_all(LocalSigner::generate_pem().as_bytes())
            .map_err(failed)?;
    }
    let pem = std::fs::read_to_string(&args.out).map_err(failed)?;
    let signer = LocalSigner::from_pem(&pem)
        .map_err(|e| CliError::new(format!("{}: {e}", args.out.display())))?;
    Ok(json!({
        "file": args.out.display().to_string(),
        "kid": signer.jwk().kid,
        "created": created,
    }))
}

/// Serves the local push worker until Ctrl-C.
pub async fn push(args: PushArgs) -> Result<Value, CliError> {
    if !args.listen.ip().is_loopback() {
        return Err(CliError::new(format!(
            "--listen {} is not a loopback address: the worker takes unauthenticated messages",
            args.listen
        )));
    }
    sessions::telemetry::init();
    let ssf = SsfSettings::from_env()?;
    let store = store().await?;
    let transmitter = Transmitter::new(&ssf, store, settings::tls_roots()?).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::new(format!("--listen {}: {e}", args.listen)))?;
    eprintln!(
        "sessions-admin ssf-push listening on http://{} (dead letters: {})",
        args.listen,
        args.dead_letters.display()
    );
    let scheduler = LocalScheduler::new(transmitter, args.dead_letters.clone());
    local::serve(listener, scheduler, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| CliError::new(format!("the push worker: {e}")))?;
    Ok(json!({ "stopped": true, "dead_letters": args.dead_letters.display().to_string() }))
}
