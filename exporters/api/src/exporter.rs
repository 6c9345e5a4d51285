//! The exporter trait: what the pipeline asks of every push exporter.

use crate::{FinishedSpan, MetricSource, Resource};
use std::future::Future;
use std::time::{Duration, SystemTime};

/// One collection of metrics, handed to [`Exporter::encode_metrics`].
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct MetricsBatch<'a> {
    /// The metrics; walk them with [`MetricSource::collect`].
    pub source: &'a dyn MetricSource,
    /// When the process started recording: the start of every cumulative series.
    pub start_time: SystemTime,
    /// When this collection was taken.
    pub time: SystemTime,
    /// The process the metrics belong to.
    pub resource: &'a Resource,
}

impl<'a> MetricsBatch<'a> {
    /// A collection of `source` taken at `time`, recorded since `start_time` by the
    /// process `resource` names.
    pub fn new(
        source: &'a dyn MetricSource,
        start_time: SystemTime,
        time: SystemTime,
        resource: &'a Resource,
    ) -> Self {
        MetricsBatch {
            source,
            start_time,
            time,
            resource,
        }
    }
}

impl std::fmt::Debug for MetricsBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsBatch")
            .field("start_time", &self.start_time)
            .field("time", &self.time)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// An encoded batch, ready to send (and to send again if a retry is due).
#[derive(Debug, Clone)]
pub struct Encoded<P> {
    /// What [`Exporter::send`] sends: a request body, a file's bytes, ...
    pub payload: P,
    /// How many spans or metric data points it carries, for the pipeline's counts.
    pub items: usize,
}

/// A push exporter: encodes batches of spans or metrics and sends them somewhere.
///
/// The pipeline runs each exporter in its own task. It calls `encode_*` once per batch
/// and `send` once per attempt: when `send` fails with an error that
/// [`ExportError::is_retryable`], the same payload is sent again after a backoff, so
/// `send` must not consume or change it. Only the pipeline retries; `send` tries once.
///
/// An exporter that handles only one signal keeps the other `encode_*` at its default,
/// which declines every batch.
pub trait Exporter: Send + Sync + 'static {
    /// An encoded batch.
    type Payload: Send + Sync + 'static;

    /// A short name for logs and the `exporter` label of the pipeline's self-metrics.
    fn name(&self) -> &str;

    /// Where the data goes (an URL, a directory), for people reading a report.
    fn destination(&self) -> String;

    /// Encodes finished spans; `None` if this exporter does not export spans.
    fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<Self::Payload>> {
        let _ = spans;
        None
    }

    /// Encodes one metrics collection; `None` if this exporter does not export metrics.
    fn encode_metrics(&self, batch: &MetricsBatch<'_>) -> Option<Encoded<Self::Payload>> {
        let _ = batch;
        None
    }

    /// Sends one payload, once.
    fn send(&self, payload: &Self::Payload)
    -> impl Future<Output = Result<(), ExportError>> + Send;

    /// Makes everything sent so far visible at the destination (a file exporter closes
    /// its current file). Called on a forced flush and at shutdown, after the last send.
    fn flush(&self) -> impl Future<Output = Result<(), ExportError>> + Send {
        async { Ok(()) }
    }
}

/// Why an export failed, and whether sending the same payload again may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportError {
    reason: &'static str,
    message: String,
    retry: Option<Option<Duration>>,
}

impl ExportError {
    /// A failure that sending again will not fix (bad request, unauthorized, ...).
    pub fn permanent(reason: &'static str, message: impl Into<String>) -> Self {
        ExportError {
            reason,
            message: message.into(),
            retry: None,
        }
    }

    /// A failure that may pass if the payload is sent again, after `retry_after` if the
    /// peer named a delay (`Retry-After`, gRPC `RetryInfo`).
    pub fn transient(
        reason: &'static str,
        message: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        ExportError {
            reason,
            message: message.into(),
            retry: Some(retry_after),
        }
    }

    /// The error for an HTTP response status that is not a success. Retryable exactly
    /// when the OTLP specification says so: 429, 502, 503 and 504.
    pub fn from_http_status(status: u16, retry_after: Option<Duration>, body: &str) -> Self {
        let message = if body.is_empty() {
            format!("HTTP {status}")
        } else {
            format!(
                "HTTP {status}: {}",
                body.chars().take(200).collect::<String>()
            )
        };
        match status {
            429 | 502 | 503 | 504 => ExportError::transient("http_status", message, retry_after),
            _ => ExportError::permanent("http_status", message),
        }
    }

    /// A short, fixed reason for the `reason` label (`http_status`, `timeout`, `connect`,
    /// `grpc_status`, `io`, ...).
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// Whether sending the same payload again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retry.is_some()
    }

    /// The delay the peer asked for before the next attempt, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry.flatten()
    }
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExportError {}

/// Parses an HTTP `Retry-After` value: delay-seconds, or an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`) measured from `now`. A date in the past is no delay.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_imf_fixdate(value)?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` as a time.
fn parse_imf_fixdate(value: &str) -> Option<SystemTime> {
    let rest = value.get(5..)?.strip_suffix(" GMT")?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = crate::calendar::days_from_civil(year, month, day as u32);
    let seconds = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses_are_exactly_the_otlp_ones() {
        for status in 400..600 {
            let error = ExportError::from_http_status(status, None, "");
            assert_eq!(
                error.is_retryable(),
                matches!(status, 429 | 502 | 503 | 504),
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        // RFC 9110's example date is 784111777 seconds after the epoch.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        for bad in [
            "",
            "-1",
            "soon",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn transient_errors_carry_the_delay() {
        let error = ExportError::from_http_status(503, Some(Duration::from_secs(1)), "busy");
        assert_eq!(error.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(error.to_string(), "HTTP 503: busy");
        assert_eq!(error.reason(), "http_status");
        assert!(!ExportError::permanent("io", "disk full").is_retryable());
    }
}
