//! The production data plane on a real S3 and Glue API: `moto` in server mode
//! on a loopback port (started and stopped here), the binary pointed at it with
//! `AWS_ENDPOINT_URL`. Logs (CloudWatch export and Firehose layouts) and the
//! CUR read from S3, tables published through Glue partitions, a second run
//! flipping them and removing the superseded run, leases, unreadable objects.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use costjob::output::BatchExt;

use crate::helpers::*;

/// A moto server on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (the test command installs moto[server])");
        wait_for_port(
            port,
            "moto server (is `moto[server]` installed? bash tests/all.sh installs it)",
        );
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    /// Runs `tests/stand_ins/aws_fixture.py` against this server.
    pub fn fixture(&self, args: &[&str]) -> String {
        let out = Command::new("python3")
            .arg(repo().join("tests/stand_ins/aws_fixture.py"))
            .args(args)
            .envs(self.env())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "aws_fixture {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `costjob` with this server's environment and `extra` settings.
    pub fn costjob(&self, cwd: &Path, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let env = self.env();
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend_from_slice(extra);
        costjob(cwd, args, &all)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const ROOT: &str = "s3://costjob-out/costjob";

/// Buckets, the demo day's CUR and logs on S3, and the Glue tables of sql/ddl.sql.
fn demo_on_s3(moto: &Moto) {
    moto.fixture(&["setup", "costjob-out", "costjob", ROOT]);
    let data = repo().join("examples/data");
    moto.fixture(&[
        "upload",
        data.join("cur").to_str().unwrap(),
        "s3://cur/data-exports/deuna",
    ]);
    moto.fixture(&[
        "upload",
        data.join("logs").to_str().unwrap(),
        "s3://logs/exports/2026-11-23",
    ]);
}

/// The demo day on S3 and a config reading its CloudWatch exports, in a new
/// temporary directory.
fn demo_on_s3_exports() -> (Moto, tempfile::TempDir, PathBuf) {
    let moto = Moto::start();
    demo_on_s3(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let config = s3_config(tmp.path(), "cloudwatch-export", "s3://logs/exports/{date}");
    (moto, tmp, config)
}

/// A config reading everything from S3 and publishing to [`ROOT`].
fn s3_config(dir: &Path, format: &str, logs: &str) -> PathBuf {
    let path = dir.join("costjob.toml");
    let body = format!(
        "[cur]\npath = \"s3://cur/data-exports/deuna\"\naccounts = [\"123456789012\"]\n[logs]\npath = {logs:?}\nformat = {format:?}\nmax_objects_in_flight = 3\n\
         [output]\npath = {ROOT:?}\nglue_database = \"costjob\"\nretain_superseded_hours = 0\n[pricing]\npath = {:?}\n{FLOWS}",
        repo().join("pricing")
    );
    std::fs::write(&path, body).unwrap();
    path
}

fn run(moto: &Moto, dir: &Path, config: &Path, extra: &[(&str, &str)]) -> Output {
    run_with(moto, dir, config, &[], extra)
}

/// `costjob run` of the demo day with more arguments.
fn run_with(
    moto: &Moto,
    dir: &Path,
    config: &Path,
    args: &[&str],
    extra: &[(&str, &str)],
) -> Output {
    let mut all = vec![
        "run",
        "--config",
        config.to_str().unwrap(),
        "--date",
        DEMO_DATE,
    ];
    all.extend_from_slice(args);
    moto.costjob(dir, &all, extra)
}

/// The day as Glue points at it, downloaded under `dest`.
fn published(moto: &Moto, dest: &Path) -> serde_json::Value {
    let _ = std::fs::remove_dir_all(dest);
    moto.fixture(&["download", "costjob", DEMO_DATE, dest.to_str().unwrap()]);
    serde_json::from_str(&moto.fixture(&["partitions", "costjob", DEMO_DATE])).unwrap()
}

#[test]
fn a_day_read_from_s3_and_published_through_glue_equals_the_local_run() {
    let moto = Moto::start();
    demo_on_s3(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    assert!(run_demo(&local, &[], &[]).status.success());

    let config = s3_config(tmp.path(), "cloudwatch-export", "s3://logs/exports/{date}");
    let o = run(&moto, tmp.path(), &config, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("{ROOT}/transactions/dt={DEMO_DATE}/run=")));
    let copy = tmp.path().join("copy");
    let locations = published(&moto, &copy);
    let run_id = table(&copy, "reconciliation", DEMO_DATE)
        .text("run_id", 0)
        .unwrap();
    for name in costjob::sink::parquet::TABLES {
        assert_eq!(
            locations[name],
            format!("{ROOT}/{name}/dt={DEMO_DATE}/run={run_id}/"),
            "Glue's partition of {name} points at the run"
        );
    }
    assert_same_day(&copy, &local, DEMO_DATE);

    // `costjob report` reads the day through Glue as it reads a local root.
    let report = |config: &str, output: &[&str]| {
        let mut args = vec!["report", "--config", config, "--date", DEMO_DATE];
        args.extend_from_slice(output);
        let o = moto.costjob(tmp.path(), &args, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let examples = repo().join("examples/costjob.toml");
    assert_eq!(
        report(config.to_str().unwrap(), &[]),
        report(
            examples.to_str().unwrap(),
            &["--output", local.to_str().unwrap()]
        )
    );
    let o = moto.costjob(
        tmp.path(),
        &[
            "report",
            "--config",
            config.to_str().unwrap(),
            "--date",
            "2001-01-01",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "2001-01-01 is not published in s3://costjob-out/costjob (Glue database costjob): publish it with `costjob run --date 2001-01-01`"
        ),
        "{}",
        stderr(&o)
    );

    // A second run flips every partition and removes the superseded run.
    let o = run(&moto, tmp.path(), &config, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let locations = published(&moto, &copy);
    let second = table(&copy, "reconciliation", DEMO_DATE)
        .text("run_id", 0)
        .unwrap();
    assert_ne!(second, run_id);
    for name in costjob::sink::parquet::TABLES {
        assert!(
            locations[name].as_str().unwrap().contains(&second),
            "{name}"
        );
    }
    let keys = moto.fixture(&["list", "s3://costjob-out/costjob/"]);
    assert!(
        !keys.contains(&run_id),
        "the superseded run is deleted: {keys}"
    );
    assert!(keys.contains(&format!(
        "_run_reports/dt={DEMO_DATE}/run={second}/report.json"
    )));
    assert!(
        !keys.contains("_journal/") && !keys.contains("_leases/"),
        "{keys}"
    );
}

#[test]
fn firehose_deliveries_on_s3_with_redeliveries_and_the_next_days_prefix() {
    let moto = Moto::start();
    demo_on_s3(&moto);
    let logs = repo().join("examples/data/logs");
    moto.fixture(&[
        "firehose",
        logs.to_str().unwrap(),
        "s3://logs/firehose/",
        DEMO_DATE,
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    assert!(run_demo(&local, &[], &[]).status.success());
    let config = s3_config(tmp.path(), "firehose", "s3://logs/firehose/{date}");
    let o = run(&moto, tmp.path(), &config, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let copy = tmp.path().join("copy");
    published(&moto, &copy);
    let recon = table(&copy, "reconciliation", DEMO_DATE);
    assert!(
        recon.int("log_duplicate", 0).unwrap() > 0,
        "re-delivered events counted"
    );
    assert_eq!(
        without_run_id(table(&copy, "transactions", DEMO_DATE)),
        without_run_id(table(&local, "transactions", DEMO_DATE)),
        "every event used once, including those delivered under the next day's prefix"
    );
}

#[test]
fn a_held_lease_exits_5_and_an_unreadable_object_exits_3_naming_it() {
    let (moto, tmp, config) = demo_on_s3_exports();
    // A live lease of another run.
    let lease = tmp.path().join("lease.json");
    let expires = chrono::Utc::now().timestamp() + 600;
    std::fs::write(
        &lease,
        format!(r#"{{"run_id":"other-run","expires_at":{expires}}}"#),
    )
    .unwrap();
    let dir = tmp.path().join("lease");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&lease, dir.join(format!("dt={DEMO_DATE}.json"))).unwrap();
    moto.fixture(&["upload", dir.to_str().unwrap(), &format!("{ROOT}/_leases")]);
    let o = run(&moto, tmp.path(), &config, &[]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("other-run"), "{}", stderr(&o));
    // An expired lease is taken over.
    std::fs::write(
        dir.join(format!("dt={DEMO_DATE}.json")),
        r#"{"run_id":"crashed-run","expires_at":1}"#,
    )
    .unwrap();
    moto.fixture(&["upload", dir.to_str().unwrap(), &format!("{ROOT}/_leases")]);
    let o = run(&moto, tmp.path(), &config, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    // A log object that is not gzip all the way: exit 3 naming its s3:// URL.
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let mut truncated =
        gzip(b"2026-11-23T10:00:00.000Z {\"transaction_id\":\"t\",\"service\":\"s\"}\n");
    truncated.truncate(truncated.len() - 8);
    std::fs::write(bad.join("000000.gz"), truncated).unwrap();
    moto.fixture(&[
        "upload",
        bad.to_str().unwrap(),
        "s3://logs/exports/2026-11-23/broken-stream",
    ]);
    let o = run(&moto, tmp.path(), &config, &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("s3://logs/exports/2026-11-23/broken-stream/000000.gz"),
        "{}",
        stderr(&o)
    );
}

/// Makes the day's lease look expired, as it is `lease_seconds` after a crash.
#[cfg(feature = "failpoints")]
fn expire_lease(moto: &Moto, tmp: &Path) {
    let dir = tmp.join("expired-lease");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("dt={DEMO_DATE}.json")),
        r#"{"run_id":"crashed","expires_at":1}"#,
    )
    .unwrap();
    moto.fixture(&["upload", dir.to_str().unwrap(), &format!("{ROOT}/_leases")]);
}

#[cfg(feature = "failpoints")]
#[test]
fn an_s3_publish_killed_at_every_step_is_whole_per_table_and_rolled_forward() {
    let (moto, tmp, config) = demo_on_s3_exports();
    let o = run(&moto, tmp.path(), &config, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let copy = tmp.path().join("copy");
    for point in [
        "publish::staged",
        "publish::journaled",
        "publish::flipped::transactions",
        "publish::flipped::unallocated",
        "publish::flipped::reconciliation",
        "publish::committed",
    ] {
        let before: serde_json::Value =
            serde_json::from_str(&moto.fixture(&["partitions", "costjob", DEMO_DATE])).unwrap();
        let o = run(
            &moto,
            tmp.path(),
            &config,
            &[("FAILPOINTS", &format!("{point}=return"))],
        );
        assert!(!o.status.success(), "{point}: not killed");
        let after = published(&moto, &copy);
        let run_of = |l: &serde_json::Value| {
            l.as_str()
                .unwrap()
                .split("run=")
                .nth(1)
                .unwrap()
                .to_string()
        };
        // The commit record flips last: once it is new, every table is.
        if after["reconciliation"] != before["reconciliation"] {
            for name in costjob::sink::parquet::TABLES {
                assert_eq!(
                    run_of(&after[name]),
                    run_of(&after["reconciliation"]),
                    "{point}: {name}"
                );
            }
        }
        for name in costjob::sink::parquet::TABLES {
            let ids = table_run_ids(&copy, name, DEMO_DATE);
            assert_eq!(ids.len(), 1, "{point}: {name} whole and from one run");
        }
        expire_lease(&moto, tmp.path());
        let o = run(&moto, tmp.path(), &config, &[]);
        assert!(o.status.success(), "{point}: {}", stderr(&o));
        if !["publish::staged", "publish::committed"].contains(&point) {
            assert!(
                stderr(&o).contains("rolled_forward"),
                "{point}: {}",
                stderr(&o)
            );
        }
        let after = published(&moto, &copy);
        let last = table(&copy, "reconciliation", DEMO_DATE)
            .text("run_id", 0)
            .unwrap();
        for name in costjob::sink::parquet::TABLES {
            assert!(
                after[name].as_str().unwrap().contains(&last),
                "{point}: {name}"
            );
        }
        let keys = moto.fixture(&["list", "s3://costjob-out/costjob/"]);
        assert!(!keys.contains("_journal/"), "{point}: {keys}");
    }
}

#[cfg(feature = "failpoints")]
#[test]
fn check_lists_what_a_killed_s3_run_left_and_the_next_nights_run_repairs_it() {
    let (moto, tmp, config) = demo_on_s3_exports();
    let check = || {
        let o = moto.costjob(
            tmp.path(),
            &["check", "--config", config.to_str().unwrap()],
            &[],
        );
        (o.status.success(), stderr(&o))
    };
    assert!(
        check().0,
        "a fresh root has nothing to report: {}",
        check().1
    );
    // Inputs that point nowhere on S3: named, exit 3.
    let o = moto.costjob(
        tmp.path(),
        &["check", "--config", config.to_str().unwrap()],
        &[
            ("COSTJOB_CUR_PATH", "s3://cur/no-such-export"),
            ("COSTJOB_LOGS_PATH", "s3://logs/no-such-prefix/{date}"),
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    for problem in [
        "[cur] path s3://cur/no-such-export: no CUR Parquet files (*.parquet) found",
        "[logs] path s3://logs/no-such-prefix/{date}: no log object found",
    ] {
        assert!(stderr(&o).contains(problem), "{problem:?}: {}", stderr(&o));
    }
    let o = run(
        &moto,
        tmp.path(),
        &config,
        &[("FAILPOINTS", "publish::flipped::transactions=return")],
    );
    assert!(!o.status.success());
    moto.fixture(&[
        "start-upload",
        &format!("{ROOT}/transactions/dt={DEMO_DATE}/run=killed-run/part-00000.parquet"),
    ]);
    let (ok, text) = check();
    assert!(!ok);
    for finding in [
        format!("{ROOT}/_journal/dt={DEMO_DATE}.json: interrupted publish of {DEMO_DATE}"),
        "the next run rolls it forward".to_string(),
        "unfinished multipart upload of run killed-run".to_string(),
    ] {
        assert!(text.contains(&finding), "{finding} missing from: {text}");
    }
    assert!(
        !text.contains("expired"),
        "the killed run's lease is live: {text}"
    );
    expire_lease(&moto, tmp.path());
    assert!(
        check().1.contains("lease of run crashed expired"),
        "{}",
        check().1
    );

    // The next night's run (another day) finishes the interrupted publish.
    let o = moto.costjob(
        tmp.path(),
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            "2026-11-24",
        ],
        &[],
    );
    let log = stderr(&o);
    assert!(
        log.contains("rolled_forward") && log.contains(DEMO_DATE),
        "{log}"
    );
    let copy = tmp.path().join("copy");
    published(&moto, &copy);
    let run_id = table(&copy, "reconciliation", DEMO_DATE)
        .text("run_id", 0)
        .unwrap();
    for name in costjob::sink::parquet::TABLES {
        assert_eq!(
            table_run_ids(&copy, name, DEMO_DATE),
            [run_id.clone()].into(),
            "{name}"
        );
    }
    // The killed run's upload is aborted by the next run that collects garbage
    // (this one, when it published; otherwise the demo day's run).
    let (ok, text) = check();
    assert!(
        !text.contains("_journal/") && !text.contains("lease of run"),
        "{text}"
    );
    if !ok {
        assert!(
            text.contains("multipart upload of run killed-run"),
            "{text}"
        );
        assert!(run(&moto, tmp.path(), &config, &[]).status.success());
    }
    let (ok, text) = check();
    assert!(ok, "{text}");
}

/// The last 8 bytes of a Parquet file: the footer's length, plus themselves.
fn footer_bytes(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    let tail = &bytes[bytes.len() - 8..];
    u32::from_le_bytes(tail[..4].try_into().unwrap()) as u64 + 8
}

#[test]
fn the_cur_from_s3_fetches_footers_and_the_kept_column_chunks_only() {
    let moto = Moto::start();
    moto.fixture(&["setup", "costjob-out", "costjob", ROOT]);
    let workshop = real_cur_data().join("wal-workshop-cur-2018");
    moto.fixture(&["upload", workshop.to_str().unwrap(), "s3://cur/workshop"]);
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(
        logs.join("events.jsonl"),
        "{\"timestamp\":\"2018-11-15T10:00:00Z\",\"service\":\"pagos-svc\",\"transaction_id\":\"tx-1\",\"route\":\"POST /v1/pagos/qr\",\"duration_ms\":10}\n",
    )
    .unwrap();
    let config = write_config(
        tmp.path(),
        Path::new("s3://cur/workshop"),
        &logs,
        "jsonl",
        "[allocation]\ncost_basis = \"amortized\"\nexclude_line_item_types = []\n",
    );
    let o = moto.costjob(
        tmp.path(),
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            "2018-11-15",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let log = stderr(&o);
    let cur: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["fields"]["stage"] == "cur" || l["stage"] == "cur")
        .unwrap_or_else(|| panic!("no cur stage line in {log}"));
    let fields = if cur["fields"].is_object() {
        &cur["fields"]
    } else {
        &cur
    };
    assert_eq!(
        fields["row_groups_pruned"], 2,
        "Oct and Dec ruled out: {fields}"
    );
    let fetched = fields["bytes_fetched"].as_u64().unwrap();
    let file = |m: &str| workshop.join(format!("{m}2018-WorkshopCUR-00001.snappy.parquet"));
    let footers: u64 = ["Oct", "Nov", "Dec"]
        .iter()
        .map(|m| footer_bytes(&file(m)))
        .sum();
    let nov_body = std::fs::metadata(file("Nov")).unwrap().len() - footer_bytes(&file("Nov"));
    let chunks = fetched - footers;
    assert!(fetched > footers, "{fetched} bytes");
    assert!(
        chunks < nov_body / 2,
        "only the projected columns of November's row group: {chunks} of {nov_body} bytes"
    );
    use costjob::output::BatchExt;
    let recon = table(&tmp.path().join("out"), "reconciliation", "2018-11-15");
    assert_eq!(
        recon.money("cur_total_usd", 0).unwrap(),
        costjob::model::money::parse_decimal("183.3040218968")
    );
}

/// `costjob run` of the demo day through a fault proxy applying `rules`; the
/// run's output and the faults applied.
fn run_through(
    moto: &Moto,
    dir: &Path,
    config: &Path,
    rules: serde_json::Value,
) -> (Output, Vec<serde_json::Value>) {
    let proxy = FaultProxy::start(moto, rules);
    let o = run(moto, dir, config, &proxy.env());
    (o, proxy.faults())
}

/// The fault proxy (`tests/stand_ins/fault_proxy.py`) in front of a moto
/// server, applying `rules`; killed on drop.
pub struct FaultProxy {
    child: Option<Child>,
    pub endpoint: String,
}

impl FaultProxy {
    pub fn start(moto: &Moto, rules: serde_json::Value) -> Self {
        let port = free_port();
        let child = Command::new("python3")
            .arg(repo().join("tests/stand_ins/fault_proxy.py"))
            .args([&port.to_string(), &moto.endpoint, &rules.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_port(port, "the fault proxy");
        Self {
            child: Some(child),
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The settings that send the binary's S3 and Glue calls through the proxy.
    pub fn env(&self) -> [(&'static str, &str); 1] {
        [("AWS_ENDPOINT_URL", &self.endpoint)]
    }

    /// Stops the proxy; the faults it applied, in order.
    pub fn faults(mut self) -> Vec<serde_json::Value> {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn objects_cut_mid_stream_are_resumed_and_nothing_is_counted_twice() {
    let moto = Moto::start();
    demo_on_s3(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    assert!(run_demo(&local, &[], &[]).status.success());
    let config = s3_config(tmp.path(), "cloudwatch-export", "s3://logs/exports/{date}");
    // Every log object's first GET is cut halfway by the proxy.
    let (o, cuts) = run_through(
        &moto,
        tmp.path(),
        &config,
        serde_json::json!([{"method": "GET", "path": "/exports/2026-11-23/", "no_header": "Range",
                            "fault": "cut", "times": 1, "per_path": true}]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(cuts.len(), 14, "every log object was cut once: {cuts:?}");
    let copy = tmp.path().join("copy");
    published(&moto, &copy);
    let (a, b) = (
        table(&copy, "reconciliation", DEMO_DATE),
        table(&local, "reconciliation", DEMO_DATE),
    );
    for counter in [
        "log_files",
        "log_lines",
        "log_events",
        "log_malformed",
        "log_non_json",
    ] {
        assert_eq!(
            a.int(counter, 0).unwrap(),
            b.int(counter, 0).unwrap(),
            "{counter}"
        );
    }
    assert_eq!(
        without_run_id(table(&copy, "transactions", DEMO_DATE)),
        without_run_id(table(&local, "transactions", DEMO_DATE))
    );
}

/// One demo log object, as its key under the day's export prefix.
const ONE_LOG_OBJECT: &str = "01352903-export/ecs/auth-svc/0001ce19ecb0e2a4/000000";

/// Issue 34.4: a connection reset that persists past the retries is exit 3
/// naming the object, `--allow-corrupt-input` or not; before, the flag counted
/// the object as a corrupt file and the events after the cut were silently lost.
#[test]
fn a_network_failure_is_never_skipped_as_corrupt_input() {
    let (moto, tmp, config) = demo_on_s3_exports();
    let object = format!("/exports/2026-11-23/{ONE_LOG_OBJECT}.gz");
    let proxy = FaultProxy::start(
        &moto,
        serde_json::json!([{"method": "GET", "path": object, "fault": "cut"}]),
    );
    let o = run_with(
        &moto,
        tmp.path(),
        &config,
        &["--allow-corrupt-input"],
        &proxy.env(),
    );
    let faults = proxy.faults();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "s3://logs/exports/2026-11-23/{ONE_LOG_OBJECT}.gz: unreadable"
        )),
        "{err}"
    );
    assert!(!err.contains("corrupt"), "{err}");
    assert!(faults.len() >= 5, "retried and resumed first: {faults:?}");
}

/// Issue 34.5: a plain object whose body ends before its listed size (a
/// Content-Length that agrees with the short body) is resumed where it ended;
/// one that stays short is exit 3 naming it. Before, the short body was taken
/// as the whole object: lines lost, exit 0.
#[test]
fn a_short_body_is_resumed_or_an_input_error() {
    let moto = Moto::start();
    demo_on_s3(&moto);
    let data = repo().join("examples/data");
    moto.fixture(&[
        "upload-plain",
        data.join("logs").to_str().unwrap(),
        "s3://logs/plain/2026-11-23",
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    assert!(run_demo(&local, &[], &[]).status.success());
    let config = s3_config(tmp.path(), "cloudwatch-export", "s3://logs/plain/{date}");
    // Every object's first GET short: resumed, the day equals the local run.
    let (o, shorts) = run_through(
        &moto,
        tmp.path(),
        &config,
        serde_json::json!([{"method": "GET", "path": "/plain/2026-11-23/", "no_header": "Range",
                            "fault": "short", "times": 1, "per_path": true}]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(shorts.len(), 14, "{shorts:?}");
    let copy = tmp.path().join("copy");
    published(&moto, &copy);
    assert_eq!(
        without_run_id(table(&copy, "transactions", DEMO_DATE)),
        without_run_id(table(&local, "transactions", DEMO_DATE))
    );
    let lines = |dir: &Path| {
        table(dir, "reconciliation", DEMO_DATE)
            .int("log_lines", 0)
            .unwrap()
    };
    assert_eq!(lines(&copy), lines(&local));
    // One object short every time: exit 3 naming it, flag or not.
    let proxy = FaultProxy::start(
        &moto,
        serde_json::json!([{"method": "GET", "path": format!("/plain/2026-11-23/{ONE_LOG_OBJECT}"),
                            "fault": "short"}]),
    );
    let o = run_with(
        &moto,
        tmp.path(),
        &config,
        &["--allow-corrupt-input"],
        &proxy.env(),
    );
    drop(proxy);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "s3://logs/plain/2026-11-23/{ONE_LOG_OBJECT}: unreadable"
        )) && err.contains("short body"),
        "{err}"
    );
}

/// The run ids of every run prefix under the root.
fn run_ids_under_root(moto: &Moto) -> std::collections::BTreeSet<String> {
    moto.fixture(&["list", "s3://costjob-out/costjob/"])
        .lines()
        .filter_map(|k| k.split("/run=").nth(1))
        .filter_map(|rest| rest.split('/').next())
        .map(str::to_string)
        .collect()
}

/// The run every table's partition of `day` points at (one, or the test fails).
fn published_run(moto: &Moto, day: &str) -> String {
    let locations: serde_json::Value =
        serde_json::from_str(&moto.fixture(&["partitions", "costjob", day])).unwrap();
    let runs: std::collections::BTreeSet<&str> = costjob::sink::parquet::TABLES
        .iter()
        .map(|t| {
            let l = locations[t]
                .as_str()
                .unwrap_or_else(|| panic!("{t} has no partition"));
            l.split("run=").nth(1).unwrap().trim_end_matches('/')
        })
        .collect();
    assert_eq!(runs.len(), 1, "every table on one run: {locations}");
    runs.into_iter().next().unwrap().to_string()
}

/// Issue 34.8: a run whose staging fails removes what it staged at once (the
/// other tables' parts, written in parallel), and the published day stays.
#[test]
fn a_failed_s3_run_removes_what_it_staged() {
    let (moto, tmp, config) = demo_on_s3_exports();
    assert!(run(&moto, tmp.path(), &config, &[]).status.success());
    let first = published_run(&moto, DEMO_DATE);
    let (o, _) = run_through(
        &moto,
        tmp.path(),
        &config,
        serde_json::json!([{"method": "PUT", "path": "/flow_summary/", "fault": "status",
                            "status": 500, "code": "InternalError"}]),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(published_run(&moto, DEMO_DATE), first);
    assert_eq!(
        run_ids_under_root(&moto),
        [first].into(),
        "nothing of the failed run is left"
    );
}

/// Issue 34.7: a flip that fails for good (Glue refusing one table's update)
/// is undone by the run itself before it exits: every table back on the run
/// it had, no journal, nothing staged left. Before, two tables stayed on the
/// new run and four on the old until the next night.
#[test]
fn a_flip_that_fails_for_good_is_rolled_back_by_the_run() {
    let (moto, tmp, config) = demo_on_s3_exports();
    assert!(run(&moto, tmp.path(), &config, &[]).status.success());
    let first = published_run(&moto, DEMO_DATE);
    let (o, faults) = run_through(
        &moto,
        tmp.path(),
        &config,
        serde_json::json!([{"target": "AWSGlue.BatchUpdatePartition", "body": "flow_summary",
                            "fault": "status", "status": 500, "code": "InternalServiceException"}]),
    );
    assert!(!faults.is_empty());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("every table was pointed back at the run it had before"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        whole_day(&moto, tmp.path(), DEMO_DATE),
        first,
        "the day is whole, on its run"
    );
    let keys = moto.fixture(&["list", "s3://costjob-out/costjob/"]);
    assert!(!keys.contains("_journal/"), "{keys}");
    assert!(!keys.contains("_leases/"), "{keys}");
    assert_eq!(run_ids_under_root(&moto), [first].into());
}

/// A run held at a pause point (`pause::<point>`, compiled in with the
/// `failpoints` feature): it waits there until [`Held::release`].
#[cfg(feature = "failpoints")]
struct Held {
    dir: PathBuf,
    child: Child,
}

#[cfg(feature = "failpoints")]
impl Held {
    /// Starts `costjob run` of `date` with this server's environment, held
    /// at `point` (with `also`, more failpoints), and waits until it is there.
    fn at(moto: &Moto, tmp: &Path, config: &Path, date: &str, point: &str, also: &str) -> Self {
        let dir = tmp.join(format!("pause-{}", point.replace("::", "-")));
        let _ = std::fs::remove_dir_all(&dir);
        let failpoints = format!("{also}pause::{point}=return({})", dir.display());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_costjob"));
        cmd.current_dir(tmp)
            .args(["run", "--config", config.to_str().unwrap(), "--date", date])
            .env("FAILPOINTS", failpoints)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("COSTJOB_")) {
            cmd.env_remove(k);
        }
        for (k, v) in moto.env() {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let started = std::time::Instant::now();
        while !dir.join("reached").exists() {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("the run ended ({status}) before {point}: {err}");
            }
            assert!(started.elapsed().as_secs() < 120, "{point} not reached");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self { dir, child }
    }

    /// Lets the run go on; its output once it ends.
    fn release(self) -> Output {
        std::fs::write(self.dir.join("go"), "").unwrap();
        self.child.wait_with_output().unwrap()
    }
}

/// Every table of `day` from one run, read back whole through Glue; that run.
fn whole_day(moto: &Moto, tmp: &Path, day: &str) -> String {
    let run = published_run(moto, day);
    let copy = tmp.join("copy");
    let _ = std::fs::remove_dir_all(&copy);
    moto.fixture(&["download", "costjob", day, copy.to_str().unwrap()]);
    for name in costjob::sink::parquet::TABLES {
        assert_eq!(
            table_run_ids(&copy, name, day),
            [run.clone()].into(),
            "{name}"
        );
    }
    run
}

/// Issue 34.2: with `retain_superseded_hours = 0`, another day's run collecting
/// garbage while this day's run is between staging and flipping must leave
/// its staging alone; and a publish whose staged object vanished anyway
/// (deleted by something else) refuses to flip to it. Before, the other run
/// deleted the live staging and the day's partitions pointed at nothing.
#[cfg(feature = "failpoints")]
#[test]
fn garbage_collection_never_deletes_what_a_live_run_will_flip_to() {
    let (moto, tmp, config) = demo_on_s3_exports();
    let held = Held::at(&moto, tmp.path(), &config, DEMO_DATE, "publish::staged", "");
    let o = moto.costjob(
        tmp.path(),
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            "2026-11-24",
            "--allow-empty",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = held.release();
    assert!(o.status.success(), "{}", stderr(&o));
    let first = whole_day(&moto, tmp.path(), DEMO_DATE);

    // A second run held after staging; one of its staged objects deleted.
    let held = Held::at(&moto, tmp.path(), &config, DEMO_DATE, "publish::staged", "");
    let staged: Vec<String> = moto
        .fixture(&["list", &format!("{ROOT}/flow_summary/dt={DEMO_DATE}/")])
        .lines()
        .filter(|k| !k.contains(&first))
        .map(str::to_string)
        .collect();
    assert_eq!(staged.len(), 1, "{staged:?}");
    moto.fixture(&["delete", &format!("s3://costjob-out/{}", staged[0])]);
    let o = held.release();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is missing right before the flip; nothing was flipped"),
        "{}",
        stderr(&o)
    );
    assert_eq!(whole_day(&moto, tmp.path(), DEMO_DATE), first);
    let keys = moto.fixture(&["list", "s3://costjob-out/costjob/"]);
    assert!(!keys.contains("_journal/"), "{keys}");
    let second_day = published_run(&moto, "2026-11-24");
    assert_eq!(
        run_ids_under_root(&moto),
        [first, second_day].into(),
        "{keys}"
    );
}

/// Issue 34.6: a run whose inputs take longer than its lease keeps the lease
/// (a heartbeat renews it), so a second run of the day exits 5 meanwhile; a
/// run whose lease was taken over anyway stops with exit 5 naming the new
/// holder and removes what it staged; a run killed right after renewing
/// leaves a lease the next run takes over once it expires.
#[cfg(feature = "failpoints")]
#[test]
fn a_live_run_keeps_its_lease_and_one_that_lost_it_stops() {
    let (moto, tmp, config) = demo_on_s3_exports();
    let short_lease = "lease::seconds=return(3);";

    // Inputs held for twice the lease: the heartbeat keeps it.
    let held = Held::at(
        &moto,
        tmp.path(),
        &config,
        DEMO_DATE,
        "run::inputs",
        short_lease,
    );
    std::thread::sleep(std::time::Duration::from_secs(6));
    let o = run(&moto, tmp.path(), &config, &[]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "the live run's lease was taken: {}",
        stderr(&o)
    );
    let o = held.release();
    assert!(o.status.success(), "{}", stderr(&o));
    let first = whole_day(&moto, tmp.path(), DEMO_DATE);

    // No heartbeat: the lease expires while the run is held after staging,
    // another run takes the day over; the first stops naming it.
    let also = format!("{short_lease}lease::heartbeat=return;");
    let lost = Held::at(
        &moto,
        tmp.path(),
        &config,
        DEMO_DATE,
        "publish::staged",
        &also,
    );
    let staged: std::collections::BTreeSet<String> = run_ids_under_root(&moto)
        .into_iter()
        .filter(|r| *r != first)
        .collect();
    assert_eq!(staged.len(), 1, "{staged:?}");
    std::thread::sleep(std::time::Duration::from_secs(4));
    let taker = Held::at(&moto, tmp.path(), &config, DEMO_DATE, "run::inputs", "");
    let lease: serde_json::Value = serde_json::from_str(
        &moto.fixture(&["cat", &format!("{ROOT}/_leases/dt={DEMO_DATE}.json")]),
    )
    .unwrap();
    let holder = lease["run_id"].as_str().unwrap().to_string();
    let o = lost.release();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&holder),
        "names the new holder {holder}: {}",
        stderr(&o)
    );
    assert!(
        run_ids_under_root(&moto).is_disjoint(&staged),
        "what the stopped run staged is removed"
    );
    let o = taker.release();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(whole_day(&moto, tmp.path(), DEMO_DATE), holder);

    // Killed right after a renewal: the lease outlives the run until it expires.
    let o = run(
        &moto,
        tmp.path(),
        &config,
        &[(
            "FAILPOINTS",
            "lease::seconds=return(1);lease::renewed=return",
        )],
    );
    assert!(!o.status.success());
    let lease: serde_json::Value = serde_json::from_str(
        &moto.fixture(&["cat", &format!("{ROOT}/_leases/dt={DEMO_DATE}.json")]),
    )
    .unwrap();
    // The killed run's lease outlives it (read above; a missing one fails the fixture).
    assert_ne!(lease["run_id"].as_str(), Some(holder.as_str()), "{lease}");
    expire_lease(&moto, tmp.path());
    let o = run(&moto, tmp.path(), &config, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    whole_day(&moto, tmp.path(), DEMO_DATE);
}

/// Issue 34.7, crashed: a run killed while pointing the tables back after a
/// failed flip leaves its journal; the next run finishes the publish it
/// describes (its files are whole), then publishes its own, every table whole.
#[cfg(feature = "failpoints")]
#[test]
fn a_run_killed_while_rolling_back_a_failed_flip_is_repaired_by_the_next() {
    let (moto, tmp, config) = demo_on_s3_exports();
    assert!(run(&moto, tmp.path(), &config, &[]).status.success());
    for point in [
        "publish::unflipped::unallocated",
        "publish::unflipped::flow_costs",
    ] {
        let proxy = FaultProxy::start(
            &moto,
            serde_json::json!([{"target": "AWSGlue.BatchUpdatePartition", "body": "flow_summary",
                                "fault": "status", "status": 500, "code": "InternalServiceException"}]),
        );
        let mut env = proxy.env().to_vec();
        let failpoint = format!("{point}=return");
        env.push(("FAILPOINTS", &failpoint));
        let o = run(&moto, tmp.path(), &config, &env);
        drop(proxy);
        assert!(o.status.code().is_none_or(|c| c != 0), "{point}: killed");
        let keys = moto.fixture(&["list", "s3://costjob-out/costjob/"]);
        assert!(
            keys.contains("_journal/"),
            "{point}: the journal is left: {keys}"
        );
        expire_lease(&moto, tmp.path());
        let o = run(&moto, tmp.path(), &config, &[]);
        assert!(o.status.success(), "{point}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("rolled_forward"),
            "{point}: {}",
            stderr(&o)
        );
        whole_day(&moto, tmp.path(), DEMO_DATE);
        let keys = moto.fixture(&["list", "s3://costjob-out/costjob/"]);
        assert!(!keys.contains("_journal/"), "{point}: {keys}");
    }
}

/// Issue 34.8: a lease that cannot be deleted at the end is an error (it
/// would block the day's next run until it expires), though the day is published.
#[test]
fn a_lease_that_cannot_be_released_is_an_error() {
    let (moto, tmp, config) = demo_on_s3_exports();
    let (o, _) = run_through(
        &moto,
        tmp.path(),
        &config,
        serde_json::json!([{"method": "DELETE", "path": "/_leases/", "fault": "status",
                            "status": 500, "code": "InternalError"}]),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the lease could not be released"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("was published by run"),
        "{}",
        stderr(&o)
    );
    published_run(&moto, DEMO_DATE);
}
