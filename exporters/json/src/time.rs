//! UTC timestamps without a date library.

use lookout_export::calendar::Civil;
use std::time::SystemTime;

/// RFC 3339 in UTC with milliseconds: `2026-11-22T10:15:00.123Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let c = Civil::of(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millisecond
    )
}

/// The compact form used in file names, sorting as time does: `20261122T101500123Z`.
pub(crate) fn compact(time: SystemTime) -> String {
    let c = Civil::of(time);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millisecond
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn known_dates() {
        let at = |secs: u64, ms: u64| UNIX_EPOCH + Duration::from_millis(secs * 1000 + ms);
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(784_111_777, 5)), "1994-11-06T08:49:37.005Z");
        assert_eq!(rfc3339(at(951_782_400, 0)), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(at(1_795_342_500, 999)), "2026-11-22T10:15:00.999Z");
        assert_eq!(compact(at(1_795_342_500, 123)), "20261122T101500123Z");
    }
}
