//! `sessions-gateway`: see `docs/gateway.md`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use sessions_gateway::settings::{LogFormat, Settings};
use sessions_gateway::{serve, Gateway};

#[tokio::main]
async fn main() -> ExitCode {
    let settings = Settings::parse();
    let subscriber = tracing_subscriber::fmt().with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => subscriber.json().init(),
        LogFormat::Text => subscriber.init(),
    }
    let listen = settings.listen;
    let gateway = match Gateway::new(settings) {
        Ok(gateway) => Arc::new(gateway),
        Err(error) => {
            eprintln!("sessions-gateway: {error}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("sessions-gateway: cannot listen on {listen}: {error}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%listen, upstream = %gateway.settings.upstream_url, "sessions-gateway listening");
    match serve(gateway, listener, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sessions-gateway: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM (what a container runtime sends).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
