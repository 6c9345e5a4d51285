#!/usr/bin/env python3
"""Writes Lookout's Grafana dashboards (dashboards/*.json) from the panel lists below.

Usage: python3 scripts/dashboards.py   (then commit the JSON; tests/dashboards.rs checks it)

Every panel and target uses the `datasource` template variable; panels are laid out on
Grafana's 24-column grid, row by row, so ids and positions never collide.
"""
import json
import pathlib

DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"


def target(expr, legend="", ref="A", fmt=None, instant=False):
    t = {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}
    if fmt:
        t["format"] = fmt
    if instant:
        t["instant"] = True
        t["range"] = False
    return t


def panel(kind, title, description, targets, unit="short", w=12, h=8, **extra):
    if isinstance(targets, (tuple, dict)):
        targets = [targets]
    refs = "ABCDEFGH"
    built = []
    for i, t in enumerate(targets):
        if isinstance(t, tuple):
            t = target(*t)
        t["refId"] = refs[i]
        built.append(t)
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": built,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "_w": w,
        "_h": h,
    }
    thresholds = extra.pop("thresholds", None)
    base = extra.pop("base", "green")  # the colour below the first threshold
    if thresholds:
        steps = [{"color": base, "value": None}] + [
            {"color": c, "value": v} for v, c in thresholds
        ]
        p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": steps}
        if kind == "timeseries":
            p["fieldConfig"]["defaults"]["custom"] = {"thresholdsStyle": {"mode": "dashed"}}
        if kind == "state-timeline":
            p["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
    for key in ("min", "max"):
        if key in extra:
            p["fieldConfig"]["defaults"][key] = extra.pop(key)
    p.update(extra)
    return p


def variable(name, label, query):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def dashboard(uid, title, description, tags, panels, variables):
    x = y = row_h = 0
    laid = []
    for i, p in enumerate(panels, start=1):
        w, h = p.pop("_w"), p.pop("_h")
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = i
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        x += w
        row_h = max(row_h, h)
        laid.append(p)
    kinds = sorted({p["type"] for p in laid})
    names = {"timeseries": "Time series", "stat": "Stat", "gauge": "Gauge", "bargauge": "Bar gauge",
             "piechart": "Pie chart", "state-timeline": "State timeline", "heatmap": "Heatmap",
             "table": "Table"}
    return {
        "__inputs": [{
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "description": "The Prometheus that scrapes Lookout's /metrics",
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus",
        }],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
        ] + [{"type": "panel", "id": k, "name": names[k], "version": ""} for k in kinds],
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["lookout"] + tags,
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "links": [{"type": "dashboards", "tags": ["lookout"], "title": "Lookout", "asDropdown": True}],
        "annotations": {"list": []},
        "templating": {"list": [{
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {"selected": False, "text": "Prometheus", "value": "${DS_PROMETHEUS}"},
            "refresh": 1,
            "hide": 0,
        }] + variables},
        "panels": laid,
    }


AGENT = 'agent_type=~"$agent_type"'
TOOL = 'tool=~"$tool"'
agent_var = variable("agent_type", "Agent type", "label_values(agent_execution_total, agent_type)")
tool_var = variable("tool", "Tool", "label_values(tool_calls_total, tool)")

overview = dashboard(
    "lookout-overview",
    "Agent Orchestration Overview",
    "What the agents are doing: executions, activity, errors, tokens, context, latency, tools, tasks.",
    ["agents"],
    [
        panel("timeseries", "Agent execution rate", "Executions per second by agent type.",
              (f"sum by (agent_type) (rate(agent_execution_total{{{AGENT}}}[{RATE}]))", "{{agent_type}}"),
              unit="ops", w=12),
        panel("stat", "Active agents", "Agents running now.",
              (f"sum(agents_active{{{AGENT}}})", "active"), w=6, thresholds=[(20, "yellow"), (50, "red")]),
        panel("stat", "Total tokens used", "Tokens consumed over the dashboard's time range.",
              (f"sum(increase(agent_tokens_used_total{{{AGENT}}}[$__range]))", "tokens"), w=6),
        panel("timeseries", "Error rate", "Errors per second by component.",
              (f"sum by (component) (rate(error_total[{RATE}]))", "{{component}}"), unit="ops", w=12),
        panel("gauge", "Context window utilization", "Average and fullest context window in use.",
              [("avg(context_window_utilization)", "average"), ("max(context_window_utilization)", "fullest")],
              unit="percentunit", w=12, min=0, max=1, thresholds=[(0.7, "yellow"), (0.9, "red")]),
        panel("timeseries", "Agent execution duration p95", "95th percentile of execution time by agent type.",
              (f"histogram_quantile(0.95, sum by (le, agent_type) (rate(agent_execution_duration_seconds_bucket{{{AGENT}}}[{RATE}])))",
               "{{agent_type}}"), unit="s", w=12),
        panel("timeseries", "Tool call success rate", "Share of tool calls that succeeded, by tool.",
              (f"sum by (tool) (rate(tool_call_success_total{{{TOOL}}}[{RATE}])) / sum by (tool) (rate(tool_calls_total{{{TOOL}}}[{RATE}]))",
               "{{tool}}"), unit="percentunit", w=12, min=0, max=1,
              base="red", thresholds=[(0.9, "yellow"), (0.95, "green")]),
        panel("bargauge", "Top tools by usage", "The five most called tools over the time range.",
              target(f"topk(5, sum by (tool) (increase(tool_calls_total{{{TOOL}}}[$__range])))", "{{tool}}", instant=True),
              w=12, options={"orientation": "horizontal", "displayMode": "gradient",
                             "reduceOptions": {"calcs": ["lastNotNull"], "values": False}}),
        panel("timeseries", "Task queue size", "Tasks waiting, by priority.",
              ("sum by (priority) (task_queue_size)", "{{priority}}"), w=12),
        panel("piechart", "Error breakdown by type", "Errors over the time range by type.",
              target("sum by (error_type) (increase(error_total[$__range]))", "{{error_type}}", instant=True),
              w=12, options={"legend": {"displayMode": "table", "placement": "right", "values": ["value"]},
                             "pieType": "donut", "reduceOptions": {"calcs": ["lastNotNull"], "values": False}}),
        panel("state-timeline", "Agent execution timeline", "Which agent types were running, and how many, over time.",
              (f"sum by (agent_type) (agents_active{{{AGENT}}})", "{{agent_type}}"), w=24, h=7,
              base="transparent", thresholds=[(1, "blue"), (5, "purple")],
              options={"showValue": "auto", "mergeValues": True, "rowHeight": 0.8}),
    ],
    [agent_var, tool_var],
)

agents = dashboard(
    "lookout-agents",
    "Lookout: Agents",
    "One agent type in depth: which models burn tokens, how long executions take, where they fail.",
    ["agents"],
    [
        panel("timeseries", "Tokens by model", "Tokens per second by model.",
              (f"sum by (model) (rate(agent_tokens_used_total{{{AGENT}}}[{RATE}]))", "{{model}}"), unit="short", w=12),
        panel("timeseries", "Execution duration percentiles", "p50, p90 and p99 of execution time.",
              [(f"histogram_quantile({q}, sum by (le) (rate(agent_execution_duration_seconds_bucket{{{AGENT}}}[{RATE}])))", f"p{int(q*100)}")
               for q in (0.5, 0.9, 0.99)], unit="s", w=12),
        panel("timeseries", "Failures by phase", "Failed executions per second by phase.",
              (f'sum by (phase) (rate(agent_execution_total{{status="failure",{AGENT}}}[{RATE}]))', "{{phase}}"),
              unit="ops", w=12),
        panel("timeseries", "Success ratio by agent type", "Share of executions that succeeded.",
              (f'sum by (agent_type) (rate(agent_execution_total{{status="success",{AGENT}}}[{RATE}])) / sum by (agent_type) (rate(agent_execution_total{{{AGENT}}}[{RATE}]))',
               "{{agent_type}}"), unit="percentunit", w=12, min=0, max=1),
        panel("bargauge", "Executions by phase", "Executions over the time range by phase and outcome.",
              target(f"sum by (phase, status) (increase(agent_execution_total{{{AGENT}}}[$__range]))", "{{phase}} {{status}}", instant=True),
              w=12, options={"orientation": "horizontal", "displayMode": "basic",
                             "reduceOptions": {"calcs": ["lastNotNull"], "values": False}}),
        panel("bargauge", "Fullest context windows", "The ten agents with the most context in use.",
              target("topk(10, max by (agent_id) (context_window_used_tokens))", "{{agent_id}}", instant=True),
              w=12, options={"orientation": "horizontal", "displayMode": "gradient",
                             "reduceOptions": {"calcs": ["lastNotNull"], "values": False}}),
    ],
    [agent_var],
)

tools = dashboard(
    "lookout-tools",
    "Lookout: Tools",
    "Tool calls: how often, how slow, and why they fail.",
    ["tools"],
    [
        panel("heatmap", "Tool latency heatmap", "Tool call durations from the histogram buckets.",
              target(f"sum by (le) (increase(tool_call_duration_seconds_bucket{{{TOOL}}}[{RATE}]))", "{{le}}", fmt="heatmap"),
              unit="s", w=24, options={"calculate": False, "yAxis": {"unit": "s"},
                                       "cellGap": 1, "color": {"scheme": "Oranges", "mode": "scheme"}}),
        panel("timeseries", "Calls by tool", "Tool calls per second.",
              (f"sum by (tool) (rate(tool_calls_total{{{TOOL}}}[{RATE}]))", "{{tool}}"), unit="ops", w=12),
        panel("timeseries", "p95 latency by tool", "95th percentile of call duration.",
              (f"histogram_quantile(0.95, sum by (le, tool) (rate(tool_call_duration_seconds_bucket{{{TOOL}}}[{RATE}])))", "{{tool}}"),
              unit="s", w=12),
        panel("table", "Failure reasons", "Failed calls over the time range by tool and error type.",
              target(f"sum by (tool, error_type) (increase(tool_call_failure_total{{{TOOL}}}[$__range]))", "", fmt="table", instant=True),
              w=12, transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}]),
        panel("timeseries", "Failure ratio by tool", "Share of calls that failed.",
              (f'(sum by (tool) (rate(tool_calls_total{{status="failure",{TOOL}}}[{RATE}])) or 0 * sum by (tool) (rate(tool_calls_total{{{TOOL}}}[{RATE}])))'
               f' / sum by (tool) (rate(tool_calls_total{{{TOOL}}}[{RATE}]))',
               "{{tool}}"), unit="percentunit", w=12, min=0, max=1, thresholds=[(0.05, "yellow"), (0.2, "red")]),
    ],
    [tool_var],
)

TASK = 'task_type=~"$task_type"'
task_var = variable("task_type", "Task type", "label_values(task_duration_seconds_count, task_type)")

tasks = dashboard(
    "lookout-tasks",
    "Lookout: Tasks",
    "Is work getting through? Tasks completed and failed by type, how long they take, why they fail, what is queued.",
    ["tasks"],
    [
        panel("timeseries", "Tasks completed", "Tasks finished per second by type and outcome.",
              [(f"sum by (task_type) (rate(task_success_total{{{TASK}}}[{RATE}]))", "{{task_type}} succeeded"),
               (f"sum by (task_type) (rate(task_failure_total{{{TASK}}}[{RATE}]))", "{{task_type}} failed")],
              unit="ops", w=12),
        panel("timeseries", "Task failure ratio", "Share of tasks that failed, by type.",
              (f'(sum by (task_type) (rate(task_duration_seconds_count{{status="failure",{TASK}}}[{RATE}])) or 0 * sum by (task_type) (rate(task_duration_seconds_count{{{TASK}}}[{RATE}])))'
               f' / sum by (task_type) (rate(task_duration_seconds_count{{{TASK}}}[{RATE}]))', "{{task_type}}"),
              unit="percentunit", w=12, min=0, max=1, thresholds=[(0.05, "yellow"), (0.2, "red")]),
        panel("timeseries", "Task duration p50 and p95", "Median and 95th percentile of task time by type.",
              [(f"histogram_quantile({q}, sum by (le, task_type) (rate(task_duration_seconds_bucket{{{TASK}}}[{RATE}])))", f"p{int(q*100)} {{{{task_type}}}}")
               for q in (0.5, 0.95)], unit="s", w=12),
        panel("table", "Failure reasons", "Failed tasks over the time range by type and error type.",
              target(f"sum by (task_type, error_type) (increase(task_failure_total{{{TASK}}}[$__range]))", "", fmt="table", instant=True),
              w=12, transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}]),
        panel("timeseries", "Queue depth by priority", "Tasks waiting, stacked by priority.",
              ("sum by (priority) (task_queue_size)", "{{priority}}"), w=24, h=7,
              fieldConfig={"defaults": {"unit": "short", "custom": {"stacking": {"mode": "normal"}, "fillOpacity": 30}},
                           "overrides": []}),
    ],
    [task_var],
)

health = dashboard(
    "lookout-health",
    "Lookout: Health",
    "Lookout itself: series per family, overflow, drops, scrape time, and every exporter's deliveries, failures, retries and drops.",
    ["health"],
    [
        panel("bargauge", "Series per family", "Series each family holds (the cardinality limit is per family).",
              target("topk(15, lookout_registry_series)", "{{family}}", instant=True),
              w=12, options={"orientation": "horizontal", "displayMode": "gradient",
                             "reduceOptions": {"calcs": ["lastNotNull"], "values": False}}),
        panel("timeseries", "Overflowing label sets", "New label sets sent to the overflow series, per second.",
              (f"sum by (family) (rate(lookout_series_overflow_total[{RATE}]))", "{{family}}"), unit="ops", w=12),
        panel("timeseries", "Dropped records", "Records refused (wrong label count, NaN) per second.",
              (f"sum by (family, reason) (rate(lookout_dropped_observations_total[{RATE}]))", "{{family}} {{reason}}"), unit="ops", w=12),
        panel("timeseries", "Scrape duration p99", "Time to encode /metrics.",
              (f"histogram_quantile(0.99, sum by (le) (rate(lookout_scrape_duration_seconds_bucket[{RATE}])))", "p99"), unit="s", w=12),
        panel("timeseries", "Spans dropped", "Spans, attributes, events and links the tracer dropped, per second.",
              (f"sum by (reason) (rate(lookout_spans_dropped_total[{RATE}]))", "{{reason}}"), unit="ops", w=12),
        panel("timeseries", "Exported", "Spans and metric points each exporter delivered, per second.",
              (f"sum by (exporter, signal) (rate(lookout_exporter_exported_total[{RATE}]))", "{{exporter}} {{signal}}"), unit="ops", w=12),
        panel("timeseries", "Export problems", "Given up, retried and dropped, per second.",
              [(f"sum by (exporter, signal) (rate(lookout_exporter_failed_total[{RATE}]))", "failed {{exporter}} {{signal}}"),
               (f"sum by (exporter, signal) (rate(lookout_exporter_retries_total[{RATE}]))", "retried {{exporter}} {{signal}}"),
               (f"sum by (exporter, signal) (rate(lookout_exporter_dropped_total[{RATE}]))", "dropped {{exporter}} {{signal}}")],
              unit="ops", w=12, thresholds=[(0.001, "red")]),
        panel("timeseries", "Export duration p95", "Time from an export's first attempt to its outcome.",
              (f"histogram_quantile(0.95, sum by (le, exporter, signal) (rate(lookout_exporter_export_duration_seconds_bucket[{RATE}])))",
               "{{exporter}} {{signal}}"), unit="s", w=12),
    ],
    [],
)

runs = dashboard(
    "lookout-runs",
    "Lookout: Runs",
    "Seed 002's runs: how many by status, how long, how many items succeeded and failed, by agent and job type.",
    ["runs"],
    [
        panel("timeseries", "Runs by status", "Runs ended per second, by status.",
              (f"sum by (status) (rate(agent_runs_total{{agent_name=~\"$agent_name\"}}[{RATE}]))", "{{status}}"), unit="ops", w=12),
        panel("timeseries", "Run success ratio", "Share of runs that ended success, by agent.",
              (f"sum by (agent_name) (rate(agent_runs_total{{status=\"success\", agent_name=~\"$agent_name\"}}[{RATE}])) / "
               f"sum by (agent_name) (rate(agent_runs_total{{agent_name=~\"$agent_name\"}}[{RATE}]))", "{{agent_name}}"),
              unit="percentunit", w=12, min=0, max=1),
        panel("timeseries", "Run duration p50 and p95", "Median and 95th percentile of run time by job type.",
              [(f"histogram_quantile(0.5, sum by (le, job_type) (rate(agent_run_duration_seconds_bucket{{agent_name=~\"$agent_name\"}}[{RATE}])))", "p50 {{job_type}}"),
               (f"histogram_quantile(0.95, sum by (le, job_type) (rate(agent_run_duration_seconds_bucket{{agent_name=~\"$agent_name\"}}[{RATE}])))", "p95 {{job_type}}")],
              unit="s", w=12),
        panel("timeseries", "Items by outcome", "Items per second the runs discovered, and how many succeeded and failed.",
              (f"sum by (outcome) (rate(agent_run_items_total{{agent_name=~\"$agent_name\"}}[{RATE}]))", "{{outcome}}"), unit="ops", w=12),
    ],
    [variable("agent_name", "Agent", "label_values(agent_runs_total, agent_name)")],
)

SKILL = 'skill=~"$skill"'
skills = dashboard(
    "lookout-skills",
    "Lookout: Skills and Sessions",
    "Seed 000's skill executions and seed 001's sessions: execution rate, success and failure, average and p95 duration by skill, workflow and agent activity, sessions by outcome and their tool calls.",
    ["skills", "sessions"],
    [
        panel("timeseries", "Skill executions by skill", "Skill executions per second, by skill.",
              (f"sum by (skill) (rate(skill_executions_total{{{SKILL}}}[{RATE}]))", "{{skill}}"), unit="ops", w=12),
        panel("timeseries", "Skill success ratio", "Share of executions that ended success, by skill.",
              (f"sum by (skill) (rate(skill_executions_total{{status=\"success\", {SKILL}}}[{RATE}])) / "
               f"sum by (skill) (rate(skill_executions_total{{{SKILL}}}[{RATE}]))", "{{skill}}"),
              unit="percentunit", w=12, min=0, max=1),
        panel("timeseries", "Skill failures", "Executions per second that did not end success, by skill and status.",
              (f"sum by (skill, status) (rate(skill_executions_total{{status!=\"success\", {SKILL}}}[{RATE}]))", "{{skill}} {{status}}"),
              unit="ops", w=12),
        panel("timeseries", "Average skill duration", "Mean execution time by skill.",
              (f"sum by (skill) (rate(skill_duration_seconds_sum{{{SKILL}}}[{RATE}])) / "
               f"sum by (skill) (rate(skill_duration_seconds_count{{{SKILL}}}[{RATE}]))", "{{skill}}"), unit="s", w=12),
        panel("timeseries", "Skill duration p95", "95th percentile of execution time by skill.",
              (f"histogram_quantile(0.95, sum by (le, skill) (rate(skill_duration_seconds_bucket{{{SKILL}}}[{RATE}])))", "{{skill}}"),
              unit="s", w=12),
        panel("timeseries", "Workflow and agent activity", "Skill executions per second by the workflow and agent they ran for.",
              (f"sum by (workflow, agent) (rate(skill_workflow_executions_total[{RATE}]))", "{{workflow}} {{agent}}"), unit="ops", w=12),
        panel("bargauge", "Executions by caller", "Skill executions over the range, by caller (cli, api, workflow, agent).",
              (f"sum by (caller) (increase(skill_executions_total{{{SKILL}}}[$__range]))", "{{caller}}", "A", None, True),
              w=12),
        panel("timeseries", "Sessions by outcome", "Sessions ended per second, by outcome.",
              (f"sum by (outcome) (rate(sessions_total[{RATE}]))", "{{outcome}}"), unit="ops", w=12),
        panel("timeseries", "Session success ratio", "Share of sessions that succeeded, by skill (seed 001's success_rate).",
              (f"sum by (skill) (rate(sessions_total{{outcome=\"success\"}}[{RATE}])) / sum by (skill) (rate(sessions_total[{RATE}]))", "{{skill}}"),
              unit="percentunit", w=12, min=0, max=1),
        panel("timeseries", "Tool calls per session", "Average tool calls per session (seed 001's avg_tool_calls_per_session) and the 95th percentile.",
              [(f"sum(rate(session_tool_calls_sum[{RATE}])) / sum(rate(session_tool_calls_count[{RATE}]))", "average"),
               (f"histogram_quantile(0.95, sum by (le) (rate(session_tool_calls_bucket[{RATE}])))", "p95")],
              w=12),
        panel("timeseries", "Session duration p50 and p95", "Median and 95th percentile of session time.",
              [(f"histogram_quantile(0.5, sum by (le) (rate(session_duration_seconds_bucket[{RATE}])))", "p50"),
               (f"histogram_quantile(0.95, sum by (le) (rate(session_duration_seconds_bucket[{RATE}])))", "p95")],
              unit="s", w=12),
    ],
    [variable("skill", "Skill", "label_values(skill_executions_total, skill)")],
)

out = pathlib.Path(__file__).resolve().parent.parent / "dashboards"
for name, board in [("overview", overview), ("agents", agents), ("tools", tools), ("tasks", tasks),
                    ("runs", runs), ("skills", skills), ("lookout-health", health)]:
    (out / f"{name}.json").write_text(json.dumps(board, indent=2) + "\n")
    print(f"dashboards/{name}.json: {len(board['panels'])} panels")
