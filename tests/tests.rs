//! Integration tests of the engine against real peers: one binary, shared helpers in
//! `util`. The `lookout` binary's tests are in `crates/cli/tests`.

mod allocations;
mod dashboards;
mod interop;
mod model;
mod otlp;
#[cfg(feature = "api-posting")]
mod posting;
mod prometheus_e2e;
mod promtool;
#[cfg(feature = "store")]
mod runs;
#[cfg(feature = "store")]
mod sessions;
mod skill_macro;
mod skills;
/// The third-party exporter example, run as a test.
#[path = "../examples/statsd_exporter.rs"]
mod statsd_exporter;
#[cfg(feature = "store")]
mod store;
mod util;

#[test]
fn a_third_party_exporter_plugs_in() {
    // examples/statsd_exporter.rs: written against lookout-export alone; its main asserts
    // that the StatsD daemon received the counters and gauges.
    statsd_exporter::main().unwrap();
}
