//! The HTTP endpoint: `/metrics` (Prometheus), `/health`, `/version`, over hyper 1.x.
//!
//! [`serve`] runs on the caller's tokio runtime until a shutdown future resolves;
//! [`ServerHandle::start`] runs on a thread of its own, for hosts without a runtime.

mod routes;

pub use routes::{EXPORT_PATH, Routes, SCRAPE_DURATION_METRIC};

use crate::Telemetry;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
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
    let routes = Routes::new(telemetry, metrics_path);
    let service = hyper::service::service_fn(move |req| {
        let routes = routes.clone();
        async move { Ok::<_, std::convert::Infallible>(routes.respond(&req).await) }
    });
    serve_connections(listener, service, ConnectionLimits::default(), shutdown).await
}

/// What a server allows each connection and how many it holds at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A client that has not sent a request's whole head within this is disconnected.
    pub header_read_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Serves HTTP/1.1 connections from `listener` with `service` until `shutdown` resolves,
/// then lets open connections finish for up to [`SHUTDOWN_GRACE`]: the accept loop of
/// [`serve`], for any service (the `lookout` daemon's API among them).
pub async fn serve_connections<S, B>(
    listener: tokio::net::TcpListener,
    service: S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: hyper::service::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
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
                // A client that shuts its side once it has sent the request still gets
                // the answer.
                let connection = http1::Builder::new()
                    .half_close(true)
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(limits.header_read_timeout)
                    .serve_connection(TokioIo::new(stream), service.clone());
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    // A client that goes away mid-response is not the server's error.
                    let _ = connection.await;
                    drop(slot);
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
