//! The production data plane on a real S3 and Glue API: `moto` in server mode
//! on a loopback port (started and stopped here), the binary pointed at it with
//! `AWS_ENDPOINT_URL`. Logs (CloudWatch export and Firehose layouts) and the
//! CUR read from S3, tables published through Glue partitions, a second run
//! flipping them and removing the superseded run, leases, unreadable objects.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use costjob::sink::parquet::BatchExt;

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

/// A config reading everything from S3 and publishing to [`ROOT`].
fn s3_config(dir: &Path, format: &str, logs: &str) -> PathBuf {
    let path = dir.join("costjob.toml");
    let body = format!(
        "[cur]\npath = \"s3://cur/data-exports/deuna\"\n[logs]\npath = {logs:?}\nformat = {format:?}\nmax_objects_in_flight = 3\n\
         [output]\npath = {ROOT:?}\nglue_database = \"costjob\"\nretain_superseded_hours = 0\n[pricing]\npath = {:?}\n{FLOWS}",
        repo().join("pricing")
    );
    std::fs::write(&path, body).unwrap();
    path
}

fn run(moto: &Moto, dir: &Path, config: &Path, extra: &[(&str, &str)]) -> Output {
    moto.costjob(
        dir,
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            DEMO_DATE,
        ],
        extra,
    )
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
        stderr(&o).contains("no partition dt=2001-01-01"),
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
    let moto = Moto::start();
    demo_on_s3(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let config = s3_config(tmp.path(), "cloudwatch-export", "s3://logs/exports/{date}");
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
    let moto = Moto::start();
    demo_on_s3(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let config = s3_config(tmp.path(), "cloudwatch-export", "s3://logs/exports/{date}");
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
    let moto = Moto::start();
    demo_on_s3(&moto);
    let tmp = tempfile::tempdir().unwrap();
    let config = s3_config(tmp.path(), "cloudwatch-export", "s3://logs/exports/{date}");
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
    use costjob::sink::parquet::BatchExt;
    let recon = table(&tmp.path().join("out"), "reconciliation", "2018-11-15");
    assert_eq!(
        recon.money("cur_total_usd", 0).unwrap(),
        costjob::money::parse_decimal("181.8634739515")
    );
}

#[test]
fn objects_cut_mid_stream_are_resumed_and_nothing_is_counted_twice() {
    let moto = Moto::start();
    demo_on_s3(&moto);
    let port = free_port();
    // Every log object's first GET is cut halfway by the proxy.
    let mut proxy = Command::new("python3")
        .arg(repo().join("tests/stand_ins/flaky_proxy.py"))
        .args([&port.to_string(), &moto.endpoint, "/exports/2026-11-23/"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_port(port, "the flaky proxy");
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    assert!(run_demo(&local, &[], &[]).status.success());
    let config = s3_config(tmp.path(), "cloudwatch-export", "s3://logs/exports/{date}");
    let endpoint = format!("http://127.0.0.1:{port}");
    let o = run(
        &moto,
        tmp.path(),
        &config,
        &[("AWS_ENDPOINT_URL", &endpoint)],
    );
    let _ = proxy.kill();
    let cuts = String::from_utf8(proxy.wait_with_output().unwrap().stdout).unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        cuts.lines().count(),
        14,
        "every log object was cut once: {cuts}"
    );
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
