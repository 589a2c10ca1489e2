//! `costjob refresh` (SPEC 12.2) on several generated days: first publish,
//! nothing changed, a late row, a month-long row, the invoice, `--dry-run`,
//! days that fail or wait, and `max_days`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use costjob::model::money::parse_decimal;
use costjob::output::BatchExt;

use crate::helpers::*;

const DAYS: [&str; 3] = ["2026-11-18", "2026-11-19", "2026-11-20"];

fn refresh(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["refresh"];
    all.extend_from_slice(args);
    costjob(dir, &all, &[])
}

fn window(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--from", DAYS[0], "--to", DAYS[2]];
    all.extend_from_slice(args);
    refresh(dir, &all)
}

/// `refresh` printed `text`.
fn says(o: &std::process::Output, text: &str) {
    assert!(stdout(o).contains(text), "{text:?} not in:\n{}", stdout(o));
}

fn run_id(dir: &Path, day: &str) -> String {
    table(&dir.join("out"), "reconciliation", day)
        .text("run_id", 0)
        .unwrap()
}

fn usd(text: &str) -> i128 {
    parse_decimal(text).unwrap()
}

fn money(batch: &RecordBatch, column: &str, row: usize) -> i128 {
    batch.money(column, row).unwrap().unwrap()
}

/// A CUR file of extra rows: (start, end, line item type, product, cost),
/// times as `YYYY-MM-DDTHH:MM:SS` UTC.
fn extra_cur(dir: &Path, name: &str, rows: &[(&str, &str, &str, &str, f64)]) -> PathBuf {
    let ms = |t: &str| {
        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_millis()
    };
    let time = |times: Vec<&str>| {
        Arc::new(
            TimestampMillisecondArray::from(times.into_iter().map(ms).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ) as ArrayRef
    };
    let text = |values: Vec<&str>| Arc::new(StringArray::from(values)) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        (
            "line_item_usage_start_date",
            time(rows.iter().map(|r| r.0).collect()),
        ),
        (
            "line_item_usage_end_date",
            time(rows.iter().map(|r| r.1).collect()),
        ),
        (
            "line_item_line_item_type",
            text(rows.iter().map(|r| r.2).collect()),
        ),
        (
            "line_item_product_code",
            text(rows.iter().map(|r| r.3).collect()),
        ),
        (
            "line_item_usage_type",
            text(rows.iter().map(|_| "USE1-BoxUsage").collect()),
        ),
        (
            "line_item_operation",
            text(rows.iter().map(|_| "RunInstances").collect()),
        ),
        (
            "line_item_unblended_cost",
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
    ])
    .unwrap();
    let path = dir.join("cur").join(name);
    write_parquet(&path, &batch);
    path
}

#[test]
fn refresh_publishes_new_days_then_only_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    books(dir, &DAYS, "");

    // --dry-run on empty books: every day would be published, none is.
    let o = window(dir, &["--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for day in DAYS {
        says(&o, &format!("{day}: would publish: new"));
    }
    assert!(
        !dir.join("out/reconciliation").exists(),
        "--dry-run published"
    );

    // First publish: every day, no restatement yet.
    let o = window(dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    says(&o, "3 published, 0 unchanged");
    let first: Vec<String> = DAYS.iter().map(|d| run_id(dir, d)).collect();
    for day in DAYS {
        assert_eq!(table(&dir.join("out"), "restatements", day).num_rows(), 0);
        let recon = table(&dir.join("out"), "reconciliation", day);
        assert_eq!(recon.text("cur_fingerprint", 0).unwrap().len(), 64);
        assert_eq!(recon.text("logs_fingerprint", 0).unwrap().len(), 64);
    }

    // Nothing changed: nothing republished.
    let o = window(dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    says(&o, "0 published, 3 unchanged");
    assert_eq!(
        DAYS.iter().map(|d| run_id(dir, d)).collect::<Vec<_>>(),
        first
    );

    // A late row on the 19th: that day alone, with its restatement.
    extra_cur(
        dir,
        "late.parquet",
        &[(
            "2026-11-19T10:00:00",
            "2026-11-19T11:00:00",
            "Usage",
            "AmazonEC2",
            0.5,
        )],
    );
    let o = window(dir, &["--dry-run"]);
    says(&o, "2026-11-19: would publish: cur changed (+0.50 USD)");
    assert_eq!(run_id(dir, DAYS[1]), first[1], "--dry-run published");
    let o = window(dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    says(&o, "2026-11-19: published: cur changed (+0.50 USD)");
    assert_eq!(run_id(dir, DAYS[0]), first[0]);
    assert_eq!(run_id(dir, DAYS[2]), first[2]);
    let second = run_id(dir, DAYS[1]);
    assert_ne!(second, first[1]);
    let r = table(&dir.join("out"), "restatements", DAYS[1]);
    let totals = r.num_rows() - 1;
    assert!(r.num_rows() >= 2, "flows and the totals row");
    assert_eq!(
        r.text("flow", totals).unwrap(),
        "",
        "the totals row has no flow"
    );
    assert_eq!(r.text("reasons", totals).unwrap(), "cur");
    assert_eq!(r.text("previous_run_id", totals).unwrap(), first[1]);
    assert_eq!(r.text("run_id", totals).unwrap(), second);
    assert_eq!(
        money(&r, "cur_total_usd", totals) - money(&r, "previous_cur_total_usd", totals),
        usd("0.5")
    );
    assert_eq!(
        r.money_by("cur_change_by_line_item_type", totals).unwrap(),
        [("Usage".to_string(), usd("0.5"))].into()
    );
    // The shared EC2 row is allocated: the flows' deltas are the totals'.
    let flows: i128 = (0..totals).map(|i| money(&r, "delta_usd", i)).sum();
    assert_eq!(flows, money(&r, "delta_usd", totals));
    assert_eq!(money(&r, "delta_usd", totals), usd("0.5"));
    // The report says the day is provisional and what was restated, and why.
    let o = costjob(dir, &["report", "--from", DAYS[0], "--to", DAYS[2]], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("Status: provisional"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("2026-11-19")
            && l.contains(" cur ")
            && l.contains("+$0.50")
            && l.contains("Usage +$0.50")),
        "{text}"
    );

    // A month-long fee: every day of the window republished, each with its
    // share (30 USD over November's 30 days: 1 USD a day), the 19th's history kept.
    let fee = |day: &str| {
        let recon = table(&dir.join("out"), "reconciliation", day);
        recon.money_by("cur_by_line_item_type", 0).unwrap()["Fee"]
    };
    let before: Vec<i128> = DAYS.iter().map(|d| fee(d)).collect();
    extra_cur(
        dir,
        "support.parquet",
        &[(
            "2026-11-01T00:00:00",
            "2026-11-30T23:59:59",
            "Fee",
            "AWSSupportBusiness",
            30.0,
        )],
    );
    let o = window(dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    says(&o, "3 published, 0 unchanged");
    for (day, before) in DAYS.iter().zip(before) {
        assert_eq!(fee(day) - before, usd("1"), "{day}");
        let r = table(&dir.join("out"), "restatements", day);
        let last = r.num_rows() - 1;
        assert_eq!(
            r.money_by("cur_change_by_line_item_type", last).unwrap(),
            [("Fee".to_string(), usd("1"))].into(),
            "{day}"
        );
    }
    let r = table(&dir.join("out"), "restatements", DAYS[1]);
    let runs: std::collections::BTreeSet<String> = (0..r.num_rows())
        .map(|i| r.text("run_id", i).unwrap())
        .collect();
    assert_eq!(runs.len(), 2, "the 19th keeps its first restatement");
}

/// Rewrites every CUR file of `dir/cur` with `bill_invoice_id` set.
fn invoice_everything(dir: &Path) {
    for file in std::fs::read_dir(dir.join("cur")).unwrap() {
        let path = file.unwrap().path();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&path).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let batch = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
        let schema = batch.schema();
        let mut columns: Vec<(String, ArrayRef)> = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if field.name() != "bill_invoice_id" {
                columns.push((field.name().clone(), batch.column(i).clone()));
            }
        }
        columns.push((
            "bill_invoice_id".into(),
            Arc::new(StringArray::from(vec!["EUCJ-2026-11"; batch.num_rows()])),
        ));
        write_parquet(&path, &RecordBatch::try_from_iter(columns).unwrap());
    }
}

#[test]
fn the_invoice_republishes_every_day_final() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    books(dir, &DAYS, "");
    assert!(window(dir, &[]).status.success());
    for day in DAYS {
        let recon = table(&dir.join("out"), "reconciliation", day);
        assert!(
            !recon.boolean("cur_final", 0).unwrap(),
            "{day}: provisional"
        );
    }
    invoice_everything(dir);
    let o = window(dir, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for day in DAYS {
        says(&o, &format!("{day}: published: cur changed (+0.00 USD)"));
        let recon = table(&dir.join("out"), "reconciliation", day);
        assert!(recon.boolean("cur_final", 0).unwrap(), "{day}: final");
        let r = table(&dir.join("out"), "restatements", day);
        let last = r.num_rows() - 1;
        assert!(!r.boolean("previous_cur_final", last).unwrap());
        assert!(r.boolean("cur_final", last).unwrap());
        assert_eq!(
            money(&r, "delta_usd", last),
            0,
            "{day}: the money did not move"
        );
    }
    let o = costjob(dir, &["report", "--date", DAYS[0]], &[]);
    says(&o, "Status: final");
    says(&o, "became final");
    let page = dir.join("books.html");
    let o = costjob(
        dir,
        &[
            "report",
            "--from",
            DAYS[0],
            "--to",
            DAYS[2],
            "--html",
            page.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("Provisional or final: final"),
        "the page marks the days"
    );
    assert_eq!(
        html.matches("became final").count(),
        3,
        "one restatement a day"
    );
    // Final and unchanged: nothing to do.
    let o = window(dir, &[]);
    says(&o, "0 published, 3 unchanged");
}

#[test]
fn a_failed_day_does_not_stop_the_others_and_sets_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    books(dir, &DAYS, "[refresh]\nmax_days = 2\n");
    // The 19th's logs are gone (long past its grace days): exit 3, the
    // 18th and 20th still run; max_days = 2 defers the 20th.
    std::fs::remove_dir_all(dir.join("logs").join(DAYS[1])).unwrap();
    let o = window(dir, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("2026-11-18: published: new"), "{out}");
    assert!(out.contains("2026-11-19: failed: "), "{out}");
    assert!(out.contains("2026-11-20: deferred"), "{out}");
    assert!(
        out.contains("1 published, 0 unchanged, 0 waiting, 1 deferred, 1 failed"),
        "{out}"
    );
    assert!(dir.join("out/reconciliation/dt=2026-11-18").exists());
    assert!(!dir.join("out/reconciliation/dt=2026-11-20").exists());
}

/// The default window: from the oldest open billing period through
/// yesterday. Yesterday has its share of the month's fees (the samples'
/// month-long rows) but no log yet: it waits within the grace days and
/// fails after.
#[test]
fn yesterday_without_its_logs_waits_within_the_grace_days() {
    let today = chrono::Utc::now().date_naive();
    let day = |n: u64| (today - chrono::Days::new(n)).to_string();
    let (three, two) = (day(3), day(2));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    books(dir, &[&three, &two], "[refresh]\nlookback_days = 3\n");
    let o = refresh(dir, &[]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("{three}: published: new")), "{out}");
    assert!(out.contains(&format!("{two}: published: new")), "{out}");
    assert!(
        out.contains(&format!("{}: waiting: no log files for {}", day(1), day(1))),
        "{out}"
    );
    assert!(
        !out.contains(&today.to_string()),
        "the window ends yesterday: {out}"
    );

    write_config(
        dir,
        &dir.join("cur"),
        &dir.join("logs/{date}"),
        "cloudwatch-export",
        "[refresh]\nlookback_days = 3\ngrace_days = 0\n",
    );
    let o = refresh(dir, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    says(&o, &format!("{}: failed: ", day(1)));
    says(&o, "2 unchanged");

    // A day with no CUR row at all, long ended: a failure naming it.
    let o = refresh(dir, &["--from", "2020-01-01", "--to", "2020-01-01"]);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    says(&o, "2020-01-01: failed: ");
    says(
        &o,
        "no CUR row for 2020-01-01 yet, more than [refresh] grace_days (0) after it ended",
    );
}
