//! `lookout clear metrics|traces|events|all`: seed 003's `/telemetry clear`, from the
//! store's index and its log (so a rebuild does not bring it back), after asking.

use crate::args::ClearArgs;
use crate::error::CliError;
use crate::settings::Settings;
use lookout::store::Store;
use serde_json::json;
use std::io::{BufRead, Write};
use std::time::Duration;

/// How long the clear record may take to become durable.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Clears what `args` names; exit code 1 when the answer was not yes.
pub(super) fn run(args: ClearArgs, settings: &Settings) -> Result<u8, CliError> {
    let config = super::store_config()?;
    if !config.db_path.exists() {
        return Err(CliError::Store(format!(
            "no store at {} to clear",
            config.db_path.display()
        )));
    }
    if !args.yes {
        eprint!(
            "Clear all {} recorded until now from the store in {}? [y/N] ",
            args.what.as_str(),
            config.base_dir.display()
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            eprintln!("nothing cleared");
            return Ok(1);
        }
    }
    let store = Store::open(config);
    let cleared = store
        .clear(args.what, TIMEOUT)
        .map_err(|e| CliError::Store(e.to_string()))?;
    if settings.json {
        println!(
            "{}",
            json!({"cleared": args.what.as_str(), "rows": cleared.rows,
                   "log_lines": cleared.lines, "log_files": cleared.files})
        );
    } else {
        println!(
            "cleared {}: {} rows from the index, {} lines from {} log files",
            args.what.as_str(),
            cleared.rows,
            cleared.lines,
            cleared.files
        );
    }
    Ok(0)
}
