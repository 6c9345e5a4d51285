//! Runs (seed 002): a batch agent's unit of work with its status, items, summaries and
//! the git commit it produced. A run is a root span (`run {job_type}`, its events the
//! run's events), `run` records in the store (every state change carries the run's whole
//! state; the store's `agent_runs` table keeps the newest), and the run families on
//! `/metrics`, all ended together.
//!
//! ```
//! use lookout::runs::{RunFields, RunStatus};
//! use lookout::Telemetry;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let config = lookout::config::Config::default()
//!     .with_env(&lookout::config::env_map(&[("TELEMETRY_BASE_DIR", dir.path().to_str().unwrap())]))
//!     .unwrap();
//! let telemetry = Telemetry::builder().config(config).build().unwrap();
//!
//! // A guard: ends `success` with succeed(), `failed` when dropped unfinished or on panic.
//! let mut run = telemetry.runs().track_run("my_agent", "process_files");
//! run.log_event("start", serde_json::json!({"input": "data.csv"}));
//! run.set_fields(RunFields::default().items(10, 9, 1));
//! run.finish(RunStatus::Partial);
//!
//! // A closure: an `Err` (an early `?`) ends the run `failed` with the error as summary.
//! let result: Result<(), std::io::Error> = telemetry.runs().run("my_agent", "sync", |_run| {
//!     Err(std::io::Error::other("remote said no"))?;
//!     Ok(())
//! });
//! assert!(result.is_err());
//! telemetry.flush();
//!
//! let db = lookout::store::rusqlite::Connection::open(dir.path().join("db/telemetry.sqlite")).unwrap();
//! let (status, error): (String, String) = db
//!     .query_row("SELECT status, error_summary FROM agent_runs WHERE job_type = 'sync'", [], |r| {
//!         Ok((r.get(0)?, r.get(1)?))
//!     })
//!     .unwrap();
//! assert_eq!((status.as_str(), error.as_str()), ("failed", "remote said no"));
//! ```

mod error;
pub mod git;
mod metrics;
#[cfg(feature = "api-posting")]
mod posting;
mod status;

pub use error::RunError;
pub use git::GitContext;
pub use status::{RunFields, RunStatus};

use crate::trace::{KeyValue, Span, SpanContext, SpanKind, Status, Tracer};
use lookout_store::{RecordKind, Store};
use metrics::RunFamilies;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// Starts and ends runs. Cloning is cheap and shares the open runs.
#[derive(Debug, Clone)]
pub struct Runs {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    tracer: Tracer,
    store: Option<Store>,
    families: RunFamilies,
    host: Option<Arc<str>>,
    process_start: Option<u64>,
    /// Runs started with [`Runs::start_run`], by id, until [`Runs::end_run`].
    open: Mutex<HashMap<String, Run>>,
    /// The working directory's git context, found once on a thread of its own.
    git: Arc<OnceLock<Option<GitContext>>>,
    /// Starts that thread at the first run: a process that never runs one pays nothing.
    background: std::sync::Once,
    /// Serialises this process's changes of stored runs (read the newest state, write
    /// the next), so that posting and associating a commit never undo each other.
    updates: Mutex<()>,
    /// Posts finished runs to seed 002's API, when configured.
    #[cfg(feature = "api-posting")]
    poster: Option<posting::Poster>,
}

/// A run in progress: its state and its span.
#[derive(Debug)]
struct Run {
    id: String,
    agent_name: Arc<str>,
    job_type: Arc<str>,
    status: RunStatus,
    start_time: SystemTime,
    started: Instant,
    end_time: Option<SystemTime>,
    fields: RunFields,
    span: Option<Span>,
}

impl Runs {
    pub(crate) fn new(
        registry: &crate::metrics::Registry,
        tracer: Tracer,
        store: Option<Store>,
        api_url: Option<String>,
        api_token: Option<String>,
    ) -> Result<Runs, crate::metrics::MetricError> {
        let families = RunFamilies::register(registry)?;
        let api_url = match (api_url, &store) {
            (Some(_), None) => {
                eprintln!(
                    "lookout: warning: {} is set and no store is: runs are posted from the \
                     store, so they are not posted",
                    crate::config::API_URL_ENV
                );
                None
            }
            (url, _) => url,
        };
        #[cfg(not(feature = "api-posting"))]
        let _ = api_token;
        #[cfg(not(feature = "api-posting"))]
        if api_url.is_some() {
            eprintln!(
                "lookout: warning: {} is set and this build has no feature api-posting: \
                 runs are not posted",
                crate::config::API_URL_ENV
            );
        }
        let runs = Runs {
            inner: Arc::new_cyclic(|_weak| Inner {
                tracer,
                store,
                families,
                host: lookout_export::host_name().map(Arc::from),
                process_start: lookout_store::process::process_start(),
                open: Mutex::new(HashMap::new()),
                git: Arc::new(OnceLock::new()),
                background: std::sync::Once::new(),
                updates: Mutex::new(()),
                #[cfg(feature = "api-posting")]
                poster: api_url
                    .and_then(|url| posting::Poster::start(url, api_token, _weak.clone())),
            }),
        };
        #[cfg(feature = "api-posting")]
        if runs.inner.poster.is_some() {
            // Posts left pending by processes that died are sent now, not at a first run.
            runs.start_background();
        }
        Ok(runs)
    }

    /// Associates commit `hash` (7 to 40 hex digits) with run `run_id`, as seed 002's
    /// `associate_commit`: `source` is `manual`, `llm` or `ci`. The run may be open here
    /// or ended, in this process or another: its newest state is read from the store.
    pub fn associate_commit(
        &self,
        run_id: &str,
        hash: &str,
        source: &str,
        author: Option<&str>,
    ) -> Result<(), RunError> {
        let hash = git::validate_commit(hash, source)?;
        if let Some(run) = self.inner.open.lock().get_mut(run_id) {
            run.fields.merge(RunFields::commit(&hash, source, author));
            self.save(run);
            return Ok(());
        }
        // Ended, or open elsewhere (a guard, another process): the store keeps a commit
        // once associated, whatever state comes after.
        let found = self.update_stored(run_id, |body| {
            lookout_store::runs::set_commit(body, &hash, source, author);
        })?;
        if !found {
            return Err(RunError::UnknownRun(run_id.to_owned()));
        }
        Ok(())
    }

    /// Stores a new state of run `run_id`: its newest stored state changed by `edit`;
    /// `Ok(false)` if the store has no such run.
    fn update_stored(
        &self,
        run_id: &str,
        edit: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<bool, RunError> {
        let store = self.store()?;
        let _one_at_a_time = self.inner.updates.lock();
        lookout_store::runs::update(store, run_id, edit).map_err(|e| RunError::Store(e.to_string()))
    }

    /// The newest stored state of run `run_id`, once what was recorded is stored.
    #[cfg(feature = "api-posting")]
    fn stored_state(&self, run_id: &str) -> Option<Map<String, Value>> {
        lookout_store::runs::stored_state(self.inner.store.as_ref()?, run_id).ok()?
    }

    /// Queues the posts this host's dead processes left pending (this process's own are
    /// in its queue already).
    #[cfg(feature = "api-posting")]
    fn resume_posting(&self) {
        let (Some(poster), Some(store)) = (&self.inner.poster, &self.inner.store) else {
            return;
        };
        let mut filter = lookout_store::runs::RunFilter::default();
        filter.posting_status = Some("pending".into());
        filter.host = self.inner.host.as_deref().map(str::to_owned);
        let Ok(pending) = lookout_store::open_reader(&store.config().db_path)
            .and_then(|conn| lookout_store::runs::list(&conn, &filter))
        else {
            return;
        };
        for body in pending {
            if !lookout_store::process::recorder_alive(&body)
                && let Some(id) = body.get("run_id").and_then(Value::as_str)
            {
                poster.post(id);
            }
        }
    }

    /// The store runs are read from and written to.
    fn store(&self) -> Result<&Store, RunError> {
        self.inner.store.as_ref().ok_or_else(|| {
            RunError::Store("runs are kept in the store, and none is configured".into())
        })
    }

    /// Finds the git context and closes this host's stale runs, once, on a thread of its
    /// own (git answers in milliseconds and cleanup reads the store: never on a caller's
    /// thread). The thread holds the runs weakly.
    fn start_background(&self) {
        self.inner.background.call_once(|| {
            let weak = Arc::downgrade(&self.inner);
            let started = std::thread::Builder::new()
                .name("lookout-runs".into())
                .spawn(move || {
                    let context = std::env::current_dir()
                        .ok()
                        .and_then(|dir| git::detect(&dir, git::DETECT_TIMEOUT));
                    let Some(inner) = weak.upgrade() else { return };
                    let _ = inner.git.set(context);
                    let runs = Runs { inner };
                    if runs.inner.store.is_some() {
                        // Closed stale runs are posted too (they are finished runs).
                        let _ = runs.cleanup();
                        #[cfg(feature = "api-posting")]
                        runs.resume_posting();
                    }
                });
            if started.is_err() {
                let _ = self.inner.git.set(None);
            }
        });
    }

    /// Closes runs left `running` by processes of this host that died (their pid gone, or
    /// reused by a process started later) with status `abandoned`, and returns their ids.
    /// Runs of other hosts are left alone: their processes cannot be checked from here.
    /// They count in `agent_runs_total{status="abandoned"}` and, when posting is on, are
    /// posted.
    pub fn cleanup(&self) -> Result<Vec<String>, RunError> {
        let host = self.inner.host.as_deref().unwrap_or_default();
        #[cfg(feature = "api-posting")]
        let posting = self.inner.poster.is_some();
        #[cfg(not(feature = "api-posting"))]
        let posting = false;
        let closed = lookout_store::runs::close_stale(self.store()?, host, posting)
            .map_err(|e| RunError::Store(e.to_string()))?;
        let text = |body: &Map<String, Value>, key| {
            body.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let mut ids = Vec::new();
        for body in &closed {
            let (agent, job) = (text(body, "agent_name"), text(body, "job_type"));
            let families = &self.inner.families;
            families
                .runs
                .inc(&[&agent, &job, RunStatus::Abandoned.as_str()]);
            if let Some(ms) = body.get("duration_ms").and_then(Value::as_u64) {
                families
                    .duration
                    .observe_duration(&[&agent, &job], Duration::from_millis(ms));
            }
            ids.push(text(body, "run_id"));
        }
        Ok(ids)
    }

    /// The git context of this process's working directory, waiting up to `timeout` for
    /// its detection; `None` outside a repository or without git.
    pub fn git_context(&self, timeout: Duration) -> Option<&GitContext> {
        self.start_background();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.inner.git.get() {
                return found.as_ref();
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Fills the git fields a run has not set from the detected context, once known.
    fn add_git(&self, fields: &mut RunFields) {
        let Some(Some(context)) = self.inner.git.get() else {
            return;
        };
        if fields.git_repo.is_none() {
            fields.git_repo = context.repo.clone();
        }
        if fields.git_branch.is_none() {
            fields.git_branch = context.branch.clone();
        }
        if fields.git_commit_hash.is_none() {
            fields.git_commit_hash = context.commit.clone();
        }
    }

    /// Starts a run of `agent_name` doing `job_type`, as a guard: it ends `success` with
    /// [`RunGuard::succeed`], another status with [`RunGuard::finish`], and `failed` when
    /// it is dropped unfinished (an early return) or during a panic.
    pub fn track_run(&self, agent_name: &str, job_type: &str) -> RunGuard {
        RunGuard {
            runs: self.clone(),
            run: Some(self.begin(agent_name, job_type)),
            outcome: RunStatus::Success,
        }
    }

    /// Runs `work` as a run: `Ok` ends it `success` (or the status `work` chose with
    /// [`RunGuard::end_as`]), `Err(e)` ends it `failed` with `e` as its error summary, and
    /// a panic ends it `failed` with the panic's message before the panic goes on.
    pub fn run<T, E: std::fmt::Display>(
        &self,
        agent_name: &str,
        job_type: &str,
        work: impl FnOnce(&mut RunGuard) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut guard = self.track_run(agent_name, job_type);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut guard))) {
            Ok(Ok(value)) => {
                guard.succeed();
                Ok(value)
            }
            Ok(Err(error)) => {
                guard.fail(error.to_string());
                Err(error)
            }
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_owned());
                guard.fail(format!("panicked: {message}"));
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Starts a run and returns its id, for [`log_event`](Self::log_event) and
    /// [`end_run`](Self::end_run) (seed 002's explicit form).
    pub fn start_run(&self, agent_name: &str, job_type: &str) -> String {
        let run = self.begin(agent_name, job_type);
        let id = run.id.clone();
        self.inner.open.lock().insert(id.clone(), run);
        id
    }

    /// Records an event of the run `run_id` started; `false` if no such run is open here.
    pub fn log_event(&self, run_id: &str, name: &str, payload: Value) -> bool {
        let mut open = self.inner.open.lock();
        let Some(run) = open.get_mut(run_id) else {
            return false;
        };
        self.event(run, name, payload);
        true
    }

    /// Ends the run `run_id` with `status` and `fields`; `false` if no such run is open.
    pub fn end_run(&self, run_id: &str, status: RunStatus, fields: RunFields) -> bool {
        let Some(mut run) = self.inner.open.lock().remove(run_id) else {
            return false;
        };
        run.fields.merge(fields);
        self.end(run, status);
        true
    }

    fn begin(&self, agent_name: &str, job_type: &str) -> Run {
        self.start_background();
        let span = self
            .inner
            .tracer
            .span(format!("run {job_type}"))
            .kind(SpanKind::Internal)
            .attribute("run.agent_name", agent_name.to_owned())
            .attribute("run.job_type", job_type.to_owned())
            .start();
        let mut run = Run {
            id: lookout_store::new_event_id(),
            agent_name: agent_name.into(),
            job_type: job_type.into(),
            status: RunStatus::Running,
            start_time: SystemTime::now(),
            started: Instant::now(),
            end_time: None,
            fields: RunFields::default(),
            span: Some(span),
        };
        self.add_git(&mut run.fields);
        self.save(&run);
        run
    }

    fn event(&self, run: &mut Run, name: &str, payload: Value) {
        if let Some(span) = &mut run.span {
            span.add_event(
                name.to_owned(),
                [KeyValue::new("payload", payload.to_string())],
            );
        }
        if let Some(store) = &self.inner.store {
            let (run_id, name) = (run.id.clone(), name.to_owned());
            store.record_with(
                RecordKind::RunEvent,
                move || json!({"run_id": run_id, "name": name, "payload": payload}),
            );
        }
    }

    fn end(&self, mut run: Run, status: RunStatus) {
        let duration = run.started.elapsed();
        self.add_git(&mut run.fields);
        run.status = status;
        run.end_time = Some(run.start_time + duration);
        let families = &self.inner.families;
        let labels = [&*run.agent_name, &*run.job_type];
        families.runs.inc(&[labels[0], labels[1], status.as_str()]);
        families.duration.observe_duration(&labels, duration);
        for (outcome, count) in [
            ("discovered", run.fields.items_discovered),
            ("succeeded", run.fields.items_succeeded),
            ("failed", run.fields.items_failed),
        ] {
            if let Some(count) = count {
                families.items.add(&[labels[0], labels[1], outcome], count);
            }
        }
        self.save(&run);
        #[cfg(feature = "api-posting")]
        if let Some(poster) = &self.inner.poster {
            poster.post(&run.id);
        }
        if let Some(mut span) = run.span.take() {
            span.set_attribute("run.status", status.as_str());
            let span_status = match (status, &run.fields.error_summary) {
                (RunStatus::Success, _) => Status::Ok,
                (RunStatus::Failed | RunStatus::Abandoned, summary) => Status::Error(
                    summary
                        .clone()
                        .unwrap_or_else(|| status.as_str().into())
                        .into(),
                ),
                _ => Status::Unset,
            };
            span.end_with_status(span_status);
        }
    }

    /// Records the run's whole state as a `run` record; its JSON is made on the store's
    /// writer thread, from a snapshot.
    fn save(&self, run: &Run) {
        let Some(store) = &self.inner.store else {
            return;
        };
        let state = RunState {
            id: run.id.clone(),
            agent_name: run.agent_name.clone(),
            job_type: run.job_type.clone(),
            status: run.status,
            start_time: run.start_time,
            end_time: run.end_time,
            fields: run.fields.clone(),
            host: self.inner.host.clone(),
            process_start: self.inner.process_start,
            trace_id: run.span.as_ref().map(|span| span.context().trace_id),
            #[cfg(feature = "api-posting")]
            posting: run.end_time.is_some() && self.inner.poster.is_some(),
        };
        store.record_with(RecordKind::Run, move || state.into_json());
    }
}

/// A run's state when it changed, to be written as JSON off the caller's thread.
struct RunState {
    id: String,
    agent_name: Arc<str>,
    job_type: Arc<str>,
    status: RunStatus,
    start_time: SystemTime,
    end_time: Option<SystemTime>,
    fields: RunFields,
    host: Option<Arc<str>>,
    process_start: Option<u64>,
    trace_id: Option<crate::trace::TraceId>,
    /// Whether the run waits to be posted to seed 002's API.
    #[cfg(feature = "api-posting")]
    posting: bool,
}

impl RunState {
    /// The body of its `run` record: seed 002's field names, the unset ones left out.
    fn into_json(self) -> Value {
        let mut body = Map::new();
        body.insert("run_id".into(), self.id.into());
        body.insert("agent_name".into(), (*self.agent_name).into());
        body.insert("job_type".into(), (*self.job_type).into());
        body.insert("status".into(), self.status.as_str().into());
        let rfc3339 = lookout_exporter_json::rfc3339;
        body.insert("start_time".into(), rfc3339(self.start_time).into());
        if let Some(end) = self.end_time {
            body.insert("end_time".into(), rfc3339(end).into());
            let ms = end
                .duration_since(self.start_time)
                .unwrap_or_default()
                .as_millis();
            body.insert("duration_ms".into(), json!(ms as u64));
        }
        self.fields.write_json(&mut body);
        if let Some(host) = self.host {
            body.insert("host".into(), (*host).into());
        }
        body.insert("pid".into(), std::process::id().into());
        if let Some(start) = self.process_start {
            body.insert("process_start".into(), start.into());
        }
        #[cfg(feature = "api-posting")]
        if self.posting {
            posting::mark_pending(&mut body);
        }
        if let Some(trace_id) = self.trace_id {
            body.insert("trace_id".into(), trace_id.to_string().into());
        }
        Value::Object(body)
    }
}

/// A run in progress; see [`Runs::track_run`].
#[derive(Debug)]
#[must_use = "dropping the guard ends the run as failed"]
pub struct RunGuard {
    runs: Runs,
    run: Option<Run>,
    /// The status [`RunGuard::succeed`] ends it with.
    outcome: RunStatus,
}

impl RunGuard {
    /// The run's id (`run_id`).
    pub fn id(&self) -> &str {
        self.run.as_ref().map_or("", |r| r.id.as_str())
    }

    /// The run's span context, to parent work or hand to a sub-agent process.
    pub fn context(&self) -> Option<&SpanContext> {
        self.run.as_ref()?.span.as_ref().map(Span::context)
    }

    /// Makes the run's span current on this thread until the guard drops: agents, tools
    /// and spans started meanwhile become its children.
    pub fn enter(&self) -> Option<crate::trace::Entered<'_>> {
        self.run.as_ref()?.span.as_ref().map(Span::enter)
    }

    /// Records an event of the run (seed 002's `ctx.log_event`).
    pub fn log_event(&mut self, name: &str, payload: Value) {
        if let Some(run) = &mut self.run {
            self.runs.event(run, name, payload);
        }
    }

    /// Associates commit `hash` with this run (see [`Runs::associate_commit`]).
    pub fn associate_commit(
        &mut self,
        hash: &str,
        source: &str,
        author: Option<&str>,
    ) -> Result<(), RunError> {
        let hash = git::validate_commit(hash, source)?;
        self.set_fields(RunFields::commit(&hash, source, author));
        Ok(())
    }

    /// Sets fields of the run (seed 002's `ctx.set_metrics`); later values win.
    pub fn set_fields(&mut self, fields: RunFields) {
        if let Some(run) = &mut self.run {
            run.fields.merge(fields);
        }
    }

    /// Ends the run `success` (or the status given to [`RunGuard::end_as`]).
    pub fn succeed(self) {
        let outcome = self.outcome;
        self.finish(outcome);
    }

    /// The status the run ends with when it ends well (`succeed()`, a closure's `Ok`):
    /// `partial` when some items failed, `cancelled`; `success` unless set.
    pub fn end_as(&mut self, status: RunStatus) {
        self.outcome = status;
    }

    /// Ends the run `failed` with `error_summary`.
    pub fn fail(mut self, error_summary: impl Into<String>) {
        self.set_fields(RunFields::default().error(error_summary));
        self.finish(RunStatus::Failed);
    }

    /// Ends the run with `status`.
    pub fn finish(mut self, status: RunStatus) {
        if let Some(run) = self.run.take() {
            self.runs.end(run, status);
        }
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let Some(mut run) = self.run.take() else {
            return;
        };
        if run.fields.error_summary.is_none() {
            let summary = if std::thread::panicking() {
                "panicked"
            } else {
                "ended before it finished (an early return?)"
            };
            run.fields.error_summary = Some(summary.to_owned());
        }
        self.runs.end(run, RunStatus::Failed);
    }
}
