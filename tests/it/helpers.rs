//! Shared helpers: paths, running the binary, writing configs and log files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::NaiveDate;
use costjob::output::read_partition;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// AWS's own CUR exports (a copy of `../shared/data/real-cur`; see each SOURCE.md).
pub fn real_cur_data() -> PathBuf {
    repo().join("tests/data/real-cur")
}

/// 300 transactions on 2018-11-15, for AWS's workshop CUR.
pub fn workshop_logs(dir: &Path) -> PathBuf {
    logs_for_day(dir, "2018-11-15")
}

/// 300 transactions (pago and onboarding) on `day`, as JSON lines under `dir`.
pub fn logs_for_day(dir: &Path, day: &str) -> PathBuf {
    let logs = dir.join(format!("logs-{day}"));
    std::fs::create_dir_all(&logs).unwrap();
    let mut lines = String::new();
    for i in 0..300 {
        let (route, service) = if i % 3 == 0 {
            ("POST /v1/onboarding/start", "onboarding-svc")
        } else {
            ("POST /v1/pagos/qr", "pagos-svc")
        };
        lines.push_str(&format!(
            "{{\"timestamp\":\"{day}T{:02}:{:02}:00Z\",\"service\":\"{service}\",\"transaction_id\":\"tx-{i:04}\",\"route\":\"{route}\",\"duration_ms\":{}}}\n",
            i % 24,
            i % 60,
            10 + i
        ));
    }
    std::fs::write(logs.join("events.jsonl"), lines).unwrap();
    logs
}

pub const DEMO_DATE: &str = "2026-11-23";

pub fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Runs the real binary with `args` in `cwd`, with no `COSTJOB_*` from the caller's environment.
pub fn costjob(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_costjob"));
    cmd.current_dir(cwd).args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("COSTJOB_")) {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the costjob binary runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The flow catalog every test config uses.
pub const FLOWS: &str = r#"
[[flow]]
name = "recarga"
transaction_type = "monetary"
routes = ["^POST /v1/recargas"]

[[flow]]
name = "pago"
transaction_type = "monetary"
routes = ["^POST /v1/pagos"]

[[flow]]
name = "onboarding"
transaction_type = "non-monetary"
routes = ["^POST /v1/onboarding"]
"#;

/// Writes `dir/costjob.toml` reading `cur` and `logs`, writing `dir/out`, with the repo's pricing.
pub fn write_config(dir: &Path, cur: &Path, logs: &Path, format: &str, extra: &str) -> PathBuf {
    let path = dir.join("costjob.toml");
    let body = format!(
        "[cur]\npath = {cur:?}\n[logs]\npath = {logs:?}\nformat = {format:?}\n[output]\npath = \"out\"\n[pricing]\npath = {:?}\n{extra}\n{FLOWS}",
        repo().join("pricing")
    );
    std::fs::write(&path, body).unwrap();
    path
}

/// `costjob sample --out <dir> --date <day> --transactions <n>` (`dir`
/// absolute), which must succeed.
pub fn sample_day(dir: &Path, day: &str, transactions: usize) {
    let n = transactions.to_string();
    let args = [
        "sample",
        "--out",
        dir.to_str().unwrap(),
        "--date",
        day,
        "--transactions",
        &n,
    ];
    let o = costjob(&std::env::temp_dir(), &args, &[]);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Reads one published table partition.
pub fn table(out: &Path, name: &str, day: &str) -> arrow_array::RecordBatch {
    read_partition(out, name, date(day)).unwrap()
}

/// Runs the demo day (`examples/costjob.toml`) into `out`, from `out`'s parent directory.
pub fn run_demo(out: &Path, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let config = repo().join("examples/costjob.toml");
    let mut args = vec![
        "run",
        "--config",
        config.to_str().unwrap(),
        "--date",
        DEMO_DATE,
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    costjob(out.parent().unwrap(), &args, env)
}

/// Runs a reading command (`report`, `explain`) with `config` over the output
/// root `out`, from `out`'s parent directory.
pub fn read_command(command: &str, config: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        command,
        "--config",
        config.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    costjob(out.parent().unwrap(), &args, &[])
}

/// Writes `batch` as one Parquet file at `path`.
pub fn write_parquet(path: &Path, batch: &arrow_array::RecordBatch) {
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// A batch without its `run_id` column: what two runs of the same inputs share.
pub fn without_run_id(b: arrow_array::RecordBatch) -> arrow_array::RecordBatch {
    let keep: Vec<usize> = (0..b.num_columns())
        .filter(|&i| b.schema().field(i).name() != "run_id")
        .collect();
    b.project(&keep).unwrap()
}

/// A published table with what differs between two runs of the same day left
/// out: run ids, the reconciliation's run timestamps and the restatements',
/// and the log listing's fingerprint (the same logs have other versions on
/// S3 and on disk); the transactions' event times are compared.
pub fn comparable(out: &Path, name: &str, day: &str) -> arrow_array::RecordBatch {
    let b = table(out, name, day);
    let schema = b.schema();
    let keep: Vec<usize> = (0..b.num_columns())
        .filter(|&i| {
            let field = schema.field(i).name().as_str();
            !field.ends_with("run_id")
                && field != "logs_fingerprint" // S3 ETags, file mtimes
                && !(matches!(name, "reconciliation" | "restatements") && field.ends_with("_at"))
        })
        .collect();
    b.project(&keep).unwrap()
}

/// The published run report of `day` under the local root `out`.
pub fn run_report(out: &Path, day: &str) -> String {
    std::fs::read_to_string(first_file(&out.join(format!("_run_reports/dt={day}")))).unwrap()
}

/// The first file listed in `dir` (a partition of one file).
pub fn first_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

/// Every table of `day` equal, row for row, in two output roots.
pub fn assert_same_day(a: &Path, b: &Path, day: &str) {
    for name in costjob::sink::parquet::TABLES {
        assert_eq!(
            comparable(a, name, day),
            comparable(b, name, day),
            "{name} of {day}"
        );
    }
}

/// The run ids of a published table's rows (one when it is whole and from one run).
pub fn table_run_ids(out: &Path, name: &str, day: &str) -> std::collections::BTreeSet<String> {
    use costjob::output::BatchExt;
    let batch = table(out, name, day);
    let rows = 0..batch.num_rows();
    if name == "restatements" {
        // Its rows are the day's history, each restatement with its run: the
        // latest is the publishing run's. A first publish has none: its
        // partition's location is what says which run wrote it.
        let latest = rows
            .map(|i| batch.timestamp_ms("restated_at", i).unwrap())
            .max();
        return match latest {
            Some(at) => (0..batch.num_rows())
                .filter(|&i| batch.timestamp_ms("restated_at", i).unwrap() == at)
                .map(|i| batch.text("run_id", i).unwrap())
                .collect(),
            None => table_run_ids(out, "reconciliation", day),
        };
    }
    rows.map(|i| batch.text("run_id", i).unwrap()).collect()
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on the loopback `port` (a stand-in started by a test).
pub fn wait_for_port(port: u16, what: &str) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed().as_secs() < 60,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The demo day's logs copied under `dir/logs` (so a test can add to them).
pub fn demo_logs(dir: &Path) -> PathBuf {
    let logs = dir.join("logs");
    copy_dir(&repo().join("examples/data/logs"), &logs);
    logs
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// One more CloudWatch export stream holding `lines`.
pub fn add_stream(logs: &Path, lines: &[String]) {
    let stream = logs.join("extra-task/ecs/pagos-svc/feedface");
    std::fs::create_dir_all(&stream).unwrap();
    std::fs::write(stream.join("000000.gz"), gzip(lines.join("\n").as_bytes())).unwrap();
}

/// Books of `days`: each day sampled (300 transactions), its CUR file under
/// `cur/`, its logs under `logs/<date>/`; the config reads `logs/{date}`.
pub fn books(dir: &Path, days: &[&str], extra: &str) {
    sample_books(dir, days, 300, extra)
}

/// Like [`books`], `transactions` a day.
pub fn sample_books(dir: &Path, days: &[&str], transactions: usize, extra: &str) {
    std::fs::create_dir_all(dir.join("cur")).unwrap();
    for day in days {
        let sample = dir.join(format!("sample-{day}"));
        sample_day(&sample, day, transactions);
        for file in std::fs::read_dir(sample.join("cur")).unwrap() {
            let file = file.unwrap().path();
            std::fs::rename(&file, dir.join("cur").join(file.file_name().unwrap())).unwrap();
        }
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::rename(sample.join("logs"), dir.join("logs").join(day)).unwrap();
        std::fs::remove_dir_all(&sample).unwrap();
    }
    write_config(
        dir,
        &dir.join("cur"),
        &dir.join("logs/{date}"),
        "cloudwatch-export",
        extra,
    );
}
