//! Dates on the wire: HTTP's IMF-fixdate (RFC 9110 §5.6.7), used by `Date`,
//! `Last-Modified` and `If-Modified-Since`, and RFC 3339 timestamps, used
//! by the chat's JSON.
//!
//! ```text
//! IMF-fixdate:  Sun, 06 Nov 1994 08:49:37 GMT
//! RFC 3339:     1994-11-06T08:49:37.000Z
//! ```
//!
//! Both are UTC, so converting needs only the proleptic Gregorian calendar:
//! days since 1970-01-01 to a year, month and day, and back. No time zones.
//!
//! Left out on purpose: the two obsolete HTTP date formats (RFC 850 and
//! asctime). A recipient should accept them (§5.6.7), but no client of this
//! kit sends them; an unparsable `If-Modified-Since` is simply ignored, as
//! §13.1.3 says.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY_NAMES: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const SECONDS_PER_DAY: u64 = 86_400;

/// A UTC date and time of day, split into its calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: u64,
    month: u64, // 1..=12
    day: u64,   // 1..=31
    hour: u64,
    minute: u64,
    second: u64,
}

impl Civil {
    /// Splits seconds since the Unix epoch (times before 1970 are clamped to it).
    fn from_unix(seconds: u64) -> Civil {
        let (days, rest) = (seconds / SECONDS_PER_DAY, seconds % SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rest / 3600,
            minute: rest % 3600 / 60,
            second: rest % 60,
        }
    }

    fn to_unix(self) -> u64 {
        days_from_civil(self.year, self.month, self.day) * SECONDS_PER_DAY
            + self.hour * 3600
            + self.minute * 60
            + self.second
    }
}

/// Year, month, day of the `days`-th day after 1970-01-01. Works in 400-year
/// eras (146,097 days each), in which the Gregorian calendar repeats; years
/// are counted from March so that the leap day falls at a year's end.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let days = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = days / 146_097;
    let day_of_era = days % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days from 1970-01-01 to the given date: the inverse of [`civil_from_days`].
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).saturating_sub(719_468)
}

fn unix_seconds(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Formats a time as an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn format_http_date(time: SystemTime) -> String {
    let seconds = unix_seconds(time).as_secs();
    let civil = Civil::from_unix(seconds);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAY_NAMES[(seconds / SECONDS_PER_DAY % 7) as usize],
        civil.day,
        MONTH_NAMES[(civil.month - 1) as usize],
        civil.year,
        civil.hour,
        civil.minute,
        civil.second
    )
}

/// Appends the IMF-fixdate for `now` to `out`, formatting it at most once
/// per second per thread: a busy server answers thousands of requests
/// within one second, and they all carry the same `Date`.
pub fn append_http_date(out: &mut Vec<u8>, now: SystemTime) {
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let second = unix_seconds(now).as_secs();
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != second {
            *cache = (second, format_http_date(now));
        }
        out.extend_from_slice(cache.1.as_bytes());
    });
}

/// Parses an IMF-fixdate; `None` for anything else.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = text.get(5..)?;
    if !DAY_NAMES.contains(&text.get(..3)?) || text.get(3..5)? != ", " {
        return None;
    }
    let mut parts = rest.split(' ');
    let day = parse_digits(parts.next()?, 2)?;
    let month_name = parts.next()?;
    let month = MONTH_NAMES.iter().position(|&name| name == month_name)? as u64 + 1;
    let year = parse_digits(parts.next()?, 4)?;
    let mut clock = parts.next()?.split(':');
    let hour = parse_digits(clock.next()?, 2)?;
    let minute = parse_digits(clock.next()?, 2)?;
    let second = parse_digits(clock.next()?, 2)?;
    if parts.next()? != "GMT" || parts.next().is_some() || clock.next().is_some() {
        return None;
    }
    let valid = (1..=31).contains(&day) && year >= 1970 && hour < 24 && minute < 60 && second < 61;
    if !valid {
        return None;
    }
    let civil = Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
    };
    Some(UNIX_EPOCH + Duration::from_secs(civil.to_unix()))
}

fn parse_digits(text: &str, width: usize) -> Option<u64> {
    if text.len() != width || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Formats a time as RFC 3339 in UTC with milliseconds:
/// `2026-11-25T12:00:00.123Z`.
pub fn format_rfc3339(time: SystemTime) -> String {
    let since_epoch = unix_seconds(time);
    let civil = Civil::from_unix(since_epoch.as_secs());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        civil.year,
        civil.month,
        civil.day,
        civil.hour,
        civil.minute,
        civil.second,
        since_epoch.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn known_dates_format_and_parse_back() {
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"), // RFC 9110's example
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_795_608_000, "Wed, 25 Nov 2026 12:00:00 GMT"),
            (4_133_980_799, "Fri, 31 Dec 2100 23:59:59 GMT"),
        ];
        for (seconds, text) in cases {
            assert_eq!(format_http_date(at(seconds)), text, "formatting {seconds}");
            assert_eq!(parse_http_date(text), Some(at(seconds)), "parsing {text}");
        }
    }

    #[test]
    fn every_day_for_three_centuries_round_trips() {
        for days in 0..(300 * 366) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(
                days_from_civil(year, month, day),
                days,
                "{year}-{month}-{day}"
            );
        }
    }

    #[test]
    fn malformed_dates_are_refused() {
        for text in [
            "",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
        ] {
            assert_eq!(parse_http_date(text), None, "{text:?} should not parse");
        }
    }

    #[test]
    fn rfc3339_has_milliseconds_and_z() {
        let time = at(1_795_608_000) + Duration::from_millis(123);
        assert_eq!(format_rfc3339(time), "2026-11-25T12:00:00.123Z");
    }
}
