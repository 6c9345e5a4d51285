//! OTLP/HTTP ingest: `POST /v1/traces` and `POST /v1/metrics`, protobuf or OTLP/JSON.
//! The spans land in the store with their resource and the points as metric points
//! (answered once durable); the GenAI spans also count in the agent families.

use super::Api;
use super::body;
use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lookout::store::Record;
use lookout::store::metrics::point_record_by_content;
use lookout_exporter_otlp::ingest::{self, Encoding, IngestError};
use lookout_exporter_otlp::ingest_grpc::{self, Ingested};
use lookout_exporter_otlp::ingest_metrics::{self, MetricPoint};

/// `POST /v1/traces`: an `ExportTraceServiceRequest`; 200 with an empty
/// `ExportTraceServiceResponse` in the request's encoding once every span is durable.
pub(crate) async fn traces(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let encoding = encoding(&headers)?;
    let body = body::bytes(body)?;
    let spans = ingest::decode_traces(&body, encoding).map_err(refusal)?;
    // Counted as received: the families say what agents did, whatever the disk does.
    api.telemetry().agents().observe_spans(&spans);
    if !spans.is_empty() {
        api.write_spans(spans).await?;
    }
    Ok(success(encoding))
}

/// `POST /v1/metrics`: an `ExportMetricsServiceRequest`; 200 with an
/// `ExportMetricsServiceResponse` (its partial success counting the points not kept)
/// once every point kept is durable.
pub(crate) async fn metrics(
    State(api): State<Api>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let encoding = encoding(&headers)?;
    let body = body::bytes(body)?;
    let decoded = ingest_metrics::decode_metrics(&body, encoding).map_err(refusal)?;
    let response = decoded.response(encoding);
    if !decoded.points.is_empty() {
        api.write(records_of(decoded.points)).await?;
    }
    Ok(with_content_type(encoding, response))
}

/// Points as the store's metric point records, each stored once however often sent.
fn records_of(points: Vec<MetricPoint>) -> Vec<Record> {
    points
        .iter()
        .map(|p| point_record_by_content(&p.name, p.kind.as_str(), &p.labels, p.value, p.time))
        .collect()
}

/// The request's encoding, from its content type.
fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    match body::media_type(headers) {
        Some(t) if t.eq_ignore_ascii_case("application/x-protobuf") => Ok(Encoding::Protobuf),
        Some(t) if t.eq_ignore_ascii_case("application/json") => Ok(Encoding::Json),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "OTLP/HTTP is application/x-protobuf or application/json",
        )),
    }
}

fn refusal(error: IngestError) -> ApiError {
    let status = match error.code {
        "payload_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError {
        status,
        code: error.code,
        message: error.message,
        field: error.field,
    }
}

/// An empty export response: no bytes in protobuf, `{}` in JSON.
fn success(encoding: Encoding) -> Response {
    let body = match encoding {
        Encoding::Protobuf => Vec::new(),
        Encoding::Json => b"{}".to_vec(),
    };
    with_content_type(encoding, body)
}

/// A 200 of `body` in `encoding`.
fn with_content_type(encoding: Encoding, body: Vec<u8>) -> Response {
    let content_type = match encoding {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The sink of the OTLP/gRPC listener: the same as `POST /v1/traces` and `POST
/// /v1/metrics` (spans counted, then acknowledged once durable); `None` without a store.
pub(crate) fn grpc_sink(telemetry: &lookout::Telemetry) -> Option<ingest_grpc::Sink> {
    let store = telemetry.store()?.clone();
    let telemetry = telemetry.clone();
    Some(std::sync::Arc::new(move |ingested| {
        let (store, telemetry) = (store.clone(), telemetry.clone());
        Box::pin(async move {
            let write = move || match ingested {
                Ingested::Spans(spans) => {
                    telemetry.agents().observe_spans(&spans);
                    store.spans_durable(spans, super::WRITE_TIMEOUT)
                }
                Ingested::Points(points) => {
                    store.records_durable(records_of(points), super::WRITE_TIMEOUT)
                }
            };
            match tokio::task::spawn_blocking(write).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(ingest_grpc::SinkError(format!("not stored: {e}"))),
                Err(_) => Err(ingest_grpc::SinkError(
                    "the store write did not finish".into(),
                )),
            }
        })
    }))
}
