//! The W3C `traceparent` header: `{version}-{trace-id}-{parent-id}-{trace-flags}`.
//!
//! Parsed at fixed offsets without allocating, as Trace Context level 1 says: version
//! `00` is exactly 55 characters; `ff` is invalid; a higher version is read as version 00
//! when it is at least 55 characters long and any further data follows a `-`; ids are
//! lowercase hex and never all zeros; spaces and tabs around the value are ignored.

use lookout_export::{SpanId, TraceFlags, TraceId, parse_lower_hex, write_lower_hex};

/// Length of a version-00 `traceparent`.
pub const TRACEPARENT_LEN: usize = 55;

/// The fields of a valid `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace.
    pub trace_id: TraceId,
    /// The caller's span, parent of the spans this side starts.
    pub parent_id: SpanId,
    /// Trace flags (bit 0: sampled).
    pub flags: TraceFlags,
}

impl TraceParent {
    /// Parses a header value; `None` when it is invalid.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let value = value.trim_matches([' ', '\t']);
        let bytes = value.as_bytes();
        if bytes.len() < TRACEPARENT_LEN {
            return None;
        }
        let version = parse_lower_hex(&bytes[0..2])?;
        match version {
            0xff => return None,
            0 if bytes.len() != TRACEPARENT_LEN => return None,
            _ if bytes.len() > TRACEPARENT_LEN && bytes[TRACEPARENT_LEN] != b'-' => return None,
            _ => {}
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = TraceId(parse_lower_hex(&bytes[3..35])?);
        let parent_id = SpanId(parse_lower_hex(&bytes[36..52])? as u64);
        let flags = TraceFlags(parse_lower_hex(&bytes[53..55])? as u8);
        (trace_id.is_valid() && parent_id.is_valid()).then_some(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The version-00 header value, in a stack buffer.
    pub fn encode(&self) -> [u8; TRACEPARENT_LEN] {
        let mut out = [b'-'; TRACEPARENT_LEN];
        out[0] = b'0';
        out[1] = b'0';
        write_lower_hex(self.trace_id.0, &mut out[3..35]);
        write_lower_hex(u128::from(self.parent_id.0), &mut out[36..52]);
        write_lower_hex(u128::from(self.flags.0), &mut out[53..55]);
        out
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every byte `encode` writes is ASCII.
        f.write_str(std::str::from_utf8(&self.encode()).unwrap_or_default())
    }
}
