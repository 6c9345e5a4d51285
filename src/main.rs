//! The `lookout` binary: parse flags, run the command, map errors to exit codes.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match lookout::cli::Cli::parse().run() {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error[{}]: {error}", error.code());
            ExitCode::from(error.exit_code())
        }
    }
}
