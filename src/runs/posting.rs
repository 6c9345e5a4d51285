//! Seed 002's API posting: each finished run is POSTed as JSON (its stored state under
//! seed 002's field names, with `event_id` = `run_id` so that a repeat is recognisable)
//! on a thread of its own. Network errors and 5xx answers are retried after 1 s, 2 s and
//! 4 s; a 4xx is final. After every attempt the run's `api_posting_status` (`pending`,
//! `posted`, `failed`), `api_posting_attempts` and `api_posting_error` are stored, so a
//! post still pending when its process died is found and sent by the next one.

use super::{Inner, Runs};
use serde_json::{Map, Value};
use std::sync::Weak;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

/// The waits before the second, third and fourth attempts.
pub(super) const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// How long one attempt may take, connection to last byte.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs waiting to be posted; one beyond it stays `pending` in the store for the next
/// process to post.
const QUEUE: usize = 4096;

/// The fields posting keeps on a run; not part of what is posted.
const POSTING_FIELDS: [&str; 3] = [
    "api_posting_status",
    "api_posting_attempts",
    "api_posting_error",
];

/// The sending end of the posting thread's queue.
#[derive(Debug)]
pub(super) struct Poster {
    queue: SyncSender<String>,
}

impl Poster {
    /// Starts the thread that posts to `url`; `None` if no thread can start.
    pub(super) fn start(url: String, runs: Weak<Inner>) -> Option<Poster> {
        let (queue, receiver) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("lookout-posting".into())
            .spawn(move || post_all(&url, &runs, &receiver))
            .ok()?;
        Some(Poster { queue })
    }

    /// Queues run `run_id` for posting. If the queue is full (or the thread is gone),
    /// the run stays pending in the store, for the next process to post.
    pub(super) fn post(&self, run_id: &str) {
        let _ = self.queue.try_send(run_id.to_owned());
    }
}

/// What one attempt came to.
enum Outcome {
    Posted,
    /// A 4xx (or another answer that is not 2xx or 5xx): sending it again changes nothing.
    Refused(String),
    /// A network error or a 5xx: worth another attempt.
    Transient(String),
}

fn post_all(url: &str, runs: &Weak<Inner>, queue: &Receiver<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(ATTEMPT_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    while let Ok(run_id) = queue.recv() {
        deliver(runs, &agent, url, &run_id);
    }
}

/// The runs, while the telemetry that owns them lives. Held only for one step, never
/// across a wait: the telemetry's last handle must stay free to close the store.
fn runs(weak: &Weak<Inner>) -> Option<Runs> {
    weak.upgrade().map(|inner| Runs { inner })
}

/// Posts run `run_id`'s stored state until it is posted, refused, or out of attempts
/// (counting those of earlier processes), storing the posting status after each attempt.
/// A run whose stored state is not pending is left alone: posted already, or its end
/// record was lost (then it is still `running`, and closed as stale later).
fn deliver(weak: &Weak<Inner>, agent: &ureq::Agent, url: &str, run_id: &str) {
    let Some(mut body) = runs(weak).and_then(|runs| runs.stored_state(run_id)) else {
        return;
    };
    let pending = body.get("api_posting_status").and_then(Value::as_str) == Some("pending");
    if !pending || body.get("status").and_then(Value::as_str) == Some("running") {
        return;
    }
    let earlier = body
        .get("api_posting_attempts")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    for field in POSTING_FIELDS {
        body.remove(field);
    }
    body.insert("event_id".into(), run_id.into());
    let body = Value::Object(body).to_string();
    let last = RETRY_DELAYS.len() + 1;
    for attempt in earlier + 1..=last.max(earlier + 1) {
        let outcome = send(agent, url, &body);
        // The wait counts from the answer, storing the status included.
        let answered = Instant::now();
        let (status, error) = match outcome {
            Outcome::Posted => ("posted", None),
            Outcome::Refused(error) => ("failed", Some(error)),
            Outcome::Transient(error) if attempt >= last => ("failed", Some(error)),
            Outcome::Transient(error) => ("pending", Some(error)),
        };
        let Some(runs) = runs(weak) else { return };
        let _ = runs.update_stored(run_id, |state| {
            state.insert("api_posting_status".into(), status.into());
            state.insert("api_posting_attempts".into(), attempt.into());
            match error {
                Some(error) => state.insert("api_posting_error".into(), error.into()),
                None => state.remove("api_posting_error"),
            };
        });
        drop(runs);
        if status != "pending" {
            return;
        }
        let wait = RETRY_DELAYS[attempt - 1];
        std::thread::sleep((answered + wait).saturating_duration_since(Instant::now()));
    }
}

fn send(agent: &ureq::Agent, url: &str, body: &str) -> Outcome {
    let response = agent
        .post(url)
        .header("content-type", "application/json")
        .send(body);
    let mut response = match response {
        Ok(response) => response,
        Err(error) => return Outcome::Transient(error.to_string()),
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Posted;
    }
    let mut said = response
        .body_mut()
        .with_config()
        .limit(512)
        .read_to_string()
        .unwrap_or_default();
    said.truncate(said.trim_end().len());
    let error = match said.is_empty() {
        true => format!("HTTP {}", status.as_u16()),
        false => format!("HTTP {}: {said}", status.as_u16()),
    };
    match status.is_server_error() {
        true => Outcome::Transient(error),
        false => Outcome::Refused(error),
    }
}

/// Marks a run's state as waiting to be posted.
pub(super) fn mark_pending(body: &mut Map<String, Value>) {
    body.insert("api_posting_status".into(), "pending".into());
    body.insert("api_posting_attempts".into(), 0.into());
}
