//! JSON exports for Lookout, shaped for `jq`.
//!
//! [`JsonFileExporter`] writes finished spans and metric collections to rotating files in
//! a directory, each a JSON array of records published whole; see its docs for the names,
//! the rotation and the record shapes. [`SpanLog`] appends finished spans to one
//! JSON-lines file that every process of a run can share. The shapes of single records
//! follow.
//!
//! A finished span is one JSON object per line:
//!
//! ```json
//! {"traceId":"4bf9…","spanId":"00f0…","parentSpanId":null,"parentIsRemote":false,
//!  "name":"invoke_agent coder","kind":"internal","traceFlags":1,"traceState":null,
//!  "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000250000000",
//!  "durationSeconds":0.25,"attributes":{"gen_ai.agent.name":"coder"},
//!  "events":[{"name":"exception","timeUnixNano":"…","attributes":{…}}],
//!  "links":[{"traceId":"…","spanId":"…","attributes":{}}],
//!  "status":{"code":"error","message":"exit status 1"},
//!  "dropped":{"attributes":0,"events":0,"links":0},
//!  "resource":{"service.name":"coordinator","process.pid":4242,…}}
//! ```
//!
//! Nanosecond timestamps are strings (as in OTLP/JSON) because JSON numbers lose
//! precision past 2^53; `durationSeconds` is a number for arithmetic.
//!
//! ```
//! use lookout_export::{FinishedSpan, KeyValue, SpanId, Status, TraceId};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let mut span = FinishedSpan::new(TraceId(1), SpanId(2), "work", start);
//! span.end_time = start + Duration::from_millis(250);
//! span.attributes.push(KeyValue::new("files", 3));
//! span.status = Status::Ok;
//! let json = lookout_exporter_json::span_to_json(&span);
//! assert_eq!(json["traceId"], "00000000000000000000000000000001");
//! assert_eq!(json["parentSpanId"], serde_json::Value::Null);
//! assert_eq!(json["durationSeconds"], 0.25);
//! assert_eq!(json["attributes"]["files"], 3);
//! assert_eq!(json["status"]["code"], "ok");
//! ```
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]

mod metric;
mod rotating;
mod span;
mod span_log;
mod time;

pub use metric::metrics_to_json;
pub use rotating::{JsonFileConfig, JsonFileExporter, json_lines};
pub use span::{attributes_to_json, span_from_json, span_to_json};
pub use span_log::{SPAN_LOG_ENV, SpanLog};
pub use time::rfc3339;
