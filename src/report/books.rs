//! Provisional or final, and what was restated (SPEC 12.2), for `report`
//! and `report --html`: each published day's status, and the totals rows of
//! the restatements of the days shown.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use chrono::NaiveDate;

use super::{grid, usd};
use crate::Result;
use crate::config::Output;
use crate::model::RestatementRow;
use crate::output::{BatchExt, read_published};
use crate::restatement::history_rows;
use crate::storage::Store;

/// The books of the days shown.
#[derive(Default)]
pub struct Books {
    /// Each published day: final (invoiced) or provisional.
    pub final_days: BTreeMap<NaiveDate, bool>,
    /// The totals row of every restatement of those days, oldest first.
    pub restated: Vec<(NaiveDate, RestatementRow)>,
}

/// The status of each published day, from its `reconciliation` (which the
/// report has already read), and its restatements, read here.
pub fn read<'a>(
    store: &Store,
    output: &Output,
    reconciliations: impl IntoIterator<Item = (NaiveDate, &'a RecordBatch)>,
) -> Result<Books> {
    let mut books = Books {
        final_days: BTreeMap::new(),
        restated: Vec::new(),
    };
    for (day, recon) in reconciliations {
        if recon.num_rows() == 0 {
            continue;
        }
        books.final_days.insert(day, recon.boolean("cur_final", 0)?);
        if let Some(batch) = read_published(store, output, "restatements", day)? {
            let rows = history_rows(&batch)?;
            books.restated.extend(
                rows.into_iter()
                    .filter(|r| r.flow.is_none())
                    .map(|r| (day, r)),
            );
        }
    }
    Ok(books)
}

/// What provisional and final mean, in a sentence.
pub const MEANING: &str = "provisional: the month is not invoiced yet and AWS may still add or change its charges, so costjob refresh republishes the day when they move; final: every CUR row of the day is invoiced.";

impl Books {
    /// `provisional` or `final` for a day shown.
    pub fn status(&self, day: NaiveDate) -> &'static str {
        match self.final_days.get(&day) {
            Some(true) => "final",
            Some(false) => "provisional",
            None => "not published",
        }
    }

    /// The status line of the days (`3 provisional, 27 final`).
    pub fn summary(&self) -> String {
        let finals = self.final_days.values().filter(|f| **f).count();
        let provisional = self.final_days.len() - finals;
        match (provisional, finals) {
            (0, _) => "final".to_string(),
            (_, 0) => "provisional".to_string(),
            _ => format!("{provisional} days provisional, {finals} final"),
        }
    }

    /// One row per restatement: day, when, why, the CUR and the allocated
    /// cost before and after, and the CUR's change by line item type.
    pub fn rows(&self) -> Vec<Vec<String>> {
        (self.restated.iter())
            .map(|(day, r)| {
                let changes: Vec<String> = (r.cur_change_by_type.iter())
                    .map(|(ty, c)| format!("{ty} {}", signed(*c)))
                    .collect();
                let at = chrono::DateTime::from_timestamp_millis(r.restated_at_ms)
                    .map_or(String::new(), |t| {
                        t.format("%Y-%m-%d %H:%M UTC").to_string()
                    });
                vec![
                    day.to_string(),
                    at,
                    r.reasons.clone(),
                    format!(
                        "{} -> {}",
                        usd(r.previous_cur_total, 2),
                        usd(r.cur_total, 2)
                    ),
                    signed(r.delta),
                    match (r.previous_cur_final, r.cur_final) {
                        (false, true) => "became final".to_string(),
                        (_, true) => "final".to_string(),
                        _ => "provisional".to_string(),
                    },
                    changes.join(", "),
                ]
            })
            .collect()
    }

    pub const HEADER: [&'static str; 7] = [
        "day",
        "restated",
        "why",
        "CUR before -> after",
        "allocated change",
        "status",
        "CUR change by line item type",
    ];

    /// The terminal text: the status, then the restatements, if any.
    pub fn text(&self) -> String {
        let mut out = format!("\nStatus: {}\n  ({MEANING})\n", self.summary());
        if !self.restated.is_empty() {
            out.push_str("\nRestatements (why: the inputs that changed)\n\n");
            out.push_str(&grid(&Self::HEADER, &self.rows(), 3));
        }
        out
    }
}

/// `+$0.50`, `-$1.25`: a change, signed.
fn signed(value: i128) -> String {
    if value >= 0 {
        format!("+{}", usd(value, 2))
    } else {
        usd(value, 2)
    }
}
