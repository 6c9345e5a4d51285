//! `lookout analyze`: seed 001's "Runtime Metrics" and per-skill tables over sessions
//! and skill entries; `-o` writes the same numbers as JSON.

use super::telemetry_files::{self, Loaded};
use crate::args::AnalyzeArgs;
use crate::error::CliError;
use crate::settings::Settings;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL};
use lookout::sessions::{Analysis, Execution, analyze};

pub(super) fn run(args: AnalyzeArgs, settings: &Settings) -> Result<(), CliError> {
    let Loaded {
        sessions, entries, ..
    } = telemetry_files::load(args.path.as_deref())?;
    let executions = sessions
        .iter()
        .map(Execution::of_session)
        .chain(entries.iter().filter_map(Execution::of_entry));
    let analysis = analyze(executions, args.skill.as_deref());
    let json = serde_json::to_string_pretty(&analysis).expect("the analysis serializes");
    if let Some(output) = &args.output {
        std::fs::write(output, format!("{json}\n")).map_err(|e| {
            CliError::InvalidInput(format!("cannot write {}: {e}", output.display()))
        })?;
    }
    if settings.json {
        println!("{json}");
    } else {
        print!("{}", report(&analysis));
        if let Some(output) = &args.output {
            println!("Analysis written to {}", output.display());
        }
    }
    Ok(())
}

/// The seed's text report.
fn report(analysis: &Analysis) -> String {
    let m = &analysis.metrics;
    let mut metrics = table(["Metric", "Value"]);
    for (name, value) in [
        ("success_rate", format!("{:.1}%", m.success_rate)),
        ("avg_duration_ms", grouped(m.avg_duration_ms.round() as u64)),
        ("total_tool_calls", grouped(m.total_tool_calls)),
        (
            "avg_tool_calls_per_session",
            format!("{:.1}", m.avg_tool_calls_per_session),
        ),
    ] {
        metrics.add_row([Cell::new(name), right(value)]);
    }
    let mut per_skill = table([
        "Skill",
        "invocations",
        "success_rate",
        "avg_duration_ms",
        "total_tool_calls",
    ]);
    for (skill, f) in &analysis.per_skill {
        let name = if skill.is_empty() {
            "(no skill)"
        } else {
            skill
        };
        per_skill.add_row([
            Cell::new(name),
            right(grouped(f.invocations)),
            right(format!("{:.1}%", f.success_rate)),
            right(grouped(f.avg_duration_ms.round() as u64)),
            right(grouped(f.total_tool_calls)),
        ]);
    }
    let skills = match analysis.skills_invoked.is_empty() {
        true => "none".to_owned(),
        false => analysis.skills_invoked.join(", "),
    };
    format!(
        "Runtime Telemetry Analysis\n\nSessions analyzed: {}\nSkills invoked: {skills}\n\n\
         Runtime Metrics\n{metrics}\n\nPer-Skill Metrics\n{per_skill}\n",
        grouped(analysis.sessions_analyzed)
    )
}

fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL).set_header(header);
    table
}

fn right(text: String) -> Cell {
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// `8921` as `8,921`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped() {
        assert_eq!(super::grouped(0), "0");
        assert_eq!(super::grouped(999), "999");
        assert_eq!(super::grouped(1234), "1,234");
        assert_eq!(super::grouped(1_234_567), "1,234,567");
    }
}
