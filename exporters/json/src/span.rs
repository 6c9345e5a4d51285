//! Finished spans to JSON and back.

use lookout_export::{
    AttributeValue, Event, FinishedSpan, KeyValue, Link, Resource, SpanId, SpanKind, Status,
    TraceFlags, TraceId,
};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn nanos(time: SystemTime) -> String {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

/// Attributes as one JSON object: `{"gen_ai.agent.name": "coder", "files": 3}`.
pub fn attributes_to_json(list: &[KeyValue]) -> Value {
    let mut map = Map::new();
    for kv in list {
        let value = match &kv.value {
            AttributeValue::Bool(b) => json!(b),
            AttributeValue::Int(i) => json!(i),
            AttributeValue::Float(f) => json!(f),
            AttributeValue::String(s) => json!(s),
            _ => Value::Null,
        };
        map.insert(kv.key.to_string(), value);
    }
    Value::Object(map)
}

/// One span as a JSON object (see the crate docs for the shape).
pub fn span_to_json(span: &FinishedSpan) -> Value {
    let status = match &span.status {
        Status::Unset => json!({ "code": "unset" }),
        Status::Ok => json!({ "code": "ok" }),
        Status::Error(message) => json!({ "code": "error", "message": message }),
    };
    let events: Vec<Value> = span
        .events
        .iter()
        .map(|e| json!({ "name": e.name, "timeUnixNano": nanos(e.time), "attributes": attributes_to_json(&e.attributes) }))
        .collect();
    let links: Vec<Value> = span
        .links
        .iter()
        .map(|l| {
            json!({
                "traceId": l.trace_id.to_string(),
                "spanId": l.span_id.to_string(),
                "traceFlags": l.flags.0,
                "traceState": l.trace_state.as_deref(),
                "attributes": attributes_to_json(&l.attributes),
            })
        })
        .collect();
    json!({
        "traceId": span.trace_id.to_string(),
        "spanId": span.span_id.to_string(),
        "parentSpanId": span.parent_span_id.is_valid().then(|| span.parent_span_id.to_string()),
        "parentIsRemote": span.parent_is_remote,
        "name": span.name,
        "kind": span.kind.as_str(),
        "traceFlags": span.flags.0,
        "traceState": span.trace_state.as_deref(),
        "startTimeUnixNano": nanos(span.start_time),
        "endTimeUnixNano": nanos(span.end_time),
        "durationSeconds": span.duration().as_secs_f64(),
        "attributes": attributes_to_json(&span.attributes),
        "events": events,
        "links": links,
        "status": status,
        "dropped": {
            "attributes": span.dropped_attributes,
            "events": span.dropped_events,
            "links": span.dropped_links,
        },
        "resource": span.resource.as_ref().map(|r| attributes_to_json(&r.attributes)),
    })
}

fn time(value: &Value) -> Option<SystemTime> {
    let nanos: u128 = value.as_str()?.parse().ok()?;
    Some(UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).ok()?))
}

fn attributes_from(value: &Value) -> Vec<KeyValue> {
    let Some(map) = value.as_object() else {
        return Vec::new();
    };
    map.iter()
        .filter_map(|(k, v)| {
            let value = match v {
                Value::Bool(b) => AttributeValue::Bool(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => AttributeValue::Int(i),
                    None => AttributeValue::Float(n.as_f64()?),
                },
                Value::String(s) => AttributeValue::from(s.clone()),
                _ => return None,
            };
            Some(KeyValue::new(k.clone(), value))
        })
        .collect()
}

/// Reads back what [`span_to_json`] wrote; `None` when a required field is missing.
/// Attribute order follows the JSON object's key order.
pub fn span_from_json(value: &Value) -> Option<FinishedSpan> {
    let kind = SpanKind::parse(value["kind"].as_str()?).unwrap_or_default();
    let status = match value["status"]["code"].as_str()? {
        "ok" => Status::Ok,
        "error" => Status::Error(
            value["status"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned()
                .into(),
        ),
        _ => Status::Unset,
    };
    let count = |key: &str| value["dropped"][key].as_u64().unwrap_or(0) as u32;
    let mut span = FinishedSpan::new(
        TraceId::from_hex(value["traceId"].as_str()?)?,
        SpanId::from_hex(value["spanId"].as_str()?)?,
        value["name"].as_str()?.to_owned(),
        time(&value["startTimeUnixNano"])?,
    );
    span.parent_span_id = value["parentSpanId"]
        .as_str()
        .map_or(Some(SpanId::INVALID), SpanId::from_hex)?;
    span.parent_is_remote = value["parentIsRemote"].as_bool().unwrap_or(false);
    span.flags = flags(&value["traceFlags"]);
    span.trace_state = value["traceState"].as_str().map(Into::into);
    span.kind = kind;
    span.end_time = time(&value["endTimeUnixNano"])?;
    span.attributes = attributes_from(&value["attributes"]);
    span.events = array(&value["events"], |e| {
        Some(Event::new(
            e["name"].as_str()?.to_owned(),
            time(&e["timeUnixNano"])?,
            attributes_from(&e["attributes"]),
        ))
    });
    span.links = array(&value["links"], |l| {
        let mut link = Link::new(
            TraceId::from_hex(l["traceId"].as_str()?)?,
            SpanId::from_hex(l["spanId"].as_str()?)?,
        );
        link.flags = flags(&l["traceFlags"]);
        link.trace_state = l["traceState"].as_str().map(Into::into);
        link.attributes = attributes_from(&l["attributes"]);
        Some(link)
    });
    span.status = status;
    span.dropped_attributes = count("attributes");
    span.dropped_events = count("events");
    span.dropped_links = count("links");
    span.resource = value["resource"].is_object().then(|| {
        Arc::new(Resource::new(
            attributes_from(&value["resource"])
                .into_iter()
                .map(|kv| (kv.key, kv.value)),
        ))
    });
    Some(span)
}

fn flags(value: &Value) -> TraceFlags {
    TraceFlags(value.as_u64().unwrap_or(0) as u8)
}

/// The items of a JSON array that `read` accepts; nothing when it is not an array.
fn array<T>(value: &Value, read: impl Fn(&Value) -> Option<T>) -> Vec<T> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(read).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_round_trip_through_json() {
        let mut spans = lookout_export::testing::agent_trace();
        spans[0]
            .attributes
            .push(KeyValue::new("a.string", "say \"hi\"\n✓"));
        spans[1].attributes.push(KeyValue::new("a.int", -3));
        for span in spans {
            let line = span_to_json(&span).to_string();
            let back = span_from_json(&serde_json::from_str(&line).unwrap()).unwrap();
            assert_eq!(back, span);
        }
    }
}
