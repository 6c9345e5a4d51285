//! `lookout runs`: seed 002's runs from the store, listed with filters or one shown with
//! its events and URLs; associating a commit and closing stale runs write to it.

use crate::args::{RunListArgs, RunsAction, RunsArgs};
use crate::error::CliError;
use crate::settings::Settings;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_BORDERS_ONLY};
use lookout::runs::git;
use lookout::store::postgres::Reader;
use lookout::store::runs::{self, RunFilter};
use lookout::store::rusqlite::{self, Connection};
use lookout::store::{Store, StoreConfig};
use serde_json::{Map, Value, json};
use std::time::{Duration, SystemTime};

/// A run's state as stored: its fields under seed 002's names.
type Body = Map<String, Value>;

pub(super) fn run(args: RunsArgs, settings: &Settings) -> Result<(), CliError> {
    let store = super::store_config()?;
    match args.action {
        None => match &args.list.fleet.store_url {
            Some(url) => super::on_fleet(url, |fleet| list(&args.list, fleet, settings)),
            None => list(&args.list, &mut local(&store)?, settings),
        },
        Some(RunsAction::Show { id, fleet }) => match &fleet.store_url {
            Some(url) => super::on_fleet(url, |fleet| show(&id, fleet, settings)),
            None => show(&id, &mut local(&store)?, settings),
        },
        Some(RunsAction::AssociateCommit {
            id,
            hash,
            source,
            author,
        }) => associate_commit(&id, &hash, &source, author.as_deref(), &store, settings),
        Some(RunsAction::Cleanup) => cleanup(&store, settings),
    }
}

/// Where `runs` and `runs show` read: the local store's index, or a fleet's database.
trait RunReads {
    /// [`runs::list`].
    fn list(&mut self, filter: &RunFilter) -> Result<Vec<Body>, CliError>;
    /// [`runs::load_state`].
    fn state(&mut self, run_id: &str) -> Result<Option<Body>, CliError>;
    /// [`runs::ids_starting_with`].
    fn ids_starting_with(&mut self, prefix: &str, limit: usize) -> Result<Vec<String>, CliError>;
    /// [`runs::events`].
    fn events(&mut self, run_id: &str) -> Result<Vec<(String, i64, Value)>, CliError>;
}

/// The local store's index, and its file for errors.
struct Local<'a> {
    conn: Connection,
    store: &'a StoreConfig,
}

fn local(store: &StoreConfig) -> Result<Local<'_>, CliError> {
    let conn = super::open_store_reader(store)?;
    Ok(Local { conn, store })
}

impl Local<'_> {
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, CliError> {
        read(&self.conn).map_err(|e| super::read_error(&self.store.db_path, e))
    }
}

impl RunReads for Local<'_> {
    fn list(&mut self, filter: &RunFilter) -> Result<Vec<Body>, CliError> {
        self.read(|c| runs::list(c, filter))
    }
    fn state(&mut self, run_id: &str) -> Result<Option<Body>, CliError> {
        self.read(|c| runs::load_state(c, run_id))
    }
    fn ids_starting_with(&mut self, prefix: &str, limit: usize) -> Result<Vec<String>, CliError> {
        self.read(|c| runs::ids_starting_with(c, prefix, limit))
    }
    fn events(&mut self, run_id: &str) -> Result<Vec<(String, i64, Value)>, CliError> {
        self.read(|c| runs::events(c, run_id))
    }
}

impl RunReads for Reader {
    fn list(&mut self, filter: &RunFilter) -> Result<Vec<Body>, CliError> {
        self.runs(filter).map_err(super::fleet_error)
    }
    fn state(&mut self, run_id: &str) -> Result<Option<Body>, CliError> {
        self.run_state(run_id).map_err(super::fleet_error)
    }
    fn ids_starting_with(&mut self, prefix: &str, limit: usize) -> Result<Vec<String>, CliError> {
        self.run_ids_starting_with(prefix, limit)
            .map_err(super::fleet_error)
    }
    fn events(&mut self, run_id: &str) -> Result<Vec<(String, i64, Value)>, CliError> {
        self.run_events(run_id).map_err(super::fleet_error)
    }
}

fn list(args: &RunListArgs, from: &mut impl RunReads, settings: &Settings) -> Result<(), CliError> {
    let mut filter = RunFilter::default();
    filter.agent = args.agent.clone();
    filter.job_type = args.job.clone();
    filter.status = args.status.clone();
    filter.since = args
        .since
        .map(|age| lookout::json::rfc3339(SystemTime::now() - age));
    filter.limit = args.limit;
    let found = from.list(&filter)?;
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
fn resolve(from: &mut impl RunReads, id: &str) -> Result<(String, Body), CliError> {
    let ids = match from.state(id)? {
        Some(body) => return Ok((id.to_owned(), body)),
        None => from.ids_starting_with(id, 2)?,
    };
    match ids.as_slice() {
        [one] => match from.state(one)? {
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

fn show(id: &str, from: &mut impl RunReads, settings: &Settings) -> Result<(), CliError> {
    let (run_id, mut body) = resolve(from, id)?;
    let events = from.events(&run_id)?;
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
    let (run_id, _) = resolve(&mut local(store)?, id)?;
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
