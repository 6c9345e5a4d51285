//! `lookout record metric`: metric points into the store from a shell agent, one from
//! the arguments or many as NDJSON lines on stdin.

use crate::args::RecordArgs;
use crate::error::CliError;
use crate::settings::Settings;
use lookout::store::metrics::{PointValue, point_record};
use lookout::store::{Record, Store};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::time::{Duration, SystemTime};

/// How long recording waits for the store to make the points durable.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn run(args: RecordArgs, settings: &Settings) -> Result<(), CliError> {
    let (name, value, labels, time) = match args {
        RecordArgs::Metric {
            name,
            value,
            labels,
            time,
        } => (name, value, labels, time),
        RecordArgs::Event {
            event_type,
            source,
            data,
            timestamp,
            id,
        } => return events(&event_type, source, &data, timestamp, id, settings),
    };
    let records = if name == "-" {
        from_stdin()?
    } else {
        let value = value.ok_or_else(|| invalid("a metric needs a VALUE after its NAME".into()))?;
        let labels = labels.into_iter().collect();
        vec![point(&name, parse_value(&value), &labels, time)?]
    };
    let store = Store::open(super::store_config()?);
    for record in &records {
        store
            .record_waiting(record.clone(), FLUSH_TIMEOUT)
            .map_err(|e| CliError::Store(e.to_string()))?;
    }
    store
        .flush(FLUSH_TIMEOUT)
        .map_err(|e| CliError::Store(e.to_string()))?;
    for record in &records {
        let answer = json!({
            "status": "success",
            "event_id": record.event_id,
            "timestamp": lookout::json::rfc3339(record.time),
        });
        match settings.json {
            true => println!("{answer}"),
            false => println!(
                "recorded {} ({})",
                record.body["name"].as_str().unwrap_or(""),
                record.event_id
            ),
        }
    }
    Ok(())
}

/// `record event`: each event through seed 004's `record_event`, answered as it answers.
fn events(
    event_type: &str,
    source: Option<String>,
    data: &str,
    timestamp: Option<String>,
    id: Option<String>,
    settings: &Settings,
) -> Result<(), CliError> {
    let events: Vec<Value> = if event_type == "-" {
        let mut events = Vec::new();
        for (n, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.map_err(|e| invalid(format!("stdin: {e}")))?;
            if !line.trim().is_empty() {
                let event = serde_json::from_str(&line)
                    .map_err(|e| invalid(format!("line {}: {e}", n + 1)))?;
                events.push(event);
            }
        }
        events
    } else {
        // Bad JSON in --data is one more validation error, reported with the others.
        let data = serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()));
        let mut event = json!({"event_type": event_type, "data": data});
        for (key, value) in [
            ("source", source),
            ("timestamp", timestamp),
            ("event_id", id),
        ] {
            if let Some(value) = value {
                event[key] = value.into();
            }
        }
        vec![event]
    };
    let bridge = lookout_query::bridge::Bridge::new(
        Store::open(super::store_config()?),
        lookout_query::bridge::BridgeConfig::default(),
    );
    for event in &events {
        let recorded = bridge.record_event(event).map_err(CliError::Bridge)?;
        match settings.json {
            true => println!("{}", serde_json::to_value(&recorded).unwrap_or_default()),
            false => println!(
                "recorded {} ({})",
                event["event_type"].as_str().unwrap_or(""),
                recorded.event_id
            ),
        }
    }
    Ok(())
}

/// A number if it reads as one, else text (seed 004 accepts both).
fn parse_value(text: &str) -> PointValue {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => PointValue::Number(x),
        _ => PointValue::Text(text.to_owned()),
    }
}

fn point(
    name: &str,
    value: PointValue,
    labels: &BTreeMap<String, String>,
    time: Option<SystemTime>,
) -> Result<Record, CliError> {
    let valid = !name.is_empty()
        && name.chars().enumerate().all(|(i, c)| {
            c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
        });
    if !valid {
        return Err(invalid(format!(
            "{name:?} is not a metric name: letters, digits (not first), _ and :"
        )));
    }
    Ok(point_record(
        name,
        "gauge",
        labels,
        value,
        time.unwrap_or_else(SystemTime::now),
    ))
}

/// Every line of stdin as a point: `{"name", "value", "labels"?, "time"?}` (time RFC 3339).
fn from_stdin() -> Result<Vec<Record>, CliError> {
    let mut records = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| invalid(format!("stdin: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |why: String| invalid(format!("line {}: {why}", n + 1));
        let body: Value = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let name = body["name"]
            .as_str()
            .ok_or_else(|| bad("no \"name\"".into()))?;
        let value = match &body["value"] {
            Value::Number(x) => PointValue::Number(x.as_f64().unwrap_or(0.0)),
            Value::String(text) => PointValue::Text(text.clone()),
            _ => return Err(bad("\"value\" must be a number or a string".into())),
        };
        let labels: BTreeMap<String, String> = match &body["labels"] {
            Value::Null => BTreeMap::new(),
            Value::Object(map) => lookout::store::metrics::labels_of(map),
            _ => return Err(bad("\"labels\" must be an object".into())),
        };
        let time = match body["time"].as_str() {
            Some(text) => Some(crate::args::parse_time(text).map_err(bad)?),
            None => None,
        };
        records.push(point(name, value, &labels, time).map_err(|e| bad(e.to_string()))?);
    }
    Ok(records)
}

fn invalid(message: String) -> CliError {
    CliError::InvalidInput(message)
}
