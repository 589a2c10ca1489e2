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

/// The EMF lines a run printed.
fn emf_lines(o: &std::process::Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// SPEC 11 and 12.2: a day's metrics equal its tables and carry the usage
/// day's timestamp (its window's start), not the run's; the run's duration
/// carries the run's. Yesterday's sample day, so that CloudWatch would take it.
#[test]
fn a_run_ends_with_emf_metrics_equal_to_its_tables_at_the_usage_days_time() {
    let tmp = tempfile::tempdir().unwrap();
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let data = tmp.path().join("data");
    sample_day(&data, &yesterday, 2000);
    write_config(
        tmp.path(),
        &data.join("cur"),
        &data.join("logs"),
        "cloudwatch-export",
        "",
    );
    let before = chrono::Utc::now().timestamp_millis();
    let o = costjob(tmp.path(), &["run", "--date", &yesterday], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = tmp.path().join("out");
    let docs = emf_lines(&o);
    let summary = table(&out, "flow_summary", &yesterday);
    assert_eq!(
        docs.len(),
        summary.num_rows() + 2,
        "one per flow, one for the day, one for the run"
    );
    let day_start = date(&yesterday)
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    for doc in &docs[..=summary.num_rows()] {
        assert_eq!(
            doc["_aws"]["Timestamp"], day_start,
            "the usage day's time: {doc}"
        );
    }
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
    let day = &docs[summary.num_rows()];
    let values = check_emf(day);
    let recon = table(&out, "reconciliation", &yesterday);
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
    let run = docs.last().unwrap();
    let values = check_emf(run);
    assert!(values["DurationSeconds"] > 0.0);
    let at = run["_aws"]["Timestamp"].as_i64().unwrap();
    assert!(
        before <= at && at <= chrono::Utc::now().timestamp_millis(),
        "the run's time"
    );
}

/// A day older than CloudWatch accepts (two weeks) is published without its
/// day's metrics, and the run says so: the demo day, 2026-11-23, is.
#[test]
fn a_day_older_than_cloudwatch_accepts_is_published_without_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_demo(&out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let docs = emf_lines(&o);
    assert_eq!(docs.len(), 1, "the run's document only: {docs:?}");
    assert!(check_emf(&docs[0]).contains_key("DurationSeconds"));
    assert!(
        stderr(&o).contains(
            "older than CloudWatch accepts: its tables are published, its metrics are not"
        ),
        "{}",
        stderr(&o)
    );
    assert_eq!(table(&out, "reconciliation", DEMO_DATE).num_rows(), 1);
}

/// Runs the demo day with one of its output streams on a pseudo-terminal
/// (`"stdout"` or `"stderr"`) and the other one piped; returns what stdout got.
fn demo_on_a_terminal(terminal: &str, extra: &[&str]) -> String {
    const ON_A_TERMINAL: &str = r#"
import os, pty, subprocess, sys
terminal, command = sys.argv[1], sys.argv[2:]
master, slave = pty.openpty()
if terminal == "stdout":
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.DEVNULL)
else:
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
os.close(slave)
out = b""
while True:
    try:
        data = os.read(master, 65536)
    except OSError:
        break
    if not data:
        break
    if terminal == "stdout":
        out += data
if terminal == "stderr":
    out = child.stdout.read()
sys.stdout.write(out.decode(errors="replace"))
sys.exit(child.wait())
"#;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let config = repo().join("examples/costjob.toml");
    let o = std::process::Command::new("python3")
        .args([
            "-c",
            ON_A_TERMINAL,
            terminal,
            env!("CARGO_BIN_EXE_costjob"),
            "run",
            "--config",
        ])
        .arg(&config)
        .args(["--date", DEMO_DATE, "--output"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("1999 transactions"), "the summary: {text}");
    text
}

/// Metric documents go to stdout when it is not a terminal (whatever stderr
/// is, as in `costjob run > metrics.jsonl`), or with `--metrics`; never
/// otherwise (as in `costjob run 2> run.log` on a terminal).
#[test]
fn metric_documents_go_to_stdout_when_it_is_not_a_terminal_or_when_asked() {
    let emf = "\"_aws\"";
    let text = demo_on_a_terminal("stdout", &[]);
    assert!(!text.contains(emf), "no EMF document on a terminal: {text}");
    let text = demo_on_a_terminal("stdout", &["--metrics"]);
    assert!(
        text.contains(emf),
        "--metrics prints them on a terminal too: {text}"
    );
    let text = demo_on_a_terminal("stderr", &[]);
    assert!(
        text.contains(emf),
        "stdout to a file, stderr on a terminal: {text}"
    );
}
