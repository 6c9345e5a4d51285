//! The `lookout` binary: raw flags ([`args`]) resolve to settings ([`settings`]), then one
//! command runs ([`commands`]); its error becomes a coded message and an exit status.

mod api;
mod args;
mod client;
mod commands;
mod error;
mod monitors;
mod settings;
mod web;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = args::Args::parse();
    match commands::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error[{}]: {error}", error.code());
            ExitCode::from(error.exit_code())
        }
    }
}
