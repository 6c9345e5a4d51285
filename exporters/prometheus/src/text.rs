//! The text encoder: Prometheus 0.0.4 and OpenMetrics 1.0, written straight from a visit.

use crate::Format;
use lookout_export::{FamilyInfo, HistogramValue, MetricKind, MetricSource, MetricVisitor, Value};
use std::fmt::Write as _;

/// Appends the exposition of everything `source` holds to `out`.
///
/// Counters are exposed as `{name}_total`; in the 0.0.4 format their `# HELP` and `# TYPE`
/// lines name the sample (`{name}_total`), in OpenMetrics the family (`{name}`).
pub fn encode(source: &dyn MetricSource, format: Format, out: &mut Vec<u8>) {
    let mut encoder = TextEncoder {
        out,
        format,
        name: String::new(),
        bucket: String::new(),
        sum: String::new(),
        count: String::new(),
        labels: Vec::new(),
        bucket_prefix: Vec::new(),
        le: LeCache::default(),
    };
    source.collect(&mut encoder);
    if format == Format::OpenMetrics {
        encoder.out.extend_from_slice(b"# EOF\n");
    }
}

/// The exposition of everything `source` holds, as a string.
pub fn encode_to_string(source: &dyn MetricSource, format: Format) -> String {
    let mut out = Vec::new();
    encode(source, format, &mut out);
    // Every byte written is ASCII or copied from a `&str`, so this never fails.
    String::from_utf8(out).unwrap_or_default()
}

struct TextEncoder<'o> {
    out: &'o mut Vec<u8>,
    format: Format,
    /// The current family's sample names: `{name}` (gauges), `{name}_total` (counters),
    /// `{name}_bucket{` (histograms), and `{name}_sum`, `{name}_count`.
    name: String,
    bucket: String,
    sum: String,
    count: String,
    /// The current series' labels with braces and a trailing space: `{a="x",b="y"} `.
    labels: Vec<u8>,
    /// The current series' bucket-line prefix: `{name}_bucket{a="x",le="`.
    bucket_prefix: Vec<u8>,
    le: LeCache,
}

/// Rendered `le` values with their line tails (`0.005"} `) for the bounds last seen;
/// series of one family share their bounds.
#[derive(Default)]
struct LeCache {
    bounds: Vec<f64>,
    text: String,
    ends: Vec<usize>,
}

impl LeCache {
    fn for_bounds(&mut self, bounds: &[f64]) -> &Self {
        if self.bounds != bounds || self.ends.is_empty() {
            self.bounds.clear();
            self.bounds.extend_from_slice(bounds);
            self.text.clear();
            self.ends.clear();
            for bound in bounds {
                let _ = write!(self.text, "{bound}\"}} ");
                self.ends.push(self.text.len());
            }
            self.text.push_str("+Inf\"} ");
            self.ends.push(self.text.len());
        }
        self
    }

    /// Every bucket's tail, `+Inf` last.
    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.text.as_bytes()[start..end])
    }
}

impl MetricVisitor for TextEncoder<'_> {
    fn visit_family(&mut self, family: &FamilyInfo<'_>) {
        let name = family.name;
        self.name.clear();
        self.name.push_str(name);
        if family.kind == MetricKind::Counter {
            self.name.push_str("_total");
        }
        for (buffer, suffix) in [
            (&mut self.bucket, "_bucket{"),
            (&mut self.sum, "_sum"),
            (&mut self.count, "_count"),
        ] {
            buffer.clear();
            buffer.push_str(name);
            buffer.push_str(suffix);
        }
        let out = &mut *self.out;
        match self.format {
            Format::Text => {
                // In 0.0.4 metadata names the sample, so a counter's is `{name}_total`.
                out.extend_from_slice(b"# HELP ");
                out.extend_from_slice(self.name.as_bytes());
                out.push(b' ');
                escape(out, family.help, false);
                out.extend_from_slice(b"\n# TYPE ");
                out.extend_from_slice(self.name.as_bytes());
            }
            Format::OpenMetrics => {
                out.extend_from_slice(b"# HELP ");
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
                escape(out, family.help, true);
                if !family.unit.is_empty() {
                    out.extend_from_slice(b"\n# UNIT ");
                    out.extend_from_slice(name.as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(family.unit.as_bytes());
                }
                out.extend_from_slice(b"\n# TYPE ");
                out.extend_from_slice(name.as_bytes());
            }
        }
        out.push(b' ');
        out.extend_from_slice(family.kind.as_str().as_bytes());
        out.push(b'\n');
    }

    fn visit_series(&mut self, labels: &[(&str, &str)], value: Value<'_>) {
        self.labels.clear();
        if !labels.is_empty() {
            self.labels.push(b'{');
            for (i, (name, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.labels.push(b',');
                }
                self.labels.extend_from_slice(name.as_bytes());
                self.labels.extend_from_slice(b"=\"");
                escape(&mut self.labels, value, true);
                self.labels.push(b'"');
            }
            self.labels.push(b'}');
        }
        self.labels.push(b' ');
        let mut number = itoa::Buffer::new();
        match value {
            Value::Counter(total) => {
                let out = &mut *self.out;
                out.extend_from_slice(self.name.as_bytes());
                out.extend_from_slice(&self.labels);
                out.extend_from_slice(number.format(total).as_bytes());
                out.push(b'\n');
            }
            Value::Gauge(value) => {
                let out = &mut *self.out;
                out.extend_from_slice(self.name.as_bytes());
                out.extend_from_slice(&self.labels);
                write_float(out, value);
                out.push(b'\n');
            }
            Value::Histogram(histogram) => self.histogram(&histogram, &mut number),
            _ => {}
        }
    }
}

impl TextEncoder<'_> {
    fn histogram(&mut self, histogram: &HistogramValue<'_>, number: &mut itoa::Buffer) {
        // `{labels} ` becomes `{labels,le="` for the bucket lines.
        let prefix = &mut self.bucket_prefix;
        prefix.clear();
        prefix.extend_from_slice(self.bucket.as_bytes());
        if self.labels.len() > 1 {
            prefix.extend_from_slice(&self.labels[1..self.labels.len() - 2]);
            prefix.push(b',');
        }
        prefix.extend_from_slice(b"le=\"");

        let out = &mut *self.out;
        let mut cumulative = 0u64;
        let mut counts = histogram.counts.iter();
        for tail in self.le.for_bounds(histogram.bounds).iter() {
            cumulative += counts.next().copied().unwrap_or(0);
            out.extend_from_slice(prefix);
            out.extend_from_slice(tail);
            out.extend_from_slice(number.format(cumulative).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(self.sum.as_bytes());
        out.extend_from_slice(&self.labels);
        write_float(out, histogram.sum);
        out.push(b'\n');
        out.extend_from_slice(self.count.as_bytes());
        out.extend_from_slice(&self.labels);
        out.extend_from_slice(number.format(histogram.count).as_bytes());
        out.push(b'\n');
    }
}

/// Writes a float as both formats spell it: `NaN`, `+Inf`, `-Inf`, or the shortest
/// decimal that reads back to the same value.
fn write_float(out: &mut Vec<u8>, value: f64) {
    if value.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
    }
}

/// Escapes `\` and newline, and `"` when `quote` is set (label values; OpenMetrics help).
fn escape(out: &mut Vec<u8>, text: &str, quote: bool) {
    let special = |b: u8| b == b'\\' || b == b'\n' || (quote && b == b'"');
    if !text.bytes().any(special) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for b in text.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if quote => out.extend_from_slice(b"\\\""),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests;
