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

/// Lines real logs hold, as CloudWatch export lines of the demo day: not
/// JSON, malformed in each way SPEC 2.4 names, ids of each type, a route
/// instead of a flow, an unknown flow, a conflicting type, equal times, a
/// transaction crossing midnight, out of the day, blank, non-ASCII bytes.
const HARD_LINES: &str = r#"2026-11-23T10:00:00.000Z plain text, not JSON
    at com.deuna.Pagos.run(Pagos.java:42)

2026-11-23T10:00:01.000Z {"transaction_id": "h-1", "service": "pagos-svc",
2026-11-23T10:00:02.000Z {"transaction_id":"h-2","service":"pagos-svc","duration_ms":-1}
2026-11-23T10:00:03.000Z {"transaction_id":"h-3","service":"pagos-svc","duration_ms":1.5}
2026-11-23T10:00:04.000Z {"transaction_id":"h-4","service":"pagos-svc","duration_ms":12.0,"flow":"pago","status":"OK"}
2026-11-23T10:00:05.000Z {"transaction_id":"h-5","service":"pagos-svc","usage":{"kms_requests":"2"}}
2026-11-23T10:00:06.000Z {"transaction_id":"h-6","service":"pagos-svc","usage":[1]}
2026-11-23T10:00:07.000Z {"transaction_id":42,"service":"pagos-svc","route":"POST /v1/pagos/qr","usage":{"kms_requests":3,"other":1}}
2026-11-23T10:00:08.000Z {"transaction_id":4.5,"service":"pagos-svc"}
2026-11-23T10:00:09.000Z {"transaction_id":true,"service":"pagos-svc"}
2026-11-23T10:00:10.000Z {"service":"pagos-svc","flow":"pago"}
2026-11-23T10:00:11.000Z {"transaction_id":"h-7","flow":"pago"}
2026-11-23T10:00:12.000Z {"transaction_id":"h-8","service":17}
2026-11-22T23:59:59.999Z {"transaction_id":"h-9","service":"pagos-svc","flow":"pago"}
2026-11-23T23:59:59.900Z {"transaction_id":"h-10","service":"recargas-svc","flow":"recarga","status":"PENDING","duration_ms":5}
2026-11-24T00:00:00.100Z {"transaction_id":"h-10","service":"recargas-svc","status":"OK","duration_ms":7}
2026-11-23T11:00:00.000Z {"transaction_id":"h-11","service":"kyc-svc","route":"POST /v1/onboarding/start","transaction_type":"monetary"}
2026-11-23T11:00:00.000Z {"transaction_id":"h-11","service":"kyc-svc","status":"B"}
2026-11-23T11:00:00.000Z {"transaction_id":"h-11","service":"kyc-svc","status":"A","transaction_type":"other"}
2026-11-23T11:00:01.000Z {"transaction_id":"h-12","service":"pagos-svc","flow":"zeta"}
2026-11-23T11:00:01.000Z {"transaction_id":"h-12","service":"pagos-svc","flow":"alfa","status":"OK"}
2026-11-23T11:00:02.000Z {"transaction_id":"h-13","service":"notificaciones-svc","flow":"remesa","usage":{"sms_messages":2},"route":"ñandú ✓"}
2026-11-23T11:00:03.000Z [1, 2, 3]
2026-11-23T11:00:04.000Z {"transaction_id":"  h-14 ","service":"pagos-svc","timestamp":"not a time"}
2026-11-23T11:00:05.000Z {"transaction_id":"h-15","service":"pagos-svc","duration_ms":null,"usage":null,"status":""}
2026-11-23T00:00:00.000Z {"transaction_id":"h-16","service":"pagos-svc","flow":"pago"}
2026-11-24T00:00:00.000Z {"transaction_id":"h-16","service":"pagos-svc","status":"LATE"}
2026-11-23T11:00:07.000Z {"transaction_id":"h-17","service":"pagos-svc","route":"POST /v1/pagos/qr"}
2026-11-23T11:00:06.000Z {"transaction_id":"h-17","service":"kyc-svc","route":"POST /v1/onboarding/selfie"}
"#;

/// JSON lines: the event's own `timestamp` (ISO-8601 text or epoch
/// milliseconds), missing, unreadable, of the wrong type, or outside the day.
const HARD_JSON_LINES: &str = r#"{"timestamp":"2026-11-23T09:00:00.000Z","transaction_id":"j-1","service":"pagos-svc","flow":"pago","status":"OK","usage":{"kms_requests":2}}
{"timestamp":1795424400123,"transaction_id":"j-1","service":"ledger-svc","duration_ms":40}
{"timestamp":"2026-11-23T09:00:01.500+00:00","transaction_id":"j-2","service":"kyc-svc","route":"POST /v1/onboarding"}
{"timestamp":" 2026-11-23 09:00:02.250","transaction_id":"j-2","service":"kyc-svc","status":"OK"}
{"timestamp":"2026-11-23","transaction_id":"j-10","service":"pagos-svc"}
{"transaction_id":"j-3","service":"pagos-svc"}
{"timestamp":"yesterday","transaction_id":"j-4","service":"pagos-svc"}
{"timestamp":1795424400.5,"transaction_id":"j-5","service":"pagos-svc"}
{"timestamp":true,"transaction_id":"j-6","service":"pagos-svc"}
{"timestamp":"2026-11-22T09:00:00.000Z","transaction_id":"j-7","service":"pagos-svc"}
{"timestamp":1795424401000,"transaction_id":17,"service":"recargas-svc","flow":"recarga","duration_ms":1e2}
not json at all
{"timestamp":1795424402000,"transaction_id":"j-8","service":"pagos-svc",
"#;

/// SPEC 14: the logs read through Athena (the logs table of
/// `sql/logs_table.sql`, the query run by the stand-in on DuckDB after
/// sqlglot reads it as Athena's SQL) publish the tables the file engine
/// publishes from the same objects: the demo day as CloudWatch exports
/// with lines of every kind above, and as Firehose deliveries (re-deliveries,
/// control messages, records buffered into the next day's folder).
#[test]
fn the_athena_log_engine_equals_the_file_engine() {
    let moto = Moto::start();
    setup(&moto);
    let athena = Athena::start(&moto, &[]);
    let tmp = tempfile::tempdir().unwrap();
    let demo = repo().join("examples/data");
    let logs = demo.join("logs");
    let hard = tmp.path().join("hard/task/stream");
    std::fs::create_dir_all(&hard).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, HARD_LINES.as_bytes()).unwrap();
    std::fs::write(hard.join("000000.gz"), gz.finish().unwrap()).unwrap();
    let day_prefix = format!("s3://logs/exports/{DEMO_DATE}/");
    moto.fixture(&["upload", logs.to_str().unwrap(), &day_prefix]);
    moto.fixture(&[
        "upload",
        tmp.path().join("hard").to_str().unwrap(),
        &day_prefix,
    ]);
    moto.fixture(&["logs-table", "costjob", "export_logs", "s3://logs/exports/"]);
    let firehose = [
        "firehose",
        logs.to_str().unwrap(),
        "s3://logs/firehose/",
        DEMO_DATE,
        "delimited",
    ];
    moto.fixture(&firehose);
    moto.fixture(&[
        "logs-table",
        "costjob",
        "firehose_logs",
        "s3://logs/firehose/",
    ]);
    let jsonl = tmp.path().join("jsonl");
    std::fs::create_dir_all(&jsonl).unwrap();
    std::fs::write(jsonl.join("events.json"), HARD_JSON_LINES).unwrap();
    moto.fixture(&[
        "upload",
        jsonl.to_str().unwrap(),
        &format!("s3://logs/jsonl/{DEMO_DATE}/"),
    ]);
    moto.fixture(&["logs-table", "costjob", "jsonl_logs", "s3://logs/jsonl/"]);
    // Quito's day (UTC-5): the window from 05:00 UTC, two UTC folders.
    // AWS's own exports (the workshop's CUR, the 2019 Savings Plans one) with
    // their days' JSON lines, as the CUR engines' test has them.
    let workshop = real_cur_data().join("wal-workshop-cur-2018");
    let costopt = tmp.path().join("costopt");
    std::fs::create_dir_all(&costopt).unwrap();
    crate::real_cur::step5_as_parquet(&costopt);
    for day in ["2018-11-15", "2019-11-30"] {
        let real = logs_for_day(tmp.path(), day);
        moto.fixture(&[
            "upload",
            real.to_str().unwrap(),
            &format!("s3://logs/real/{day}/"),
        ]);
    }
    moto.fixture(&["logs-table", "costjob", "real_logs", "s3://logs/real/"]);
    let demo_cur = demo.join("cur");
    let demo_scope = "accounts = [\"123456789012\"]\n";
    for (table, prefix, format, timezone, (cur, scope, day)) in [
        (
            "export_logs",
            "exports",
            "cloudwatch-export",
            "UTC",
            (&demo_cur, demo_scope, DEMO_DATE),
        ),
        (
            "firehose_logs",
            "firehose",
            "firehose",
            "UTC",
            (&demo_cur, demo_scope, DEMO_DATE),
        ),
        (
            "jsonl_logs",
            "jsonl",
            "jsonl",
            "UTC",
            (&demo_cur, demo_scope, DEMO_DATE),
        ),
        (
            "export_logs",
            "exports",
            "cloudwatch-export",
            "America/Guayaquil",
            (&demo_cur, demo_scope, DEMO_DATE),
        ),
        (
            "real_logs",
            "real",
            "jsonl",
            "UTC",
            (&workshop, "", "2018-11-15"),
        ),
        (
            "real_logs",
            "real",
            "jsonl",
            "America/Guayaquil",
            (&costopt, "", "2019-11-30"),
        ),
    ] {
        let dir = (tmp.path()).join(format!("{table}-{}-{day}", timezone.replace('/', "-")));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("costjob.toml");
        let body = format!(
            "[cur]\npath = {cur:?}\n{scope}workgroup = \"costjob\"\n\
             output_location = \"s3://athena-results/costjob\"\n\
             [logs]\npath = \"s3://logs/{prefix}/{{date}}/\"\nformat = {format:?}\ndatabase = \"costjob\"\ntable = {table:?}\n\
             [output]\npath = \"out-local\"\n[pricing]\npath = {:?}\n\
             [allocation]\ncost_basis = \"amortized\"\nexclude_line_item_types = []\n\
             [calendar]\ntimezone = {timezone:?}\n{FLOWS}",
            repo().join("pricing")
        );
        std::fs::write(&config, body).unwrap();
        let run = |extra: &[&str]| {
            let mut args = vec!["run", "--config", config.to_str().unwrap(), "--date", day];
            args.extend_from_slice(extra);
            moto.costjob(
                &dir,
                &args,
                &[("AWS_ENDPOINT_URL_ATHENA", &athena.endpoint)],
            )
        };
        if timezone == "UTC" && day == DEMO_DATE {
            // check finds the table and reads the pointers as the query will.
            let body = std::fs::read_to_string(&config).unwrap();
            let athena_config = body.replace("[logs]\n", "[logs]\nsource = \"athena\"\n");
            std::fs::write(dir.join("athena.toml"), athena_config).unwrap();
            let o = moto.costjob(&dir, &["check", "--config", "athena.toml"], &[]);
            assert!(o.status.success(), "{table} check: {}", stderr(&o));
            let said = stdout(&o);
            assert!(
                said.contains(&format!(
                    "[logs] table costjob.{table}: columns line, partitioned by day"
                )),
                "{said}"
            );
        }
        let local = run(&[]);
        assert!(local.status.success(), "{table} local: {}", stderr(&local));
        assert!(
            stdout(&local).contains("logs read here"),
            "{}",
            stdout(&local)
        );
        let through = run(&["--logs-engine", "athena", "--output", "out-athena"]);
        assert!(
            through.status.success(),
            "{table} athena: {}",
            stderr(&through)
        );
        let out = stdout(&through);
        assert!(out.contains("logs read by athena query "), "{out}");
        assert_same_day(&dir.join("out-local"), &dir.join("out-athena"), day);
        // Equal, and not for want of lines of each kind.
        let recon = crate::helpers::table(&dir.join("out-athena"), "reconciliation", day);
        let counted = |c: &str| {
            use costjob::output::BatchExt;
            recon.int(c, 0).unwrap()
        };
        let kinds: &[&str] = match format {
            _ if table == "real_logs" => &[],
            "firehose" => &["log_duplicate", "log_control_messages", "log_out_of_day"],
            "jsonl" => &[
                "log_bad_timestamp",
                "log_out_of_day",
                "log_non_json",
                "log_malformed",
            ],
            _ => &[
                "log_malformed",
                "log_non_json",
                "log_no_transaction",
                "log_missing_service",
                "log_out_of_day",
                "log_blank",
                "log_type_conflicts",
            ],
        };
        for kind in kinds {
            assert!(counted(kind) > 0, "{table}: {kind} is 0");
        }
        let least = match (table, format) {
            ("real_logs", _) => 200,
            (_, "jsonl") => 3,
            _ => 1000,
        };
        assert!(counted("transactions") >= least, "{table}");
        let report = run_report(&dir.join("out-athena"), day);
        let parsed: serde_json::Value = serde_json::from_str(&report).unwrap();
        let query = &parsed["run"]["logs_query"];
        assert_eq!(parsed["run"]["logs_engine"], "athena", "{report}");
        assert!(
            query["bytes_scanned"].as_u64() > Some(0)
                && query["unloaded_bytes"].as_u64() > Some(0)
                && query["query_id"].is_string()
                && query["cost_usd"].is_string(),
            "{report}"
        );
        let left = moto.fixture(&["list", "s3://athena-results/costjob/"]);
        assert!(
            left.trim().is_empty(),
            "{table}: the unload is removed: {left}"
        );
    }

    // refresh through Athena: one query a day, each day's verdict the file
    // engine's (the 23rd published as the run published it; the 24th, whose
    // folder holds no export, waiting for its logs).
    let dir = tmp.path().join(format!("export_logs-UTC-{DEMO_DATE}"));
    let mut verdicts = Vec::new();
    for (engine, out) in [
        ("local", "out-refresh-local"),
        ("athena", "out-refresh-athena"),
    ] {
        let args = [
            "refresh",
            "--config",
            "costjob.toml",
            "--from",
            DEMO_DATE,
            "--to",
            "2026-11-24",
            "--logs-engine",
            engine,
            "--output",
            out,
        ];
        let o = moto.costjob(
            &dir,
            &args,
            &[("AWS_ENDPOINT_URL_ATHENA", &athena.endpoint)],
        );
        let said = stdout(&o);
        assert!(
            said.contains(&format!("{DEMO_DATE}: published")),
            "{engine}: {said}{}",
            stderr(&o)
        );
        verdicts.push((
            o.status.code(),
            said.lines()
                .filter(|l| l.starts_with("2026-"))
                .map(String::from)
                .collect::<Vec<_>>(),
        ));
    }
    assert_eq!(verdicts[0], verdicts[1], "the same verdicts");
    assert!(
        verdicts[1].1.iter().any(|l| l.starts_with("2026-11-24: ")),
        "{verdicts:?}"
    );
    let report = run_report(&dir.join("out-refresh-athena"), DEMO_DATE);
    assert!(
        report.contains("\"logs_engine\":\"athena\"")
            || report.contains("\"logs_engine\": \"athena\""),
        "{report}"
    );
    assert_same_day(
        &dir.join("out-refresh-local"),
        &dir.join("out-refresh-athena"),
        DEMO_DATE,
    );

    // Refusals, each a configuration written as `name` in `dir` and a command
    // on it: exit 3, stderr saying every one of `said`.
    let refused = |dir: &Path, name: &str, body: String, command: &[&str], said: &[&str]| {
        std::fs::write(dir.join(name), body).unwrap();
        let mut args = vec![command[0], "--config", name];
        args.extend_from_slice(&command[1..]);
        let o = moto.costjob(dir, &args, &[("AWS_ENDPOINT_URL_ATHENA", &athena.endpoint)]);
        assert_eq!(o.status.code(), Some(3), "{name}: {}", stderr(&o));
        for text in said {
            assert!(stderr(&o).contains(text), "{name}: {text}: {}", stderr(&o));
        }
    };
    // check refuses what the query cannot read, and a table that is not there.
    let config = std::fs::read_to_string(dir.join("athena.toml")).unwrap();
    let odd = config.replace(
        "[output]",
        "[logs.fields]\nservice = \"/svc.name\"\n[output]",
    );
    refused(
        &dir,
        "odd.toml",
        odd,
        &["check"],
        &["[logs.fields] service = \"/svc.name\""],
    );
    let missing = config.replace("table = \"export_logs\"", "table = \"no_such_logs\"");
    refused(
        &dir,
        "missing.toml",
        missing,
        &["check"],
        &["costjob.no_such_logs"],
    );

    // A table over other objects than [logs] path lists: refused, naming one.
    let elsewhere = config.replace("table = \"export_logs\"", "table = \"jsonl_logs\"");
    let run = ["run", "--date", DEMO_DATE, "--output", "out-elsewhere"];
    let said = [
        "s3://logs/jsonl/2026-11-23/events.json",
        "not under [logs] path",
    ];
    refused(&dir, "elsewhere.toml", elsewhere, &run, &said);

    // Firehose without the module's processors (records gzip'ed one by one
    // and run together, objects without `.gz`): Athena reads noise. The
    // engine refuses the day, naming an object, and publishes nothing.
    let raw = [
        "firehose",
        logs.to_str().unwrap(),
        "s3://logs/raw/",
        DEMO_DATE,
    ];
    moto.fixture(&raw);
    moto.fixture(&["logs-table", "costjob", "raw_logs", "s3://logs/raw/"]);
    let dir = tmp.path().join(format!("firehose_logs-UTC-{DEMO_DATE}"));
    let config = std::fs::read_to_string(dir.join("costjob.toml"))
        .unwrap()
        .replace("s3://logs/firehose/", "s3://logs/raw/")
        .replace("firehose_logs", "raw_logs");
    let run = [
        "run",
        "--date",
        DEMO_DATE,
        "--logs-engine",
        "athena",
        "--output",
        "out-raw",
    ];
    let said = [
        "s3://logs/raw/",
        "not a CloudWatch Logs subscription record",
    ];
    refused(&dir, "raw.toml", config, &run, &said);
    assert!(
        !dir.join("out-raw/reconciliation").exists(),
        "nothing published"
    );
}
