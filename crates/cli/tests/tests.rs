//! Tests of the `lookout` binary: one test binary, shared helpers in `util`.

mod analyze;
mod api;
mod api_clients;
mod api_hostile;
mod api_seeds;
mod capture;
mod cli;
mod daemon;
mod demo;
mod exporting;
mod fleet;
mod monitors;
mod otlp_ingest;
mod python;
mod query;
mod runs;
mod util;
mod w3c;
mod web;
