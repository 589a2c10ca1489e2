//! Timestamps as AWS and loggers write them, to epoch microseconds: the
//! common `YYYY-MM-DDTHH:MM:SS[.f]Z` read by position, any ISO-8601 form the
//! general way. Shared by the CUR reader (usage dates as text) and the log
//! reader (export lines, `timestamp` fields).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// ISO-8601 text as epoch microseconds, UTC when no offset is given:
/// `2019-11-29T21:00:00Z`, `2019-11-29 21:00:00`, `2019-11-29T21:00:00.000+00:00`, `2019-11-29`.
pub fn parse_iso8601_micros(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(micros) = parse_utc_micros(text.as_bytes()) {
        return Some(micros);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc).timestamp_micros());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.fZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_micros());
        }
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc).timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .map(|d| day_bounds(d).0)
}

/// `YYYY-MM-DDTHH:MM:SS[.f]Z` (what CloudWatch exports and most loggers
/// write) as epoch microseconds, read by position; `None` for any other text,
/// which [`parse_iso8601_micros`] reads the general way. A leap second (`:60`)
/// is left to it too.
pub fn parse_utc_micros(text: &[u8]) -> Option<i64> {
    let (head, rest) = text.split_first_chunk::<19>()?;
    let (b'Z', fraction) = rest.split_last()? else {
        return None;
    };
    // Each byte less '0' (a digit is then below 10), in one pass with its
    // check: a digit where the form has '0', else the form's own byte.
    const FORM: &[u8; 19] = b"0000-00-00T00:00:00";
    let mut values = [0u8; 19];
    let mut wrong = false;
    for ((value, &byte), &form) in values.iter_mut().zip(head).zip(FORM) {
        *value = byte.wrapping_sub(b'0');
        wrong |= if form == b'0' {
            *value > 9
        } else {
            byte != form
        };
    }
    if wrong {
        return None;
    }
    let pair = |at: usize| u32::from(values[at]) * 10 + u32::from(values[at + 1]);
    let micros = match fraction {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let (kept, dropped) = digits.split_at(digits.len().min(6));
            decimal(dropped)?; // digits past the microsecond: checked, then dropped
            decimal(kept)? * 10u32.pow(6 - kept.len() as u32)
        }
        _ => return None,
    };
    let (year, month, day) = ((pair(0) * 100 + pair(2)) as i64, pair(5), pair(8));
    let (hour, minute, second) = (pair(11), pair(14), pair(17));
    // The calendar and the clock checked as chrono checks them (a second of
    // 60 is left to it), the time counted as it counts it.
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let seconds =
        days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3_600 + minute * 60 + second);
    Some(seconds * 1_000_000 + i64::from(micros))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (a
/// valid one): years counted from March, in eras of 400 years.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = i64::from((153 * ((month + 9) % 12) + 2) / 5 + day - 1);
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// ASCII digits (at most 9) as their number; `None` if any byte is not a digit.
fn decimal(digits: &[u8]) -> Option<u32> {
    let mut number = 0u32;
    let mut other = false;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        other |= digit > 9;
        number = number.wrapping_mul(10).wrapping_add(u32::from(digit));
    }
    (!other).then_some(number)
}

/// `[D 00:00, D+1 00:00)` in epoch microseconds, UTC.
pub fn day_bounds(date: NaiveDate) -> (i64, i64) {
    let start = date
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros();
    (start, start + 86_400_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Leap days of centuries and of plain years, month ends, the epoch and
    /// before it: as chrono reads them.
    #[test]
    fn positional_utc_times_at_calendar_edges() {
        for text in [
            "1900-02-29T00:00:00Z",
            "2000-02-29T12:00:00.5Z",
            "2100-02-29T00:00:00Z",
            "2400-02-29T00:00:00Z",
            "2024-02-29T23:59:59.999999Z",
            "2023-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-12-31T23:59:59.123Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.000001Z",
            "0000-03-01T00:00:00Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(text).ok();
            assert_eq!(
                parse_utc_micros(text.as_bytes()),
                chrono.map(|t| t.timestamp_micros()),
                "{text}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_096))]

        /// The positional read agrees with chrono's RFC 3339 parser on every
        /// text it reads, and reads the usual ones: dates past a month's end,
        /// Februaries of leap and common years (centuries too), hours past 23, leap seconds,
        /// fractions of 0 to 10 digits, and bytes out of place.
        #[test]
        fn positional_utc_times_are_chronos(
            year in prop_oneof![1600u32..2500, 0u32..10_000],
            month in 0u32..14,
            day in 0u32..33,
            hour in 0u32..26,
            minute in 0u32..61,
            second in 0u32..62,
            fraction in "(\\.[0-9]{0,10})?",
            swap in proptest::option::of((0usize..30, proptest::char::range(' ', '~'))),
        ) {
            let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z");
            if let Some((at, c)) = swap && at < text.len() {
                text.replace_range(at..at + 1, &c.to_string());
            }
            let chrono = DateTime::parse_from_rfc3339(&text).ok().map(|t| t.timestamp_micros());
            let positional = parse_utc_micros(text.as_bytes());
            if let Some(micros) = positional {
                prop_assert_eq!(Some(micros), chrono, "{}", text);
            }
            let usual = swap.is_none() && second < 60 && fraction.len() != 1 && fraction.len() <= 10;
            if usual && chrono.is_some() {
                prop_assert!(positional.is_some(), "{} not read", text);
            }
        }
    }

    #[test]
    fn iso_dates_in_every_form_aws_writes() {
        let t = 1_575_061_200_000_000; // 2019-11-29T21:00:00Z
        for s in [
            "2019-11-29T21:00:00Z",
            "2019-11-29 21:00:00",
            "2019-11-29T21:00:00.000Z",
            "2019-11-29T22:00:00+01:00",
            "2019-11-29T21:00:00",
        ] {
            assert_eq!(parse_iso8601_micros(s), Some(t), "{s}");
        }
        assert_eq!(
            parse_iso8601_micros("2019-11-29"),
            Some(t - 21 * 3_600_000_000)
        );
        assert_eq!(parse_iso8601_micros("00:00.0"), None);
    }
}
