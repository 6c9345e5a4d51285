//! UTC calendar maths without a date library: civil dates, RFC 3339 and ISO weeks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC time broken into its calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// The year (proleptic Gregorian).
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// 0 to 999.
    pub millisecond: u32,
}

impl Civil {
    /// The fields of `time` in UTC (times before 1970 count as 1970-01-01).
    pub fn of(time: SystemTime) -> Civil {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs() as i64;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            millisecond: since.subsec_millis(),
        }
    }
}

/// The date of a count of days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The ISO 8601 week of `time` (UTC): its week-numbering year and week (1 to 53).
pub fn iso_week(time: SystemTime) -> (i64, u32) {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = secs.div_euclid(86_400);
    // 1970-01-01 was a Thursday; ISO weeks run Monday (1) to Sunday (7).
    let weekday = (days + 3).rem_euclid(7) + 1;
    // The week belongs to the year of its Thursday.
    let thursday = days - weekday + 4;
    let (year, _, _) = civil_from_days(thursday);
    let ordinal = thursday - days_from_civil(year, 1, 1);
    (year, (ordinal / 7 + 1) as u32)
}

/// Parses RFC 3339 (`2025-10-23T12:34:56.789Z`, `…+02:00`, a space for `T`, any fraction;
/// no offset is read as UTC, as Python's `isoformat()` writes naive times).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let text = text.trim().as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = text.get(range)?;
        digits.iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let separators_ok = text.get(4) == Some(&b'-')
        && text.get(7) == Some(&b'-')
        && matches!(text.get(10), Some(b'T' | b't' | b' '))
        && text.get(13) == Some(&b':')
        && text.get(16) == Some(&b':');
    if !separators_ok
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0u32;
    if text.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while text.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanos = nanos * 10 + u32::from(text[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        nanos *= 10u32.pow(9u32.saturating_sub((at - start) as u32));
    }
    let offset: i64 = match text.get(at..)? {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if text.len() == at + 6 && text[at + 3] == b':' => {
            let (h, m) = (number(at + 1..at + 3)?, number(at + 4..at + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = i64::from(h * 60 + m);
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset * 60;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        parse_rfc3339(text).unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 59, 10_956, 11_016, 20_424, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let c = Civil::of(UNIX_EPOCH + Duration::from_millis(1_795_342_500_999));
        assert_eq!(
            (
                c.year,
                c.month,
                c.day,
                c.hour,
                c.minute,
                c.second,
                c.millisecond
            ),
            (2026, 11, 22, 10, 15, 0, 999)
        );
    }

    #[test]
    fn rfc3339_forms() {
        let base = UNIX_EPOCH + Duration::from_millis(1_761_222_896_789);
        assert_eq!(at("2025-10-23T12:34:56.789Z"), base);
        assert_eq!(at("2025-10-23T12:34:56.789000"), base);
        assert_eq!(at("2025-10-23 14:34:56.789+02:00"), base);
        assert_eq!(at("2025-10-23T10:04:56.789-02:30"), base);
        assert_eq!(
            at("2025-10-23T12:34:56Z"),
            base - Duration::from_millis(789)
        );
        assert_eq!(
            at("1970-01-01T00:00:00.123456789123Z"),
            UNIX_EPOCH + Duration::from_nanos(123_456_789)
        );
        for bad in [
            "",
            "2025-10-23",
            "2025-13-01T00:00:00Z",
            "2025-10-23T24:00:00Z",
            "2025-10-23T12:34:56.Z",
            "2025-10-23T12:34:56+0200",
            "2025-10-23T12:34:56Zjunk",
            "1969-12-31T23:59:59Z",
            "2025/10/23T12:34:56Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn iso_weeks_at_year_edges() {
        for (date, week) in [
            ("2025-10-06T00:00:00Z", (2025, 41)), // a Monday
            ("2025-10-12T23:59:59Z", (2025, 41)), // its Sunday
            ("2025-10-13T00:00:00Z", (2025, 42)),
            ("2021-01-03T12:00:00Z", (2020, 53)), // Sunday, still 2020's last week
            ("2024-12-30T00:00:00Z", (2025, 1)),  // Monday, already 2025's first
            ("2026-01-01T00:00:00Z", (2026, 1)),  // Thursday
            ("2027-01-01T00:00:00Z", (2026, 53)), // Friday
            ("1970-01-01T00:00:00Z", (1970, 1)),
        ] {
            assert_eq!(iso_week(at(date)), week, "{date}");
        }
    }
}
