//! Prometheus exposition for Lookout: text format 0.0.4 and OpenMetrics 1.0.
//!
//! The encoder writes straight from a [`MetricSource`] (Lookout's registry, or anything
//! implementing the contract) into a byte buffer. [`render`] adds what an HTTP endpoint
//! needs: format negotiation from `Accept`, gzip from `Accept-Encoding`, the content type.
//!
//! ```
//! use lookout_export::{FamilyInfo, MetricKind, MetricSource, MetricVisitor, Value};
//! use lookout_exporter_prometheus::{encode_to_string, Format};
//!
//! struct Jobs;
//! impl MetricSource for Jobs {
//!     fn collect(&self, visitor: &mut dyn MetricVisitor) {
//!         visitor.visit_family(&FamilyInfo::new("jobs", "Jobs run", "", MetricKind::Counter));
//!         visitor.visit_series(&[("queue", "default")], Value::Counter(3));
//!     }
//! }
//!
//! assert_eq!(
//!     encode_to_string(&Jobs, Format::Text),
//!     "# HELP jobs_total Jobs run\n# TYPE jobs_total counter\njobs_total{queue=\"default\"} 3\n"
//! );
//! ```
//!
//! Features: `prometheus-collector` adds [`PrometheusCollector`], which lets a
//! `prometheus::Registry` serve Lookout's metrics beside its own.
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

#[cfg(feature = "prometheus-collector")]
mod collector;
mod format;
mod parse;
mod text;

#[cfg(feature = "prometheus-collector")]
pub use collector::PrometheusCollector;
pub use format::{Format, accepts_gzip};
pub use parse::{ParseError, ParsedFamily, Sample, parse};
pub use text::{encode, encode_to_string};

use lookout_export::MetricSource;
use std::io::Write as _;

/// An encoded exposition, ready to be sent as an HTTP response body.
#[derive(Debug, Clone)]
pub struct Exposition {
    /// The `Content-Type` header value.
    pub content_type: &'static str,
    /// Whether `body` is gzip-compressed (send `Content-Encoding: gzip`).
    pub gzip: bool,
    /// The body.
    pub body: Vec<u8>,
}

/// Encodes `source` for a scrape with the given `Accept` and `Accept-Encoding` headers.
pub fn render(
    source: &dyn MetricSource,
    accept: Option<&str>,
    accept_encoding: Option<&str>,
) -> Exposition {
    let format = Format::from_accept(accept);
    let mut text = Vec::with_capacity(64 * 1024);
    encode(source, format, &mut text);
    let mut exposition = Exposition {
        content_type: format.content_type(),
        gzip: false,
        body: text,
    };
    if accepts_gzip(accept_encoding) {
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(exposition.body.len() / 4),
            flate2::Compression::fast(),
        );
        // Writing into a Vec cannot fail; on the impossible error, send it uncompressed.
        if let Ok(body) = gz.write_all(&exposition.body).and_then(|()| gz.finish()) {
            exposition.body = body;
            exposition.gzip = true;
        }
    }
    exposition
}
