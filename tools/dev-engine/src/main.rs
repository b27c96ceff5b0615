//! `dev-engine`: a DynamoDB-compatible HTTP endpoint on loopback, for local runs.
//!
//! It serves the embedded engine of the `dynoxide-rs` crate (SQLite underneath)
//! so that `make dev`, the admin CLI and the functions under `cargo lambda watch`
//! talk to "DynamoDB" through the real AWS SDK, pointed here with
//! `AWS_ENDPOINT_URL_DYNAMODB`, without Docker, Java or an AWS account.
//!
//! ```text
//! dev-engine --host 127.0.0.1 --port 8000 [--db-file PATH]
//! ```
//!
//! Once it accepts connections it prints exactly one line on stderr,
//! `dev-engine listening on http://HOST:PORT`, which scripts can wait for
//! (with `--port 0` the line carries the port the kernel picked). It stops
//! cleanly on Ctrl-C or SIGTERM, letting requests in flight finish. Unix only,
//! like the scripts that start it.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dynoxide::Database;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Command line of the engine; every option has a default fit for `make dev`.
#[derive(Debug, Parser)]
#[command(
    name = "dev-engine",
    version,
    about = "Serve a DynamoDB-compatible endpoint (dynoxide) for local development"
)]
struct Args {
    /// Address to listen on. Keep it on loopback: the engine checks no credentials.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on; 0 lets the kernel pick a free one (printed on startup).
    #[arg(long, default_value_t = 8000)]
    port: u16,

    /// SQLite file to keep the data in across restarts; in memory when omitted,
    /// so every start begins with no tables.
    #[arg(long, value_name = "PATH")]
    db_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dev-engine: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the database, binds, announces the address and serves until a signal.
///
/// Errors are sentences for a person at a terminal, hence `String`.
async fn run(args: Args) -> Result<(), String> {
    let db = open_database(args.db_file.as_ref())?;

    // Install the handlers before announcing readiness: a script that sends
    // SIGTERM right after the "listening" line must stop us, not kill us.
    let shutdown =
        ShutdownSignals::install().map_err(|e| format!("cannot install signal handlers: {e}"))?;

    let listener = bind(&args.host, args.port).await?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    eprintln!("dev-engine listening on http://{local}");

    dynoxide::server::serve_with_shutdown(listener, db, shutdown.wait()).await?;
    eprintln!("dev-engine stopped");
    Ok(())
}

/// An in-memory database by default; a file when asked, so data can outlive a run.
fn open_database(db_file: Option<&PathBuf>) -> Result<Database, String> {
    match db_file {
        None => Database::memory().map_err(|e| format!("cannot open an in-memory database: {e}")),
        Some(path) => {
            // dynoxide takes the path as UTF-8; say so rather than mangle it.
            let text = path
                .to_str()
                .ok_or_else(|| format!("--db-file {} is not valid UTF-8", path.display()))?;
            Database::new(text).map_err(|e| format!("cannot open database file {text}: {e}"))
        }
    }
}

/// Binds the listener, turning "address in use" into advice instead of an errno.
async fn bind(host: &str, port: u16) -> Result<TcpListener, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve --host {host}: {e}"))?
        .collect();
    let mut last_error = format!("--host {host} resolved to no address");
    for addr in addrs {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                return Err(format!(
                    "port {port} on {host} is already in use; stop the process \
                     listening there (another dev-engine?) or pass a different --port"
                ));
            }
            Err(e) => last_error = format!("cannot listen on {addr}: {e}"),
        }
    }
    Err(last_error)
}

/// Ctrl-C (SIGINT) and SIGTERM, registered up front so a failure shows at startup.
struct ShutdownSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl ShutdownSignals {
    fn install() -> io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves on the first of the two signals; the server then drains and returns.
    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        eprintln!("dev-engine: shutting down");
    }
}
