//! `lookout serve`'s API under load, beside the same work written through the library
//! in the same run: runs created through the batch endpoint (1,000 per request) and OTLP
//! spans ingested over OTLP/HTTP protobuf (1,000 per request, three-level agent trees),
//! each acknowledged only once durable (the log synced), against `Store::records_durable`
//! and `Store::spans_durable` of the same records; then single creates back to back and
//! their p50/p99 at 500 requests/s offered.
//!
//! The daemon is the release `lookout` binary in its own process, on loopback, its store
//! on a temporary directory; the client keeps one connection open.
//!
//! `cargo bench --bench api`, then `python3 scripts/bench_table.py api_`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lookout::store::{Record, RecordKind, Store, StoreConfig};
use lookout::trace::{FinishedSpan, Resource, SpanId, TraceId};
use lookout_testkit::KeepAlive;
use prost::Message;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Runs or spans per request.
const BATCH: u64 = 1000;
/// How long one durable write may wait.
const TIMEOUT: Duration = Duration::from_secs(30);

struct Daemon {
    child: Child,
    authority: String,
    _stdout: BufReader<std::process::ChildStdout>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_lookout"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env(lookout::store::BASE_DIR_ENV, dir.path())
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("LOOKOUT_JSON_DIR")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        stdout.read_line(&mut banner).unwrap();
        let url = lookout_testkit::url_in_banner(&banner);
        let authority = url.trim_start_matches("http://").to_owned();
        Daemon {
            child,
            authority,
            _stdout: stdout,
            _dir: dir,
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A run as seed 002's API takes it, under a new id.
fn run(n: u64) -> Value {
    json!({"event_id": format!("bench-{n}"), "agent_name": format!("agent-{}", n % 10),
           "job_type": "review", "status": "success", "items_discovered": n % 100,
           "items_succeeded": n % 90, "duration_ms": n % 5000})
}

/// The records the daemon writes for `run(n)`, for the library's side.
fn run_record(n: u64) -> Record {
    let mut body = run(n);
    let id = body.as_object_mut().unwrap().remove("event_id").unwrap();
    body["run_id"] = id.clone();
    let mut record = Record::new(RecordKind::Run, body);
    record.event_id = id.as_str().unwrap().to_owned();
    record
}

/// `BATCH` spans: three-level agent trees of 10 (a coordinator, 3 sub-agents, 2 tools
/// each), trace ids from `seq`.
fn spans(seq: &AtomicU64) -> Vec<FinishedSpan> {
    let resource = Arc::new(Resource::new([("service.name", "bench-agents")]));
    let now = SystemTime::now();
    let mut spans = Vec::with_capacity(BATCH as usize);
    while spans.len() < BATCH as usize {
        let trace = TraceId(u128::from(seq.fetch_add(1, Ordering::Relaxed)) + 1);
        let mut next = 1u64;
        let mut span = |parent: u64, name: &str| {
            let id = next;
            next += 1;
            let mut s = FinishedSpan::new(trace, SpanId(id), name.to_owned(), now);
            s.parent_span_id = SpanId(parent);
            s.end_time = now + Duration::from_millis(10 * id);
            s.attributes
                .push(lookout::trace::KeyValue::new("gen_ai.agent.name", "coder"));
            s.resource = Some(Arc::clone(&resource));
            s
        };
        spans.push(span(0, "invoke_agent coordinator"));
        for _ in 0..3 {
            let agent = span(1, "invoke_agent coder");
            let parent = agent.span_id.0;
            spans.push(agent);
            spans.push(span(parent, "execute_tool grep"));
            spans.push(span(parent, "execute_tool edit"));
        }
    }
    spans.truncate(BATCH as usize);
    spans
}

fn protobuf(spans: &[FinishedSpan]) -> Vec<u8> {
    lookout_exporter_otlp::spans_request(spans).encode_to_vec()
}

fn created(response: &lookout_testkit::Response) {
    assert!(
        matches!(response.status, 200 | 201),
        "{} {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
}

fn throughput(c: &mut Criterion) {
    let daemon = Daemon::start();
    let mut client = KeepAlive::connect(&daemon.authority).unwrap();
    let json = [("content-type", "application/json")];
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(StoreConfig::new(dir.path()));
    let mut n = 0u64;

    let mut group = c.benchmark_group("api_runs_batch_1000");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    group.bench_function("lookout", |b| {
        b.iter(|| {
            let batch: Vec<Value> = (n..n + BATCH).map(run).collect();
            n += BATCH;
            let body = serde_json::to_vec(&batch).unwrap();
            created(
                &client
                    .send("POST", "/api/v1/runs/batch", &json, &body)
                    .unwrap(),
            );
        })
    });
    group.bench_function("library_direct", |b| {
        b.iter(|| {
            let records: Vec<Record> = (n..n + BATCH).map(run_record).collect();
            n += BATCH;
            store.records_durable(records, TIMEOUT).unwrap();
        })
    });
    group.finish();

    let seq = AtomicU64::new(0);
    let protobuf_headers = [("content-type", "application/x-protobuf")];
    let mut group = c.benchmark_group("api_otlp_spans_1000");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    group.bench_function("lookout", |b| {
        b.iter(|| {
            let body = protobuf(&spans(&seq));
            created(
                &client
                    .send("POST", "/v1/traces", &protobuf_headers, &body)
                    .unwrap(),
            );
        })
    });
    group.bench_function("library_direct", |b| {
        b.iter(|| store.spans_durable(spans(&seq), TIMEOUT).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("api_single_create");
    group.bench_function("lookout", |b| {
        b.iter(|| {
            n += 1;
            let body = run(n).to_string();
            created(
                &client
                    .send("POST", "/api/v1/runs", &json, body.as_bytes())
                    .unwrap(),
            );
        })
    });
    group.bench_function("library_direct", |b| {
        b.iter(|| {
            n += 1;
            store.record_durable(run_record(n), TIMEOUT).unwrap();
        })
    });
    group.finish();
    offered_rate(&daemon.authority, n + 1);
}

/// 5,000 single creates at 500/s offered by 8 clients (each on its own connection,
/// taking every 8th due time): each one's time from its due moment to its answer, so a
/// stall delays the ones queued behind it, as a client would see.
fn offered_rate(authority: &str, first: u64) {
    const CLIENTS: u64 = 8;
    const REQUESTS: u64 = 5_000;
    let started = Instant::now() + Duration::from_millis(50);
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                s.spawn(move || {
                    let json = [("content-type", "application/json")];
                    let mut client = KeepAlive::connect(authority).unwrap();
                    let mut latencies = Vec::new();
                    for i in (c..REQUESTS).step_by(CLIENTS as usize) {
                        let due = started + Duration::from_millis(2) * i as u32;
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let body = run(first + i).to_string();
                        created(
                            &client
                                .send("POST", "/api/v1/runs", &json, body.as_bytes())
                                .unwrap(),
                        );
                        latencies.push(due.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "\nsingle create at 500/s offered by {CLIENTS} clients, {REQUESTS} requests: p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        at(0.999),
        latencies[latencies.len() - 1]
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    targets = throughput
}
criterion_main!(benches);
