//! `lookout diff --commit A --against B` (or two windows): per span name, the executions
//! of one side against the other's, and whether each difference is beyond noise.

use crate::args::DiffArgs;
use crate::error::CliError;
use crate::settings::Settings;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use lookout::store::unix_nanos;
use lookout_query::cost::Prices;
use lookout_query::diff::{self, Comparison, DiffOptions, Figures, Side};
use serde_json::{Value, json};

pub(super) fn run(args: DiffArgs, settings: &Settings) -> Result<(), CliError> {
    let prices = Prices::from_env().map_err(|e| CliError::InvalidInput(e.to_string()))?;
    let (this, against) = match (&args.commit, &args.against, args.from, args.until) {
        (Some(commit), Some(against), _, _) => {
            (Side::Commit(commit.clone()), Side::Commit(against.clone()))
        }
        (_, _, Some(from), Some(until)) => {
            let (Some(against_from), Some(against_until)) = (args.against_from, args.against_until)
            else {
                return Err(CliError::InvalidInput(
                    "a window needs --against-from and --against-until".into(),
                ));
            };
            (
                Side::Window(unix_nanos(from), unix_nanos(until)),
                Side::Window(unix_nanos(against_from), unix_nanos(against_until)),
            )
        }
        _ => {
            return Err(CliError::InvalidInput(
                "give --commit A --against B, or --from --until --against-from --against-until"
                    .into(),
            ));
        }
    };
    for hash in [&args.commit, &args.against].into_iter().flatten() {
        if !(4..=64).contains(&hash.len()) || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CliError::InvalidInput(format!(
                "{hash:?} is not a commit hash or prefix (4 to 64 hex digits)"
            )));
        }
    }
    let store = super::store_config()?;
    let conn = super::open_store_reader(&store)?;
    let read = |e| super::read_error(&store.db_path, e);
    for side in [&this, &against] {
        if let Side::Commit(hash) = side
            && !diff::commit_has_runs(&conn, hash).map_err(read)?
        {
            return Err(CliError::NotFound(format!("no run at commit {hash}")));
        }
    }
    let name = args.name.as_deref();
    let comparisons = diff::compare(
        &diff::samples(&conn, &this, name, &prices).map_err(read)?,
        &diff::samples(&conn, &against, name, &prices).map_err(read)?,
        &DiffOptions::default(),
    );
    if settings.json {
        let rows: Vec<Value> = comparisons.iter().map(comparison_json).collect();
        println!("{}", json!({"prices": prices.source, "comparisons": rows}));
        return Ok(());
    }
    if comparisons.is_empty() {
        println!("no spans on either side");
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header(["name", "n", "p50", "p95", "failures", "cost", "verdict"]);
    let right = |text: String| Cell::new(text).set_alignment(CellAlignment::Right);
    for c in &comparisons {
        let (a, b) = (&c.this, &c.against);
        let cost = match (a.cost, b.cost) {
            (Some(a), Some(b)) => format!("${b:.4} -> ${a:.4}"),
            (Some(a), None) => format!("-> ${a:.4}"),
            (None, Some(b)) => format!("${b:.4} ->"),
            (None, None) => String::new(),
        };
        let verdicts: Vec<&str> = c.verdicts.iter().map(|v| v.as_str()).collect();
        table.add_row([
            Cell::new(&c.name),
            right(format!("{} / {}", a.count, b.count)),
            right(moved(a.p50, b.p50, a, b)),
            right(moved(a.p95, b.p95, a, b)),
            right(format!(
                "{:.0}% -> {:.0}%",
                b.failure_rate * 100.0,
                a.failure_rate * 100.0
            )),
            right(cost),
            Cell::new(verdicts.join(", ")),
        ]);
    }
    println!("{table}");
    println!(
        "differences are called at p < {} (Mann-Whitney for durations and costs, Fisher for \
         failures) and a 5% change of the median; costs priced with {}",
        DiffOptions::default().alpha,
        prices.source
    );
    Ok(())
}

/// `0.41 s -> 0.53 s (+29%)`, the baseline first.
fn moved(now: f64, before: f64, this: &Figures, against: &Figures) -> String {
    if this.count == 0 || against.count == 0 {
        return String::new();
    }
    let change = if before > 0.0 {
        format!(" ({:+.0}%)", (now / before - 1.0) * 100.0)
    } else {
        String::new()
    };
    format!(
        "{} -> {}{change}",
        super::human(std::time::Duration::from_secs_f64(before)),
        super::human(std::time::Duration::from_secs_f64(now))
    )
}

fn figures_json(f: &Figures) -> Value {
    json!({"count": f.count, "p50_seconds": f.p50, "p95_seconds": f.p95,
           "failure_rate": f.failure_rate, "median_cost": f.cost,
           "costs_given": f.costs_given, "costs_computed": f.costs_computed})
}

fn comparison_json(c: &Comparison) -> Value {
    let verdicts: Vec<&str> = c.verdicts.iter().map(|v| v.as_str()).collect();
    json!({"name": c.name, "this": figures_json(&c.this), "against": figures_json(&c.against),
           "duration_p": c.duration_p, "failure_p": c.failure_p, "cost_p": c.cost_p,
           "verdicts": verdicts, "priced_as": c.priced_as})
}
