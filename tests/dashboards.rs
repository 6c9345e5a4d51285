//! The bundled Grafana dashboards (`dashboards/*.json`): importable and provisionable as
//! files, and every panel's query answered with data by a real Prometheus scraping the
//! orchestrator example's workload, run in a child process.

use crate::util::{Prometheus, fill_every_family, get, require_tool, serve};
use clap::Parser;
use lookout::Telemetry;
use lookout::config::Config;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The orchestrator example; `orchestrator_workload` runs it in a child process.
#[allow(dead_code)] // the example's own `main`
#[path = "../examples/orchestrator.rs"]
mod orchestrator;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `dashboards/*.json`, by file name.
fn dashboards() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("dashboards"))
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

/// (panel title, expr) of every target of every panel.
fn exprs(dashboard: &Value) -> Vec<(String, String)> {
    panels(dashboard)
        .into_iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or("?").to_owned();
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| (title.clone(), t["expr"].as_str().unwrap_or("").to_owned()))
        })
        .collect()
}

fn variables(dashboard: &Value) -> Vec<&Value> {
    dashboard["templating"]["list"]
        .as_array()
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

fn variable_names(dashboard: &Value) -> Vec<String> {
    variables(dashboard)
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect()
}

/// The label_values(metric, label) of a query variable.
fn label_values(variable: &Value) -> Option<(String, String)> {
    let query = variable["definition"].as_str()?;
    let inner = query.strip_prefix("label_values(")?.strip_suffix(')')?;
    let (metric, label) = inner.split_once(',')?;
    Some((metric.trim().to_owned(), label.trim().to_owned()))
}

/// The variable a datasource reference names: `${X}`, `$X` or `{"uid": "${X}"}`; a
/// hard-coded uid or name is an error.
fn datasource_variable(reference: &Value) -> Result<String, String> {
    let uid = reference["uid"]
        .as_str()
        .or(reference.as_str())
        .ok_or_else(|| format!("no datasource reference: {reference}"))?;
    let name = uid
        .strip_prefix("${")
        .and_then(|n| n.strip_suffix('}'))
        .or_else(|| uid.strip_prefix('$'))
        .ok_or_else(|| format!("datasource {uid:?} is hard-coded, not a variable"))?;
    if reference.is_object() && reference["type"] != "prometheus" {
        return Err(format!(
            "datasource type {} is not prometheus",
            reference["type"]
        ));
    }
    Ok(name.to_owned())
}

/// Grafana's global variables, longest first so none is replaced inside another.
const BUILTINS: &[(&str, &str)] = &[
    ("__rate_interval", "1m"),
    ("__interval_ms", "15000"),
    ("__interval", "15s"),
    ("__range_ms", "300000"),
    ("__range_s", "300"),
    ("__range", "5m"),
    ("__auto", "1m"),
];

/// The `$name` and `${name}` references in `text`.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let braced = rest.starts_with('{');
        let body = if braced { &rest[1..] } else { rest };
        let name: String = body
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

/// An expr as Grafana would send it with every template variable at "All": builtins get
/// fixed values, and a label matcher naming a template variable matches anything.
fn substitute(expr: &str, variables: &[String]) -> String {
    let mut out = String::new();
    let mut rest = expr;
    // Matchers first: `label op "...$var..."` becomes `label=~".*"`.
    while let Some(open) = rest.find('"') {
        let close = open + 1 + rest[open + 1..].find('"').expect("a closed string");
        let literal = &rest[open + 1..close];
        let names_variable = references(literal).iter().any(|r| variables.contains(r));
        if names_variable {
            let before = rest[..open].trim_end();
            let op_len =
                if before.ends_with("=~") || before.ends_with("!~") || before.ends_with("!=") {
                    2
                } else {
                    assert!(
                        before.ends_with('='),
                        "a variable outside a matcher: {expr}"
                    );
                    1
                };
            let op = &before[before.len() - op_len..];
            assert!(
                !op.starts_with('!'),
                "a variable in a negative matcher: {expr}"
            );
            out.push_str(&before[..before.len() - op_len]);
            out.push_str("=~\".*\"");
        } else {
            out.push_str(&rest[..=close]);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    for (name, value) in BUILTINS {
        out = out
            .replace(&format!("${{{name}}}"), value)
            .replace(&format!("${name}"), value);
    }
    assert!(!out.contains('$'), "an unsubstituted variable in {out}");
    out
}

#[test]
fn substitution_follows_grafana_previews() {
    let vars = ["agent_type".to_owned(), "tool".to_owned()];
    assert_eq!(
        substitute(
            r#"sum by (tool) (rate(x_total{status="failure", tool=~"$tool"}[$__rate_interval]))"#,
            &vars
        ),
        r#"sum by (tool) (rate(x_total{status="failure", tool=~".*"}[1m]))"#
    );
    assert_eq!(
        substitute(
            r#"increase(y_total{agent_type="${agent_type}"}[$__range]) / $__interval_ms"#,
            &vars
        ),
        r#"increase(y_total{agent_type=~".*"}[5m]) / 15000"#
    );
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
        if !word.is_empty()
            && c != '('
            && !word.starts_with(|c: char| c.is_ascii_digit())
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
        metric_names("(sum by (priority) (task_queue_size) or 0 * c_total) / max(b_total)"),
        ["task_queue_size", "c_total", "b_total"]
    );
}

/// Every metric name a dashboard refers to (exprs and `label_values` variables), with
/// where it is used.
fn referenced_metrics() -> BTreeMap<String, Vec<String>> {
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, board) in dashboards() {
        for (title, expr) in exprs(&board) {
            for metric in metric_names(&expr) {
                used.entry(metric)
                    .or_default()
                    .push(format!("{name} {title:?}"));
            }
        }
        for variable in variables(&board) {
            if let Some((metric, _)) = label_values(variable) {
                used.entry(metric)
                    .or_default()
                    .push(format!("{name} ${}", variable["name"].as_str().unwrap()));
            }
        }
    }
    used
}

/// The metric names of an exposition's samples.
fn exposed_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

fn missing_metrics(exposition: &str) -> Vec<String> {
    let exposed = exposed_names(exposition);
    referenced_metrics()
        .into_iter()
        .filter(|(metric, _)| !exposed.contains(metric))
        .map(|(metric, users)| format!("{metric} (used by {})", users.join(", ")))
        .collect()
}

#[test]
fn every_dashboard_is_importable_and_provisionable() {
    let boards = dashboards();
    let names: Vec<&str> = boards.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "overview.json",
        "agents.json",
        "tools.json",
        "lookout-health.json",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let mut uids = HashSet::new();
    for (name, board) in &boards {
        let uid = board["uid"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: uid"));
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
            "{name}: title"
        );
        assert!(
            board["schemaVersion"].as_u64().is_some_and(|v| v >= 39),
            "{name}: schemaVersion must be an integer, 39 or later"
        );
        assert!(
            board["id"].is_null(),
            "{name}: a shareable dashboard has no id"
        );
        assert!(board.get("rows").is_none(), "{name}: legacy rows");

        // Import: the datasource input, and the plugins the file needs.
        let inputs: HashSet<String> = board["__inputs"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: __inputs"))
            .iter()
            .map(|input| {
                assert_eq!(input["type"], "datasource", "{name}: {input}");
                assert_eq!(input["pluginId"], "prometheus", "{name}: {input}");
                input["name"].as_str().unwrap().to_owned()
            })
            .collect();
        assert!(inputs.contains("DS_PROMETHEUS"), "{name}: __inputs");
        let requires: HashSet<&str> = board["__requires"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: __requires"))
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert!(
            requires.contains("grafana") && requires.contains("prometheus"),
            "{name}: __requires"
        );

        // Variables: one Prometheus datasource variable bound to the input on import;
        // query variables filled by label_values, multi-valued with All.
        let variables = variables(board);
        let declared: HashSet<String> = variable_names(board).into_iter().collect();
        assert_eq!(declared.len(), variables.len(), "{name}: a variable twice");
        let datasources: Vec<&&Value> = variables
            .iter()
            .filter(|v| v["type"] == "datasource")
            .collect();
        assert_eq!(datasources.len(), 1, "{name}: one datasource variable");
        assert_eq!(datasources[0]["query"], "prometheus", "{name}");
        let bound = datasource_variable(&datasources[0]["current"]["value"]);
        assert!(
            bound.as_ref().is_ok_and(|input| inputs.contains(input)),
            "{name}: the datasource variable's default should be an input: {bound:?}"
        );
        let resolvable = |at: &str, reference: &Value| match datasource_variable(reference) {
            Ok(var) => assert!(
                datasources.iter().any(|d| d["name"] == var.as_str()) || inputs.contains(&var),
                "{name} {at}: datasource ${var} is declared neither as a datasource variable nor in __inputs"
            ),
            Err(problem) => panic!("{name} {at}: {problem}"),
        };
        for variable in variables.iter().filter(|v| v["type"] == "query") {
            let var = variable["name"].as_str().unwrap();
            let (_, label) = label_values(variable)
                .unwrap_or_else(|| panic!("{name}: ${var} is not label_values(metric, label)"));
            assert_eq!(label, var, "{name}: ${var} lists label {label}");
            assert_eq!(variable["multi"], true, "{name}: ${var} multi");
            assert_eq!(variable["includeAll"], true, "{name}: ${var} includeAll");
            resolvable(&format!("${var}"), &variable["datasource"]);
        }

        let mut ids = HashSet::new();
        let mut cells: Vec<(i64, [i64; 4])> = Vec::new();
        for panel in panels(board) {
            let id = panel["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{name}: a panel without an integer id"));
            assert!(ids.insert(id), "{name}: panel id {id} twice");
            let kind = panel["type"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} #{id}: type"));
            let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| {
                panel["gridPos"][k]
                    .as_i64()
                    .unwrap_or_else(|| panic!("{name} #{id}: integer gridPos.{k}"))
            });
            assert!(
                x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= 24,
                "{name} #{id}: {} leaves the 24-column grid",
                panel["gridPos"]
            );
            for (other, [ox, oy, ow, oh]) in &cells {
                let overlap = x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h;
                assert!(!overlap, "{name}: panels {other} and {id} overlap");
            }
            cells.push((id, [x, y, w, h]));
            if kind == "row" {
                continue;
            }
            assert!(
                requires.contains(kind),
                "{name} #{id}: panel type {kind} not in __requires"
            );
            resolvable(&format!("#{id}"), &panel["datasource"]);
            let unit = panel["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} #{id}: no unit"));
            let targets = panel["targets"]
                .as_array()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| panic!("{name} #{id}: no targets"));
            let mut refs = HashSet::new();
            for target in targets {
                let ref_id = target["refId"].as_str().expect("refId");
                assert!(refs.insert(ref_id), "{name} #{id}: refId {ref_id} twice");
                resolvable(&format!("#{id} {ref_id}"), &target["datasource"]);
                let expr = target["expr"]
                    .as_str()
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| panic!("{name} #{id}: no expr"));
                for reference in references(expr) {
                    assert!(
                        declared.contains(&reference)
                            || BUILTINS.iter().any(|(b, _)| *b == reference),
                        "{name} #{id}: ${reference} is not declared"
                    );
                }
                // Windows follow the dashboard: no hard-coded [5m].
                for window in expr.split('[').skip(1) {
                    let window = window.split(']').next().unwrap();
                    assert!(
                        ["$__rate_interval", "$__range", "$__interval"].contains(&window),
                        "{name} #{id}: window [{window}] in {expr}"
                    );
                }
                if expr.starts_with("histogram_quantile(") && expr.contains("_seconds_bucket") {
                    assert_eq!(unit, "s", "{name} #{id}: a latency quantile in seconds");
                }
            }
        }
    }

    // Seed 003's overview: its eleven panels, filterable by agent type and tool.
    let overview = &boards.iter().find(|(n, _)| n == "overview.json").unwrap().1;
    assert_eq!(overview["title"], "Agent Orchestration Overview");
    assert_eq!(panels(overview).len(), 11, "seed 003's eleven panels");
    let overview_vars = variable_names(overview);
    for var in ["agent_type", "tool"] {
        assert!(overview_vars.iter().any(|v| v == var), "overview: ${var}");
    }

    // Provisioning: the files Grafana reads, pointing where the README says to copy.
    let provisioning = repo().join("dashboards/provisioning");
    let readme = std::fs::read_to_string(repo().join("dashboards/README.md")).unwrap();
    let datasource = std::fs::read_to_string(provisioning.join("datasources/prometheus.yaml"))
        .expect("dashboards/provisioning/datasources/prometheus.yaml");
    for line in ["apiVersion: 1", "datasources:", "type: prometheus", "url: "] {
        assert!(datasource.contains(line), "prometheus.yaml lacks {line:?}");
    }
    let provider = std::fs::read_to_string(provisioning.join("dashboards/lookout.yaml"))
        .expect("dashboards/provisioning/dashboards/lookout.yaml");
    for line in ["apiVersion: 1", "providers:", "type: file", "options:"] {
        assert!(provider.contains(line), "lookout.yaml lacks {line:?}");
    }
    let path = provider
        .lines()
        .find_map(|l| l.trim().strip_prefix("path:"))
        .expect("lookout.yaml: options.path")
        .trim();
    assert!(
        path.starts_with('/'),
        "lookout.yaml: path {path} is not absolute"
    );
    for step in [
        "cp dashboards/provisioning/datasources/prometheus.yaml /etc/grafana/provisioning/datasources/"
            .to_owned(),
        "/etc/grafana/provisioning/dashboards/".to_owned(),
        format!("cp dashboards/*.json {path}/"),
    ] {
        assert!(readme.contains(&step), "dashboards/README.md should say {step:?}");
    }
    for name in &names {
        assert!(
            readme.contains(&format!("| `{name}` |")),
            "dashboards/README.md's table lacks {name}"
        );
    }
}

/// Without Prometheus: a Lookout with every agent family recorded, an exporter running
/// and `/metrics` scraped exposes every metric the dashboards name.
#[test]
fn every_metric_a_dashboard_names_is_exposed() {
    let exports = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.json = Some(lookout_exporter_json::JsonFileConfig::new(exports.path()));
    let telemetry = Telemetry::builder()
        .without_env_exporters()
        .config(config)
        .build()
        .unwrap();
    fill_every_family(&telemetry);
    telemetry.tracer().span("tick").start().end();
    let server = serve(&telemetry);
    let url = format!("http://{}/metrics", server.local_addr());
    get(&url, &[]); // the first scrape is timed, and shows in the second
    let (status, exposition) = get(&url, &[]);
    assert_eq!(status, 200);
    let missing = missing_metrics(&exposition);
    assert!(
        missing.is_empty(),
        "metrics the dashboards name but Lookout does not expose:\n{}",
        missing.join("\n")
    );
}

const WORKLOAD_ENV: &str = "LOOKOUT_DASHBOARDS_WORKLOAD";
const WORKLOAD_TEST: &str = "dashboards::orchestrator_workload";

/// The child process of `every_panel_shows_data_from_a_real_prometheus`: the orchestrator
/// example on a free port, for at most two minutes.
#[test]
#[ignore = "run as a child process by every_panel_shows_data_from_a_real_prometheus"]
fn orchestrator_workload() {
    if std::env::var_os(WORKLOAD_ENV).is_none() {
        return;
    }
    let args = orchestrator::Args::try_parse_from([
        "orchestrator",
        "--listen",
        "127.0.0.1:0",
        "--duration",
        "120",
    ])
    .unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(orchestrator::run(args))
        .unwrap();
}

/// The workload process; killed and reaped however the test ends.
struct Workload {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Workload {
    /// Starts the orchestrator with the JSON exporter on (`LOOKOUT_JSON_DIR`), so the
    /// exporter pipeline's own families have series, and nothing else from the
    /// environment.
    fn start(exports: &Path) -> Workload {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args(["--ignored", "--exact", WORKLOAD_TEST, "--nocapture"]);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("OTEL_")
                || name.starts_with("LOOKOUT_")
                || name.starts_with("TRACE")
            {
                command.env_remove(&*name);
            }
        }
        let mut child = command
            .env(WORKLOAD_ENV, "1")
            .env("LOOKOUT_JSON_DIR", exports)
            .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = lines.by_ref().map_while(Result::ok).find_map(|line| {
            let at = line.strip_prefix("orchestrator: metrics at http://")?;
            at.split('/').next()?.parse().ok()
        });
        let Some(addr) = addr else {
            let _ = child.kill();
            panic!("the workload stopped before serving: {:?}", child.wait());
        };
        std::thread::spawn(move || lines.for_each(drop));
        Workload { child, addr }
    }
}

/// Workload variety the dashboards' breakdowns need: (PromQL count, at least, what).
const VARIETY: &[(&str, f64, &str)] = &[
    (
        "count(count by (agent_type) (agent_execution_total))",
        4.0,
        "agent types",
    ),
    (
        "count(count by (phase) (agent_execution_total))",
        3.0,
        "phases",
    ),
    (
        "count(count by (status) (agent_execution_total))",
        2.0,
        "execution outcomes",
    ),
    (
        "count(count by (model) (agent_tokens_used_total))",
        3.0,
        "models",
    ),
    ("count(count by (tool) (tool_calls_total))", 5.0, "tools"),
    (
        "count(count by (error_type) (tool_call_failure_total))",
        2.0,
        "tool error types",
    ),
    (
        "count(count by (priority) (task_queue_size))",
        3.0,
        "priorities",
    ),
    (
        "count(count by (task_type) (task_duration_seconds_count))",
        3.0,
        "task types",
    ),
    (
        "count(count by (severity) (error_total))",
        2.0,
        "error severities",
    ),
];

/// Seed 003's families as exposed: the workload must feed every one.
const SEED_FAMILIES: &[&str] = &[
    "agent_execution_total",
    "agent_execution_duration_seconds_bucket",
    "agent_tokens_used_total",
    "agents_active",
    "tool_calls_total",
    "tool_call_duration_seconds_bucket",
    "tool_call_success_total",
    "tool_call_failure_total",
    "context_window_utilization",
    "context_window_size_tokens",
    "context_window_used_tokens",
    "error_rate",
    "error_total",
    "task_queue_size",
    "task_duration_seconds_bucket",
    "task_success_total",
    "task_failure_total",
];

#[test]
fn every_panel_shows_data_from_a_real_prometheus() {
    let Some(binary) = require_tool("prometheus") else {
        return;
    };
    let exports = tempfile::tempdir().unwrap();
    let workload = Workload::start(exports.path());
    let prometheus = Prometheus::start(&binary, workload.addr);
    prometheus.wait_for_scrapes(3);

    let boards = dashboards();
    let mut queries: Vec<(String, String)> = Vec::new();
    for (name, board) in &boards {
        let vars = variable_names(board);
        for (title, expr) in exprs(board) {
            queries.push((format!("{name} {title:?}"), substitute(&expr, &vars)));
        }
        for variable in variables(board) {
            if let Some((metric, label)) = label_values(variable) {
                let var = variable["name"].as_str().unwrap();
                queries.push((
                    format!("{name} variable ${var}"),
                    format!("count by ({label}) ({metric})"),
                ));
            }
        }
    }

    // Poll while the workload runs: some series (failures, their error types) only
    // appear after the first agents finish.
    let deadline = Instant::now() + Duration::from_secs(40);
    let (empty, thin) = loop {
        let empty: Vec<String> = queries
            .iter()
            .filter(|(_, query)| prometheus.query(query).is_empty())
            .map(|(at, query)| format!("{at}: {query}"))
            .collect();
        let thin: Vec<String> = VARIETY
            .iter()
            .filter_map(|(query, least, what)| {
                let seen = prometheus.query(query).first().map_or(0.0, |r| r.1);
                (seen < *least).then(|| format!("{seen} {what} (want {least}): {query}"))
            })
            .collect();
        if (empty.is_empty() && thin.is_empty()) || Instant::now() > deadline {
            break (empty, thin);
        }
        std::thread::sleep(Duration::from_secs(1));
    };

    let (status, exposition) = get(&format!("http://{}/metrics", workload.addr), &[]);
    assert_eq!(status, 200);
    let exposed = exposed_names(&exposition);
    let unfed: Vec<&&str> = SEED_FAMILIES
        .iter()
        .filter(|f| !exposed.contains(**f))
        .collect();
    let missing = missing_metrics(&exposition);
    drop(workload);

    let mut problems = Vec::new();
    let mut report = |what: String, items: Vec<String>| {
        if !items.is_empty() {
            problems.push(format!("{what}:\n  {}", items.join("\n  ")));
        }
    };
    report(
        "metrics the dashboards name but Lookout does not expose".into(),
        missing,
    );
    report(
        "families the workload never fed".into(),
        unfed.iter().map(|f| f.to_string()).collect(),
    );
    report(
        format!(
            "{} of {} queries returned nothing",
            empty.len(),
            queries.len()
        ),
        empty,
    );
    report("too little variety".into(), thin);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(queries.len() >= 40, "only {} queries", queries.len());
    eprintln!(
        "dashboards: {} panel and variable queries over {} dashboards returned data",
        queries.len(),
        boards.len()
    );
}
