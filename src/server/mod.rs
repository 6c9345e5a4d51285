//! The HTTP endpoint: `/metrics` (Prometheus), `/health`, `/version`, over hyper 1.x.
//!
//! [`serve`] runs on the caller's tokio runtime until a shutdown future resolves;
//! [`ServerHandle::start`] runs on a thread of its own, for hosts without a runtime.

mod routes;

pub use routes::{EXPORT_PATH, SCRAPE_DURATION_METRIC};

use crate::Telemetry;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// How long shutdown waits for open connections to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where the endpoint listens and which path serves the exposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Listen address (default [`crate::config::DEFAULT_LISTEN`]).
    pub listen: SocketAddr,
    /// Path of the Prometheus exposition (default `/metrics`).
    pub metrics_path: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: crate::config::DEFAULT_LISTEN,
            metrics_path: "/metrics".to_owned(),
        }
    }
}

/// Serves `telemetry` on `listener` until `shutdown` resolves, then lets open connections
/// finish for up to [`SHUTDOWN_GRACE`]. Paths: `metrics_path` (none if empty), `/health`,
/// `/version`, and `POST` [`EXPORT_PATH`].
pub async fn serve(
    telemetry: Telemetry,
    listener: tokio::net::TcpListener,
    metrics_path: String,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let router = routes::Router::new(telemetry, metrics_path);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    // Out of descriptors or a connection reset before accept: keep serving.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let router = router.clone();
                let service = hyper::service::service_fn(move |req| {
                    let router = router.clone();
                    async move { Ok::<_, std::convert::Infallible>(router.respond(&req).await) }
                });
                let connection = http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    // A client that goes away mid-response is not the server's error.
                    let _ = connection.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}

/// A server running on its own thread and runtime; dropping the handle stops it.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl ServerHandle {
    /// Binds `config.listen` now (so a taken port is an error here) and serves from a
    /// background thread.
    pub fn start(telemetry: Telemetry, config: &ServerConfig) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(config.listen)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let path = config.metrics_path.clone();
        let thread = std::thread::Builder::new()
            .name("lookout-server".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    serve(telemetry, listener, path, async {
                        let _ = stopped.await;
                    })
                    .await
                })
            })?;
        Ok(ServerHandle {
            local_addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open connections finish, and waits for the thread.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

#[cfg(test)]
mod tests;
