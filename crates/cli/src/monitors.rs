//! `lookout serve`'s monitors: the config's rules evaluated on the store every interval;
//! each alert that fires or resolves is logged, stored, counted on `/metrics` and, with a
//! webhook, queued for a poster that retries with the pipeline's backoff. Neither a slow
//! store nor a failing receiver holds anything else up: evaluations run off the async
//! threads, and the queue drops (counted) rather than waits.

use crate::client;
use bytes::Bytes;
use lookout::Telemetry;
use lookout::metrics::{Counter, Descriptor, Family, Gauge};
use lookout::pipeline::RetryPolicy;
use lookout::store::unix_nanos;
use lookout_query::monitors::{Alert, MonitorConfig, Monitors};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;

/// Alerts waiting for the webhook; past this many, new ones are dropped (counted).
const QUEUE: usize = 1024;
/// How long one POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(5);

/// The families monitors count in.
struct Counts {
    alerts: Family<Counter>,
    firing: Family<Gauge>,
    evaluations: Family<Counter>,
    webhook: Family<Counter>,
}

impl Counts {
    fn register(telemetry: &Telemetry) -> Option<Counts> {
        let registry = telemetry.registry();
        Some(Counts {
            alerts: registry
                .counter(
                    Descriptor::new("lookout_alerts", "Alerts that fired or resolved.")
                        .labels(["rule", "state"]),
                )
                .ok()?,
            firing: registry
                .gauge(
                    Descriptor::new("lookout_alerts_firing", "Series of a rule firing now.")
                        .labels(["rule"]),
                )
                .ok()?,
            evaluations: registry
                .counter(
                    Descriptor::new("lookout_monitor_evaluations", "Evaluations of the monitors.")
                        .labels(["outcome"]),
                )
                .ok()?,
            webhook: registry
                .counter(
                    Descriptor::new(
                        "lookout_alert_webhook_posts",
                        "Alert webhook posts: sent, retried, failed (given up) or dropped (queue full).",
                    )
                    .labels(["outcome"]),
                )
                .ok()?,
        })
    }
}

/// Starts evaluating `config`'s rules on `telemetry`'s store, on the current runtime.
pub(crate) fn start(telemetry: &Telemetry, config: MonitorConfig) {
    let Some(store) = telemetry.store().cloned() else {
        eprintln!("lookout: monitors need the store; they are off");
        return;
    };
    let Some(counts) = Counts::register(telemetry) else {
        eprintln!("lookout: monitors cannot register their metric families; they are off");
        return;
    };
    let counts = Arc::new(counts);
    let webhook = config.webhook.clone().map(|url| {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(post_alerts(url, receiver, counts.clone()));
        sender
    });
    let monitors = Arc::new(Mutex::new(Monitors::new(config.rules)));
    let interval = config.interval;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (monitors, db) = (monitors.clone(), store.config().db_path.clone());
            let evaluated = tokio::task::spawn_blocking(move || {
                let mut monitors = monitors.lock().unwrap_or_else(|e| e.into_inner());
                let conn = lookout::store::open_reader(&db).map_err(|e| e.to_string())?;
                let evaluation = monitors.evaluate(&conn, unix_nanos(SystemTime::now()));
                for (rule, error) in &evaluation.failed {
                    eprintln!("lookout: monitor {rule:?}: {error}");
                }
                let outcome = if evaluation.failed.is_empty() {
                    "ok"
                } else {
                    "error"
                };
                let firing: Vec<(String, usize)> = monitors
                    .firing()
                    .into_iter()
                    .map(|(rule, n)| (rule.to_owned(), n))
                    .collect();
                Ok::<_, String>((evaluation.alerts, firing, outcome))
            })
            .await;
            let (alerts, firing, outcome) = match evaluated {
                Ok(Ok(done)) => done,
                Ok(Err(error)) => {
                    counts.evaluations.inc(&["error"]);
                    eprintln!("lookout: monitors: {error}");
                    continue;
                }
                Err(_) => {
                    counts.evaluations.inc(&["error"]);
                    continue;
                }
            };
            counts.evaluations.inc(&[outcome]);
            for (rule, n) in firing {
                counts.firing.set(&[&rule], n as f64);
            }
            for alert in alerts {
                announce(&alert);
                counts.alerts.inc(&[&alert.rule, alert.state.as_str()]);
                store.record(alert.record());
                if let Some(queue) = &webhook
                    && queue.try_send(alert).is_err()
                {
                    counts.webhook.inc(&["dropped"]);
                }
            }
        }
    });
}

/// One line on stdout per alert.
fn announce(alert: &Alert) {
    let labels: Vec<String> = alert
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let value = alert.value.map_or("no data".to_owned(), |v| v.to_string());
    println!(
        "alert {} {} {{{}}}: {} {} {} since {}",
        alert.rule,
        alert.state.as_str(),
        labels.join(", "),
        value,
        alert.comparison.as_str(),
        alert.threshold,
        lookout::store::rfc3339_of_nanos(alert.since)
    );
}

/// POSTs each alert to `url` in turn: network errors, 5xx and 429 again after the
/// pipeline's backoff until its time is up (60 s; the alerts behind wait, the queue
/// bounds them), other 4xx given up at once.
async fn post_alerts(url: String, mut alerts: mpsc::Receiver<Alert>, counts: Arc<Counts>) {
    let policy = RetryPolicy::default();
    while let Some(alert) = alerts.recv().await {
        let body = Bytes::from(alert.to_json().to_string());
        let first = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let answer = client::post_json(&url, body.clone(), POST_TIMEOUT).await;
            let retry = match answer {
                Ok(fetched) if fetched.status.is_success() => {
                    counts.webhook.inc(&["sent"]);
                    break;
                }
                // 5xx and 429 (too many requests) are worth another try; other 4xx not.
                Ok(fetched) => {
                    fetched.status.is_server_error()
                        || fetched.status == http::StatusCode::TOO_MANY_REQUESTS
                }
                Err(_) => true,
            };
            let wait = policy.backoff(attempt, None, rand_bits());
            if !retry || first.elapsed() + wait > policy.max_elapsed {
                counts.webhook.inc(&["failed"]);
                eprintln!("lookout: alert webhook {url}: gave up after {attempt} attempts");
                break;
            }
            counts.webhook.inc(&["retried"]);
            tokio::time::sleep(wait).await;
        }
    }
}

/// Jitter for the backoff.
fn rand_bits() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}
