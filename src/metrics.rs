//! CloudWatch Embedded Metric Format (SPEC 11): what a finished day reports as
//! metrics, in namespace `costjob`. Pure: `main.rs` prints the documents, one
//! JSON line each, at the end of the run.
//!
//! An EMF document carries one value per metric for one set of dimension
//! values, so a day is one document per flow (dimensions `Flow`,
//! `TransactionType`: `Transactions`, `CostUSD`, `UnitCostUSD`) and one for the
//! day (no dimensions: `CurTotalUSD`, `UnallocatedShare`, the log counters,
//! `DurationSeconds`).

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

/// The day's EMF documents: one per flow, then the day's.
pub fn emf(outcome: &DayOutcome) -> Vec<Value> {
    let at = outcome.started_at.timestamp_millis();
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
        ("DurationSeconds", "Seconds", outcome.seconds),
    ];
    documents.push(document(at, &[], &day));
    documents
}
