//! Exporters from the command line: `serve --config`, `lookout export`, and the flush of a
//! short-lived `lookout exec`.

use crate::util::{lookout_serve, terminate};
use lookout_exporter_otlp::Protocol;
use lookout_exporter_otlp::receiver::Receiver;
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;

/// Every record of every published JSON file in `dir`.
fn records(dir: &Path) -> Vec<Value> {
    let mut records = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let file: Value = serde_json::from_str(&text).unwrap();
            records.extend(file.as_array().unwrap().iter().cloned());
        }
    }
    records
}

#[test]
fn serve_with_a_config_file_exports_on_demand_and_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("exports");
    let config = dir.path().join("lookout.json");
    std::fs::write(
        &config,
        format!(
            r#"{{ "prometheus": {{ "enabled": true, "port": 0, "path": "/prom" }},
                 "json": {{ "enabled": true, "outputDir": {:?}, "rotateInterval": 3600000, "maxFiles": 24 }},
                 "exportInterval": 60000 }}"#,
            out.display().to_string()
        ),
    )
    .unwrap();
    let (mut server, mut stdout, url) = lookout_serve(&["--config", config.to_str().unwrap()]);
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("exporting to json: "), "{line}");

    let (status, body) = crate::util::get(&format!("{url}/prom"), &[]);
    assert_eq!(status, 200, "the config's path serves the exposition");
    assert!(
        body.contains("lookout_exporter_exported_total{exporter=\"json\",signal=\"metrics\"} 0")
    );

    let export = crate::util::lookout()
        .args(["export", "--url", &url])
        .output()
        .unwrap();
    assert!(export.status.success(), "{export:?}");
    let table = String::from_utf8(export.stdout).unwrap();
    assert!(
        table.contains("json") && table.contains(&out.display().to_string()),
        "{table}"
    );
    let exported = records(&out);
    let series = exported
        .iter()
        .find(|r| r["name"] == "lookout_registry_series")
        .expect("a metric record for every series");
    assert_eq!(series["type"], "metric");

    let json = crate::util::lookout()
        .args(["export", "--json", "--url", &url])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert!(
        report["exporters"][0]["metricPoints"].as_u64().unwrap() > 10,
        "{report}"
    );

    assert!(terminate(&mut server).success());
    let files_after = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files_after, 3, "one file per export, and the last at exit");
}

#[test]
fn a_bad_config_names_the_field_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lookout.json");
    std::fs::write(
        &config,
        r#"{ "json": { "outputDir": "x", "maxFiles": 0 } }"#,
    )
    .unwrap();
    let run = crate::util::lookout()
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.starts_with("error[E_CONFIG_INVALID]: json.maxFiles:"),
        "{stderr}"
    );
    assert!(stderr.contains("keep at least 1"), "{stderr}");

    std::fs::write(&config, r#"{ "json": { "outputdir": "x" } }"#).unwrap();
    let run = crate::util::lookout()
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.starts_with("error[E_CONFIG_PARSE]"), "{stderr}");
    assert!(stderr.contains("unknown field `outputdir`"), "{stderr}");
}

#[test]
fn export_without_exporters_says_how_to_add_one() {
    let (mut server, _stdout, url) = lookout_serve(&["--listen", "127.0.0.1:0"]);
    let export = crate::util::lookout()
        .args(["export", "--url", &url])
        .output()
        .unwrap();
    assert!(export.status.success());
    let text = String::from_utf8(export.stdout).unwrap();
    assert!(text.starts_with("no exporters configured"), "{text}");
    assert!(terminate(&mut server).success());
}

#[test]
fn a_short_lived_exec_flushes_before_it_exits() {
    let dir = tempfile::tempdir().unwrap();
    let run = crate::util::lookout()
        .args(["exec", "--name", "quick", "--", "sleep", "0.01"])
        .env("LOOKOUT_JSON_DIR", dir.path())
        .env_remove("TRACEPARENT")
        .env_remove("TRACE_CONTEXT")
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let records = records(dir.path());
    let span = records
        .iter()
        .find(|r| r["type"] == "span")
        .expect("the exec span was exported");
    assert_eq!(span["name"], "invoke_agent quick");
    let executions = records
        .iter()
        .find(|r| r["name"] == "agent_execution_total" && r["labels"]["agent_type"] == "quick")
        .expect("the execution counter was exported");
    assert_eq!(executions["value"], 1);
}

#[test]
fn a_short_lived_exec_exports_over_otlp_with_only_the_endpoint_set() {
    for (protocol, name) in [
        (Protocol::HttpProtobuf, "http/protobuf"),
        (Protocol::Grpc, "grpc"),
    ] {
        let receiver = Receiver::start(protocol);
        let run = crate::util::lookout()
            .args(["exec", "--name", "quick", "--", "sleep", "0.01"])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", name)
            .env("OTEL_SERVICE_NAME", "sub-agent")
            .env_remove("TRACEPARENT")
            .env_remove("TRACE_CONTEXT")
            .env_remove("LOOKOUT_JSON_DIR")
            .output()
            .unwrap();
        assert!(run.status.success(), "{name}: {run:?}");
        let spans = receiver.spans();
        assert_eq!(spans.len(), 1, "{name}");
        assert_eq!(spans[0].name, "invoke_agent quick");
        let received = receiver.received();
        let metrics = &received
            .metrics
            .last()
            .expect("metrics at exit")
            .resource_metrics[0];
        assert!(
            format!("{:?}", metrics.resource).contains("sub-agent"),
            "{name}"
        );
        let names: Vec<&str> = metrics.scope_metrics[0]
            .metrics
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert!(names.contains(&"agent_execution"), "{name}: {names:?}");
    }
}

#[test]
fn exec_warns_once_per_unusable_variable_and_records_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let run = crate::util::lookout()
        .args(["exec", "--name", "warned", "--", "true"])
        .env(lookout::store::BASE_DIR_ENV, dir.path())
        .env("TELEMETRY_API_URL", "ftp://sheets.example")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "soon")
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let stderr = String::from_utf8_lossy(&run.stderr);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings.iter().any(|w| w.contains("TELEMETRY_API_URL")),
        "{stderr}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("OTEL_METRIC_EXPORT_INTERVAL")),
        "{stderr}"
    );
    let traces = crate::util::lookout()
        .args(["traces", "--json"])
        .env(lookout::store::BASE_DIR_ENV, dir.path())
        .output()
        .unwrap();
    let traces: serde_json::Value = serde_json::from_slice(&traces.stdout).unwrap();
    assert_eq!(
        traces[0]["root_name"], "invoke_agent warned",
        "the store still records"
    );
}
