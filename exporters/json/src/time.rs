//! UTC timestamps without a date library.

use std::time::{SystemTime, UNIX_EPOCH};

/// The UTC calendar fields of a time: year, month, day, hour, minute, second, millisecond.
fn fields(time: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis(),
    )
}

/// RFC 3339 in UTC with milliseconds: `2026-11-22T10:15:00.123Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = fields(time);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// The compact form used in file names, sorting as time does: `20261122T101500123Z`.
pub(crate) fn compact(time: SystemTime) -> String {
    let (y, mo, d, h, mi, s, ms) = fields(time);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}{ms:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
