//! The day arguments of SPEC 6: `YYYY-MM-DD` with a four-digit year, `today`,
//! `yesterday`, `today-N`. Pure: "today" is passed in by the caller.

use chrono::{Datelike, NaiveDate};

/// Parses a day argument relative to `today`.
pub fn parse_day(value: &str, today: NaiveDate) -> Result<NaiveDate, String> {
    let usage = || format!("{value:?}: expected YYYY-MM-DD, today, yesterday or today-N");
    let days_ago = match value {
        "today" => Some(0),
        "yesterday" => Some(1),
        _ => match value.strip_prefix("today-") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                Some(n.parse::<u64>().map_err(|_| usage())?)
            }
            Some(_) => return Err(usage()),
            None => None,
        },
    };
    if let Some(n) = days_ago {
        return today
            .checked_sub_days(chrono::Days::new(n))
            .filter(|d| d.year() >= 1000)
            .ok_or_else(usage);
    }
    let bytes = value.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return Err(usage());
    }
    let day: NaiveDate = value.parse().map_err(|e| format!("{}: {e}", usage()))?;
    if day.year() < 1000 {
        return Err(format!(
            "{value:?}: the year must have four digits (1000 or later)"
        ));
    }
    Ok(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_digit_years_and_relative_days() {
        let today: NaiveDate = "2026-11-25".parse().unwrap();
        let ok = |v: &str| parse_day(v, today).unwrap().to_string();
        assert_eq!(ok("2026-11-23"), "2026-11-23");
        assert_eq!(ok("today"), "2026-11-25");
        assert_eq!(ok("yesterday"), "2026-11-24");
        assert_eq!(ok("today-0"), "2026-11-25");
        assert_eq!(ok("today-30"), "2026-10-26");
        for bad in [
            "26-11-23",
            "0026-11-23",
            "0000-01-01",
            "2026-1-3",
            "2026-02-30",
            "+2026-11-23",
            "today-",
            "today-x",
            "today+1",
            "today--1",
            "tomorrow",
            "",
            "2026-11-23 ",
            "today-99999999999999999999",
        ] {
            assert!(parse_day(bad, today).is_err(), "{bad:?} accepted");
        }
    }
}
