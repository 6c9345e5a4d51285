-- Version 3: seed 002's runs. Every state of a run (started, ended, a commit
-- associated, posted) is a `run` record with the run's whole state; agent_runs holds
-- the newest state of each run, so seed 002's SQL recipes work on it as they are.

CREATE TABLE agent_runs (
    run_id              TEXT    PRIMARY KEY,
    event_id            TEXT    NOT NULL,
    agent_name          TEXT,
    job_type            TEXT,
    status              TEXT,
    start_time          TEXT,
    end_time            TEXT,
    duration_ms         INTEGER,
    items_discovered    INTEGER,
    items_succeeded     INTEGER,
    items_failed        INTEGER,
    input_summary       TEXT,
    output_summary      TEXT,
    error_summary       TEXT,
    metrics_json        TEXT,
    insight_id          TEXT,
    product             TEXT,
    platform            TEXT,
    git_repo            TEXT,
    git_branch          TEXT,
    git_commit_hash     TEXT,
    git_commit_source   TEXT,
    git_commit_author   TEXT,
    host                TEXT,
    pid                 INTEGER,
    process_start       INTEGER,
    trace_id            TEXT,
    api_posting_status  TEXT,
    api_posting_attempts INTEGER,
    api_posting_error   TEXT,
    updated_unix_nano   INTEGER NOT NULL
);
CREATE INDEX agent_runs_start ON agent_runs (start_time);
CREATE INDEX agent_runs_agent ON agent_runs (agent_name, start_time);
CREATE INDEX agent_runs_status ON agent_runs (status, host);

CREATE TABLE agent_run_events (
    event_id       TEXT    PRIMARY KEY,
    run_id         TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    time_unix_nano INTEGER NOT NULL,
    payload        TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX agent_run_events_run ON agent_run_events (run_id, time_unix_nano);
