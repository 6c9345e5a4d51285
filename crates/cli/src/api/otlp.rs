//! OTLP/HTTP ingest: `POST /v1/traces`, protobuf or OTLP/JSON. The spans land in the
//! store with their resource (answered once durable), and the GenAI ones also count in
//! the agent families.

use super::Api;
use super::body;
use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lookout_exporter_otlp::ingest::{self, Encoding, IngestError};
use lookout_exporter_otlp::ingest_grpc;

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
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: error.code,
        message: error.message,
        field: error.field,
    }
}

/// An empty export response: no bytes in protobuf, `{}` in JSON.
fn success(encoding: Encoding) -> Response {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => ("application/x-protobuf", ""),
        Encoding::Json => ("application/json", "{}"),
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The sink of the OTLP/gRPC listener: the same as `POST /v1/traces` (counted, then
/// acknowledged once durable); `None` without a store.
pub(crate) fn grpc_sink(telemetry: &lookout::Telemetry) -> Option<ingest_grpc::SpanSink> {
    let store = telemetry.store()?.clone();
    let telemetry = telemetry.clone();
    Some(std::sync::Arc::new(move |spans| {
        let (store, telemetry) = (store.clone(), telemetry.clone());
        Box::pin(async move {
            telemetry.agents().observe_spans(&spans);
            let written = tokio::task::spawn_blocking(move || {
                store.spans_durable(spans, super::WRITE_TIMEOUT)
            })
            .await;
            match written {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(ingest_grpc::SinkError(format!("not stored: {e}"))),
                Err(_) => Err(ingest_grpc::SinkError(
                    "the store write did not finish".into(),
                )),
            }
        })
    }))
}
