//! The run's CloudWatch Embedded Metric Format lines (SPEC 11): valid per the
//! EMF specification, and equal to what the run published.

use costjob::output::BatchExt;
use serde_json::Value;

use crate::helpers::*;

/// EMF's allowed units.
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// Checks one document against the EMF specification; returns its metric values.
fn check_emf(doc: &Value) -> std::collections::BTreeMap<String, f64> {
    let aws = &doc["_aws"];
    assert!(
        aws["Timestamp"].is_i64(),
        "Timestamp: epoch milliseconds: {doc}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty());
    let mut values = std::collections::BTreeMap::new();
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert!((1..=255).contains(&namespace.len()));
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30);
            for name in set {
                let name = name.as_str().expect("dimension names are strings");
                assert!(
                    doc[name].is_string(),
                    "dimension {name} has a string value: {doc}"
                );
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!((1..=100).contains(&metrics.len()));
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!(
                UNITS.contains(&metric["Unit"].as_str().unwrap_or("None")),
                "{metric}"
            );
            let value = doc[name]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} is a number: {doc}"));
            values.insert(name.to_string(), value);
        }
    }
    values
}

fn usd(batch: &arrow_array::RecordBatch, column: &str, row: usize) -> f64 {
    costjob::model::money::format_usd(batch.money(column, row).unwrap().unwrap())
        .parse()
        .unwrap()
}

#[test]
fn a_run_ends_with_emf_metrics_equal_to_its_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_demo(&out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let docs: Vec<Value> = stdout(&o)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = table(&out, "flow_summary", DEMO_DATE);
    assert_eq!(
        docs.len(),
        summary.num_rows() + 1,
        "one per flow and one for the day"
    );
    for (i, doc) in docs[..summary.num_rows()].iter().enumerate() {
        let values = check_emf(doc);
        let flow = summary.text("flow", i).unwrap();
        assert_eq!(doc["Flow"], flow.as_str());
        assert_eq!(
            doc["TransactionType"],
            summary.text("transaction_type", i).unwrap().as_str()
        );
        assert_eq!(
            values["Transactions"],
            summary.int("transactions", i).unwrap() as f64
        );
        assert_eq!(values["CostUSD"], usd(&summary, "cost_usd", i), "{flow}");
        assert_eq!(
            values["UnitCostUSD"],
            usd(&summary, "unit_cost_usd", i),
            "{flow}"
        );
    }
    let day = docs.last().unwrap();
    let values = check_emf(day);
    let recon = table(&out, "reconciliation", DEMO_DATE);
    assert_eq!(values["CurTotalUSD"], usd(&recon, "cur_total_usd", 0));
    let (allocated, unallocated) = (
        usd(&recon, "allocated_usd", 0),
        usd(&recon, "unallocated_usd", 0),
    );
    assert!((values["UnallocatedShare"] - unallocated / (allocated + unallocated)).abs() < 1e-12);
    for (metric, column) in [
        ("LogLines", "log_lines"),
        ("LogEvents", "log_events"),
        ("LogOutOfDay", "log_out_of_day"),
        ("LogNonJson", "log_non_json"),
        ("LogNoTransaction", "log_no_transaction"),
        ("LogMalformed", "log_malformed"),
        ("LogOversized", "log_oversized"),
        ("LogDuplicate", "log_duplicate"),
        ("LogCorruptFiles", "log_corrupt_files"),
        ("LogSkippedFiles", "log_skipped_files"),
        ("Transactions", "transactions"),
    ] {
        assert_eq!(
            values[metric],
            recon.int(column, 0).unwrap() as f64,
            "{metric}"
        );
    }
    assert!(values["DurationSeconds"] > 0.0);
}
