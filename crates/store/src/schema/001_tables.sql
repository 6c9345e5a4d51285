-- Version 1: the tables. Times are Unix nanoseconds; JSON columns hold text.

CREATE TABLE telemetry_spans (
    trace_id             TEXT    NOT NULL,
    span_id              TEXT    NOT NULL,
    parent_span_id       TEXT,
    parent_is_remote     INTEGER NOT NULL DEFAULT 0,
    name                 TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,
    start_time_unix_nano INTEGER NOT NULL,
    end_time_unix_nano   INTEGER NOT NULL,
    duration_ns          INTEGER NOT NULL,
    status_code          TEXT    NOT NULL,
    status_message       TEXT,
    service_name         TEXT,
    trace_state          TEXT,
    flags                INTEGER NOT NULL DEFAULT 0,
    attributes           TEXT    NOT NULL DEFAULT '{}',
    links                TEXT    NOT NULL DEFAULT '[]',
    resource             TEXT,
    dropped_attributes   INTEGER NOT NULL DEFAULT 0,
    dropped_events       INTEGER NOT NULL DEFAULT 0,
    dropped_links        INTEGER NOT NULL DEFAULT 0,
    event_id             TEXT    NOT NULL UNIQUE,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX telemetry_spans_start ON telemetry_spans (start_time_unix_nano);

CREATE TABLE telemetry_span_events (
    trace_id       TEXT    NOT NULL,
    span_id        TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    name           TEXT    NOT NULL,
    time_unix_nano INTEGER NOT NULL,
    attributes     TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (trace_id, span_id, seq)
);

-- Every other record kind: runs, sessions, skill entries, bridge events, ...
CREATE TABLE telemetry_records (
    event_id       TEXT    PRIMARY KEY,
    kind           TEXT    NOT NULL,
    time_unix_nano INTEGER NOT NULL,
    body           TEXT    NOT NULL
);
CREATE INDEX telemetry_records_kind_time ON telemetry_records (kind, time_unix_nano);

CREATE TABLE telemetry_metrics (
    event_id       TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    labels         TEXT    NOT NULL DEFAULT '{}',
    time_unix_nano INTEGER NOT NULL,
    value          REAL    NOT NULL
);
CREATE INDEX telemetry_metrics_name_time ON telemetry_metrics (name, time_unix_nano);

CREATE TABLE telemetry_aggregates (
    name             TEXT    NOT NULL,
    labels           TEXT    NOT NULL DEFAULT '{}',
    interval_seconds INTEGER NOT NULL,
    bucket_start     INTEGER NOT NULL,
    count            INTEGER NOT NULL,
    sum              REAL    NOT NULL,
    min              REAL,
    max              REAL,
    PRIMARY KEY (name, labels, interval_seconds, bucket_start)
);

CREATE TABLE telemetry_exports (
    event_id       TEXT    PRIMARY KEY,
    time_unix_nano INTEGER NOT NULL,
    exporter       TEXT    NOT NULL,
    destination    TEXT,
    signal         TEXT    NOT NULL,
    items          INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    error          TEXT,
    duration_ns    INTEGER
);

-- How far each NDJSON day file has been indexed: replay starts there.
CREATE TABLE store_log_checkpoints (
    file   TEXT    PRIMARY KEY,
    offset INTEGER NOT NULL
);

-- When each housekeeping task last ran, so that many processes do it once.
CREATE TABLE store_housekeeping (
    task     TEXT    PRIMARY KEY,
    last_run INTEGER NOT NULL
);
