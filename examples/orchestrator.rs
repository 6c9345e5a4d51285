//! A coordinator running agents, tools, tasks and errors, served on `/metrics`.
//!
//! ```text
//! cargo run --release --example orchestrator -- [--listen ADDR] [--duration SECS]
//! ```
//!
//! The workload is `lookout-workload`'s [`Orchestrator`]: sessions of a hierarchical
//! coordinator spawn sub-agents of several types; each works through its phase with model
//! and tool calls (some fail), consumes tokens, fills its context window, and now and then
//! hits an error; each session is also a run (seed 002), a skill entry per agent (seed
//! 000) and a conversation (seed 001). Every agent and run metric family gets series; with
//! `TELEMETRY_BASE_DIR` set the store keeps it all (`lookout serve --demo` serves the same
//! workload with the web page). `tests/dashboards.rs` runs this example (its [`run`]) in a
//! child process for a real Prometheus, and checks that every panel of the bundled Grafana
//! dashboards shows data.

use clap::Parser;
use lookout::Telemetry;
use lookout::config::DEFAULT_LISTEN;
use lookout::server::serve;
use lookout_workload::Orchestrator;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Parser)]
pub struct Args {
    /// Address serving /metrics, /health and /version.
    #[arg(long, default_value_t = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    duration: Option<u64>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    run(Args::parse()).await
}

/// Serves `/metrics` on `args.listen` and runs the coordinator until `args.duration` has
/// passed or Ctrl-C; the first line printed names the address.
pub async fn run(args: Args) -> std::io::Result<()> {
    let telemetry = Telemetry::new();
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    println!("orchestrator: metrics at http://{addr}/metrics (Ctrl-C to stop)");

    let stop = async move {
        match args.duration {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    let server = tokio::spawn(serve(telemetry.clone(), listener, "/metrics".into(), stop));
    let orchestrator = Orchestrator::new(telemetry.clone());
    let coordinator = tokio::spawn(async move { orchestrator.forever().await });
    let result = server.await.map_err(std::io::Error::other)?;
    coordinator.abort();
    let agents = telemetry.registry().series_count();
    println!(
        "orchestrator: stopped after {:?} with {agents} series",
        telemetry.uptime()
    );
    result
}
