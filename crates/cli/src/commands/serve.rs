//! `lookout serve`: the daemon's endpoint.

use crate::api::ApiOptions;
use crate::args::ServeArgs;
use crate::error::CliError;
use lookout::Telemetry;
use lookout::config::{Config, DEFAULT_LISTEN, process_env};
use lookout::server::{ConnectionLimits, serve_connections};
use lookout::store::{StoreConfig, postgres};
use lookout_exporter_otlp::ingest_grpc;
use lookout_query::monitors::MonitorConfig;
use std::time::Duration;

pub(super) async fn run(args: ServeArgs) -> Result<(), CliError> {
    let mut config = match &args.config {
        Some(path) => Config::load(path, &process_env)?,
        None => Config::default().with_env(&process_env)?,
    };
    if args.demo {
        if !config.store_is_set() {
            config.store = Some(StoreConfig::new(demo_store()?));
        }
        config.metric_interval = config.metric_interval.min(DEMO_METRIC_INTERVAL);
    }
    let config = config.with_default_store();
    let monitors = config
        .monitors
        .as_ref()
        .map(MonitorConfig::parse)
        .transpose()
        .map_err(CliError::InvalidInput)?;
    let (listen, path) = match &config.prometheus {
        Some(p) => (
            args.listen.unwrap_or(p.listen),
            args.path.clone().unwrap_or(p.path.clone()),
        ),
        // No exposition: /health, /version and /export only.
        None => (args.listen.unwrap_or(DEFAULT_LISTEN), String::new()),
    };
    let options = api_options(&args, listen, path.clone())?;
    let follows = match &args.store_url {
        Some(url) => Some((
            url,
            postgres::describe(url).map_err(CliError::InvalidInput)?,
        )),
        None => None,
    };
    let listener = bind(listen).await?;
    let addr = listener.local_addr().map_err(CliError::Runtime)?;
    let otlp_http = match args.otlp_http {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let otlp_grpc = match args.otlp_grpc {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    // From here on, every way out shuts the exporters down off the async threads.
    let telemetry = Telemetry::builder()
        .config(config)
        .exporters(super::exporters_on_this_runtime())
        .build()?;
    let router = crate::api::router(telemetry.clone(), &options);
    println!(
        "lookout {} serving http://{addr}{} (and /health, /version, POST /export, /api/v1, OTLP /v1/traces and /v1/metrics)",
        lookout::VERSION,
        path
    );
    if let Some(pipeline) = telemetry.pipeline() {
        for (name, destination) in pipeline.exporters() {
            println!("exporting to {name}: {destination}");
        }
    }
    // Stops (on drop) once the daemon has stopped; the next start catches up.
    let _follower = match (follows, telemetry.store()) {
        (Some((url, place)), Some(store)) => {
            println!("following the store's log into PostgreSQL {place}");
            let follower =
                postgres::Follower::start(postgres::FollowConfig::new(store.config(), url.clone()));
            register_follower_metrics(telemetry.registry(), follower.status_source())?;
            Some(follower)
        }
        _ => None,
    };
    if let Some(monitors) = monitors {
        println!(
            "monitors: {} rules every {:?}{}",
            monitors.rules.len(),
            monitors.interval,
            monitors
                .webhook
                .as_ref()
                .map_or(String::new(), |url| format!(", alerts posted to {url}"))
        );
        crate::monitors::start(&telemetry, monitors);
    }
    let demo = args.demo.then(|| {
        match telemetry.store() {
            Some(store) => println!(
                "demo: a simulated orchestrator records into the store in {}",
                store.config().base_dir.display()
            ),
            None => println!(
                "demo: a simulated orchestrator records, but the store is off: the page has nothing to show"
            ),
        }
        let orchestrator = lookout_workload::Orchestrator::new(telemetry.clone());
        let working = orchestrator.clone();
        (orchestrator, tokio::spawn(async move { working.forever().await }))
    });
    let limits = ConnectionLimits {
        max_connections: args.max_connections,
        header_read_timeout: args.request_timeout,
    };
    raise_descriptor_limit();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let service = hyper_util::service::TowerToHyperService::new(router);
    let mut others = tokio::task::JoinSet::new();
    if let Some(listener) = otlp_http {
        println!(
            "OTLP/HTTP on http://{}/v1/traces and /v1/metrics",
            local(&listener)
        );
        let (service, stopped) = (service.clone(), until_stopped());
        others.spawn(async move {
            let _ = serve_connections(listener, service, limits, stopped).await;
        });
    }
    if let (Some(listener), Some(sink)) = (otlp_grpc, crate::api::grpc_sink(&telemetry)) {
        println!("OTLP/gRPC on {}", local(&listener));
        let (stopped, body_limit) = (until_stopped(), options.body_limit);
        let token = options.token.clone();
        others.spawn(async move {
            let served = ingest_grpc::serve(listener, sink, body_limit, token.as_deref(), stopped);
            if let Err(e) = served.await {
                eprintln!("lookout: OTLP/gRPC stopped: {e}");
            }
        });
    }
    let served = serve_connections(listener, service, limits, shutdown_signal()).await;
    if let Some((orchestrator, working)) = demo {
        // Its sessions end, cancelled, before the exporters' last flush.
        orchestrator.stop();
        let _ = tokio::time::timeout(SHUTDOWN_TIMEOUT, working).await;
    }
    let _ = stop.send(true);
    while others.join_next().await.is_some() {}
    let flushing = telemetry.clone();
    let report = tokio::task::spawn_blocking(move || flushing.shutdown(SHUTDOWN_TIMEOUT))
        .await
        .unwrap_or_default();
    if !report.exporters.is_empty() {
        print!("{}", super::export::render(&report));
    }
    served.map_err(CliError::Runtime)?;
    println!("lookout stopped");
    Ok(())
}

/// Exports how following the log into PostgreSQL goes:
/// `lookout_store_postgres_records_total{outcome}` (`indexed`, `refused`, `invalid`),
/// `lookout_store_postgres_failures_total` and `lookout_store_postgres_up` (0 while
/// failing).
fn register_follower_metrics(
    registry: &lookout::metrics::Registry,
    status: impl Fn() -> postgres::FollowStatus + Send + Sync + 'static,
) -> Result<(), CliError> {
    use lookout::metrics::Descriptor;
    let invalid = |e: lookout::metrics::MetricError| CliError::InvalidInput(e.to_string());
    let records = registry
        .counter(
            Descriptor::new(
                "lookout_store_postgres_records_total",
                "Log records the PostgreSQL follower inserted, refused for their data, or skipped as not records.",
            )
            .labels(["outcome"]),
        )
        .map_err(invalid)?;
    let failures = registry
        .counter(Descriptor::new(
            "lookout_store_postgres_failures_total",
            "Connections or transactions to PostgreSQL that failed (retried with backoff).",
        ))
        .map_err(invalid)?;
    let up = registry
        .gauge(Descriptor::new(
            "lookout_store_postgres_up",
            "1 while the last pass of the PostgreSQL follower succeeded, else 0.",
        ))
        .map_err(invalid)?;
    for outcome in ["indexed", "refused", "invalid"] {
        records.add(&[outcome], 0);
    }
    failures.add(&[], 0);
    let last = parking_lot::Mutex::new(postgres::FollowStatus::default());
    registry.on_collect(move || {
        let now = status();
        let mut last = last.lock();
        for (outcome, now, before) in [
            ("indexed", now.indexed, last.indexed),
            ("refused", now.refused, last.refused),
            ("invalid", now.invalid, last.invalid),
        ] {
            records.add(&[outcome], now.saturating_sub(before));
        }
        failures.add(&[], now.failures.saturating_sub(last.failures));
        up.set(&[], if now.error.is_none() { 1.0 } else { 0.0 });
        *last = now;
    });
    Ok(())
}

/// Raises this process's limit of open descriptors to the most it may have: each
/// connection holds one, and the default soft limit (often 1,024) is below what
/// `--max-connections` allows.
fn raise_descriptor_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The demo's store when none is configured: a new directory, `lookout-demo-XXXXXX` in
/// the system's temporary directory (made by this process alone), left there when the
/// daemon stops so the commands can read it.
fn demo_store() -> Result<std::path::PathBuf, CliError> {
    let dir = tempfile::Builder::new()
        .prefix("lookout-demo-")
        .tempdir()
        .map_err(CliError::Runtime)?;
    Ok(dir.keep())
}

/// A listener on `addr`, or the error naming it.
async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| CliError::Bind { addr, source })
}

/// The address `listener` is bound to (its port when 0 was asked).
fn local(listener: &tokio::net::TcpListener) -> String {
    listener
        .local_addr()
        .map_or_else(|_| "?".into(), |a| a.to_string())
}

/// The API's guards from the flags: a token is required off loopback unless `--no-auth`.
fn api_options(
    args: &ServeArgs,
    listen: std::net::SocketAddr,
    metrics_path: String,
) -> Result<ApiOptions, CliError> {
    let token = args.token.clone().filter(|t| !t.is_empty());
    let addresses = [Some(listen), args.otlp_http, args.otlp_grpc];
    let open = addresses
        .into_iter()
        .flatten()
        .find(|a| !a.ip().is_loopback());
    if let Some(open) = open.filter(|_| token.is_none() && !args.no_auth) {
        return Err(CliError::InvalidInput(format!(
            "{open} is reachable from other machines: give --token (or LOOKOUT_API_TOKEN), or --no-auth to serve it open"
        )));
    }
    let cors_origins = args
        .cors_origins
        .iter()
        .map(|origin| {
            http::HeaderValue::from_str(origin)
                .map_err(|_| CliError::InvalidInput(format!("{origin:?} is not an origin")))
        })
        .collect::<Result<_, _>>()?;
    Ok(ApiOptions {
        metrics_path,
        token,
        cors_origins,
        body_limit: args.max_body,
        request_timeout: args.request_timeout,
    })
}

/// The demo has every exporter, the store's among them, collect the metrics at least
/// this often, so that its charts fill within seconds.
const DEMO_METRIC_INTERVAL: Duration = Duration::from_secs(5);

/// How long `serve` waits for its exporters when it stops.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
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
