-- Version 5: rollups of each series per minute and per hour (width_seconds 60 and 3600):
-- count, sum, min, max, a counter's increase and a DDSketch of the values (its binary
-- encoding, as DataDog's sketches-java writes it). Seed 003's `telemetry_aggregates`
-- becomes a view over them with its columns (bucket_start in Unix seconds), plus
-- `increase`. Its table was never written; it goes.

DROP TABLE IF EXISTS telemetry_aggregates;

CREATE TABLE telemetry_rollups (
    series_id       INTEGER NOT NULL REFERENCES telemetry_series (series_id),
    width_seconds   INTEGER NOT NULL,
    start_unix_nano INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    sum             REAL    NOT NULL,
    min             REAL,
    max             REAL,
    increase        REAL    NOT NULL DEFAULT 0,
    sketch          BLOB,
    PRIMARY KEY (series_id, width_seconds, start_unix_nano)
) WITHOUT ROWID;
CREATE INDEX telemetry_rollups_start ON telemetry_rollups (start_unix_nano);

CREATE VIEW telemetry_aggregates AS
SELECT s.name, s.labels, r.width_seconds AS interval_seconds,
       r.start_unix_nano / 1000000000 AS bucket_start,
       r.count, r.sum, r.min, r.max, r.increase
FROM telemetry_rollups r JOIN telemetry_series s USING (series_id);
