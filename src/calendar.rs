//! Days and usage periods (SPEC 12.1): the calendar of `[calendar]
//! timezone`, a CUR row's usage period, and its cost apportioned exactly over
//! the calendar days the period overlaps, by the largest-remainder rule of
//! the split (ties to the earlier day).
//!
//! Times are microseconds since the epoch (UTC), as the CUR reader decodes
//! them; a day is the half-open window `[start, end)` between its local
//! midnight and the next day's.

use std::ops::{Range, RangeInclusive};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use crate::model::money::Money;

const SECOND: i64 = 1_000_000;
const HOUR: i64 = 3_600 * SECOND;

/// The days of an IANA time zone (deuna's: `America/Guayaquil`; default UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    tz: Tz,
}

impl Default for Calendar {
    fn default() -> Self {
        Self { tz: Tz::UTC }
    }
}

impl Calendar {
    /// The calendar of an IANA zone name (`America/Guayaquil`, `UTC`).
    pub fn parse(name: &str) -> Option<Self> {
        name.parse::<Tz>().ok().map(|tz| Self { tz })
    }

    /// The zone's IANA name.
    pub fn name(&self) -> &'static str {
        self.tz.name()
    }

    /// The window of `date`: its local midnight and the next day's (a
    /// midnight that a clock change skips is the first local time after it).
    pub fn window(&self, date: NaiveDate) -> Range<i64> {
        self.midnight(date)..self.midnight(date.succ_opt().unwrap_or(NaiveDate::MAX))
    }

    fn midnight(&self, date: NaiveDate) -> i64 {
        let mut local = date.and_hms_opt(0, 0, 0).expect("midnight");
        // A gap is at most a few hours: the first quarter-hour after it.
        for _ in 0..24 {
            if let Some(t) = self.tz.from_local_datetime(&local).earliest() {
                return t.timestamp_micros();
            }
            local += chrono::Duration::minutes(15);
        }
        local.and_utc().timestamp_micros()
    }

    /// The local day a time falls on.
    pub fn date_of(&self, micros: i64) -> NaiveDate {
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|t| self.tz.from_utc_datetime(&t.naive_utc()).date_naive())
            .unwrap_or(NaiveDate::MIN)
    }

    /// The UTC dates the window of `date` overlaps, in order (one in UTC, two
    /// in any other zone): the dated prefixes its log objects are under.
    pub fn utc_dates(&self, date: NaiveDate) -> Vec<NaiveDate> {
        let window = self.window(date);
        let utc = Calendar::default();
        let (first, last) = (utc.date_of(window.start), utc.date_of(window.end - 1));
        each_day(&(first..=last)).collect()
    }
}

/// Each date of `days`, in order.
pub fn each_day(days: &RangeInclusive<NaiveDate>) -> impl Iterator<Item = NaiveDate> + '_ {
    days.start()
        .iter_days()
        .take_while(move |d| d <= days.end())
}

/// A row's usage period, `[start, end)`: an end one second before a whole
/// hour is that hour (AWS ends month-long rows at `23:59:59`); without an
/// end, or with one not after the start, the period is the instant of its
/// start (`start..start`).
pub fn usage_period(start: i64, end: Option<i64>) -> Range<i64> {
    match end {
        Some(end) if end > start => {
            let end = if (end + SECOND).rem_euclid(HOUR) == 0 {
                end + SECOND
            } else {
                end
            };
            start..end
        }
        _ => start..start,
    }
}

/// Whether a period (from [`usage_period`]) has a share on `day`: it
/// overlaps it, or it is an instant inside it.
pub fn touches(period: &Range<i64>, day: &Range<i64>) -> bool {
    if period.is_empty() {
        day.contains(&period.start)
    } else {
        period.start < day.end && day.start < period.end
    }
}

/// The share of `cost` on the day of `window` (its window in `calendar`,
/// which `touches` the period) of a row over `period`: `floor(|C| s_d / S)` for each day it overlaps (`s_d` its
/// overlap, `S` the period's length), plus one unit of 1e-10 USD for each of
/// the `|C| - sum` days with the largest remainders (ties: the earlier day),
/// the sign last. The shares of all the period's days sum to `cost`.
pub fn share_on(
    cost: Money,
    period: &Range<i64>,
    window: &Range<i64>,
    calendar: &Calendar,
) -> Money {
    if period.is_empty() || (window.start <= period.start && period.end <= window.end) {
        return cost; // an instant, or a period inside the day: all of it
    }
    let day = calendar.date_of(window.start);
    let total = (period.end - period.start) as u128;
    let magnitude = cost.unsigned_abs();
    // Every day the period overlaps, in order: (floor, remainder).
    let first = calendar.date_of(period.start);
    let mut days: Vec<(u128, u128)> = Vec::new();
    let mut at = None;
    for (k, date) in first.iter_days().enumerate() {
        let w = calendar.window(date);
        if w.start >= period.end {
            break;
        }
        let overlap = (period.end.min(w.end) - period.start.max(w.start)).max(0) as u128;
        // |C| < 2^64 (DECIMAL(18,10)) and overlap <= S < 2^63: fits u128.
        let product = magnitude * overlap;
        days.push((product / total, product % total));
        if date == day {
            at = Some(k);
        }
    }
    let Some(at) = at else {
        return 0; // not a day of the period
    };
    let handed: u128 = days.iter().map(|&(floor, _)| floor).sum();
    let leftover = (magnitude - handed) as usize; // < the days
    // The day gets an extra unit when fewer than `leftover` days come before
    // it in (remainder descending, day ascending) order.
    let (floor, remainder) = days[at];
    let before = (days.iter().enumerate())
        .filter(|&(k, &(_, r))| r > remainder || (r == remainder && k < at))
        .count();
    let share = (floor + u128::from(before < leftover)) as Money;
    if cost < 0 { -share } else { share }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTC: Calendar = Calendar { tz: Tz::UTC };

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_micros()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_month_long_row_ends_on_the_hour() {
        let p = usage_period(at("2018-11-01T00:00:00Z"), Some(at("2018-11-30T23:59:59Z")));
        assert_eq!(p, at("2018-11-01T00:00:00Z")..at("2018-12-01T00:00:00Z"));
        // Not one second before an hour: kept as written.
        let q = usage_period(at("2018-11-01T00:00:00Z"), Some(at("2018-11-01T00:30:00Z")));
        assert_eq!(q.end, at("2018-11-01T00:30:00Z"));
        // No end, or an end not after the start: the instant of the start.
        assert!(usage_period(5, None).is_empty());
        assert!(usage_period(5, Some(5)).is_empty());
        assert!(usage_period(5, Some(2)).is_empty());
    }

    #[test]
    fn shares_of_every_day_sum_to_the_row_with_leftovers_to_the_largest_remainders() {
        let mut rng = crate::test_rng::XorShift(17);
        let month = usage_period(at("2018-11-01T00:00:00Z"), Some(at("2018-11-30T23:59:59Z")));
        let bought = usage_period(at("2018-11-07T13:20:00Z"), Some(at("2018-11-30T23:59:59Z")));
        let daily = usage_period(at("2018-11-07T05:00:00Z"), Some(at("2018-11-08T05:00:00Z")));
        for period in [month, bought, daily] {
            for _ in 0..200 {
                let cost = (rng.next() >> (rng.next() % 64)) as Money
                    * if rng.next().is_multiple_of(2) { 1 } else { -1 };
                let days: Vec<NaiveDate> = date("2018-10-30").iter_days().take(35).collect();
                let shares: Vec<Money> = days
                    .iter()
                    .map(|&d| share_on(cost, &period, &UTC.window(d), &UTC))
                    .collect();
                let touched: Vec<Money> = (days.iter().zip(&shares))
                    .filter(|(d, _)| touches(&period, &UTC.window(**d)))
                    .map(|(_, &s)| s)
                    .collect();
                assert_eq!(touched.iter().sum::<Money>(), cost, "{period:?} {cost}");
                // Each share is within one unit of the exact proportion.
                let total = (period.end - period.start) as f64;
                for (d, &s) in days.iter().zip(&shares) {
                    let w = UTC.window(*d);
                    let overlap = (period.end.min(w.end) - period.start.max(w.start)).max(0);
                    let exact = cost as f64 * overlap as f64 / total;
                    assert!(
                        (s as f64 - exact).abs() <= 1.0 + exact.abs() * 1e-12,
                        "{d} {s} {exact}"
                    );
                }
            }
        }
    }

    #[test]
    fn ties_go_to_the_earlier_day() {
        // A 30-day month, 31 units: one unit over, every remainder equal.
        let month = usage_period(at("2018-11-01T00:00:00Z"), Some(at("2018-11-30T23:59:59Z")));
        assert_eq!(
            share_on(31, &month, &UTC.window(date("2018-11-01")), &UTC),
            2
        );
        assert_eq!(
            share_on(31, &month, &UTC.window(date("2018-11-02")), &UTC),
            1
        );
        assert_eq!(
            share_on(-31, &month, &UTC.window(date("2018-11-01")), &UTC),
            -2
        );
        assert_eq!(
            share_on(29, &month, &UTC.window(date("2018-11-30")), &UTC),
            0
        );
        assert_eq!(
            share_on(29, &month, &UTC.window(date("2018-11-29")), &UTC),
            1
        );
    }

    #[test]
    fn instants_and_rows_inside_a_day_keep_their_cost() {
        let hour = usage_period(at("2018-11-15T10:00:00Z"), Some(at("2018-11-15T11:00:00Z")));
        assert_eq!(
            share_on(123, &hour, &UTC.window(date("2018-11-15")), &UTC),
            123
        );
        assert!(!touches(&hour, &UTC.window(date("2018-11-16"))));
        let instant = usage_period(at("2018-11-15T23:59:59Z"), None);
        assert!(touches(&instant, &UTC.window(date("2018-11-15"))));
        assert!(!touches(&instant, &UTC.window(date("2018-11-16"))));
        assert_eq!(
            share_on(7, &instant, &UTC.window(date("2018-11-15")), &UTC),
            7
        );
    }

    #[test]
    fn a_local_day_is_its_zones_midnight_to_midnight() {
        let quito = Calendar::parse("America/Guayaquil").unwrap();
        let day = quito.window(date("2026-11-23"));
        assert_eq!(day, at("2026-11-23T05:00:00Z")..at("2026-11-24T05:00:00Z"));
        // A payment at 20:00 in Quito is on the 23rd there, the 24th in UTC.
        let payment = at("2026-11-24T01:00:00Z");
        assert_eq!(quito.date_of(payment), date("2026-11-23"));
        assert_eq!(UTC.date_of(payment), date("2026-11-24"));
        assert_eq!(
            quito.utc_dates(date("2026-11-23")),
            [date("2026-11-23"), date("2026-11-24")]
        );
        assert_eq!(UTC.utc_dates(date("2026-11-23")), [date("2026-11-23")]);
        // A daily CUR row (UTC midnight to midnight) splits 5/24 : 19/24
        // between the two local days it overlaps.
        let daily = usage_period(at("2026-11-23T00:00:00Z"), Some(at("2026-11-24T00:00:00Z")));
        assert_eq!(
            share_on(24, &daily, &quito.window(date("2026-11-22")), &quito),
            5
        );
        assert_eq!(
            share_on(24, &daily, &quito.window(date("2026-11-23")), &quito),
            19
        );
        // A day with a clock change is 23 or 25 hours long.
        let berlin = Calendar::parse("Europe/Berlin").unwrap();
        let spring = berlin.window(date("2026-03-29"));
        assert_eq!(spring.end - spring.start, 23 * HOUR);
        assert!(Calendar::parse("Mars/Olympus").is_none());
    }
}
