//! `lookout runs`: seed 002's runs from the store, listed with filters or one shown with
//! its events and URLs; associating a commit and closing stale runs write to it.

use crate::args::{RunListArgs, RunsAction, RunsArgs};
use crate::error::CliError;
use crate::settings::Settings;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use lookout::runs::git;
use lookout::store::runs::{self, RunFilter};
use lookout::store::rusqlite::Connection;
use lookout::store::{Store, StoreConfig};
use serde_json::{Map, Value, json};
use std::time::{Duration, SystemTime};

/// A run's state as stored: its fields under seed 002's names.
type Body = Map<String, Value>;

pub(super) fn run(args: RunsArgs, settings: &Settings) -> Result<(), CliError> {
    let store = super::store_config()?;
    match args.action {
        None => list(&args.list, &store, settings),
        Some(RunsAction::Show { id }) => show(&id, &store, settings),
        Some(RunsAction::AssociateCommit {
            id,
            hash,
            source,
            author,
        }) => associate_commit(&id, &hash, &source, author.as_deref(), &store, settings),
        Some(RunsAction::Cleanup) => cleanup(&store, settings),
    }
}

fn list(args: &RunListArgs, store: &StoreConfig, settings: &Settings) -> Result<(), CliError> {
    let conn = super::open_store_reader(store)?;
    let mut filter = RunFilter::default();
    filter.agent = args.agent.clone();
    filter.job_type = args.job.clone();
    filter.status = args.status.clone();
    filter.since = args
        .since
        .map(|age| lookout::json::rfc3339(SystemTime::now() - age));
    filter.limit = args.limit;
    let found = runs::list(&conn, &filter).map_err(|e| super::read_error(&store.db_path, e))?;
    if settings.json {
        println!(
            "{}",
            Value::from(found.into_iter().map(Value::Object).collect::<Vec<_>>())
        );
        return Ok(());
    }
    if found.is_empty() {
        println!("no runs match");
        return Ok(());
    }
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY);
    table.set_header([
        "run",
        "agent",
        "job",
        "status",
        "start (UTC)",
        "duration",
        "items ok/failed",
        "commit",
    ]);
    for run in &found {
        let text = |name: &str| run.get(name).and_then(Value::as_str).unwrap_or("");
        let number = |name: &str| run.get(name).and_then(Value::as_i64);
        let items = match (number("items_succeeded"), number("items_failed")) {
            (None, None) => String::new(),
            (ok, failed) => format!("{}/{}", ok.unwrap_or(0), failed.unwrap_or(0)),
        };
        let duration = run
            .get("duration_ms")
            .and_then(Value::as_f64)
            .map(|ms| super::human(Duration::from_secs_f64(ms.max(0.0) / 1e3)))
            .unwrap_or_default();
        table.add_row([
            Cell::new(text("run_id")),
            Cell::new(text("agent_name")),
            Cell::new(text("job_type")),
            Cell::new(text("status")),
            Cell::new(text("start_time").get(..19).unwrap_or(text("start_time"))),
            Cell::new(duration).set_alignment(CellAlignment::Right),
            Cell::new(items).set_alignment(CellAlignment::Right),
            Cell::new(
                text("git_commit_hash")
                    .get(..10)
                    .unwrap_or(text("git_commit_hash")),
            ),
        ]);
    }
    println!("{table}");
    Ok(())
}

/// The run `id` names (itself, or the one run whose id starts with it): its id and state.
fn resolve(conn: &Connection, id: &str, store: &StoreConfig) -> Result<(String, Body), CliError> {
    let read = |e| super::read_error(&store.db_path, e);
    let ids = match runs::load_state(conn, id).map_err(read)? {
        Some(body) => return Ok((id.to_owned(), body)),
        None => runs::ids_starting_with(conn, id, 2).map_err(read)?,
    };
    match ids.as_slice() {
        [one] => match runs::load_state(conn, one).map_err(read)? {
            Some(body) => Ok((one.clone(), body)),
            None => Err(CliError::NotFound(format!("run {id}"))),
        },
        [] => Err(CliError::NotFound(format!("run {id}"))),
        _ => Err(CliError::Ambiguous {
            what: "run",
            prefix: id.to_owned(),
            examples: ids.join(", "),
        }),
    }
}

fn show(id: &str, store: &StoreConfig, settings: &Settings) -> Result<(), CliError> {
    let conn = super::open_store_reader(store)?;
    let (run_id, mut body) = resolve(&conn, id, store)?;
    let events = runs::events(&conn, &run_id).map_err(|e| super::read_error(&store.db_path, e))?;
    let events: Vec<Value> = events
        .into_iter()
        .map(|(name, time, payload)| {
            json!({"name": name, "time": lookout::store::rfc3339_of_nanos(time), "payload": payload})
        })
        .collect();
    let remote = body.get("git_repo").and_then(Value::as_str);
    let hash = body.get("git_commit_hash").and_then(Value::as_str);
    let urls = [
        ("repo_url", remote.map(git::repo_url)),
        (
            "commit_url",
            remote.zip(hash).map(|(r, h)| git::commit_url(r, h)),
        ),
    ];
    if settings.json {
        for (name, url) in urls {
            if let Some(Ok(url)) = url {
                body.insert(name.into(), url.into());
            }
        }
        body.insert("events".into(), events.into());
        println!("{}", Value::Object(body));
        return Ok(());
    }
    let width = body
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("commit_url".len());
    for (name, value) in &body {
        let value = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        println!("{name:<width$}  {value}");
    }
    for (name, url) in urls {
        match url {
            Some(Ok(url)) => println!("{name:<width$}  {url}"),
            Some(Err(why)) => println!("{name:<width$}  (none: {why})"),
            None => {}
        }
    }
    if let Some(trace) = body.get("trace_id").and_then(Value::as_str) {
        println!("\nits trace: lookout traces {trace}");
    }
    if events.is_empty() {
        println!("\nno events");
    } else {
        println!("\nevents:");
        for event in &events {
            println!(
                "  {}  {}  {}",
                event["time"].as_str().unwrap_or(""),
                event["name"].as_str().unwrap_or(""),
                event["payload"]
            );
        }
    }
    Ok(())
}

fn associate_commit(
    id: &str,
    hash: &str,
    source: &str,
    author: Option<&str>,
    store: &StoreConfig,
    settings: &Settings,
) -> Result<(), CliError> {
    let hash = git::validate_commit(hash, source)?;
    let (run_id, _) = resolve(&super::open_store_reader(store)?, id, store)?;
    let writer = Store::open(store.clone());
    let found = runs::update(&writer, &run_id, |body| {
        runs::set_commit(body, &hash, source, author);
    })
    .map_err(|e| CliError::Store(e.to_string()))?;
    if !found {
        return Err(CliError::NotFound(format!("run {id}")));
    }
    if settings.json {
        println!(
            "{}",
            json!({"run_id": run_id, "git_commit_hash": hash, "git_commit_source": source})
        );
    } else {
        println!("run {run_id}: commit {hash} ({source})");
    }
    Ok(())
}

fn cleanup(store: &StoreConfig, settings: &Settings) -> Result<(), CliError> {
    let host = lookout_export::host_name().unwrap_or_default();
    let writer = Store::open(store.clone());
    let closed =
        runs::close_stale(&writer, &host, false).map_err(|e| CliError::Store(e.to_string()))?;
    let closed: Vec<&str> = closed
        .iter()
        .filter_map(|body| body.get("run_id").and_then(Value::as_str))
        .collect();
    if settings.json {
        println!("{}", json!({ "abandoned": closed }));
    } else if closed.is_empty() {
        println!("no stale runs on {host}");
    } else {
        println!(
            "closed {} stale run(s) on {host} as abandoned:",
            closed.len()
        );
        for id in &closed {
            println!("  {id}");
        }
    }
    Ok(())
}
