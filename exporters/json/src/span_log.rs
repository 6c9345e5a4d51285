//! A JSON-lines file that finished spans are appended to, shared by every process of a
//! run: set `LOOKOUT_SPAN_LOG` and each process that flushes adds its spans.

use crate::{json_lines, span_from_json, span_to_json};
use lookout_export::{Encoded, ExportError, Exporter, FinishedSpan};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

/// Names the span log file.
pub const SPAN_LOG_ENV: &str = "LOOKOUT_SPAN_LOG";

/// An append-only JSON-lines file of finished spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanLog {
    path: PathBuf,
}

impl SpanLog {
    /// A log at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SpanLog { path: path.into() }
    }

    /// The log `LOOKOUT_SPAN_LOG` names, if set and not empty.
    pub fn from_env() -> Option<Self> {
        std::env::var_os(SPAN_LOG_ENV)
            .filter(|p| !p.is_empty())
            .map(SpanLog::new)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `spans`, one line each. Each line goes out in one `write` on a file opened
    /// for appending, so processes writing at once never interleave within a line.
    pub fn append(&self, spans: &[FinishedSpan]) -> io::Result<()> {
        self.append_lines(&encode(spans))
    }

    fn append_lines(&self, lines: &[u8]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        for line in lines.split_inclusive(|&b| b == b'\n') {
            file.write_all(line)?;
        }
        file.flush()
    }

    /// Reads every span in the log; a line that is not a span is an error naming it.
    pub fn read(&self) -> io::Result<Vec<FinishedSpan>> {
        let file = std::fs::File::open(&self.path)?;
        let mut spans = Vec::new();
        for (number, line) in io::BufReader::new(file).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let span = serde_json::from_str(&line)
                .ok()
                .and_then(|value| span_from_json(&value))
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}:{}: not a span", self.path.display(), number + 1),
                    )
                })?;
            spans.push(span);
        }
        Ok(spans)
    }
}

fn encode(spans: &[FinishedSpan]) -> Vec<u8> {
    json_lines(spans.iter().map(span_to_json))
}

/// The span log as a pipeline exporter of spans. The appends run on tokio's blocking
/// pool, off the pipeline's async threads.
impl Exporter for SpanLog {
    type Payload = std::sync::Arc<[u8]>;

    fn name(&self) -> &str {
        "span_log"
    }

    fn destination(&self) -> String {
        self.path.display().to_string()
    }

    fn encode_spans(&self, spans: &[FinishedSpan]) -> Option<Encoded<Self::Payload>> {
        Some(Encoded {
            payload: encode(spans).into(),
            items: spans.len(),
        })
    }

    async fn send(&self, lines: &Self::Payload) -> Result<(), ExportError> {
        let (log, lines) = (self.clone(), std::sync::Arc::clone(lines));
        let appended = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(move || log.append_lines(&lines))
                .await
                .unwrap_or_else(|e| Err(io::Error::other(e))),
            Err(_) => log.append_lines(&lines),
        };
        appended.map_err(|e| ExportError::permanent("io", format!("{}: {e}", self.path.display())))
    }
}
