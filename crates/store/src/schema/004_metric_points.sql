-- Version 4: metric points by series. A series is a metric name and its labels (JSON,
-- keys sorted); its points are clustered by time, so a query reads one range per series.
-- `telemetry_metrics` (seed 003's table) becomes a view over them with its columns, plus
-- `text` for text values (`value` is then NULL). Its rows, if any, move first (the
-- migration's code); the views on it are rebuilt.

DROP VIEW IF EXISTS v_recent_metrics;
DROP VIEW IF EXISTS v_context_utilization;
ALTER TABLE telemetry_metrics RENAME TO telemetry_metrics_v3;

CREATE TABLE telemetry_series (
    series_id INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    labels    TEXT    NOT NULL DEFAULT '{}',
    UNIQUE (name, labels)
);

-- Each label of each series, so that a label filter finds its series by index.
CREATE TABLE telemetry_series_labels (
    name      TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    series_id INTEGER NOT NULL REFERENCES telemetry_series (series_id),
    PRIMARY KEY (name, key, value, series_id)
) WITHOUT ROWID;

CREATE TABLE telemetry_points (
    series_id      INTEGER NOT NULL REFERENCES telemetry_series (series_id),
    time_unix_nano INTEGER NOT NULL,
    event_id       TEXT    NOT NULL,
    value          REAL,
    text           TEXT,
    PRIMARY KEY (series_id, time_unix_nano, event_id)
) WITHOUT ROWID;
CREATE INDEX telemetry_points_time ON telemetry_points (time_unix_nano);

CREATE VIEW telemetry_metrics AS
SELECT p.event_id, s.name, s.kind, s.labels, p.time_unix_nano, p.value, p.text
FROM telemetry_points p JOIN telemetry_series s USING (series_id);

-- CROSS JOIN keeps the series outermost: one indexed lookup of its newest point each.
CREATE VIEW v_recent_metrics AS
SELECT s.name, s.kind, s.labels, p.value, p.time_unix_nano
FROM telemetry_series s
CROSS JOIN telemetry_points p ON p.series_id = s.series_id
 AND p.time_unix_nano = (SELECT MAX(time_unix_nano) FROM telemetry_points q
                         WHERE q.series_id = s.series_id);

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
