//! Rotation: nothing lost or doubled at a boundary, the newest files kept, only whole
//! JSON ever visible.

use lookout_export::{
    Exporter, FamilyInfo, FinishedSpan, MetricKind, MetricSource, MetricVisitor, MetricsBatch,
    Resource, Value,
};
use lookout_exporter_json::{JsonFileConfig, JsonFileExporter};
use serde_json::Value as Json;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

/// Runs a future that never waits (the exporter's file writes are synchronous).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the JSON exporter never waits"),
    }
}

fn span(n: u64) -> FinishedSpan {
    let mut span = lookout_export::testing::span(1, n + 1, &format!("span-{n}"));
    span.end_time = span.start_time + Duration::from_millis(n);
    span
}

/// One counter family with one series.
struct Jobs(u64);

impl MetricSource for Jobs {
    fn collect(&self, visitor: &mut dyn MetricVisitor) {
        visitor.visit_family(&FamilyInfo::new("jobs", "Jobs", "", MetricKind::Counter));
        visitor.visit_series(&[("queue", "a\"b")], Value::Counter(self.0));
    }
}

fn exporter(dir: &Path, interval: Duration, max_files: usize) -> JsonFileExporter {
    let mut config = JsonFileConfig::new(dir);
    config.rotate_interval = interval;
    config.max_files = max_files;
    JsonFileExporter::new(config).unwrap()
}

fn export_spans(exporter: &JsonFileExporter, spans: std::ops::Range<u64>) {
    let spans: Vec<_> = spans.map(span).collect();
    let encoded = exporter.encode_spans(&spans).unwrap();
    assert_eq!(encoded.items, spans.len());
    ready(exporter.send(&encoded.payload)).unwrap();
}

/// Published files, oldest first, each parsed (a file that is not a JSON array fails).
fn published(dir: &Path) -> Vec<(PathBuf, Vec<Json>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let records: Json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
            let records = records.as_array().expect("a JSON array").clone();
            (path, records)
        })
        .collect()
}

#[test]
fn records_add_up_across_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = exporter(dir.path(), Duration::from_millis(30), 1000);
    for round in 0..40 {
        export_spans(&exporter, round * 25..(round + 1) * 25);
        std::thread::sleep(Duration::from_millis(5));
    }
    ready(exporter.flush()).unwrap();
    let files = published(dir.path());
    assert!(files.len() >= 4, "only {} rotations", files.len());
    let mut names: Vec<String> = files
        .iter()
        .flat_map(|(_, records)| records.iter())
        .map(|r| {
            assert_eq!(r["type"], "span");
            r["name"].as_str().unwrap().to_owned()
        })
        .collect();
    let total = names.len();
    names.sort();
    names.dedup();
    assert_eq!(total, 1000, "records across all files");
    assert_eq!(names.len(), 1000, "none twice");
    for (path, _) in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            name.starts_with("telemetry-20") && name.ends_with(".json"),
            "{name}"
        );
    }
}

#[test]
fn only_the_newest_files_remain() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = exporter(dir.path(), Duration::from_secs(3600), 3);
    for round in 0..7 {
        export_spans(&exporter, round * 10..(round + 1) * 10);
        ready(exporter.flush()).unwrap();
    }
    let files = published(dir.path());
    assert_eq!(files.len(), 3);
    let first: Vec<&str> = files
        .iter()
        .map(|(_, records)| records[0]["name"].as_str().unwrap())
        .collect();
    assert_eq!(first, ["span-40", "span-50", "span-60"]);
}

#[test]
fn size_rotates_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = JsonFileConfig::new(dir.path());
    config.max_file_bytes = 4096;
    let exporter = JsonFileExporter::new(config).unwrap();
    for round in 0..20 {
        export_spans(&exporter, round * 5..(round + 1) * 5);
    }
    ready(exporter.flush()).unwrap();
    let files = published(dir.path());
    assert!(files.len() > 3, "{} files", files.len());
    for (path, _) in &files {
        let size = std::fs::metadata(path).unwrap().len();
        assert!(size < 4096 + 2048, "{}: {size} bytes", path.display());
    }
    let total: usize = files.iter().map(|(_, r)| r.len()).sum();
    assert_eq!(total, 100);
}

#[test]
fn metrics_are_records_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = exporter(dir.path(), Duration::from_secs(3600), 24);
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_342_500);
    let resource = Resource::default();
    let batch = MetricsBatch::new(&Jobs(7), time, time, &resource);
    let encoded = exporter.encode_metrics(&batch).unwrap();
    assert_eq!(encoded.items, 1);
    ready(exporter.send(&encoded.payload)).unwrap();
    ready(exporter.flush()).unwrap();
    let files = published(dir.path());
    let record = &files[0].1[0];
    assert_eq!(record["type"], "metric");
    assert_eq!(record["name"], "jobs_total");
    assert_eq!(record["kind"], "counter");
    assert_eq!(record["labels"]["queue"], "a\"b");
    assert_eq!(record["value"], 7);
    assert_eq!(record["time"], "2026-11-22T10:15:00.000Z");
}

#[test]
fn a_dead_process_partial_file_is_published_without_its_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    // No process has pid 2^22 + 1 on Linux (pid_max is at most 2^22).
    let partial = dir
        .path()
        .join(".telemetry-20261122T101500000Z-4194305-1.jsonl.partial");
    std::fs::write(
        &partial,
        "{\"type\":\"span\",\"name\":\"a\"}\n{\"type\":\"span\",\"na",
    )
    .unwrap();
    let _exporter = exporter(dir.path(), Duration::from_secs(3600), 24);
    assert!(!partial.exists());
    let files = published(dir.path());
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].1.len(), 1);
    assert_eq!(files[0].1[0]["name"], "a");
}

#[test]
fn readers_only_ever_see_whole_json() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = exporter(dir.path(), Duration::from_millis(5), 5);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    let path = entry.unwrap().path();
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    if name.starts_with('.') || !name.ends_with(".json") {
                        continue;
                    }
                    // A file pruned between listing and reading is fine; a torn one is not.
                    if let Ok(text) = std::fs::read_to_string(&path) {
                        let parsed: Result<Json, _> = serde_json::from_str(&text);
                        assert!(parsed.is_ok_and(|v| v.is_array()), "{name}: {text}");
                        reads += 1;
                    }
                }
            }
            assert!(reads > 10, "the reader saw {reads} files");
        });
        for round in 0..300 {
            export_spans(&exporter, round * 20..(round + 1) * 20);
        }
        std::thread::sleep(Duration::from_millis(50));
        done.store(true, Ordering::Relaxed);
    });
}
