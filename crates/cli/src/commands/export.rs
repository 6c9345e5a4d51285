//! `lookout export`: a running Lookout exports now and says what went where.

use crate::client;
use crate::error::CliError;
use crate::settings::Settings;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use lookout::pipeline::FlushReport;
use std::time::Duration;

/// How long an export may take unless `--timeout` says otherwise.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Takes only the global flags: `--url`, `--json`, `--timeout`.
pub(super) async fn run(settings: &Settings) -> Result<(), CliError> {
    let url = settings.endpoint(lookout::server::EXPORT_PATH);
    let fetched = client::post(&url, settings.timeout_or(TIMEOUT)).await?;
    if !fetched.status.is_success() {
        return Err(CliError::Status {
            url,
            status: fetched.status,
        });
    }
    let report = serde_json::from_slice(&fetched.body)
        .ok()
        .and_then(|value| FlushReport::from_json(&value))
        .ok_or_else(|| CliError::Exposition {
            url: url.clone(),
            reason: "not an export report".into(),
        })?;
    if settings.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", render(&report));
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(CliError::Export { url })
    }
}

/// One row per exporter: where it sent, how much, and what went wrong.
pub(crate) fn render(report: &FlushReport) -> String {
    if report.exporters.is_empty() {
        return "no exporters configured: set OTEL_EXPORTER_OTLP_ENDPOINT or LOOKOUT_JSON_DIR, \
                or start `lookout serve --config FILE`\n"
            .to_owned();
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header([
        "exporter",
        "destination",
        "spans",
        "metric points",
        "failed",
        "status",
    ]);
    for e in &report.exporters {
        let status = match (&e.error, e.timed_out) {
            (_, true) => "timed out".to_owned(),
            (Some(error), false) => error.clone(),
            (None, false) => "ok".to_owned(),
        };
        table.add_row([
            Cell::new(&e.exporter),
            Cell::new(&e.destination),
            Cell::new(e.spans).set_alignment(CellAlignment::Right),
            Cell::new(e.metric_points).set_alignment(CellAlignment::Right),
            Cell::new(e.failed).set_alignment(CellAlignment::Right),
            Cell::new(status),
        ]);
    }
    format!("{table}\n")
}
