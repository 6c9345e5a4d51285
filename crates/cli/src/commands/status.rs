//! `lookout status`: seed 003's `/telemetry status`: the store (where, how big, what it
//! holds, the latest failures), whether a `lookout serve` answers at `--url`, and its
//! exporters' health from its `/metrics`.

use crate::client;
use crate::error::CliError;
use crate::settings::Settings;
use lookout::store::overview::{Overview, overview};
use lookout::store::rfc3339_of_nanos;
use serde_json::{Value, json};
use std::time::Duration;

/// How long to wait for a running `lookout serve`: status must answer quickly.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

pub(super) async fn run(settings: &Settings) -> Result<(), CliError> {
    let store = super::store_config()?;
    let found = match store.db_path.exists() {
        true => {
            let conn = super::open_store_reader(&store)?;
            Some(overview(&conn).map_err(|e| super::read_error(&store.db_path, e))?)
        }
        false => None,
    };
    let bytes = lookout::store::disk::directory_bytes(&store.base_dir);
    let url = settings.endpoint("/health");
    let serve = match client::get(&url, &[], settings.timeout_or(HEALTH_TIMEOUT)).await {
        Ok(fetched) if fetched.status.is_success() => {
            serde_json::from_slice::<Value>(&fetched.body).ok()
        }
        _ => None,
    };
    let exporters = match serve {
        Some(_) => exporter_health(settings).await,
        None => Vec::new(),
    };
    if settings.json {
        let store_json = found.as_ref().map(overview_json);
        println!(
            "{}",
            json!({
                "store": {"base_dir": store.base_dir, "db_path": store.db_path, "bytes": bytes,
                          "index": store_json},
                "serve": {"url": url, "health": serve},
                "exporters": exporters.iter().map(ExporterHealth::to_json).collect::<Vec<_>>(),
            })
        );
        return Ok(());
    }
    println!("store    {} ({})", store.base_dir.display(), size(bytes));
    match &found {
        None => println!("         no database yet: record with `lookout exec` or `lookout serve`"),
        Some(o) => {
            println!(
                "         schema {}, {} spans in {} traces ({} failed)",
                o.schema_version, o.spans, o.traces, o.error_spans
            );
            if let Some((first, last)) = o.span_times {
                println!(
                    "         spans from {} to {}",
                    rfc3339_of_nanos(first),
                    rfc3339_of_nanos(last)
                );
            }
            let pairs = |items: &[(String, u64)]| {
                items
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !o.runs.is_empty() {
                println!("         runs: {}", pairs(&o.runs));
            }
            if !o.records.is_empty() {
                println!("         records: {}", pairs(&o.records));
            }
            println!("         metrics: {} series, {} points", o.series, o.points);
            if !o.recent_errors.is_empty() {
                println!("recent errors");
                for (name, message, end, trace) in &o.recent_errors {
                    let message = message.as_deref().unwrap_or("");
                    println!(
                        "         {}  {name}: {message}  (lookout traces {trace})",
                        rfc3339_of_nanos(*end)
                    );
                }
            }
        }
    }
    match serve {
        Some(health) => println!(
            "serve    {url}: {} (version {}, up {} s, {} series)",
            health["status"].as_str().unwrap_or("?"),
            health["version"].as_str().unwrap_or("?"),
            health["uptime_seconds"],
            health["series"]
        ),
        None => println!("serve    not answering at {url}"),
    }
    for e in &exporters {
        let errors: Vec<String> = e.errors.iter().map(|(r, n)| format!("{n} {r}")).collect();
        println!(
            "exporter {} {}: {} ({} exported, {} failed, {} retries, {} dropped{})",
            e.exporter,
            e.signal,
            if e.failed + e.dropped == 0.0 {
                "healthy"
            } else {
                "failing"
            },
            e.exported,
            e.failed,
            e.retries,
            e.dropped,
            if errors.is_empty() {
                String::new()
            } else {
                format!("; errors: {}", errors.join(", "))
            }
        );
    }
    Ok(())
}

/// One exporter's counts for one signal, from a running serve's exposition.
#[derive(Debug, Default)]
struct ExporterHealth {
    exporter: String,
    signal: String,
    exported: f64,
    failed: f64,
    retries: f64,
    dropped: f64,
    errors: Vec<(String, f64)>,
}

impl ExporterHealth {
    fn to_json(&self) -> Value {
        json!({"exporter": self.exporter, "signal": self.signal, "exported": self.exported,
               "failed": self.failed, "retries": self.retries, "dropped": self.dropped,
               "errors": self.errors.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
               "healthy": self.failed + self.dropped == 0.0})
    }
}

/// The `lookout_exporter_*` counts of the serve at `--url`; none when it cannot be read.
async fn exporter_health(settings: &Settings) -> Vec<ExporterHealth> {
    let url = settings.endpoint("/metrics");
    let accept = [("accept", "text/plain;version=0.0.4")];
    let Ok(fetched) = client::get(&url, &accept, settings.timeout_or(HEALTH_TIMEOUT)).await else {
        return Vec::new();
    };
    let Some(families) = std::str::from_utf8(&fetched.body)
        .ok()
        .and_then(|text| lookout::prometheus::parse(text).ok())
    else {
        return Vec::new();
    };
    let mut found: std::collections::BTreeMap<(String, String), ExporterHealth> =
        Default::default();
    for sample in families.iter().flat_map(|f| &f.samples) {
        let (Some(exporter), Some(signal)) = (sample.label("exporter"), sample.label("signal"))
        else {
            continue;
        };
        let key = (exporter.to_owned(), signal.to_owned());
        let entry = found.entry(key).or_insert_with(|| ExporterHealth {
            exporter: exporter.to_owned(),
            signal: signal.to_owned(),
            ..ExporterHealth::default()
        });
        match sample.name.as_str() {
            "lookout_exporter_exported_total" => entry.exported = sample.value,
            "lookout_exporter_failed_total" => entry.failed = sample.value,
            "lookout_exporter_retries_total" => entry.retries = sample.value,
            "lookout_exporter_dropped_total" => entry.dropped = sample.value,
            "lookout_exporter_errors_total" if sample.value > 0.0 => entry.errors.push((
                sample.label("reason").unwrap_or("?").to_owned(),
                sample.value,
            )),
            _ => {}
        }
    }
    found.into_values().collect()
}

fn overview_json(o: &Overview) -> Value {
    let map = |items: &[(String, u64)]| -> Value {
        items
            .iter()
            .map(|(k, n)| (k.clone(), Value::from(*n)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    json!({
        "schema_version": o.schema_version, "spans": o.spans, "traces": o.traces,
        "error_spans": o.error_spans, "records": map(&o.records), "runs": map(&o.runs),
        "series": o.series, "points": o.points,
        "first_span": o.span_times.map(|(first, _)| rfc3339_of_nanos(first)),
        "last_span": o.span_times.map(|(_, last)| rfc3339_of_nanos(last)),
        "recent_errors": o.recent_errors.iter().map(|(name, message, end, trace)| json!({
            "name": name, "message": message, "end": rfc3339_of_nanos(*end), "trace_id": trace,
        })).collect::<Vec<_>>(),
    })
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}
