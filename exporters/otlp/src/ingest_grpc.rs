//! OTLP/gRPC ingest (feature `ingest-grpc`): `TraceService` and `MetricsService` servers
//! whose requests become [`FinishedSpan`]s or [`MetricPoint`]s for a sink, refused whole
//! as [`crate::ingest`] and [`crate::ingest_metrics`] refuse them.

use crate::ingest::{IngestError, spans_of};
use crate::ingest_metrics::{MetricPoint, points_of};
use lookout_export::FinishedSpan;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Why a sink did not take spans: the request is answered UNAVAILABLE (the client retries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError(pub String);

/// What one request brought.
#[derive(Debug, Clone)]
pub enum Ingested {
    /// The spans of an `ExportTraceServiceRequest`.
    Spans(Vec<FinishedSpan>),
    /// The points of an `ExportMetricsServiceRequest`.
    Points(Vec<MetricPoint>),
}

/// What takes what each request brought; answering `Ok` acknowledges it.
pub type Sink = Arc<
    dyn Fn(Ingested) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send>> + Send + Sync,
>;

#[derive(Clone)]
struct Service {
    sink: Sink,
    /// `Bearer {token}`, when requests must carry it.
    authorization: Option<Arc<[u8]>>,
}

impl Service {
    fn authorize<T>(&self, request: &tonic::Request<T>) -> Result<(), tonic::Status> {
        let Some(expected) = &self.authorization else {
            return Ok(());
        };
        let given = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes());
        match given.is_some_and(|given| same(given, expected)) {
            true => Ok(()),
            false => Err(tonic::Status::unauthenticated(
                "send authorization: Bearer <token>",
            )),
        }
    }

    async fn take(&self, ingested: Ingested) -> Result<(), tonic::Status> {
        (self.sink)(ingested)
            .await
            .map_err(|SinkError(e)| tonic::Status::unavailable(e))
    }
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.authorize(&request)?;
        let spans = spans_of(request.into_inner()).map_err(invalid)?;
        if !spans.is_empty() {
            self.take(Ingested::Spans(spans)).await?;
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.authorize(&request)?;
        let mut decoded = points_of(request.into_inner()).map_err(invalid)?;
        let partial_success = decoded.partial_success();
        if !decoded.points.is_empty() {
            self.take(Ingested::Points(std::mem::take(&mut decoded.points)))
                .await?;
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success,
        }))
    }
}

/// Whether `a` and `b` are equal, in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

fn invalid(error: IngestError) -> tonic::Status {
    let message = match &error.field {
        Some(field) => format!("{} ({}: {field})", error.message, error.code),
        None => format!("{} ({})", error.message, error.code),
    };
    match error.code {
        "payload_too_large" => tonic::Status::resource_exhausted(message),
        _ => tonic::Status::invalid_argument(message),
    }
}

/// Serves OTLP/gRPC traces and metrics on `listener` into `sink` until `shutdown`
/// resolves; a message larger than `max_message` bytes (decompressed) is refused
/// (RESOURCE_EXHAUSTED); with a `token`, a request without `authorization: Bearer
/// {token}` is UNAUTHENTICATED.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sink: Sink,
    max_message: usize,
    token: Option<&str>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let gzip = tonic::codec::CompressionEncoding::Gzip;
    let service = Service {
        sink,
        authorization: token.map(|t| Arc::from(format!("Bearer {t}").into_bytes())),
    };
    let traces = TraceServiceServer::new(service.clone())
        .accept_compressed(gzip)
        .send_compressed(gzip)
        .max_decoding_message_size(max_message);
    let metrics = MetricsServiceServer::new(service)
        .accept_compressed(gzip)
        .send_compressed(gzip)
        .max_decoding_message_size(max_message);
    tonic::transport::Server::builder()
        .timeout(std::time::Duration::from_secs(30))
        .add_service(traces)
        .add_service(metrics)
        .serve_with_incoming_shutdown(
            // Small frames (window updates, the reply) go out at once, not after the
            // client's delayed acknowledgement.
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}
