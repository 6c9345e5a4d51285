//! Seed 002's API posting: each finished run is POSTed as JSON (its stored state under
//! seed 002's field names, with `event_id` = `run_id` so that a repeat is recognisable)
//! on a thread of its own, with the bearer token of `LOOKOUT_API_TOKEN` when that is set
//! (a `lookout serve` off loopback asks for one). Network errors and 5xx answers are
//! retried after 1 s, 2 s and 4 s; a 4xx is final. A run still unposted after that stays
//! `pending`: this process tries the oldest such run again every 15 s and the others once
//! it lands (while they wait, a newly finished run gets one attempt, not four), and the
//! next process that posts sends what a dead one left pending, so a receiver that is down
//! loses nothing. After every attempt the run's
//! `api_posting_status` (`pending`, `posted`, `failed`), `api_posting_attempts` and
//! `api_posting_error` are stored.

use super::{Inner, Runs};
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::sync::Weak;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

/// The waits before the second, third and fourth attempts.
pub(super) const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// How long one attempt may take, connection to last byte.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long runs left pending by a receiver that is down wait for their next attempt.
pub(super) const RESEND_AFTER: Duration = Duration::from_secs(15);

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
    pub(super) fn start(url: String, token: Option<String>, runs: Weak<Inner>) -> Option<Poster> {
        let (queue, receiver) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("lookout-posting".into())
            .spawn(move || post_all(&url, token.as_deref(), &runs, &receiver))
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

fn post_all(url: &str, token: Option<&str>, runs: &Weak<Inner>, queue: &Receiver<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(ATTEMPT_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let post = Post { agent, url, token };
    // Runs the receiver did not take yet, oldest first.
    let mut deferred: VecDeque<String> = VecDeque::new();
    loop {
        let next = match deferred.is_empty() {
            true => queue.recv().map_err(|_| RecvTimeoutError::Disconnected),
            false => queue.recv_timeout(RESEND_AFTER),
        };
        match next {
            // While the receiver is known to be down, a new run gets one attempt: if it
            // lands, the receiver is back and the others follow.
            Ok(run_id) => {
                let attempts = match deferred.is_empty() {
                    true => RETRY_DELAYS.len() + 1,
                    false => 1,
                };
                match deliver(runs, &post, &run_id, attempts) {
                    Delivery::Deferred => deferred.push_back(run_id),
                    Delivery::Done => resend(runs, &post, &mut deferred),
                }
            }
            Err(RecvTimeoutError::Timeout) => resend(runs, &post, &mut deferred),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// One attempt for the oldest deferred run, and for each next one while they land.
fn resend(runs: &Weak<Inner>, post: &Post<'_>, deferred: &mut VecDeque<String>) {
    while let Some(run_id) = deferred.pop_front() {
        if deliver(runs, post, &run_id, 1) == Delivery::Deferred {
            deferred.push_front(run_id);
            return;
        }
    }
}

/// Where and how posts are sent.
struct Post<'a> {
    agent: ureq::Agent,
    url: &'a str,
    token: Option<&'a str>,
}

/// What became of a run handed to [`deliver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Posted, refused, or not to be posted: nothing more to do here.
    Done,
    /// Still pending after this call's attempts: the receiver is down or failing.
    Deferred,
}

/// The runs, while the telemetry that owns them lives. Held only for one step, never
/// across a wait: the telemetry's last handle must stay free to close the store.
fn runs(weak: &Weak<Inner>) -> Option<Runs> {
    weak.upgrade().map(|inner| Runs { inner })
}

/// Posts run `run_id`'s stored state until it is posted or refused, at most `attempts`
/// times (waiting 1 s, 2 s, 4 s between them), storing the posting status after each
/// attempt. A run whose stored state is not pending is left alone: posted already, or
/// its end record was lost (then it is still `running`, and closed as stale later).
fn deliver(weak: &Weak<Inner>, post: &Post<'_>, run_id: &str, attempts: usize) -> Delivery {
    let Some(mut body) = runs(weak).and_then(|runs| runs.stored_state(run_id)) else {
        return Delivery::Done;
    };
    let pending = body.get("api_posting_status").and_then(Value::as_str) == Some("pending");
    if !pending || body.get("status").and_then(Value::as_str) == Some("running") {
        return Delivery::Done;
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
    for attempt in 1..=attempts {
        let outcome = send(post, &body);
        // The wait counts from the answer, storing the status included.
        let answered = Instant::now();
        let (status, error) = match outcome {
            Outcome::Posted => ("posted", None),
            Outcome::Refused(error) => ("failed", Some(error)),
            Outcome::Transient(error) => ("pending", Some(error)),
        };
        let Some(runs) = runs(weak) else {
            return Delivery::Done;
        };
        let _ = runs.update_stored(run_id, |state| {
            state.insert("api_posting_status".into(), status.into());
            state.insert("api_posting_attempts".into(), (earlier + attempt).into());
            match error {
                Some(error) => state.insert("api_posting_error".into(), error.into()),
                None => state.remove("api_posting_error"),
            };
        });
        drop(runs);
        if status != "pending" {
            return Delivery::Done;
        }
        if let Some(wait) = RETRY_DELAYS.get(attempt - 1).filter(|_| attempt < attempts) {
            std::thread::sleep((answered + *wait).saturating_duration_since(Instant::now()));
        }
    }
    Delivery::Deferred
}

fn send(post: &Post<'_>, body: &str) -> Outcome {
    let mut request = post
        .agent
        .post(post.url)
        .header("content-type", "application/json");
    if let Some(token) = post.token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = request.send(body);
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
