//! `lookout backup` and `lookout restore`, with a progress bar over the pages copied.

use crate::args::{BackupArgs, RestoreArgs};
use crate::error::CliError;
use crate::settings::Settings;
use indicatif::{ProgressBar, ProgressStyle};
use lookout::store::Copied;
use serde_json::json;
use std::time::SystemTime;

pub(super) fn backup(args: BackupArgs, settings: &Settings) -> Result<(), CliError> {
    let config = super::store_config()?;
    let dest = args
        .to
        .unwrap_or_else(|| lookout::store::default_backup_path(&config, SystemTime::now()));
    let bar = pages_bar("backing up");
    let copied = lookout::store::backup(&config, &dest, |done, total| advance(&bar, done, total))
        .map_err(|e| CliError::Store(e.to_string()))?;
    bar.finish_and_clear();
    report(settings, "backed up", &copied, None, None);
    Ok(())
}

pub(super) fn restore(args: RestoreArgs, settings: &Settings) -> Result<(), CliError> {
    let config = super::store_config()?;
    let bar = pages_bar("restoring");
    let restored = lookout::store::restore(&config, &args.from, |done, total| {
        advance(&bar, done, total)
    })
    .map_err(|e| CliError::Store(e.to_string()))?;
    bar.finish_and_clear();
    report(
        settings,
        "restored",
        &restored.copied,
        restored.previous.as_ref(),
        Some(restored.replayed),
    );
    Ok(())
}

/// A bar drawn on stderr when it is a terminal (hidden otherwise).
fn pages_bar(what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} pages ({percent}%) {eta}")
    {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

fn advance(bar: &ProgressBar, done: u64, total: u64) {
    bar.set_length(total);
    bar.set_position(done);
}

/// What was copied where; for a restore, the database it replaced and the records the
/// log gave back.
fn report(
    settings: &Settings,
    verb: &str,
    copied: &Copied,
    previous: Option<&Copied>,
    replayed: Option<u64>,
) {
    if settings.json {
        println!(
            "{}",
            json!({
                "path": copied.path,
                "pages": copied.pages,
                "bytes": copied.bytes,
                "previous": previous.map(|p| &p.path),
                "replayed": replayed,
            })
        );
        return;
    }
    println!(
        "{verb} {} pages ({:.1} MB): {}",
        copied.pages,
        copied.bytes as f64 / 1e6,
        copied.path.display()
    );
    if let Some(previous) = previous {
        println!(
            "the database it replaced is kept at {}",
            previous.path.display()
        );
    }
    if let Some(replayed) = replayed {
        println!("{replayed} records recorded since the backup were indexed from the log");
    }
}
