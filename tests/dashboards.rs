//! The bundled Grafana dashboards: their structure, and every panel's query answered by a
//! real Prometheus scraping Lookout under a workload.

use crate::util::{fill_every_family, require_tool, serve, Prometheus};
use lookout::config::Config;
use lookout::Telemetry;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn dashboards() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, json)
        })
        .collect()
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        all.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            all.extend(nested);
        }
    }
    all
}

/// A datasource reference is the `datasource` variable, or an input the file declares.
fn check_datasource(
    name: &str,
    at: &str,
    reference: &Value,
    inputs: &HashSet<String>,
    variables: &HashSet<String>,
) {
    let uid = reference["uid"]
        .as_str()
        .or(reference.as_str())
        .unwrap_or_else(|| panic!("{name} {at}: {reference}"));
    let var = uid
        .trim_start_matches("${")
        .trim_start_matches('$')
        .trim_end_matches('}');
    assert!(
        uid.starts_with('$'),
        "{name} {at}: datasource {uid:?} is hard-coded"
    );
    assert!(
        variables.contains(var) || inputs.contains(var),
        "{name} {at}: {uid} is not declared"
    );
    if reference.is_object() {
        assert_eq!(reference["type"], "prometheus", "{name} {at}");
    }
}

#[test]
fn every_dashboard_is_importable_and_provisionable() {
    let boards = dashboards();
    let names: Vec<&str> = boards.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"overview.json"), "{names:?}");
    let mut uids = HashSet::new();
    for (name, board) in &boards {
        let uid = board["uid"].as_str().unwrap();
        assert!(
            (1..=40).contains(&uid.len())
                && uid
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{name}: uid {uid:?}"
        );
        assert!(uids.insert(uid.to_owned()), "{name}: uid {uid} used twice");
        assert!(
            board["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{name}"
        );
        assert!(
            board["schemaVersion"].as_u64().is_some_and(|v| v >= 39),
            "{name}: schemaVersion"
        );
        assert!(board.get("rows").is_none(), "{name}: legacy rows");
        let inputs: HashSet<String> = board["__inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect();
        assert!(inputs.contains("DS_PROMETHEUS"), "{name}: __inputs");
        let requires: Vec<&str> = board["__requires"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert!(
            requires.contains(&"grafana") && requires.contains(&"prometheus"),
            "{name}: __requires"
        );

        let variables: Vec<&Value> = board["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        let variable_names: HashSet<String> = variables
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect();
        let datasource = variables
            .iter()
            .find(|v| v["type"] == "datasource")
            .expect("a datasource variable");
        assert_eq!(datasource["query"], "prometheus", "{name}");
        for variable in variables.iter().filter(|v| v["type"] == "query") {
            let query = variable["definition"].as_str().unwrap();
            assert!(query.starts_with("label_values("), "{name}: {query}");
            check_datasource(
                name,
                "variable",
                &variable["datasource"],
                &inputs,
                &variable_names,
            );
        }

        let mut ids = HashSet::new();
        let mut cells: Vec<(i64, i64, i64, i64, i64)> = Vec::new();
        for panel in panels(board) {
            let id = panel["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{name}: a panel without an integer id"));
            assert!(ids.insert(id), "{name}: panel id {id} twice");
            assert!(panel["type"].as_str().is_some(), "{name} #{id}: type");
            let grid = &panel["gridPos"];
            let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| {
                grid[k]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{name} #{id}: gridPos.{k}"))
            });
            assert!(
                x >= 0 && w > 0 && h > 0 && x + w <= 24 && y >= 0,
                "{name} #{id}: {grid}"
            );
            for &(other, ox, oy, ow, oh) in &cells {
                let overlap = x < ox + ow && ox < x + w && y < oy + oh && oy < y + h;
                assert!(!overlap, "{name}: panels {other} and {id} overlap");
            }
            cells.push((id, x, y, w, h));
            if panel["type"] == "row" {
                continue;
            }
            check_datasource(
                name,
                &format!("#{id}"),
                &panel["datasource"],
                &inputs,
                &variable_names,
            );
            let mut refs = HashSet::new();
            for target in panel["targets"].as_array().unwrap() {
                assert!(
                    refs.insert(target["refId"].as_str().unwrap()),
                    "{name} #{id}: refId twice"
                );
                assert!(
                    target["expr"].as_str().is_some_and(|e| !e.is_empty()),
                    "{name} #{id}: expr"
                );
                check_datasource(
                    name,
                    &format!("#{id}"),
                    &target["datasource"],
                    &inputs,
                    &variable_names,
                );
            }
            assert!(
                panel["fieldConfig"]["defaults"]["unit"].as_str().is_some(),
                "{name} #{id}: unit"
            );
        }
    }
    let overview = &boards.iter().find(|(n, _)| n == "overview.json").unwrap().1;
    assert_eq!(overview["title"], "Agent Orchestration Overview");
    assert_eq!(panels(overview).len(), 11, "seed 003's eleven panels");

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards/provisioning");
    let provider = std::fs::read_to_string(root.join("dashboards/lookout.yaml")).unwrap();
    assert!(
        provider.contains("type: file") && provider.contains("path:"),
        "{provider}"
    );
    let datasource = std::fs::read_to_string(root.join("datasources/prometheus.yaml")).unwrap();
    assert!(
        datasource.contains("type: prometheus") && datasource.contains("url:"),
        "{datasource}"
    );
}

/// Grafana's variables as a preview would fill them: ranges and intervals fixed, every
/// template variable in a matcher matching anything.
fn substitute(expr: &str, variables: &[String]) -> String {
    let mut expr = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "5m");
    for variable in variables {
        expr = expr.replace(&format!("=~\"${variable}\""), "=~\".*\"");
        expr = expr.replace(&format!("=~\"${{{variable}}}\""), "=~\".*\"");
    }
    assert!(!expr.contains('$'), "an unsubstituted variable in {expr}");
    expr
}

/// The metric names an expression selects: identifiers not called as functions, outside
/// `by (...)`, label matchers, ranges and strings.
fn metric_names(expr: &str) -> Vec<String> {
    let mut text = String::new();
    let mut skip_to: Option<char> = None;
    for c in expr.chars() {
        match (skip_to, c) {
            (Some(end), c) if c == end => skip_to = None,
            (Some(_), _) => {}
            (None, '{') => skip_to = Some('}'),
            (None, '[') => skip_to = Some(']'),
            (None, '"') => skip_to = Some('"'),
            (None, c) => text.push(c),
        }
    }
    for keyword in [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ] {
        while let Some(at) = text.find(&format!("{keyword} (")) {
            let end = text[at..].find(')').map_or(text.len(), |e| at + e + 1);
            text.replace_range(at..end, " ");
        }
    }
    let mut names = Vec::new();
    let mut current = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            current.push(c);
            continue;
        }
        let word = std::mem::take(&mut current);
        let is_call = c == '(';
        if !word.is_empty()
            && !is_call
            && !word.chars().next().unwrap().is_ascii_digit()
            && word.contains('_')
        {
            names.push(word);
        }
    }
    names
}

#[test]
fn metric_names_are_found_in_expressions() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.95, sum by (le, agent_type) (rate(x_seconds_bucket{agent_type=~"a_b"}[1m])))"#
        ),
        ["x_seconds_bucket"]
    );
    assert_eq!(
        metric_names("sum by (priority) (task_queue_size) / max(b_total)"),
        ["task_queue_size", "b_total"]
    );
}

#[test]
fn every_panel_shows_data_from_a_real_prometheus() {
    let Some(binary) = require_tool("prometheus") else {
        return;
    };
    // The workload: every family, and an exporter so the pipeline's own families exist.
    let exports = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    let mut json = lookout_exporter_json::JsonFileConfig::new(exports.path());
    json.max_files = 3;
    config.json = Some(json);
    config.metric_interval = Duration::from_millis(500);
    let telemetry = Telemetry::builder()
        .without_env_exporters()
        .config(config)
        .build()
        .unwrap();
    let server = serve(&telemetry);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                fill_every_family(&telemetry);
                telemetry.tracer().span("tick").start().end();
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let prometheus = Prometheus::start(&binary, server.local_addr());
        prometheus.wait_for_scrapes(4);

        let exposition = telemetry.prometheus_text();
        let exposed: HashSet<&str> = exposition
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.split(['{', ' ']).next())
            .collect();
        let mut empty = Vec::new();
        let mut evaluated = 0;
        let mut by_metric: HashMap<String, Vec<String>> = HashMap::new();
        for (name, board) in dashboards() {
            let variables: Vec<String> = board["templating"]["list"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["name"].as_str().unwrap().to_owned())
                .collect();
            for panel in panels(&board) {
                for target in panel["targets"].as_array().into_iter().flatten() {
                    let expr = target["expr"].as_str().unwrap();
                    for metric in metric_names(expr) {
                        by_metric
                            .entry(metric)
                            .or_default()
                            .push(format!("{name} {}", panel["title"]));
                    }
                    let query = substitute(expr, &variables);
                    evaluated += 1;
                    if prometheus.query(&query).is_empty() {
                        empty.push(format!("{name} {}: {query}", panel["title"]));
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let missing: Vec<_> = by_metric
            .iter()
            .filter(|(m, _)| !exposed.contains(m.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "metrics the dashboards name but Lookout does not expose: {missing:?}"
        );
        assert!(
            empty.is_empty(),
            "{} of {evaluated} queries returned nothing:\n{}",
            empty.len(),
            empty.join("\n")
        );
        assert!(evaluated >= 30, "only {evaluated} queries");
    });
}
