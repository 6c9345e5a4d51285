//! Integration tests: one binary, shared helpers in `util`.

mod allocations;
mod cli;
mod exporting;
mod interop;
mod model;
mod prometheus_e2e;
mod promtool;
mod python;
mod util;
mod w3c;
