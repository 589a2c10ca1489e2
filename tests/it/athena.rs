//! The Athena engine (SPEC 2.7) against a stand-in that really runs the SQL:
//! `tests/stand_ins/athena_server.py` (sqlglot's athena dialect, DuckDB over
//! the table's files in moto's S3, UNLOAD to moto's S3), reached through
//! `AWS_ENDPOINT_URL_ATHENA`; S3 and Glue are the moto server of `s3.rs`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::helpers::*;
use crate::s3::{Moto, ROOT};

/// The Athena stand-in on a free loopback port, killed on drop.
struct Athena {
    child: Child,
    endpoint: String,
}

impl Athena {
    fn start(moto: &Moto, faults: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new("python3")
            .arg(repo().join("tests/stand_ins/athena_server.py"))
            .args(["--port", &port.to_string(), "--moto", &moto_endpoint(moto)])
            .args(faults)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the Athena stand-in");
        wait_for_port(port, "Athena stand-in (sqlglot and duckdb installed?)");
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The API operations called so far, in order.
    fn calls(&self) -> Vec<String> {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                &format!("{}/_calls", self.endpoint),
            ])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn run(&self, moto: &Moto, dir: &Path, config: &Path, date: &str, extra: &[&str]) -> Output {
        let mut args = vec!["run", "--config", config.to_str().unwrap(), "--date", date];
        args.extend_from_slice(extra);
        moto.costjob(dir, &args, &[("AWS_ENDPOINT_URL_ATHENA", &self.endpoint)])
    }
}

impl Drop for Athena {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_endpoint(moto: &Moto) -> String {
    moto.env()
        .into_iter()
        .find(|(k, _)| *k == "AWS_ENDPOINT_URL")
        .unwrap()
        .1
}

/// `[cur] accounts` for a case: the demo's production account (its export
/// also holds a development account's rows, out of scope); every account
/// for AWS's exports.
fn scope(table: &str) -> &'static str {
    if table.starts_with("demo") {
        "accounts = [\"123456789012\"]\n"
    } else {
        ""
    }
}

/// A config reading the CUR through Athena (`table` in database `cur`) and
/// the logs from `logs`, publishing to `dir/out`; `local_cur` instead when given.
fn config(dir: &Path, table: &str, logs: &Path, format: &str, timeout_s: u32) -> PathBuf {
    let path = dir.join(format!("athena-{table}.toml"));
    let body = format!(
        "[cur]\nsource = \"athena\"\n{}database = \"cur\"\ntable = \"{table}\"\nworkgroup = \"costjob\"\n\
         output_location = \"s3://athena-results/costjob\"\nquery_timeout_s = {timeout_s}\n\
         [logs]\npath = {logs:?}\nformat = {format:?}\n[output]\npath = \"out-athena\"\n\
         [pricing]\npath = {:?}\n[allocation]\ncost_basis = \"amortized\"\nexclude_line_item_types = []\n{FLOWS}",
        scope(table),
        repo().join("pricing")
    );
    std::fs::write(&path, body).unwrap();
    path
}

/// The same settings with the CUR read from the local files in `cur`.
fn local_config(dir: &Path, table: &str, cur: &Path, logs: &Path, format: &str) -> PathBuf {
    let path = dir.join("local.toml");
    let body = format!(
        "[cur]\npath = {cur:?}\n{}[logs]\npath = {logs:?}\nformat = {format:?}\n[output]\npath = \"out-local\"\n\
         [pricing]\npath = {:?}\n[allocation]\ncost_basis = \"amortized\"\nexclude_line_item_types = []\n{FLOWS}",
        scope(table),
        repo().join("pricing")
    );
    std::fs::write(&path, body).unwrap();
    path
}

fn setup(moto: &Moto) {
    moto.fixture(&["setup", "costjob-out", "costjob", ROOT]);
}

/// SPEC 2.7 point 4: both engines give the same pools, reconciliation and
/// transactions to the last 1e-10 USD: the demo day and AWS's workshop CUR,
/// each as CUR 1.0 (`year`/`month` partitions, tag columns; the workshop with
/// optional columns missing from the table) and as CUR 2.0 (`billing_period`,
/// tags in the `resource_tags` map).
#[test]
fn the_athena_engine_equals_the_local_engine() {
    let moto = Moto::start();
    setup(&moto);
    let athena = Athena::start(&moto, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let demo = repo().join("examples/data");
    let workshop = real_cur_data().join("wal-workshop-cur-2018");
    let workshop_logs = workshop_logs(tmp.path());
    // AWS's 2019 Savings Plans export (Hive text: every column a string, the
    // usage date ISO-8601 text) as Athena has it over the raw files.
    let costopt = tmp.path().join("costopt");
    std::fs::create_dir_all(&costopt).unwrap();
    crate::real_cur::step5_as_parquet(&costopt);
    let costopt_logs = logs_for_day(tmp.path(), "2019-11-30");
    let cases = [
        (
            "demo",
            "cur1",
            demo.join("cur"),
            demo.join("logs"),
            "cloudwatch-export",
            DEMO_DATE,
            vec![],
        ),
        (
            "workshop_cur1",
            "cur1",
            workshop.clone(),
            workshop_logs.clone(),
            "jsonl",
            "2018-11-15",
            vec![
                "line_item_line_item_description",
                "savings_plan_net_savings_plan_effective_cost",
            ],
        ),
        (
            "workshop_cur2",
            "cur2",
            workshop.clone(),
            workshop_logs.clone(),
            "jsonl",
            "2018-11-15",
            vec![],
        ),
        // The demo's tags as CUR 2.0 has them: the resource_tags map.
        (
            "demo_cur2",
            "cur2",
            demo.join("cur"),
            demo.join("logs"),
            "cloudwatch-export",
            DEMO_DATE,
            vec![],
        ),
        (
            "costopt_text",
            "flat",
            costopt.clone(),
            costopt_logs.clone(),
            "jsonl",
            "2019-11-30",
            vec![],
        ),
    ];
    let tables = cases.len();
    for (table, layout, cur, logs, format, day, drop) in cases {
        let mut args = vec!["cur-table", "cur", table, layout, cur.to_str().unwrap()];
        let url = format!("s3://cur/tables/{table}");
        args.push(&url);
        args.extend(drop.iter().copied());
        moto.fixture(&args);
        let dir = tmp.path().join(table);
        std::fs::create_dir_all(&dir).unwrap();
        let local = local_config(&dir, table, &cur, &logs, format);
        let o = moto.costjob(
            &dir,
            &["run", "--config", local.to_str().unwrap(), "--date", day],
            &[],
        );
        assert!(o.status.success(), "{table} local: {}", stderr(&o));
        let through = config(&dir, table, &logs, format, 600);
        let o = athena.run(&moto, &dir, &through, day, &[]);
        assert!(o.status.success(), "{table} athena: {}", stderr(&o));
        let log = stderr(&o);
        assert!(
            log.contains("\"query_id\"") && log.contains("\"bytes_scanned\""),
            "{log}"
        );
        assert_same_day(&dir.join("out-local"), &dir.join("out-athena"), day);
        let recon = table_of(&dir.join("out-athena"), day);
        assert!(recon > 0, "{table}: a day with rows");
        // The run report records the query; the unload prefix is gone.
        let report = run_report(&dir.join("out-athena"), day);
        assert!(
            report.contains("\"cur_query\"") && report.contains("\"cost_usd\""),
            "{report}"
        );
        // Athena's files (no extension, several), its data manifest and the
        // query's metadata are read and then deleted.
        let left = moto.fixture(&["list", "s3://athena-results/costjob/"]);
        assert!(
            left.trim().is_empty(),
            "{table}: unload prefix, manifest and metadata deleted: {left}"
        );
    }
    let started = || {
        (athena.calls().iter())
            .filter(|c| *c == "StartQueryExecution")
            .count()
    };
    assert_eq!(started(), tables, "one query per day");

    // refresh reads its window's CUR in one query, and publishes what the
    // local engine publishes: the demo day, and the 24th with its share of
    // the month-long fees and the transactions that ran past midnight.
    let dir = tmp.path().join("demo");
    let window = ["--from", DEMO_DATE, "--to", "2026-11-24"];
    let local = dir.join("local.toml");
    let through = dir.join("athena-demo.toml");
    for config in [&local, &through] {
        let mut args = vec!["refresh", "--config", config.to_str().unwrap()];
        args.extend(window);
        let o = moto.costjob(
            &dir,
            &args,
            &[("AWS_ENDPOINT_URL_ATHENA", &athena.endpoint)],
        );
        assert!(o.status.success(), "{}: {}", config.display(), stderr(&o));
        let out = stdout(&o);
        assert!(
            out.contains(&format!("{DEMO_DATE}: skipped: unchanged")),
            "{out}"
        );
        assert!(out.contains("2026-11-24: published: new"), "{out}");
    }
    assert_eq!(started(), tables + 1, "one query for the window");
    assert_same_day(
        &dir.join("out-local"),
        &dir.join("out-athena"),
        "2026-11-24",
    );
}

fn table_of(out: &Path, day: &str) -> i64 {
    use costjob::output::BatchExt;
    table(out, "reconciliation", day)
        .int("cur_rows", 0)
        .unwrap()
}

/// Throttling survived; a FAILED query is exit 3 with Athena's message; a hung
/// query is stopped at the timeout (StopQueryExecution really sent); a table
/// without a required column is exit 3 naming it.
#[test]
fn athena_faults_end_as_the_spec_says() {
    let moto = Moto::start();
    setup(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let demo = repo().join("examples/data");
    moto.fixture(&[
        "cur-table",
        "cur",
        "demo",
        "cur1",
        demo.join("cur").to_str().unwrap(),
        "s3://cur/tables/demo",
    ]);
    moto.fixture(&[
        "cur-table",
        "cur",
        "no_operation",
        "flat",
        demo.join("cur").to_str().unwrap(),
        "s3://cur/tables/no_operation",
        "line_item_operation",
    ]);
    let logs = demo.join("logs");
    let config = config(tmp.path(), "demo", &logs, "cloudwatch-export", 600);

    let throttled = Athena::start(&moto, &["--throttle", "6"]);
    let o = throttled.run(&moto, tmp.path(), &config, DEMO_DATE, &[]);
    assert!(o.status.success(), "throttling is retried: {}", stderr(&o));
    assert!(throttled.calls().len() > 6);
    drop(throttled);

    let failing = Athena::start(
        &moto,
        &[
            "--fail",
            "COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved",
        ],
    );
    let o = failing.run(&moto, tmp.path(), &config, DEMO_DATE, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("COLUMN_NOT_FOUND: line 1:8: Column 'x' cannot be resolved"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("USER"), "{}", stderr(&o));
    drop(failing);

    let hung = Athena::start(&moto, &["--hang"]);
    let short = self::config(tmp.path(), "demo", &logs, "cloudwatch-export", 2);
    let o = hung.run(&moto, tmp.path(), &short, DEMO_DATE, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("query_timeout_s = 2"), "{}", stderr(&o));
    assert!(
        hung.calls().iter().any(|c| c == "StopQueryExecution"),
        "{:?}",
        hung.calls()
    );

    let athena = Athena::start(&moto, &[]);
    let missing = self::config(tmp.path(), "no_operation", &logs, "cloudwatch-export", 600);
    let o = athena.run(&moto, tmp.path(), &missing, DEMO_DATE, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("glue table cur.no_operation: missing column line_item_operation"),
        "{}",
        stderr(&o)
    );
    assert!(
        !athena.calls().iter().any(|c| c == "StartQueryExecution"),
        "no query sent"
    );
}

/// SIGINT (Ctrl-C) or SIGTERM (ECS stopping the task) during the query stops it.
#[test]
fn an_interrupted_run_stops_its_query() {
    let moto = Moto::start();
    setup(&moto);
    let demo = repo().join("examples/data");
    moto.fixture(&[
        "cur-table",
        "cur",
        "demo",
        "cur1",
        demo.join("cur").to_str().unwrap(),
        "s3://cur/tables/demo",
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let config = config(
        tmp.path(),
        "demo",
        &demo.join("logs"),
        "cloudwatch-export",
        600,
    );
    for signal in ["INT", "TERM"] {
        let hung = Athena::start(&moto, &["--hang"]);
        let child = Command::new(env!("CARGO_BIN_EXE_costjob"))
            .current_dir(tmp.path())
            .args([
                "run",
                "--config",
                config.to_str().unwrap(),
                "--date",
                DEMO_DATE,
            ])
            .envs(moto.env())
            .env("AWS_ENDPOINT_URL_ATHENA", &hung.endpoint)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !hung.calls().iter().any(|c| c == "GetQueryExecution") {
            assert!(
                std::time::Instant::now() < deadline,
                "the query never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{signal}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("interrupted; the query was stopped"),
            "{signal}: {}",
            stderr(&o)
        );
        assert!(
            hung.calls().iter().any(|c| c == "StopQueryExecution"),
            "{signal}: {:?}",
            hung.calls()
        );
    }
}

/// `check` refuses what could break out of a quoted identifier, with the other problems.
#[test]
fn check_refuses_identifiers_that_are_not_identifiers() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let path = config(tmp.path(), "cur\\\" --", &logs, "jsonl", 600);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "output_location = \"s3://athena-results/costjob\"",
        "output_location = \"/tmp/results\"",
    );
    std::fs::write(&path, text).unwrap();
    let o = costjob(
        tmp.path(),
        &["check", "--config", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("[cur] table = \"cur\\\" --\": an Athena identifier must match"),
        "{err}"
    );
    assert!(
        err.contains("[cur] output_location = \"/tmp/results\": expected an s3://"),
        "{err}"
    );
}
