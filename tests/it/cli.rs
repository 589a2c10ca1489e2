//! The real binary on the demo day and on broken inputs: outputs, exit codes,
//! atomic re-runs, environment overrides, `report`, `check` and `sample`.

use costjob::output::BatchExt;

use crate::helpers::*;

#[test]
fn demo_day_writes_every_table_and_conserves_money() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_demo(&out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = stdout(&o);
    for table in costjob::sink::parquet::TABLES {
        assert!(
            printed.contains(&format!("{table}/dt={DEMO_DATE}/part-00000.parquet")),
            "{printed}"
        );
    }
    // JSON lines on stderr when it is not a terminal: one summary per stage.
    let stages: Vec<serde_json::Value> = stderr(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stderr line is JSON"))
        .collect();
    for stage in ["cur", "logs", "allocate", "sink"] {
        assert!(
            stages.iter().any(|s| s["stage"] == stage),
            "no {stage} event in {stages:?}"
        );
    }

    let recon = table(&out, "reconciliation", DEMO_DATE);
    let m = |c: &str| recon.money(c, 0).unwrap().unwrap();
    assert_eq!(
        m("cur_total_usd"),
        m("allocated_usd") + m("unallocated_usd") + m("excluded_usd") + m("out_of_scope_usd")
    );
    assert_eq!(m("delta_usd"), 0);
    let tx = table(&out, "transactions", DEMO_DATE);
    let sum: i128 = (0..tx.num_rows())
        .map(|i| tx.money("cost_usd", i).unwrap().unwrap())
        .sum();
    assert_eq!(
        sum,
        m("allocated_usd"),
        "transactions add up to the allocated total"
    );
    for i in 0..tx.num_rows() {
        let (total, direct, shared) = (
            tx.money("cost_usd", i).unwrap().unwrap(),
            tx.money("direct_cost_usd", i).unwrap().unwrap(),
            tx.money("shared_cost_usd", i).unwrap().unwrap(),
        );
        assert_eq!(total, direct + shared);
    }
    let un = table(&out, "unallocated", DEMO_DATE);
    let un_sum: i128 = (0..un.num_rows())
        .map(|i| un.money("cost_usd", i).unwrap().unwrap())
        .sum();
    assert_eq!(un_sum, m("unallocated_usd"));
    let fc = table(&out, "flow_costs", DEMO_DATE);
    let fc_sum: i128 = (0..fc.num_rows())
        .map(|i| fc.money("cost_usd", i).unwrap().unwrap())
        .sum();
    assert_eq!(
        fc_sum,
        m("allocated_usd"),
        "flow_costs add up to the allocated total"
    );
    assert!(
        recon.int("log_malformed", 0).unwrap() > 0 && recon.int("log_out_of_day", 0).unwrap() > 0
    );
}

#[test]
fn rerun_replaces_the_day_and_leaves_nothing_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let first = table(&out, "reconciliation", DEMO_DATE)
        .text("run_id", 0)
        .unwrap();
    let tx_first = without_run_id(table(&out, "transactions", DEMO_DATE));
    let o = run_demo(&out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_ne!(
        table(&out, "reconciliation", DEMO_DATE)
            .text("run_id", 0)
            .unwrap(),
        first
    );
    assert_eq!(
        without_run_id(table(&out, "transactions", DEMO_DATE)),
        tx_first,
        "same inputs, same rows"
    );
    for t in costjob::sink::parquet::TABLES {
        let entries: Vec<String> = std::fs::read_dir(out.join(t))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            entries,
            vec![format!("dt={DEMO_DATE}")],
            "{t}: no staging or replaced directories left"
        );
    }
}

#[test]
fn environment_and_flags_override_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("env-out");
    let config = repo().join("examples/costjob.toml");
    let o = costjob(
        tmp.path(),
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            DEMO_DATE,
        ],
        &[
            ("COSTJOB_OUTPUT_PATH", out.to_str().unwrap()),
            ("COSTJOB_ALLOCATION_COST_BASIS", "unblended"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        table(&out, "reconciliation", DEMO_DATE)
            .text("cost_basis", 0)
            .unwrap(),
        "unblended"
    );
    // A flag beats the environment.
    let o = costjob(
        tmp.path(),
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            DEMO_DATE,
            "--cost-basis",
            "net-amortized",
        ],
        &[
            ("COSTJOB_OUTPUT_PATH", out.to_str().unwrap()),
            ("COSTJOB_ALLOCATION_COST_BASIS", "unblended"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        table(&out, "reconciliation", DEMO_DATE)
            .text("cost_basis", 0)
            .unwrap(),
        "net-amortized"
    );
    // A misspelt variable is a configuration error, not silently ignored.
    let o = costjob(
        tmp.path(),
        &["check", "--config", config.to_str().unwrap()],
        &[("COSTJOB_OUTPUT_PAHT", "x")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("COSTJOB_OUTPUT_PAHT"), "{}", stderr(&o));
}

#[test]
fn a_range_runs_each_day() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let config = repo().join("examples/costjob.toml");
    let range = |from: &str, to: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "--config",
            config.to_str().unwrap(),
            "--from",
            from,
            "--to",
            to,
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        costjob(tmp.path(), &args, &[])
    };
    // The 24th has the events that ran past midnight, and its thirtieth of
    // the month's RI fee and Support fee (month-long rows, SPEC 12.1).
    let o = range("2026-11-23", "2026-11-24", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let next = table(&out, "reconciliation", "2026-11-24");
    assert_eq!(next.int("cur_rows", 0).unwrap(), 2);
    assert_eq!(next.int("transactions", 0).unwrap(), 2);
    let usd = |s: &str| costjob::model::money::parse_decimal(s).unwrap();
    assert_eq!(
        next.money_by("cur_by_line_item_type", 0).unwrap(),
        [
            ("Fee".to_string(), usd("8.7924303433")),
            ("RIFee".to_string(), usd("0.178"))
        ]
        .into()
    );
    // December has no CUR row and no log: suspicious (SPEC 2.4), so exit 3...
    let o = range("2026-12-01", "2026-12-02", &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no CUR row for 2026-12-01"),
        "{}",
        stderr(&o)
    );
    assert!(!out.join("reconciliation/dt=2026-12-01").exists());
    // ... and published when the operator says an empty day is expected.
    let o = range("2026-12-01", "2026-12-02", &["--allow-empty"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for day in ["2026-12-01", "2026-12-02"] {
        let empty = table(&out, "reconciliation", day);
        assert_eq!(empty.int("cur_rows", 0).unwrap(), 0);
        assert_eq!(empty.int("transactions", 0).unwrap(), 0);
        assert_eq!(empty.money("unallocated_usd", 0).unwrap(), Some(0));
    }
}

#[test]
fn report_shows_unit_cost_per_flow_and_reconciliation() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let config = repo().join("examples/costjob.toml");
    let o = costjob(
        tmp.path(),
        &[
            "report",
            "--config",
            config.to_str().unwrap(),
            "--date",
            DEMO_DATE,
            "--output",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "unit cost",
        "pago",
        "recarga",
        "onboarding",
        "Reconciliation",
        "delta",
        "0.0000",
        "malformed",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let missing = costjob(
        tmp.path(),
        &[
            "report",
            "--config",
            config.to_str().unwrap(),
            "--date",
            "2001-01-01",
            "--output",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        missing.status.code(),
        Some(3),
        "a day never run is an input error"
    );
    assert!(
        stderr(&missing).contains("2001-01-01 is not published in"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn check_reports_every_problem_at_once_with_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let pricing = tmp.path().join("pricing");
    std::fs::create_dir(&pricing).unwrap();
    std::fs::write(pricing.join("_default.toml"), "category = \"other\"\npricing_model = \"other\"\n[[rule]]\nid = \"all\"\ndriver = \"transactions\"\n").unwrap();
    std::fs::write(pricing.join("awskms.toml"), "product_code = \"awskms\"\ncategory = \"security\"\npricing_model = \"per-request\"\n[[rule]]\nid = \"r\"\ndriver = \"usage.\"\n").unwrap();
    std::fs::write(
        tmp.path().join("costjob.toml"),
        "[logs]\nformat = \"syslog\"\n[pricing]\npath = \"pricing\"\n[[flow]]\nname = \"pago\"\ntransaction_type = \"monetary\"\nroutes = [\"^POST (\"]\n",
    )
    .unwrap();
    let o = costjob(tmp.path(), &["check"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("3 configuration problem(s)"), "{err}");
    assert!(
        err.contains("costjob.toml:2: [logs] format = \"syslog\""),
        "{err}"
    );
    assert!(
        err.contains("costjob.toml:8: flow \"pago\": route pattern \"^POST (\""),
        "{err}"
    );
    assert!(
        err.contains("awskms.toml:6: rule \"r\": driver \"usage.\""),
        "{err}"
    );

    std::fs::write(
        tmp.path().join("costjob.toml"),
        "[output]\npath = \"out\"\ncolour = \"blue\"\n",
    )
    .unwrap();
    let o = costjob(tmp.path(), &["check"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 3") && stderr(&o).contains("unknown field `colour`"),
        "{}",
        stderr(&o)
    );

    let ok = costjob(
        tmp.path(),
        &[
            "check",
            "--config",
            repo().join("examples/costjob.toml").to_str().unwrap(),
        ],
        &[],
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("3 flows"), "{}", stdout(&ok));
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(costjob(tmp.path(), &["run"], &[]).status.code(), Some(2));
    assert_eq!(
        costjob(tmp.path(), &["run", "--date", "2026-13-01"], &[])
            .status
            .code(),
        Some(2)
    );
    let config = repo().join("examples/costjob.toml");
    let o = costjob(
        tmp.path(),
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--from",
            "2026-11-24",
            "--to",
            "2026-11-23",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn a_cur_file_without_a_required_column_is_an_input_error() {
    use arrow_array::{
        ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMillisecondArray,
    };
    let tmp = tempfile::tempdir().unwrap();
    let cur = tmp.path().join("cur");
    std::fs::create_dir(&cur).unwrap();
    let file = cur.join("part-0.parquet");
    let batch = RecordBatch::try_from_iter([
        (
            "line_item_usage_start_date",
            std::sync::Arc::new(TimestampMillisecondArray::from(vec![0i64])) as ArrayRef,
        ),
        (
            "line_item_product_code",
            std::sync::Arc::new(StringArray::from(vec!["AmazonECS"])) as ArrayRef,
        ),
        (
            "line_item_usage_type",
            std::sync::Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
        ),
        (
            "line_item_line_item_type",
            std::sync::Arc::new(StringArray::from(vec!["Usage"])) as ArrayRef,
        ),
        (
            "line_item_unblended_cost",
            std::sync::Arc::new(Float64Array::from(vec![1.0])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&file, &batch);
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    write_config(tmp.path(), &cur, &logs, "jsonl", "");
    let o = costjob(tmp.path(), &["run", "--date", "1970-01-01"], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("part-0.parquet: missing column line_item_operation"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_truncated_gzip_log_fails_with_its_name_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let mut body = String::new();
    for i in 0..2000 {
        body.push_str(&format!("{{\"timestamp\":\"2026-11-23T10:00:00Z\",\"service\":\"pagos-svc\",\"transaction_id\":\"t{i}\",\"flow\":\"pago\"}}\n"));
    }
    let gz = gzip(body.as_bytes());
    std::fs::write(logs.join("broken.jsonl.gz"), &gz[..gz.len() / 2]).unwrap();
    std::fs::write(logs.join("fine.jsonl"), "{\"timestamp\":\"2026-11-23T11:00:00Z\",\"service\":\"pagos-svc\",\"transaction_id\":\"x\"}\n").unwrap();
    write_config(
        tmp.path(),
        &repo().join("examples/data/cur"),
        &logs,
        "jsonl",
        "",
    );
    let o = costjob(tmp.path(), &["run", "--date", DEMO_DATE], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("broken.jsonl.gz") && stderr(&o).contains("--allow-corrupt-input"),
        "{}",
        stderr(&o)
    );
    assert!(
        !tmp.path().join("out/transactions").exists(),
        "nothing written on an input error"
    );

    let o = costjob(
        tmp.path(),
        &["run", "--date", DEMO_DATE, "--allow-corrupt-input"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let recon = table(&tmp.path().join("out"), "reconciliation", DEMO_DATE);
    assert_eq!(recon.int("log_corrupt_files", 0).unwrap(), 1);
    let report = std::fs::read_to_string(
        tmp.path()
            .join(format!("out/_run_reports/dt={DEMO_DATE}/report.json")),
    )
    .unwrap();
    assert!(report.contains("broken.jsonl.gz"), "{report}");
    // The entry's line is the count its message gives ("after N lines"), not 0.
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let corrupt = &report["run"]["corrupt_files"][0];
    let message = corrupt["error"].as_str().unwrap();
    let after: u64 = (message.split("after ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{message}"));
    assert!(after > 0, "{message}");
    assert_eq!(corrupt["line"].as_u64(), Some(after), "{corrupt}");
}

#[test]
fn sample_is_deterministic_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    for dir in ["a", "b"] {
        let o = costjob(
            tmp.path(),
            &[
                "sample",
                "--out",
                dir,
                "--date",
                "2026-01-31",
                "--transactions",
                "300",
            ],
            &[],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let files = |d: &str| {
        let mut v = Vec::new();
        let mut stack = vec![tmp.path().join(d)];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap() {
                let e = e.unwrap().path();
                if e.is_dir() {
                    stack.push(e)
                } else {
                    v.push((
                        e.strip_prefix(tmp.path().join(d)).unwrap().to_path_buf(),
                        std::fs::read(&e).unwrap(),
                    ))
                }
            }
        }
        v.sort();
        v
    };
    assert_eq!(files("a"), files("b"), "same seed, same bytes");
    let a = tmp.path().join("a");
    write_config(
        tmp.path(),
        &a.join("cur"),
        &a.join("logs"),
        "cloudwatch-export",
        "",
    );
    let o = costjob(tmp.path(), &["run", "--date", "2026-01-31"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The first transaction starts just before midnight: it may have no event on the day.
    let n = table(&tmp.path().join("out"), "reconciliation", "2026-01-31")
        .int("transactions", 0)
        .unwrap();
    assert!((299..=300).contains(&n), "{n}");
}

/// `report --from/--to` (a trend per flow) and `--by service` (where each
/// flow's money goes, summing to the flow's cost).
#[test]
fn report_trends_a_range_and_breaks_flows_down_by_service() {
    use costjob::output::BatchExt;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let config = repo().join("examples/costjob.toml");
    let report = |extra: &[&str]| {
        let o = read_command("report", &config, &out, extra);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        stdout(&o)
    };
    let summary = table(&out, "flow_summary", DEMO_DATE);
    let trend = report(&["--from", "2026-11-22", "--to", DEMO_DATE]);
    assert!(trend.contains("Not published: 2026-11-22"), "{trend}");
    for i in 0..summary.num_rows() {
        let flow = summary.text("flow", i).unwrap();
        let row = (trend.lines())
            .find(|l| l.starts_with(DEMO_DATE) && l.split_whitespace().nth(3) == Some(&flow))
            .unwrap_or_else(|| panic!("{flow}: {trend}"));
        let unit = costjob::model::money::format_usd_rounded(
            summary.money("unit_cost_usd", i).unwrap().unwrap(),
            6,
        );
        assert!(row.contains(&unit), "{unit} in {row}");
    }
    let by_service = report(&["--date", DEMO_DATE, "--by", "service"]);
    for i in 0..summary.num_rows() {
        let flow = summary.text("flow", i).unwrap();
        let cost = costjob::model::money::format_usd_rounded(
            summary.money("cost_usd", i).unwrap().unwrap(),
            4,
        );
        let total = by_service
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(flow.as_str()) && l.contains(" total "))
            .unwrap_or_else(|| panic!("no total for {flow}: {by_service}"));
        assert!(total.contains(&cost), "{flow}: {cost} in {total}");
    }
    assert!(
        by_service.contains("Amazon SNS"),
        "services by name: {by_service}"
    );
    assert!(
        !by_service.contains("AmazonSNS"),
        "not by product code: {by_service}"
    );
}

/// SPEC 11: `explain` recomputes every transaction of the demo day from the
/// published tables alone, each sum equal to its `cost_usd` to the last
/// 1e-10 USD, and each (product, rule) equal to its `costs` breakdown line.
#[test]
fn explain_accounts_for_every_cent_of_every_demo_transaction() {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use costjob::output::BatchExt;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let transactions = table(&out, "transactions", DEMO_DATE);
    let pools = table(&out, "pools", DEMO_DATE);
    let costs = transactions
        .column_by_name("costs")
        .unwrap()
        .as_list::<i32>();
    let mut extra_units = 0;
    for row in 0..transactions.num_rows() {
        let id = transactions.text("transaction_id", row).unwrap();
        let e = costjob::explain::explain(date(DEMO_DATE), &transactions, &pools, &id)
            .unwrap_or_else(|err| panic!("{id}: {err}"));
        assert_eq!(
            e.charges.iter().map(|c| c.share_usd).sum::<i128>(),
            transactions.money("cost_usd", row).unwrap().unwrap()
        );
        extra_units += e.charges.iter().filter(|c| c.extra_unit).count();
        assert_eq!(
            (e.charges.iter().filter(|c| c.direct))
                .map(|c| c.share_usd)
                .sum::<i128>(),
            transactions.money("direct_cost_usd", row).unwrap().unwrap(),
            "{id}: the direct part"
        );
        let lines = costs.value(row);
        let lines = lines.as_struct();
        let products = lines.column(0).as_string::<i32>();
        let rules = lines.column(1).as_string::<i32>();
        let values = lines
            .column(3)
            .as_primitive::<arrow_array::types::Decimal128Type>();
        for i in 0..lines.len() {
            let by_pools: i128 = e
                .charges
                .iter()
                .filter(|c| c.product_code == products.value(i) && c.rule_id == rules.value(i))
                .map(|c| c.share_usd)
                .sum();
            assert_eq!(
                by_pools,
                values.value(i),
                "{id}: {} {}",
                products.value(i),
                rules.value(i)
            );
        }
    }
    assert!(extra_units > 0, "the remainder units are exercised");

    // The command: a table, JSON, and a clear exit 3 for an unknown id.
    let config = repo().join("examples/costjob.toml");
    let id = transactions.text("transaction_id", 0).unwrap();
    let explain = |extra: &[&str]| {
        read_command(
            "explain",
            &config,
            &out,
            &[&["--date", DEMO_DATE], extra].concat(),
        )
    };
    let o = explain(&["--transaction", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cost =
        costjob::model::money::format_usd(transactions.money("cost_usd", 0).unwrap().unwrap());
    assert!(
        stdout(&o).contains(&format!("the shares sum to {cost} USD = cost_usd")),
        "{}",
        stdout(&o)
    );
    let direct = costjob::model::money::format_usd(
        transactions.money("direct_cost_usd", 0).unwrap().unwrap(),
    );
    assert!(
        stdout(&o).contains(&format!("  direct {direct} USD")),
        "{}",
        stdout(&o)
    );
    for jargon in ["floor(", "1e-10", "|C|"] {
        assert!(!stdout(&o).contains(jargon), "{jargon}: {}", stdout(&o));
    }
    let o = explain(&["--transaction", &id, "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["cost_usd"], cost.as_str());
    assert!(json["charges"].as_array().unwrap().len() > 10);
    let o = explain(&["--transaction", "no-such-transaction"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("no transaction \"no-such-transaction\" on 2026-11-23"));
}

/// A day never published gets one message from every command that reads
/// days (exit 3), naming the command that publishes it.
#[test]
fn an_unpublished_day_is_one_message_everywhere_naming_costjob_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let config = repo().join("examples/costjob.toml");
    let html = tmp.path().join("page.html");
    let read = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([
            "--config",
            config.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        let o = costjob(tmp.path(), &all, &[]);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        stderr(&o)
    };
    let day = "2026-11-10";
    let one = format!(
        "error: {day} is not published in {}: publish it with `costjob run --date {day}` (or `costjob refresh`)\n",
        out.display()
    );
    assert_eq!(read(&["report", "--date", day]), one);
    assert_eq!(read(&["report", "--date", day, "--by", "service"]), one);
    assert_eq!(
        read(&["report", "--date", day, "--html", html.to_str().unwrap()]),
        one
    );
    assert_eq!(
        read(&["explain", "--date", day, "--transaction", "t-1"]),
        one
    );
    let range = read(&["report", "--from", day, "--to", "2026-11-11"]);
    assert!(
        range.contains("publish them with `costjob run --from 2026-11-10 --to 2026-11-11`"),
        "{range}"
    );
}

/// A run, failed or not, leaves no lock file behind (a killed run's is taken
/// over by the next: `publish.rs`).
#[test]
fn a_run_leaves_no_lock_file_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let locks = || -> Vec<String> {
        std::fs::read_dir(out.join("_locks"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(run_demo(&out, &[], &[]).status.success());
    assert_eq!(locks(), Vec::<String>::new(), "after a published day");
    // December has no CUR row: exit 3 once the day was taken.
    let config = repo().join("examples/costjob.toml");
    let args = [
        "run",
        "--config",
        config.to_str().unwrap(),
        "--date",
        "2026-12-01",
        "--output",
        out.to_str().unwrap(),
    ];
    let o = costjob(tmp.path(), &args, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(locks(), Vec::<String>::new(), "after a failed run");
}

/// `check` lists and reads every configured input: a CUR path that points
/// nowhere, holds no Parquet file or a file that is not one, and logs that
/// are not there are each an input error naming the location (exit 3).
#[test]
fn check_reads_one_object_of_every_input() {
    let tmp = tempfile::tempdir().unwrap();
    let config = repo().join("examples/costjob.toml");
    let check = |env: &[(&str, &str)]| {
        costjob(
            tmp.path(),
            &["check", "--config", config.to_str().unwrap()],
            env,
        )
    };
    let o = check(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Parquet files, ") && stdout(&o).contains("objects, "),
        "{}",
        stdout(&o)
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let nowhere = tmp.path().join("nowhere");
    let not_parquet = tmp.path().join("bad");
    std::fs::create_dir_all(&not_parquet).unwrap();
    std::fs::write(not_parquet.join("cur.parquet"), "not parquet").unwrap();
    for (cur, logs, expected) in [
        (
            &nowhere,
            None,
            format!("[cur] path {}: ", nowhere.display()),
        ),
        (
            &empty,
            None,
            format!("[cur] path {}: no CUR Parquet files", empty.display()),
        ),
        (
            &not_parquet,
            None,
            "not a readable Parquet file".to_string(),
        ),
        (
            &repo().join("examples/data/cur"),
            Some(&empty),
            format!("[logs] path {}: no log object found", empty.display()),
        ),
    ] {
        let mut env = vec![("COSTJOB_CUR_PATH", cur.to_str().unwrap())];
        if let Some(logs) = logs {
            env.push(("COSTJOB_LOGS_PATH", logs.to_str().unwrap()));
        }
        let o = check(&env);
        assert_eq!(o.status.code(), Some(3), "{expected}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&expected),
            "{expected:?}: {}",
            stderr(&o)
        );
    }
}

/// net-amortized on a CUR without `_net_` columns is the amortized basis:
/// said in the run's output, its log and its report, never silently.
#[test]
fn net_amortized_without_net_columns_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_demo(&out, &["--cost-basis", "net-amortized"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let note = "cost basis net-amortized: the CUR has no _net_ column (in 1 files read), so every cost is the amortized one";
    assert!(
        stdout(&o).contains(&format!("note: {note}")),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains(note),
        "the log says it too: {}",
        stderr(&o)
    );
    let report: serde_json::Value = serde_json::from_str(&run_report(&out, DEMO_DATE)).unwrap();
    assert_eq!(report["run"]["notes"][0].as_str(), Some(note), "{report}");
    // The amortized basis itself needs no note.
    let o = run_demo(&out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("note:"), "{}", stdout(&o));
}

/// A range of days run on different cost bases says so, in the terminal and
/// on the page (it was labelled with the first day's basis, or none).
#[test]
fn a_range_of_mixed_cost_bases_is_labelled_mixed() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let config = repo().join("examples/costjob.toml");
    let run = |date: &str, basis: &str| {
        let args = [
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            date,
            "--output",
            out.to_str().unwrap(),
            "--cost-basis",
            basis,
        ];
        let o = costjob(tmp.path(), &args, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    run(DEMO_DATE, "amortized");
    run("2026-11-24", "amortized");
    let range = ["--from", DEMO_DATE, "--to", "2026-11-24"];
    let o = read_command("report", &config, &out, &range);
    assert!(
        stdout(&o).contains("(amortized cost, USD)"),
        "{}",
        stdout(&o)
    );
    run("2026-11-24", "unblended");
    let mixed = "mixed cost bases (amortized: 2026-11-23; unblended: 2026-11-24)";
    let o = read_command("report", &config, &out, &range);
    assert!(stdout(&o).contains(mixed), "{}", stdout(&o));
    let page = tmp.path().join("page.html");
    let args = [&range[..], &["--html", page.to_str().unwrap()]].concat();
    let o = read_command("report", &config, &out, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(&page).unwrap().contains(mixed),
        "the page's subtitle"
    );
}

/// `report --top N`: the day's N most expensive transactions, most
/// expensive first, read from the published `transactions` table.
#[test]
fn report_top_lists_the_most_expensive_transactions() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let config = repo().join("examples/costjob.toml");
    let o = read_command(
        "report",
        &config,
        &out,
        &["--date", DEMO_DATE, "--top", "3"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let t = table(&out, "transactions", DEMO_DATE);
    let mut costs: Vec<(i128, String)> = (0..t.num_rows())
        .map(|i| {
            (
                t.money("cost_usd", i).unwrap().unwrap(),
                t.text("transaction_id", i).unwrap(),
            )
        })
        .collect();
    costs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(['1', '2', '3']))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, (cost, id)) in lines.iter().zip(&costs) {
        assert!(line.contains(id.as_str()), "{id} in {line}");
        assert!(
            line.contains(&costjob::model::money::format_usd(*cost)),
            "{cost} in {line}"
        );
    }
    assert!(text.contains("costjob explain --date 2026-11-23"), "{text}");
}
