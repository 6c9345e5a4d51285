//! Integration tests: one binary, shared helpers in `util`.

mod allocations;
mod cli;
mod dashboards;
mod exporting;
mod interop;
mod model;
mod otlp;
mod prometheus_e2e;
mod promtool;
mod python;
/// The third-party exporter example, run as a test.
#[path = "../examples/statsd_exporter.rs"]
mod statsd_exporter;
mod util;
mod w3c;
