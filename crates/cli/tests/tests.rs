//! Tests of the `lookout` binary: one test binary, shared helpers in `util`.

mod analyze;
mod api;
mod capture;
mod cli;
mod exporting;
mod monitors;
mod python;
mod query;
mod runs;
mod util;
mod w3c;
