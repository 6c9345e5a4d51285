//! `lookout serve`: the daemon's endpoint.

use super::CliError;
use crate::server::{serve, DEFAULT_LISTEN};
use crate::Telemetry;
use std::net::SocketAddr;

#[derive(Debug, clap::Args)]
pub(super) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN, env = "LOOKOUT_LISTEN")]
    listen: SocketAddr,
    /// Path serving the Prometheus exposition.
    #[arg(long, default_value = "/metrics")]
    path: String,
}

pub(super) async fn run(args: ServeArgs) -> Result<(), CliError> {
    let telemetry = Telemetry::new();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| CliError::Bind {
            addr: args.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(CliError::Runtime)?;
    println!(
        "lookout {} serving http://{addr}{} (and /health, /version)",
        crate::VERSION,
        args.path
    );
    serve(telemetry, listener, args.path, shutdown_signal())
        .await
        .map_err(CliError::Runtime)?;
    println!("lookout stopped");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
