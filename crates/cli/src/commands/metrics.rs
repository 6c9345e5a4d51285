//! `lookout metrics`: a running endpoint's exposition, for people.

use crate::args::MetricsArgs;
use crate::client;
use crate::error::CliError;
use crate::settings::Settings;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use lookout::prometheus::{ParsedFamily, Sample, parse};
use std::time::Duration;

/// The path read unless `--url` names one.
const METRICS_PATH: &str = "/metrics";
/// How long to wait for the answer unless `--timeout` says otherwise.
const TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn run(args: MetricsArgs, settings: &Settings) -> Result<(), CliError> {
    let url = settings.endpoint(METRICS_PATH);
    let accept = [("accept", "text/plain;version=0.0.4")];
    let fetched = client::get(&url, &accept, settings.timeout_or(TIMEOUT)).await?;
    if !fetched.status.is_success() {
        return Err(CliError::Status {
            url,
            status: fetched.status,
        });
    }
    let exposition = |reason: String| CliError::Exposition {
        url: url.clone(),
        reason,
    };
    let text = std::str::from_utf8(&fetched.body).map_err(|e| exposition(e.to_string()))?;
    if args.raw {
        print!("{text}");
        return Ok(());
    }
    let families = parse(text).map_err(|e| exposition(e.to_string()))?;
    if settings.json {
        println!("{}", to_json(&families));
    } else {
        print!("{}", render(&families));
    }
    Ok(())
}

/// The families as a JSON array: name, kind, help and every sample with its labels.
fn to_json(families: &[ParsedFamily]) -> serde_json::Value {
    families
        .iter()
        .map(|family| {
            let samples: Vec<_> = family
                .samples
                .iter()
                .map(|sample| {
                    let labels: serde_json::Map<_, _> = sample
                        .labels
                        .iter()
                        .map(|(name, value)| (name.clone(), value.clone().into()))
                        .collect();
                    serde_json::json!({
                        "name": sample.name,
                        "labels": labels,
                        "value": finite_or_text(sample.value),
                    })
                })
                .collect();
            serde_json::json!({
                "name": family.name,
                "kind": family.kind,
                "help": family.help,
                "samples": samples,
            })
        })
        .collect()
}

/// A JSON number, or the exposition's spelling (`+Inf`, `NaN`) where JSON has none.
fn finite_or_text(value: f64) -> serde_json::Value {
    serde_json::Number::from_f64(value).map_or_else(|| format_value(value).into(), Into::into)
}

/// One table per family: counters and gauges by series, histograms summarized.
fn render(families: &[ParsedFamily]) -> String {
    let mut out = String::new();
    for family in families {
        out.push_str(&format!("{} ({})", family.name, family.kind));
        if !family.help.is_empty() {
            out.push_str(&format!(" - {}", family.help));
        }
        out.push('\n');
        let mut table = Table::new();
        table.load_preset(UTF8_BORDERS_ONLY);
        if family.kind == "histogram" {
            table.set_header(["labels", "count", "sum", "p50", "p95", "p99"]);
            for series in histogram_series(family) {
                let q = |q| format_value(series.quantile(q));
                let mut row = vec![Cell::new(&series.labels)];
                row.extend(
                    [
                        format_value(series.count),
                        format_value(series.sum),
                        q(0.5),
                        q(0.95),
                        q(0.99),
                    ]
                    .into_iter()
                    .map(|v| Cell::new(v).set_alignment(CellAlignment::Right)),
                );
                table.add_row(row);
            }
        } else {
            table.set_header(["labels", "value"]);
            for sample in &family.samples {
                table.add_row([
                    Cell::new(format_labels(sample, None)),
                    Cell::new(format_value(sample.value)).set_alignment(CellAlignment::Right),
                ]);
            }
        }
        out.push_str(&table.to_string());
        out.push_str("\n\n");
    }
    out
}

struct HistogramSeries {
    labels: String,
    /// (upper bound, cumulative count), increasing.
    buckets: Vec<(f64, f64)>,
    count: f64,
    sum: f64,
}

impl HistogramSeries {
    /// The quantile estimated as Prometheus' `histogram_quantile` does: linear
    /// interpolation within the bucket, the highest finite bound for the `+Inf` bucket.
    fn quantile(&self, q: f64) -> f64 {
        let total = self.buckets.last().map_or(0.0, |b| b.1);
        if total == 0.0 {
            return f64::NAN;
        }
        let rank = q * total;
        let mut lower = (0.0, 0.0);
        for &(bound, cumulative) in &self.buckets {
            if cumulative >= rank {
                if bound.is_infinite() {
                    return lower.0;
                }
                let in_bucket = cumulative - lower.1;
                let fraction = if in_bucket > 0.0 {
                    (rank - lower.1) / in_bucket
                } else {
                    0.0
                };
                return lower.0 + (bound - lower.0) * fraction;
            }
            lower = (bound, cumulative);
        }
        lower.0
    }
}

fn histogram_series(family: &ParsedFamily) -> Vec<HistogramSeries> {
    let mut series: Vec<HistogramSeries> = Vec::new();
    for sample in &family.samples {
        let labels = format_labels(sample, Some("le"));
        let index = match series.iter().position(|s| s.labels == labels) {
            Some(index) => index,
            None => {
                series.push(HistogramSeries {
                    labels,
                    buckets: Vec::new(),
                    count: 0.0,
                    sum: 0.0,
                });
                series.len() - 1
            }
        };
        let entry = &mut series[index];
        let suffix = &sample.name[family.name.len().min(sample.name.len())..];
        match suffix {
            "_bucket" => {
                let bound = match sample.label("le") {
                    Some("+Inf") => f64::INFINITY,
                    Some(le) => le.parse().unwrap_or(f64::NAN),
                    None => f64::NAN,
                };
                entry.buckets.push((bound, sample.value));
            }
            "_count" => entry.count = sample.value,
            "_sum" => entry.sum = sample.value,
            _ => {}
        }
    }
    for entry in &mut series {
        entry.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

fn format_labels(sample: &Sample, skip: Option<&str>) -> String {
    let pairs: Vec<String> = sample
        .labels
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != skip)
        .map(|(name, value)| format!("{name}={value:?}"))
        .collect();
    if pairs.is_empty() {
        "-".to_owned()
    } else {
        pairs.join(" ")
    }
}

fn format_value(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.is_finite() {
        format!("{value:.6}").trim_end_matches('0').to_owned()
    } else {
        format!("{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantile_interpolates_like_prometheus() {
        let series = HistogramSeries {
            labels: String::new(),
            buckets: vec![(1.0, 10.0), (2.0, 20.0), (f64::INFINITY, 20.0)],
            count: 20.0,
            sum: 25.0,
        };
        assert_eq!(series.quantile(0.5), 1.0);
        assert_eq!(series.quantile(0.75), 1.5);
        assert_eq!(series.quantile(0.25), 0.5);
    }

    #[test]
    fn renders_one_table_per_family() {
        let text = "# HELP c_total Calls\n# TYPE c_total counter\nc_total{tool=\"Read\"} 3\n\
            # TYPE h_seconds histogram\nh_seconds_bucket{le=\"1\"} 2\nh_seconds_bucket{le=\"+Inf\"} 2\n\
            h_seconds_sum 1.5\nh_seconds_count 2\n";
        let shown = render(&parse(text).unwrap());
        assert!(shown.contains("c_total (counter) - Calls"), "{shown}");
        assert!(shown.contains("tool=\"Read\""));
        assert!(shown.contains("h_seconds (histogram)"));
        assert!(shown.contains("1.5"));
    }
}
