//! `lookout traces`: recent traces from the store, or one trace as a tree with a
//! waterfall of its spans drawn in the terminal.

use crate::args::TracesArgs;
use crate::error::CliError;
use crate::settings::Settings;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use lookout::store::query::{self, Lookup, StoredSpan, TraceFilter, TraceStatus, TraceSummary};
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// Columns of the waterfall's bars.
const BAR_WIDTH: usize = 40;

/// One trace, or a list of them.
enum Answer {
    Trace(Lookup),
    List(Vec<TraceSummary>),
}

pub(super) fn run(args: TracesArgs, settings: &Settings) -> Result<(), CliError> {
    let mut filter = TraceFilter::default();
    filter.since = args.since.map(|age| SystemTime::now() - age);
    filter.name = args.name.clone();
    filter.status = args.status.as_deref().map(|s| match s {
        "error" => TraceStatus::Error,
        _ => TraceStatus::Ok,
    });
    filter.limit = args.limit;
    let answer = match &args.fleet.store_url {
        Some(url) => super::on_fleet(url, |fleet| {
            let unreadable = super::fleet_error;
            Ok(match &args.id {
                Some(id) => Answer::Trace(fleet.trace(id).map_err(unreadable)?),
                None => Answer::List(fleet.traces(&filter).map_err(unreadable)?),
            })
        })?,
        None => {
            let store = super::store_config()?;
            let conn = super::open_store_reader(&store)?;
            let read = |e| super::read_error(&store.db_path, e);
            match &args.id {
                Some(id) => Answer::Trace(query::trace(&conn, id).map_err(read)?),
                None => Answer::List(query::traces(&conn, &filter).map_err(read)?),
            }
        }
    };
    match answer {
        Answer::Trace(lookup) => match lookup {
            Lookup::Found { trace_id, spans } if settings.json => {
                println!("{}", trace_json(&trace_id, &spans));
            }
            Lookup::Found { trace_id, spans } => print!("{}", waterfall(&trace_id, &spans)),
            Lookup::Ambiguous(ids) => {
                return Err(CliError::Ambiguous {
                    what: "trace",
                    prefix: args.id.clone().unwrap_or_default(),
                    examples: ids.join(", "),
                });
            }
            _ => {
                let id = args.id.as_deref().unwrap_or_default();
                return Err(CliError::NotFound(format!("trace {id}")));
            }
        },
        Answer::List(traces) => {
            if settings.json {
                println!(
                    "{}",
                    serde_json::Value::from(traces.iter().map(summary_json).collect::<Vec<_>>())
                );
            } else {
                print!("{}", list(&traces));
            }
        }
    }
    Ok(())
}

/// A trace of the list as `--json` prints it.
pub(crate) fn summary_json(trace: &TraceSummary) -> serde_json::Value {
    json!({
        "trace_id": trace.trace_id,
        "root_name": trace.root_name,
        "service_name": trace.service_name,
        "start": lookout::json::rfc3339(trace.start),
        "duration_ms": trace.duration.as_secs_f64() * 1e3,
        "spans": trace.spans,
        "errors": trace.errors,
        "services": trace.services,
    })
}

/// A trace and its spans as `--json` prints them.
pub(crate) fn trace_json(trace_id: &str, spans: &[StoredSpan]) -> serde_json::Value {
    let spans: Vec<_> = spans
        .iter()
        .map(|s| {
            json!({
                "span_id": s.span_id,
                "parent_span_id": s.parent_span_id,
                "parent_is_remote": s.parent_is_remote,
                "name": s.name,
                "kind": s.kind,
                "service_name": s.service_name,
                "start": lookout::json::rfc3339(s.start),
                "duration_ms": duration(s).as_secs_f64() * 1e3,
                "status": s.status_code,
                "status_message": s.status_message,
                "attributes": s.attributes,
                "events": s.events.iter().map(|(name, time, attributes)| json!({
                    "name": name, "time": lookout::json::rfc3339(*time), "attributes": attributes,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "trace_id": trace_id, "spans": spans })
}

fn duration(span: &StoredSpan) -> Duration {
    span.end.duration_since(span.start).unwrap_or_default()
}

fn list(traces: &[TraceSummary]) -> String {
    if traces.is_empty() {
        return "no traces match\n".to_owned();
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header([
        "trace",
        "root",
        "service",
        "start (UTC)",
        "duration",
        "spans",
        "errors",
    ]);
    for t in traces {
        let start = lookout::json::rfc3339(t.start);
        table.add_row([
            Cell::new(&t.trace_id),
            Cell::new(&t.root_name),
            Cell::new(t.service_name.as_deref().unwrap_or("-")),
            Cell::new(start.get(..19).unwrap_or(&start).replace('T', " ")),
            Cell::new(super::human(t.duration)).set_alignment(CellAlignment::Right),
            Cell::new(t.spans).set_alignment(CellAlignment::Right),
            Cell::new(t.errors).set_alignment(CellAlignment::Right),
        ]);
    }
    format!("{table}\n")
}

/// The trace as a tree, each span with its duration and a bar placed on the trace's
/// time axis; a span from another process names its service.
fn waterfall(trace_id: &str, spans: &[StoredSpan]) -> String {
    let start = spans
        .iter()
        .map(|s| s.start)
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let end = spans.iter().map(|s| s.end).max().unwrap_or(start);
    let total = end
        .duration_since(start)
        .unwrap_or_default()
        .max(Duration::from_nanos(1));
    let ids: HashMap<&str, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id.as_str(), i))
        .collect();
    let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        let parent = span
            .parent_span_id
            .as_deref()
            .and_then(|p| ids.get(p).copied());
        children.entry(parent).or_default().push(i);
    }
    // Depth-first, children by start time (the query's order), roots first.
    let mut rows = Vec::new();
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|&i| (i, 0)).collect())
        .unwrap_or_default();
    while let Some((i, depth)) = stack.pop() {
        rows.push((i, depth));
        if let Some(kids) = children.get(&Some(i)) {
            stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    let labels: Vec<String> = rows
        .iter()
        .map(|&(i, depth)| {
            let span = &spans[i];
            let parent_service = span
                .parent_span_id
                .as_deref()
                .and_then(|p| ids.get(p))
                .and_then(|&p| spans[p].service_name.as_deref());
            let service = match (&span.service_name, parent_service) {
                (Some(own), Some(parent)) if own != parent => format!(" [{own}]"),
                (Some(own), None) if depth == 0 => format!(" [{own}]"),
                _ => String::new(),
            };
            let mark = if span.status_code == "error" {
                " ✗"
            } else {
                ""
            };
            format!("{}{}{service}{mark}", "  ".repeat(depth), span.name)
        })
        .collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut out = format!(
        "trace {trace_id}: {} spans, {}\n",
        spans.len(),
        super::human(total)
    );
    for ((i, _), label) in rows.iter().zip(&labels) {
        let span = &spans[*i];
        let offset = span.start.duration_since(start).unwrap_or_default();
        let from = (offset.as_secs_f64() / total.as_secs_f64() * BAR_WIDTH as f64) as usize;
        let length = ((duration(span).as_secs_f64() / total.as_secs_f64() * BAR_WIDTH as f64)
            .round() as usize)
            .max(1);
        let from = from.min(BAR_WIDTH - 1);
        let length = length.min(BAR_WIDTH - from);
        let bar = format!(
            "{}{}{}",
            " ".repeat(from),
            "█".repeat(length),
            " ".repeat(BAR_WIDTH - from - length)
        );
        let pad = width - label.chars().count();
        let _ = writeln!(
            out,
            "{label}{}  {:>9}  │{bar}│",
            " ".repeat(pad),
            super::human(duration(span))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>, name: &str, from_ms: u64, to_ms: u64) -> StoredSpan {
        let at = |ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        let mut span = query::StoredSpan::for_tests(id, parent, name, at(from_ms), at(to_ms));
        span.service_name = Some(
            if name.starts_with("sub") {
                "sub-agent"
            } else {
                "coordinator"
            }
            .into(),
        );
        span
    }

    #[test]
    fn the_waterfall_nests_children_and_scales_bars_to_the_trace() {
        let spans = [
            span("a", None, "coordinator", 0, 1000),
            span("b", Some("a"), "plan", 0, 250),
            span("c", Some("a"), "sub agent", 500, 1000),
            span("d", Some("c"), "tool", 750, 1000),
        ];
        let shown = waterfall("t", &spans);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(lines[0], "trace t: 4 spans, 1.00 s");
        assert!(lines[1].starts_with("coordinator [coordinator]"), "{shown}");
        assert!(lines[2].starts_with("  plan "), "{shown}");
        assert!(lines[3].starts_with("  sub agent [sub-agent]"), "{shown}");
        assert!(lines[4].starts_with("    tool "), "{shown}");
        let bar = |line: &str| line.split('│').nth(1).unwrap().to_owned();
        assert_eq!(bar(lines[1]).matches('█').count(), BAR_WIDTH);
        assert_eq!(bar(lines[2]).matches('█').count(), BAR_WIDTH / 4);
        assert_eq!(bar(lines[2]).find('█'), Some(0));
        // The sub-agent starts half-way and runs to the end.
        assert_eq!(
            bar(lines[3]).chars().position(|c| c == '█'),
            Some(BAR_WIDTH / 2)
        );
        assert_eq!(
            bar(lines[4]).chars().position(|c| c == '█'),
            Some(BAR_WIDTH * 3 / 4)
        );
    }
}
