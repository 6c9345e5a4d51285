//! Rotating JSON files: every record of a period in one JSON array, published whole.

use crate::metric::metrics_to_json;
use crate::span::span_to_json;
use crate::time::compact;
use lookout_export::{Encoded, ExportError, Exporter, FinishedSpan, MetricsBatch};
use parking_lot::Mutex;
use serde_json::{Map, Value};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Where and how often the JSON exporter writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonFileConfig {
    /// The directory the files go to; created if missing.
    pub output_dir: PathBuf,
    /// A file is closed and a new one started after this long (default 1 h).
    pub rotate_interval: Duration,
    /// ... or once it holds this many bytes (default 64 MiB).
    pub max_file_bytes: u64,
    /// Files kept in `output_dir`; the oldest go first (default 24).
    pub max_files: usize,
}

impl JsonFileConfig {
    /// Defaults of seed 003: hourly files, the newest 24 kept.
    pub fn new(output_dir: impl Into<PathBuf>) -> Self {
        JsonFileConfig {
            output_dir: output_dir.into(),
            rotate_interval: Duration::from_secs(3600),
            max_file_bytes: 64 << 20,
            max_files: 24,
        }
    }
}

/// File names start with this; a published file is `telemetry-{UTC start}-{pid}-{n}.json`.
const PREFIX: &str = "telemetry-";
/// The file being filled: hidden, JSON lines, never read by users.
const PARTIAL_SUFFIX: &str = ".jsonl.partial";

/// Writes finished spans and metric collections to rotating JSON files.
///
/// Records of the current period are appended, one JSON line each, to a hidden
/// `.telemetry-….jsonl.partial` file. When the period ends (by time or size), at a flush
/// and at shutdown, that file becomes `telemetry-{UTC start}-{pid}-{n}.json`, a JSON array,
/// written to a temporary name and renamed, so a reader only ever sees whole files; the
/// oldest files beyond `max_files` are removed. Partial files left by a process that died
/// are published by the next exporter opened on the directory.
///
/// Each record is an object with `"type": "span"` (the fields of
/// [`span_to_json`](crate::span_to_json)) or `"type": "metric"` (see
/// [`metrics_to_json`](crate::metrics_to_json)), so `jq '.[] | select(.type == "span")'`
/// reads a file and `jq -s add telemetry-*.json` joins them.
///
/// Inside a tokio runtime the file work runs on its blocking pool, so a slow disk holds
/// up no async task; elsewhere it runs in place.
#[derive(Debug, Clone)]
pub struct JsonFileExporter {
    files: Arc<Files>,
}

/// The directory and the file being filled.
#[derive(Debug)]
struct Files {
    config: JsonFileConfig,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    current: Option<Current>,
    files_started: u64,
}

#[derive(Debug)]
struct Current {
    file: File,
    partial: PathBuf,
    published: PathBuf,
    opened: Instant,
    bytes: u64,
}

impl JsonFileExporter {
    /// Opens `config.output_dir`, publishing partial files that dead processes left.
    pub fn new(config: JsonFileConfig) -> io::Result<Self> {
        fs::create_dir_all(&config.output_dir)?;
        let files = Files {
            config,
            state: Mutex::new(State::default()),
        };
        files.recover()?;
        Ok(JsonFileExporter {
            files: Arc::new(files),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &JsonFileConfig {
        &self.files.config
    }

    /// Runs `work` on the files off the async threads when there are any.
    async fn on_files(
        &self,
        work: impl FnOnce(&Files) -> io::Result<()> + Send + 'static,
    ) -> Result<(), ExportError> {
        let files = Arc::clone(&self.files);
        let result = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(move || work(&files))
                .await
                .unwrap_or_else(|e| Err(io::Error::other(e))),
            Err(_) => work(&files),
        };
        result.map_err(|e| ExportError::permanent("io", format!("{}: {e}", self.destination())))
    }

    fn encode(records: Vec<Value>) -> Encoded<Arc<[u8]>> {
        Encoded {
            items: records.len(),
            payload: json_lines(records).into(),
        }
    }
}

/// Records as JSON lines: one compact object and a newline each.
pub fn json_lines(records: impl IntoIterator<Item = Value>) -> Vec<u8> {
    let mut lines = Vec::new();
    for record in records {
        // Writing a Value into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut lines, &record);
        lines.push(b'\n');
    }
    lines
}

impl Files {
    /// Appends encoded lines to the current file, rotating first when its period is over
    /// or the lines would overflow it.
    fn append(&self, lines: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock();
        if let Some(current) = &state.current {
            let full = current.bytes > 0
                && current.bytes + lines.len() as u64 > self.config.max_file_bytes;
            if full || current.opened.elapsed() >= self.config.rotate_interval {
                self.publish(&mut state)?;
            }
        }
        if state.current.is_none() {
            state.files_started += 1;
            let stem = format!(
                "{PREFIX}{}-{}-{}",
                compact(SystemTime::now()),
                std::process::id(),
                state.files_started
            );
            let partial = self
                .config
                .output_dir
                .join(format!(".{stem}{PARTIAL_SUFFIX}"));
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&partial)?;
            state.current = Some(Current {
                file,
                partial,
                published: self.config.output_dir.join(format!("{stem}.json")),
                opened: Instant::now(),
                bytes: 0,
            });
        }
        let current = state.current.as_mut().expect("opened above");
        if let Err(error) = current.file.write_all(lines) {
            // Cut a half-written tail so the file holds whole records only.
            let _ = current.file.set_len(current.bytes);
            return Err(error);
        }
        current.bytes += lines.len() as u64;
        Ok(())
    }

    /// Publishes the current file, if any, and removes the oldest beyond `max_files`.
    fn publish(&self, state: &mut State) -> io::Result<()> {
        if let Some(current) = state.current.take() {
            drop(current.file);
            publish_file(&current.partial, &current.published)?;
        }
        self.prune()
    }

    /// Keeps the newest `max_files` published files.
    fn prune(&self) -> io::Result<()> {
        let mut files = published_files(&self.config.output_dir)?;
        files.sort();
        let excess = files.len().saturating_sub(self.config.max_files);
        for old in &files[..excess] {
            match fs::remove_file(old) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Publishes partial files whose process is gone.
    fn recover(&self) -> io::Result<()> {
        for entry in fs::read_dir(&self.config.output_dir)? {
            let name = entry?.file_name();
            let Some(stem) = name
                .to_str()
                .and_then(|n| n.strip_prefix('.'))
                .and_then(|n| n.strip_suffix(PARTIAL_SUFFIX))
                .filter(|n| n.starts_with(PREFIX))
            else {
                continue;
            };
            let pid = stem.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(process_is_alive) {
                continue;
            }
            let partial = self.config.output_dir.join(&name);
            publish_file(
                &partial,
                &self.config.output_dir.join(format!("{stem}.json")),
            )?;
        }
        self.prune()
    }
}

/// `{"type": "span", ...}`: the type first, for people reading the file.
fn span_record(span: &FinishedSpan) -> Value {
    let mut record = Map::new();
    record.insert("type".into(), Value::from("span"));
    if let Value::Object(fields) = span_to_json(span) {
        record.extend(fields);
    }
    Value::Object(record)
}

impl Exporter for JsonFileExporter {
    type Payload = Arc<[u8]>;

    fn name(&self) -> &str {
        "json"
    }

    fn destination(&self) -> String {
        self.files.config.output_dir.display().to_string()
    }

    fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<Arc<[u8]>>> {
        Some(Self::encode(spans.iter().map(span_record).collect()))
    }

    fn encode_metrics(&self, batch: &MetricsBatch<'_>) -> Option<Encoded<Arc<[u8]>>> {
        Some(Self::encode(metrics_to_json(batch.source, batch.time)))
    }

    async fn send(&self, payload: &Arc<[u8]>) -> Result<(), ExportError> {
        let lines = Arc::clone(payload);
        self.on_files(move |files| files.append(&lines)).await
    }

    async fn flush(&self) -> Result<(), ExportError> {
        self.on_files(|files| files.publish(&mut files.state.lock()))
            .await
    }
}

/// Turns a JSON-lines partial file into a JSON array at `published`: written under a
/// temporary name, synced, renamed. A torn last line (a crash mid-write) is left out.
fn publish_file(partial: &Path, published: &Path) -> io::Result<()> {
    let temporary = published.with_extension("json.tmp");
    {
        let reader = BufReader::new(File::open(partial)?);
        let mut out = BufWriter::new(File::create(&temporary)?);
        out.write_all(b"[")?;
        let mut first = true;
        for line in reader.lines() {
            let line = line?;
            if serde_json::from_str::<serde::de::IgnoredAny>(&line).is_err() {
                continue;
            }
            out.write_all(if first { b"\n" } else { b",\n" })?;
            out.write_all(line.as_bytes())?;
            first = false;
        }
        out.write_all(b"\n]\n")?;
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
    }
    fs::rename(&temporary, published)?;
    fs::remove_file(partial)
}

/// Published files of `dir`: `telemetry-*.json`.
pub(crate) fn published_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PREFIX) && name.ends_with(".json") {
            files.push(entry.path());
        }
    }
    Ok(files)
}

#[cfg(unix)]
fn process_is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // Signal 0 checks existence; EPERM means it exists under another user.
    // SAFETY: kill with signal 0 sends nothing; it only reports whether `pid` exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    alive || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_is_alive(_pid: u32) -> bool {
    true
}
