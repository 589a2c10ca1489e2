//! Publishing a day (SPEC 5.1), proven by crashing the real binary at every
//! step of a publish (failpoints, compiled in with the `failpoints` feature the
//! test command enables), by racing two runs, and by a failed write: every
//! table stays whole and from one run, the next run repairs, no debris is left.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use costjob::output::BatchExt;

use crate::helpers::*;

/// Every table a publish flips, in flip order (the run report before the reconciliation).
const PUBLISHED: [&str; 6] = [
    "transactions",
    "flow_costs",
    "flow_summary",
    "unallocated",
    "_run_reports",
    "reconciliation",
];

/// The run ids found in a table's partition (one when the table is whole and from one run).
fn run_ids(out: &Path, table: &str) -> BTreeSet<String> {
    if table == "_run_reports" {
        let path = out.join(format!("_run_reports/dt={DEMO_DATE}/report.json"));
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        return BTreeSet::from([report["run"]["run_id"].as_str().unwrap().to_string()]);
    }
    table_run_ids(out, table, DEMO_DATE)
}

/// Each table whole (readable) and from exactly one run; returns each table's run.
fn whole_tables(out: &Path) -> Vec<String> {
    PUBLISHED
        .iter()
        .map(|t| {
            let ids = run_ids(out, t);
            assert_eq!(ids.len(), 1, "{t}: rows from {ids:?}");
            ids.into_iter().next().unwrap()
        })
        .collect()
}

/// Names under the output that only a publish in progress leaves.
fn debris(out: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for table in std::fs::read_dir(out).unwrap() {
        let table = table.unwrap().path();
        let name = table.file_name().unwrap().to_string_lossy().into_owned();
        if name == "_journal" {
            found.extend(
                std::fs::read_dir(&table)
                    .unwrap()
                    .map(|e| format!("_journal/{:?}", e.unwrap().file_name())),
            );
            continue;
        }
        if name == "_locks" {
            continue;
        }
        for entry in std::fs::read_dir(&table).unwrap() {
            let entry = entry.unwrap().file_name().to_string_lossy().into_owned();
            if entry != format!("dt={DEMO_DATE}") {
                found.push(format!("{name}/{entry}"));
            }
        }
    }
    found
}

fn check(out: &Path) -> std::process::Output {
    let config = repo().join("examples/costjob.toml");
    costjob(
        out.parent().unwrap(),
        &["check", "--config", config.to_str().unwrap()],
        &[("COSTJOB_OUTPUT_PATH", out.to_str().unwrap())],
    )
}

fn recon_run(out: &Path) -> String {
    table(out, "reconciliation", DEMO_DATE)
        .text("run_id", 0)
        .unwrap()
}

#[test]
fn a_run_killed_at_every_step_of_a_publish_leaves_whole_tables_and_the_next_run_repairs() {
    let points = [
        "publish::staging",
        "publish::staged",
        "publish::journaled",
        "publish::exchanged::transactions",
        "publish::exchanged::flow_costs",
        "publish::exchanged::flow_summary",
        "publish::exchanged::unallocated",
        "publish::exchanged::_run_reports",
        "publish::exchanged::reconciliation",
        "publish::committed",
    ];
    for point in points {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = run_demo(&out, &[], &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let old = recon_run(&out);

        let crashed = run_demo(&out, &[], &[("FAILPOINTS", &format!("{point}=return"))]);
        assert!(!crashed.status.success(), "{point}: the run was not killed");
        // Whatever the crash point, a reader finds every table whole, each from one run.
        let runs = whole_tables(&out);
        let new: BTreeSet<&String> = runs.iter().filter(|r| **r != old).collect();
        assert!(new.len() <= 1, "{point}: {runs:?}");
        // The reconciliation is the commit record: it flips last.
        if recon_run(&out) != old {
            assert!(runs.iter().all(|r| *r == runs[0]), "{point}: {runs:?}");
        }
        let c = check(&out);
        assert!(
            !c.status.success() && stderr(&c).contains("interrupted publish")
                || stderr(&c).contains("killed run"),
            "{point}: check does not report the crash: {}",
            stderr(&c)
        );

        let o = run_demo(&out, &[], &[]);
        assert!(o.status.success(), "{point}: {}", stderr(&o));
        if point != "publish::staging" && point != "publish::staged" {
            let log = stderr(&o);
            assert!(log.contains("\"stage\":\"recover\""), "{point}: {log}");
        }
        let runs = whole_tables(&out);
        let last = recon_run(&out);
        assert!(runs.iter().all(|r| *r == last), "{point}: {runs:?}");
        assert_eq!(debris(&out), Vec::<String>::new(), "{point}");
        let c = check(&out);
        assert!(c.status.success(), "{point}: {}", stderr(&c));
    }
}

#[test]
fn a_crash_after_the_journal_is_rolled_forward_to_the_crashed_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let crashed = run_demo(
        &out,
        &[],
        &[("FAILPOINTS", "publish::exchanged::flow_costs=return")],
    );
    assert!(!crashed.status.success());
    let journal = out.join(format!("_journal/dt={DEMO_DATE}.json"));
    let crashed_run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&journal).unwrap()).unwrap();
    let crashed_run = crashed_run["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        run_ids(&out, "transactions"),
        BTreeSet::from([crashed_run.clone()])
    );
    let o = run_demo(&out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("\"rolled_forward\":\"{crashed_run}\"")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn two_runs_of_one_day_one_publishes_the_other_exits_5_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let before = recon_run(&out);
    let lock = out.join(format!("_locks/dt={DEMO_DATE}.lock"));
    std::fs::write(&lock, "").unwrap();
    // The holder pauses right after taking the lock.
    let config = repo().join("examples/costjob.toml");
    let mut holder = Command::new(env!("CARGO_BIN_EXE_costjob"))
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            DEMO_DATE,
        ])
        .args(["--output", out.to_str().unwrap()])
        .env("FAILPOINTS", "run::locked=sleep(60000)")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let holder_run = loop {
        let text = std::fs::read_to_string(&lock).unwrap_or_default();
        if !text.is_empty() {
            break text;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the holder never took the lock"
        );
        std::thread::yield_now();
    };
    let second = run_demo(&out, &[], &[]);
    assert_eq!(second.status.code(), Some(5), "{}", stderr(&second));
    assert!(stderr(&second).contains(&holder_run), "{}", stderr(&second));
    assert_eq!(recon_run(&out), before, "the second run wrote nothing");
    assert_eq!(debris(&out), Vec::<String>::new());
    holder.kill().unwrap();
    holder.wait().unwrap();
    // The kernel released the dead holder's lock: the next run goes through.
    let o = run_demo(&out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_failed_write_removes_its_staging_and_keeps_the_published_day() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let before = whole_tables(&out);
    let o = run_demo(&out, &[], &[("FAILPOINTS", "parquet::write=return")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no storage space"), "{}", stderr(&o));
    assert_eq!(whole_tables(&out), before);
    assert_eq!(debris(&out), Vec::<String>::new());
}

/// Issue 34.3: a partition that is a symbolic link to a directory elsewhere
/// is replaced as a link (the link goes, a real partition takes its place) and
/// the directory it pointed at is left exactly as it was.
#[test]
fn a_rerun_over_a_partition_that_is_a_link_never_deletes_the_links_target() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    for table in PUBLISHED {
        let partition = out.join(table).join(format!("dt={DEMO_DATE}"));
        let target = elsewhere.join(table);
        std::fs::rename(&partition, &target).unwrap();
        std::fs::write(target.join("keep-me.txt"), "not costjob's").unwrap();
        std::os::unix::fs::symlink(&target, &partition).unwrap();
    }
    let listing = |dir: &Path| -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for table in std::fs::read_dir(dir).unwrap() {
            let table = table.unwrap().path();
            for f in std::fs::read_dir(&table).unwrap() {
                let f = f.unwrap();
                let bytes = std::fs::read(f.path()).unwrap();
                names.insert(format!(
                    "{}/{:?}:{}",
                    table.display(),
                    f.file_name(),
                    bytes.len()
                ));
            }
        }
        names
    };
    let before = listing(&elsewhere);
    let o = run_demo(&out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        listing(&elsewhere),
        before,
        "the links' targets are untouched"
    );
    for table in PUBLISHED {
        let partition = out.join(table).join(format!("dt={DEMO_DATE}"));
        let meta = std::fs::symlink_metadata(&partition).unwrap();
        assert!(meta.is_dir(), "{table}: a real partition replaced the link");
    }
    whole_tables(&out);
    assert_eq!(debris(&out), Vec::<String>::new());
}
