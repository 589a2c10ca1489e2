//! CloudWatch Embedded Metric Format (SPEC 11): what a finished day reports as
//! metrics, in namespace `costjob`. Pure: `main.rs` prints the documents, one
//! JSON line each, at the end of the run.
//!
//! An EMF document carries one value per metric for one set of dimension
//! values, so a day is one document per flow (dimensions `Flow`,
//! `TransactionType`: `Transactions`, `CostUSD`, `UnitCostUSD`) and one for the
//! day (no dimensions: `CurTotalUSD`, `UnallocatedShare`, the log counters),
//! all at the usage day's timestamp (SPEC 12.2: a backfill or a restatement
//! writes the day it is about, not "now", into the anomaly band the alarms
//! read); and one for the run (`DurationSeconds`) at the run's time. A day
//! older than CloudWatch accepts ([`MAX_AGE`]) has no day documents.

use serde_json::{Map, Value, json};

use crate::model::money::{self, Money};
use crate::run::DayOutcome;

/// The metric namespace.
pub const NAMESPACE: &str = "costjob";

/// USD as a CloudWatch value (a double; CloudWatch keeps about 15 digits).
fn usd(value: Money) -> f64 {
    money::format_usd(value).parse().unwrap_or(0.0)
}

/// One EMF document: `metrics` are (name, unit, value), `dimensions` (name, value).
fn document(
    timestamp_ms: i64,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, &str, f64)],
) -> Value {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (k, v) in dimensions {
        root.insert((*k).into(), json!(v));
    }
    for (name, _, value) in metrics {
        root.insert((*name).into(), json!(value));
    }
    Value::Object(root)
}

/// How far in the past CloudWatch accepts a data point: two weeks.
pub const MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::days(14);

/// Whether a day starting at `day_start_ms` (its window's start) is too old
/// for CloudWatch at `now_ms`.
pub fn too_old(day_start_ms: i64, now_ms: i64) -> bool {
    day_start_ms < now_ms - MAX_AGE.num_milliseconds()
}

/// The day's EMF documents at `day_start_ms` (the start of the usage day's
/// window): one per flow, then the day's, none when [`too_old`]; then the
/// run's at `now_ms`.
pub fn emf(outcome: &DayOutcome, day_start_ms: i64, now_ms: i64) -> Vec<Value> {
    let run = document(
        now_ms,
        &[],
        &[("DurationSeconds", "Seconds", outcome.seconds)],
    );
    if too_old(day_start_ms, now_ms) {
        return vec![run];
    }
    let at = day_start_ms;
    let mut documents: Vec<Value> = outcome
        .flow_summary
        .iter()
        .map(|f| {
            document(
                at,
                &[("Flow", &f.flow), ("TransactionType", &f.transaction_type)],
                &[
                    ("Transactions", "Count", f.transactions as f64),
                    ("CostUSD", "None", usd(f.cost)),
                    ("UnitCostUSD", "None", usd(f.unit_cost)),
                ],
            )
        })
        .collect();
    let t = &outcome.totals;
    // Of the cost to split (allocated + unallocated), as `report --html` shows it.
    let allocatable = t.allocated + t.unallocated;
    let share = if allocatable == 0 {
        0.0
    } else {
        t.unallocated as f64 / allocatable as f64
    };
    let c = &outcome.log_counters;
    let day = [
        ("CurTotalUSD", "None", usd(t.cur_total)),
        ("UnallocatedShare", "None", share),
        ("Transactions", "Count", outcome.transactions as f64),
        ("LogLines", "Count", c.lines as f64),
        ("LogEvents", "Count", c.events as f64),
        ("LogOutOfDay", "Count", c.out_of_day as f64),
        ("LogNonJson", "Count", c.non_json as f64),
        ("LogNoTransaction", "Count", c.no_transaction as f64),
        ("LogMalformed", "Count", c.malformed as f64),
        ("LogOversized", "Count", c.oversized as f64),
        ("LogDuplicate", "Count", c.duplicate as f64),
        ("LogCorruptFiles", "Count", c.corrupt_files as f64),
        ("LogSkippedFiles", "Count", c.skipped_files as f64),
    ];
    documents.push(document(at, &[], &day));
    documents.push(run);
    documents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_too_old_two_weeks_after_its_start() {
        let day = 1_764_460_800_000; // 2025-11-30T00:00:00Z
        let hour = 3_600_000;
        assert!(!too_old(day, day + 14 * 24 * hour));
        assert!(too_old(day, day + 14 * 24 * hour + 1));
        assert!(!too_old(day, day + hour));
    }
}
