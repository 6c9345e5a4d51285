-- Version 2: seed 003's views, over what is recorded so far.

-- One row per trace: its root (the span without a local parent), service, start,
-- duration, span and error counts.
CREATE VIEW v_trace_summary AS
SELECT
    s.trace_id,
    COALESCE(
        (SELECT r.name FROM telemetry_spans r
          WHERE r.trace_id = s.trace_id AND (r.parent_span_id IS NULL OR r.parent_is_remote = 1)
          ORDER BY r.start_time_unix_nano LIMIT 1),
        MIN(s.name)) AS root_name,
    (SELECT r.service_name FROM telemetry_spans r
      WHERE r.trace_id = s.trace_id ORDER BY r.start_time_unix_nano LIMIT 1) AS service_name,
    MIN(s.start_time_unix_nano) AS start_time_unix_nano,
    MAX(s.end_time_unix_nano) - MIN(s.start_time_unix_nano) AS duration_ns,
    COUNT(*) AS spans,
    SUM(s.status_code = 'error') AS errors,
    COUNT(DISTINCT s.service_name) AS services
FROM telemetry_spans s
GROUP BY s.trace_id;

-- Agent executions (`invoke_agent` spans) by agent.
CREATE VIEW v_agent_performance AS
SELECT
    json_extract(attributes, '$."gen_ai.agent.name"') AS agent_name,
    COUNT(*) AS executions,
    SUM(status_code = 'error') AS failures,
    ROUND(1.0 * SUM(status_code != 'error') / COUNT(*), 4) AS success_rate,
    AVG(duration_ns) / 1e6 AS avg_duration_ms,
    MAX(duration_ns) / 1e6 AS max_duration_ms,
    SUM(COALESCE(json_extract(attributes, '$."gen_ai.usage.input_tokens"'), 0)
      + COALESCE(json_extract(attributes, '$."gen_ai.usage.output_tokens"'), 0)) AS tokens
FROM telemetry_spans
WHERE json_extract(attributes, '$."gen_ai.operation.name"') = 'invoke_agent'
GROUP BY agent_name;

-- Tool calls (`execute_tool` spans) by tool.
CREATE VIEW v_tool_usage AS
SELECT
    json_extract(attributes, '$."gen_ai.tool.name"') AS tool,
    COUNT(*) AS calls,
    SUM(status_code = 'error') AS failures,
    ROUND(1.0 * SUM(status_code != 'error') / COUNT(*), 4) AS success_rate,
    AVG(duration_ns) / 1e6 AS avg_duration_ms
FROM telemetry_spans
WHERE json_extract(attributes, '$."gen_ai.operation.name"') = 'execute_tool'
GROUP BY tool;

-- Failed spans by hour, span name and error type.
CREATE VIEW v_error_rate AS
SELECT
    start_time_unix_nano / 3600000000000 * 3600 AS hour_start_unix,
    name,
    COALESCE(json_extract(attributes, '$."error.type"'), 'error') AS error_type,
    COUNT(*) AS errors
FROM telemetry_spans
WHERE status_code = 'error'
GROUP BY hour_start_unix, name, error_type;

-- The latest point of each metric series.
CREATE VIEW v_recent_metrics AS
SELECT m.name, m.kind, m.labels, m.value, m.time_unix_nano
FROM telemetry_metrics m
WHERE m.time_unix_nano = (
    SELECT MAX(n.time_unix_nano) FROM telemetry_metrics n
    WHERE n.name = m.name AND n.labels = m.labels);

-- Context-window usage by agent, from its metric points.
CREATE VIEW v_context_utilization AS
SELECT
    json_extract(labels, '$.agent_id') AS agent_id,
    COUNT(*) AS samples,
    AVG(value) AS avg_utilization,
    MAX(value) AS max_utilization,
    MAX(time_unix_nano) AS last_time_unix_nano
FROM telemetry_metrics
WHERE name = 'context_window_utilization'
GROUP BY agent_id;

CREATE INDEX telemetry_span_events_time ON telemetry_span_events (time_unix_nano);
CREATE INDEX telemetry_spans_trace_start ON telemetry_spans (trace_id, start_time_unix_nano);
