//! `costjob refresh` (SPEC 12.2): the open books brought up to date. The
//! window runs from the first day of the oldest billing period that is not
//! final (looking back at most `[refresh] lookback_days`) through
//! yesterday; its CUR is read once; each day is run when it was never
//! published or when what produced it changed (its fingerprints), skipped
//! when nothing did, and `waiting` while its inputs are late but within the
//! grace days. Days are independent: one failing does not stop the others.

use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate};
use tracing::{info, warn};

use crate::config::RunPlan;
use crate::fingerprint;
use crate::model::CurDay;
use crate::model::money::{Money, format_usd_rounded};
use crate::restatement::{self, PublishedState};
use crate::run::{self, DayOutcome};
use crate::source::cur::CurScan;
use crate::storage::Store;
use crate::{Error, Progress, Result};

/// What `refresh` was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    /// Today in the calendar's zone (the window ends yesterday).
    pub today: NaiveDate,
    /// `--from`/`--to`: these days, whatever is final.
    pub days: Option<(NaiveDate, NaiveDate)>,
    /// Print what would be done, and why; publish nothing.
    pub dry_run: bool,
    /// Now, in microseconds since the epoch (for the grace days).
    pub now_micros: i64,
}

/// What happened to one day, or would have (`--dry-run`).
#[derive(Debug)]
pub enum Verdict {
    /// Published already, and nothing that produced it changed.
    Unchanged,
    /// Run (or to be run): never published, or these inputs changed.
    Publish {
        reasons: Vec<&'static str>,
        /// The change of the day's CUR total against the published one.
        cur_change: Option<Money>,
    },
    /// Its CUR has no row yet, or its logs no transaction, and it ended
    /// less than the grace days ago.
    Waiting(String),
    /// Not run: `max_days` days were run already.
    Deferred,
    Failed(Error),
}

/// One day of the window and its verdict (with the run's outcome when it ran).
#[derive(Debug)]
pub struct DayReport {
    pub date: NaiveDate,
    pub verdict: Verdict,
    pub outcome: Option<DayOutcome>,
}

impl DayReport {
    /// The day's line: `2026-11-20: published: cur changed (+12.34 USD)`.
    pub fn line(&self, dry_run: bool) -> String {
        let date = self.date;
        let published = if dry_run {
            "would publish"
        } else {
            "published"
        };
        match &self.verdict {
            Verdict::Unchanged => format!("{date}: skipped: unchanged"),
            Verdict::Publish { reasons, .. } if reasons.is_empty() => {
                format!("{date}: {published}: new")
            }
            Verdict::Publish {
                reasons,
                cur_change,
            } => {
                let change = cur_change.map_or(String::new(), |c| {
                    let sign = if c >= 0 { "+" } else { "" };
                    format!(" ({sign}{} USD)", format_usd_rounded(c, 2))
                });
                format!(
                    "{date}: {published}: {} changed{change}",
                    reasons.join(", ")
                )
            }
            Verdict::Waiting(why) => format!("{date}: waiting: {why}"),
            Verdict::Deferred => format!("{date}: deferred: [refresh] max_days reached"),
            Verdict::Failed(e) => format!("{date}: failed: {e}"),
        }
    }
}

/// The whole refresh: each day of the window, oldest first.
#[derive(Debug)]
pub struct Report {
    pub window: Option<RangeInclusive<NaiveDate>>,
    pub days: Vec<DayReport>,
    pub cur_scan: CurScan,
}

impl Report {
    /// `refresh 2026-11-01..2026-12-06: 3 published, 30 unchanged, 1 waiting, 0 failed`.
    pub fn summary(&self, dry_run: bool) -> String {
        let count =
            |f: &dyn Fn(&Verdict) -> bool| self.days.iter().filter(|d| f(&d.verdict)).count();
        let window = self
            .window
            .as_ref()
            .map_or("nothing open".to_string(), |w| {
                format!("{}..{}", w.start(), w.end())
            });
        format!(
            "refresh {window}: {} {}, {} unchanged, {} waiting, {} deferred, {} failed",
            count(&|v| matches!(v, Verdict::Publish { .. })),
            if dry_run { "to publish" } else { "published" },
            count(&|v| matches!(v, Verdict::Unchanged)),
            count(&|v| matches!(v, Verdict::Waiting(_))),
            count(&|v| matches!(v, Verdict::Deferred)),
            count(&|v| matches!(v, Verdict::Failed(_))),
        )
    }

    /// The worst failed day's error, as the run's: `Error::Days` with its exit code.
    pub fn result(&self) -> Result<()> {
        let failed: Vec<&Error> = (self.days.iter())
            .filter_map(|d| match &d.verdict {
                Verdict::Failed(e) => Some(e),
                _ => None,
            })
            .collect();
        match failed.iter().map(|e| e.exit_code()).max() {
            None => Ok(()),
            Some(code) => Err(Error::Days {
                failed: failed.len(),
                days: self.days.len(),
                code,
            }),
        }
    }
}

/// Runs `refresh`; `on_day` is told of each day as it is decided (and run).
pub fn refresh(
    plan: &RunPlan,
    store: &Store,
    request: &Request,
    progress: &dyn Progress,
    on_day: &mut dyn FnMut(&DayReport),
) -> Result<Report> {
    let yesterday = request.today.pred_opt().unwrap_or(NaiveDate::MIN);
    let range = match request.days {
        Some((from, to)) => from..=to,
        None => {
            let lookback = u64::from(plan.refresh.lookback_days);
            (request.today - chrono::Days::new(lookback))..=yesterday
        }
    };
    if range.start() > range.end() {
        return Err(Error::config(format!(
            "--from {} is after --to {}",
            range.start(),
            range.end()
        )));
    }
    // The CUR of every day that may be open, read once.
    let read_id = run::new_run_id();
    let (cur_days, cur_scan) = read_cur(plan, store, &range, &read_id)?;
    let notes = run::basis_notes(plan, &cur_scan);
    let dates: Vec<NaiveDate> = crate::calendar::each_day(&range).collect();
    let mut published = Vec::with_capacity(dates.len());
    for &date in &dates {
        published.push(restatement::published_state(store, &plan.output, date)?);
    }
    let first = match request.days {
        Some(_) => Some(0),
        None => first_open_day(&dates, &cur_days, &published),
    };
    let mut report = Report {
        window: first.map(|i| dates[i]..=*range.end()),
        days: Vec::new(),
        cur_scan,
    };
    let Some(first) = first else {
        return Ok(report);
    };
    let mut ran = 0u32;
    for (i, (&date, day)) in dates.iter().zip(cur_days).enumerate().skip(first) {
        let mut verdict = decide(plan, store, request, date, &day, published[i].as_ref());
        let mut outcome = None;
        if matches!(verdict, Verdict::Publish { .. }) {
            if ran >= plan.refresh.max_days {
                verdict = Verdict::Deferred;
            } else if !request.dry_run {
                ran += 1;
                let cur = run::CurRead {
                    day,
                    query: None,
                    notes: notes.clone(),
                };
                match run_one(plan, store, request, date, cur, progress) {
                    Ok(o) => outcome = Some(o),
                    Err(v) => verdict = v,
                }
            }
        }
        let day_report = DayReport {
            date,
            verdict,
            outcome,
        };
        on_day(&day_report);
        report.days.push(day_report);
    }
    Ok(report)
}

/// The window's CUR, one `CurDay` a day, through the configured engine.
fn read_cur(
    plan: &RunPlan,
    store: &Store,
    range: &RangeInclusive<NaiveDate>,
    run_id: &str,
) -> Result<(Vec<CurDay>, CurScan)> {
    let (engine, rules) = run::cur_reading(plan);
    let clock = std::time::Instant::now();
    let (days, scan) = engine.read_days(store, range, run_id, &rules)?;
    info!(
        stage = "cur", from = %range.start(), to = %range.end(), files = scan.files,
        rows_scanned = scan.rows_scanned, query_id = scan.query.as_ref().map(|q| q.query_id.as_str()),
        bytes_scanned = scan.query.as_ref().map(|q| q.bytes_scanned),
        seconds = clock.elapsed().as_secs_f64(), "read the CUR of the refresh window"
    );
    Ok((days, scan))
}

/// The index of the first day of the oldest billing period (month) that is
/// not final: a day of it has a row not invoiced yet, or a row of it was
/// never published final. Yesterday's month is always open. `None`: no
/// day of the range is open.
fn first_open_day(
    dates: &[NaiveDate],
    cur_days: &[CurDay],
    published: &[Option<PublishedState>],
) -> Option<usize> {
    let month = |d: &NaiveDate| (d.year(), d.month());
    let last_month = dates.last().map(month);
    let open = |i: usize| {
        let day = &cur_days[i];
        let final_published = published[i]
            .as_ref()
            .is_some_and(|p| p.fingerprints.cur_final);
        Some(month(&dates[i])) == last_month
            || day.rows_without_invoice > 0
            || (day.rows > 0 && !final_published)
    };
    let oldest = (0..dates.len()).find(|&i| open(i))?;
    let start = month(&dates[oldest]);
    dates.iter().position(|d| month(d) == start)
}

/// Whether `date` must be run, from its CUR, its log listing and its
/// published fingerprints.
fn decide(
    plan: &RunPlan,
    store: &Store,
    request: &Request,
    date: NaiveDate,
    day: &CurDay,
    published: Option<&PublishedState>,
) -> Verdict {
    if day.rows == 0 && !plan.allow_empty {
        let why = format!("no CUR row for {date} yet");
        return if in_grace(plan, request, date) {
            Verdict::Waiting(why)
        } else {
            Verdict::Failed(Error::NotYet {
                path: run::cur_name(plan).into(),
                message: format!(
                    "{why}, more than [refresh] grace_days ({}) after it ended",
                    plan.refresh.grace_days
                ),
            })
        };
    }
    let listing = match list_logs(plan, store, date) {
        Ok(l) => l,
        Err(e) => return Verdict::Failed(e),
    };
    let now = fingerprint::of_run(
        plan,
        fingerprint::cur(day, &plan.pricing),
        &listing,
        day.is_final(),
    );
    match published {
        None => Verdict::Publish {
            reasons: Vec::new(),
            cur_change: None,
        },
        Some(before) => {
            let reasons = now.reasons(&before.fingerprints);
            if reasons.is_empty() {
                Verdict::Unchanged
            } else {
                Verdict::Publish {
                    reasons,
                    cur_change: Some(day.total - before.cur_total),
                }
            }
        }
    }
}

/// The fingerprint of the day's log objects, listed as the run will list them.
fn list_logs(plan: &RunPlan, store: &Store, date: NaiveDate) -> Result<String> {
    let listing = store.list_all(&run::log_sources(plan, date))?;
    Ok(fingerprint::logs(&listing.objects))
}

/// Runs one day with its part of the window's CUR; a day whose logs hold
/// no transaction yet is `waiting` within the grace days.
fn run_one(
    plan: &RunPlan,
    store: &Store,
    request: &Request,
    date: NaiveDate,
    cur: run::CurRead,
    progress: &dyn Progress,
) -> std::result::Result<DayOutcome, Verdict> {
    let run_id = run::new_run_id();
    match run::run_day_with(plan, store, date, &run_id, progress, Some(cur)) {
        Ok(outcome) => Ok(outcome),
        Err(Error::NotYet { message, .. }) if in_grace(plan, request, date) => {
            Err(Verdict::Waiting(message))
        }
        Err(e) => {
            warn!(stage = "refresh", %date, error = %e, "the day failed; the others still run");
            Err(Verdict::Failed(e))
        }
    }
}

/// Whether `date` ended less than `[refresh] grace_days` ago.
fn in_grace(plan: &RunPlan, request: &Request, date: NaiveDate) -> bool {
    let ended = plan.calendar.window(date).end;
    let grace = i64::from(plan.refresh.grace_days) * 86_400 * 1_000_000;
    request.now_micros < ended + grace
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fingerprints;

    fn state(cur_final: bool) -> Option<PublishedState> {
        Some(PublishedState {
            run_id: "r".into(),
            fingerprints: Fingerprints {
                cur_final,
                ..Default::default()
            },
            cur_total: 0,
        })
    }

    fn cur(rows: u64, without_invoice: u64) -> CurDay {
        CurDay {
            rows,
            rows_without_invoice: without_invoice,
            ..Default::default()
        }
    }

    /// October invoiced and published final, November open: the window
    /// starts on November 1st; October published provisional, or one of its
    /// rows not invoiced: on the range's first day of October.
    #[test]
    fn the_window_starts_at_the_oldest_billing_period_not_final() {
        let dates: Vec<NaiveDate> = ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]
            .iter()
            .map(|d| d.parse().unwrap())
            .collect();
        let invoiced = || vec![cur(5, 0), cur(5, 0), cur(5, 5), cur(5, 5)];
        let published = vec![state(true), state(true), state(false), None];
        assert_eq!(first_open_day(&dates, &invoiced(), &published), Some(2));
        let provisional = vec![state(true), state(false), state(false), None];
        assert_eq!(first_open_day(&dates, &invoiced(), &provisional), Some(0));
        let never = vec![state(true), None, None, None];
        assert_eq!(first_open_day(&dates, &invoiced(), &never), Some(0));
        let mut late = invoiced();
        late[0].rows_without_invoice = 1; // a late, uninvoiced row in October
        assert_eq!(first_open_day(&dates, &late, &published), Some(0));
        // A month with no row and nothing published is no billing period.
        let empty_october = vec![cur(0, 0), cur(0, 0), cur(5, 5), cur(5, 5)];
        let none = vec![None, None, None, None];
        assert_eq!(first_open_day(&dates, &empty_october, &none), Some(2));
        // Yesterday's month is open even when it has no row yet.
        let nothing = vec![cur(0, 0); 4];
        assert_eq!(first_open_day(&dates, &nothing, &none), Some(2));
    }
}
