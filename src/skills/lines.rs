//! The layout `telemetry.json` and its archives share: a JSON array with one compact
//! entry per line (`[`, `\n{…}`, `,\n{…}`, …, `\n]\n`). Rotation and archiving move lines
//! as bytes, reading only each line's timestamp, never parsing the entries.

use serde_json::Value;
use std::borrow::Cow;
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

/// The bytes after the entries.
pub(super) const CLOSING: &[u8] = b"\n]\n";

/// One entry's line and its time.
#[derive(Debug, Clone)]
pub(super) struct Line<'a> {
    pub(super) bytes: Cow<'a, [u8]>,
    pub(super) time_ms: Option<u64>,
}

/// The lines of `content` (what lies between `[` and the closing or the reserve).
pub(super) fn split(content: &[u8]) -> Vec<Line<'_>> {
    content
        .split(|&b| b == b'\n')
        .map(|line| {
            let line = line.trim_ascii();
            line.strip_suffix(b",").unwrap_or(line)
        })
        .filter(|line| !line.is_empty())
        .map(|line| Line {
            bytes: Cow::Borrowed(line),
            time_ms: time_of(line),
        })
        .collect()
}

/// Lines of parsed entries (a file written by another program, adopted).
pub(super) fn of_values(entries: &[Value]) -> io::Result<Vec<Line<'static>>> {
    entries
        .iter()
        .map(|entry| {
            let bytes = serde_json::to_vec(entry).map_err(io::Error::other)?;
            Ok(Line {
                time_ms: entry_time_ms(entry),
                bytes: Cow::Owned(bytes),
            })
        })
        .collect()
}

/// `lines` as content (`\n{…},\n{…}`) and the oldest time among them (`u64::MAX`: none).
pub(super) fn join(lines: &[Line<'_>]) -> (Vec<u8>, u64) {
    let mut content = Vec::with_capacity(lines.iter().map(|l| l.bytes.len() + 2).sum());
    let mut oldest = u64::MAX;
    for (i, line) in lines.iter().enumerate() {
        content.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        content.extend_from_slice(&line.bytes);
        oldest = oldest.min(line.time_ms.unwrap_or(u64::MAX));
    }
    (content, oldest)
}

/// A whole file's content when it is in this layout (as Lookout writes it).
pub(super) fn content_of_file(bytes: &[u8]) -> Option<&[u8]> {
    let inner = bytes.strip_prefix(b"[")?.strip_suffix(CLOSING)?;
    let in_layout = inner.is_empty() || (inner.starts_with(b"\n{") && inner.ends_with(b"}"));
    in_layout.then_some(inner)
}

/// A line's `timestamp` as Unix milliseconds: read where Lookout writes it (first), else
/// by parsing the line.
pub(super) fn time_of(line: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"{\"timestamp\":\"";
    if let Some(rest) = line.strip_prefix(KEY) {
        let end = rest.iter().position(|&b| b == b'"')?;
        let text = std::str::from_utf8(&rest[..end]).ok()?;
        return lookout_export::calendar::parse_rfc3339(text).map(unix_ms);
    }
    let entry: Value = serde_json::from_slice(line).ok()?;
    entry_time_ms(&entry)
}

/// An entry's `timestamp` as Unix milliseconds.
pub(super) fn entry_time_ms(entry: &serde_json::Value) -> Option<u64> {
    let time = entry.get("timestamp")?.as_str()?;
    lookout_export::calendar::parse_rfc3339(time).map(unix_ms)
}

pub(super) fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_join_and_keep_their_times() {
        let content = b"\n{\"timestamp\":\"1970-01-01T00:00:01.000Z\",\"a\":\"x,\"},\n{\"b\":1,\"timestamp\":\"1970-01-01T00:00:02Z\"},\n{\"c\":2}";
        let lines = split(content);
        let times: Vec<_> = lines.iter().map(|l| l.time_ms).collect();
        assert_eq!(times, [Some(1000), Some(2000), None]);
        assert_eq!(
            &*lines[0].bytes,
            b"{\"timestamp\":\"1970-01-01T00:00:01.000Z\",\"a\":\"x,\"}"
        );
        let (joined, oldest) = join(&lines);
        assert_eq!(joined, content);
        assert_eq!(oldest, 1000);
        let file = [b"[".as_slice(), content, CLOSING].concat();
        assert_eq!(content_of_file(&file), Some(content.as_slice()));
        assert_eq!(content_of_file(b"[\n]\n"), Some(b"".as_slice()));
        assert_eq!(
            content_of_file(b"[\n  {\"a\": 1}\n]"),
            None,
            "pretty-printed: not the layout"
        );
        let parsed: Vec<Value> = serde_json::from_slice(&file).unwrap();
        assert_eq!(parsed.len(), 3);
    }
}
