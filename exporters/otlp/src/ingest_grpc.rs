//! OTLP/gRPC ingest (feature `ingest-grpc`): a `TraceService` server whose requests become
//! [`FinishedSpan`]s for a sink, refused whole as [`crate::ingest`] refuses them.

use crate::ingest::{IngestError, spans_of};
use lookout_export::FinishedSpan;
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

/// What takes the spans of each request; answering `Ok` acknowledges them.
pub type SpanSink = Arc<
    dyn Fn(Vec<FinishedSpan>) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send>>
        + Send
        + Sync,
>;

struct Service {
    sink: SpanSink,
    /// `Bearer {token}`, when requests must carry it.
    authorization: Option<Vec<u8>>,
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if let Some(expected) = &self.authorization {
            let given = request
                .metadata()
                .get("authorization")
                .map(|v| v.as_bytes());
            if !given.is_some_and(|given| same(given, expected)) {
                return Err(tonic::Status::unauthenticated(
                    "send authorization: Bearer <token>",
                ));
            }
        }
        let spans = spans_of(request.into_inner()).map_err(invalid)?;
        if !spans.is_empty() {
            (self.sink)(spans)
                .await
                .map_err(|SinkError(e)| tonic::Status::unavailable(e))?;
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
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
    tonic::Status::invalid_argument(message)
}

/// Serves OTLP/gRPC traces on `listener` into `sink` until `shutdown` resolves; a message
/// larger than `max_message` bytes (decompressed) is refused (RESOURCE_EXHAUSTED); with a
/// `token`, a request without `authorization: Bearer {token}` is UNAUTHENTICATED.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sink: SpanSink,
    max_message: usize,
    token: Option<&str>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let gzip = tonic::codec::CompressionEncoding::Gzip;
    let authorization = token.map(|t| format!("Bearer {t}").into_bytes());
    let service = TraceServiceServer::new(Service {
        sink,
        authorization,
    })
    .accept_compressed(gzip)
    .send_compressed(gzip)
    .max_decoding_message_size(max_message);
    tonic::transport::Server::builder()
        .timeout(std::time::Duration::from_secs(30))
        .add_service(service)
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener),
            shutdown,
        )
        .await
}
