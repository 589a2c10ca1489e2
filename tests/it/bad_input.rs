//! Bad input and faults at the command line (issue 9): each case found when the
//! job was attacked, with the clear error or the counted skip SPEC 2.4 and 6
//! ask for. Log-reader cases at the library level are in `logs.rs`.

use std::path::{Path, PathBuf};

use costjob::output::BatchExt;

use crate::helpers::*;

fn pago(tx: &str, extra: &str) -> String {
    format!(
        r#"2026-11-23T12:00:00.000Z {{"timestamp":"2026-11-23T12:00:00.000Z","service":"pagos-svc","transaction_id":"{tx}","route":"POST /v1/pagos/qr","duration_ms":20{extra}}}"#
    )
}

/// Case 3: one absurd value costs its line (counted, sampled), never the day.
#[test]
fn one_absurd_usage_value_costs_its_line_not_the_day() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = demo_logs(tmp.path());
    add_stream(
        &logs,
        &[pago(
            "absurd",
            r#","usage":{"kms_requests":18446744073709551615}"#,
        )],
    );
    let out = tmp.path().join("out");
    let o = run_demo(&out, &[], &[("COSTJOB_LOGS_PATH", logs.to_str().unwrap())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recon = table(&out, "reconciliation", DEMO_DATE);
    assert_eq!(recon.int("log_malformed", 0).unwrap(), 2 + 1);
    assert_eq!(recon.money("delta_usd", 0).unwrap(), Some(0));
    let report = run_report(&out, DEMO_DATE);
    assert!(
        report.contains("usage.kms_requests 18446744073709551615 is not an integer in [0, 2^53)"),
        "the line is sampled with file and line: {report}"
    );
}

/// Case 3: a figure that genuinely does not fit DECIMAL(18,10) is exit 3 naming
/// where it comes from (here the KMS list price times 2^53 - 1 requests).
#[test]
fn a_genuine_decimal_overflow_is_exit_3_naming_its_origin() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = demo_logs(tmp.path());
    add_stream(
        &logs,
        &[pago(
            "huge",
            r#","usage":{"kms_requests":9007199254740991}"#,
        )],
    );
    let out = tmp.path().join("out");
    let o = run_demo(&out, &[], &[("COSTJOB_LOGS_PATH", logs.to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("modelled cost of flow pago on awskms rule kms-requests")
            && err.contains("units x unit price 0.0000030000"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.join("reconciliation").exists(), "nothing published");
}

/// Case 4: a day that yields no transaction is exit 3 saying what was found,
/// and the published day stays as it was; `--allow-empty` publishes it.
#[test]
fn an_empty_or_misread_day_is_exit_3_and_keeps_the_published_day() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let good = table(&out, "reconciliation", DEMO_DATE)
        .text("run_id", 0)
        .unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    // (settings, what the error must say)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 3] = [
        (
            &[("COSTJOB_LOGS_FORMAT", "jsonl")],
            &[
                "no transaction for 2026-11-23",
                "looks like: 2026-11-23T",
                "format = \"cloudwatch-export\"?",
            ],
        ),
        (
            &[("COSTJOB_LOGS_FIELDS_TRANSACTION_ID", "/txid")],
            &["without /txid", "looks like: {"],
        ),
        (
            &[("COSTJOB_LOGS_PATH", empty.to_str().unwrap())],
            &["no log files for 2026-11-23"],
        ),
    ];
    for (env, needles) in cases {
        let o = run_demo(&out, &[], env);
        assert_eq!(o.status.code(), Some(3), "{env:?}: {}", stderr(&o));
        for needle in needles {
            assert!(
                stderr(&o).contains(needle),
                "{env:?}: {needle} in {}",
                stderr(&o)
            );
        }
        assert!(stderr(&o).contains("--allow-empty"));
        let kept = table(&out, "reconciliation", DEMO_DATE)
            .text("run_id", 0)
            .unwrap();
        assert_eq!(kept, good, "{env:?}: the good day is untouched");
    }
    let o = run_demo(
        &out,
        &["--allow-empty"],
        &[("COSTJOB_LOGS_PATH", empty.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let recon = table(&out, "reconciliation", DEMO_DATE);
    assert_eq!(recon.int("transactions", 0).unwrap(), 0);
}

/// Cases 7 and 8: a file reached by two paths is read once; hidden names and
/// non-regular files are counted and named, and a FIFO does not hang the run.
#[test]
fn aliases_are_read_once_and_skipped_files_are_counted_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = demo_logs(tmp.path());
    let out = tmp.path().join("base");
    let o = run_demo(&out, &[], &[("COSTJOB_LOGS_PATH", logs.to_str().unwrap())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let events = table(&out, "reconciliation", DEMO_DATE)
        .int("log_events", 0)
        .unwrap();

    let task = std::fs::read_dir(&logs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::os::unix::fs::symlink(&task, logs.join("alias-of-the-task")).unwrap();
    let one = walk_files(&task)[0].clone();
    std::os::unix::fs::symlink(&one, logs.join("link-to-one-file.gz")).unwrap();
    std::fs::copy(&one, logs.join(".hidden.gz")).unwrap();
    std::fs::copy(&one, logs.join("_SUCCESS")).unwrap();
    let fifo = logs.join("a-fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = tmp.path().join("aliased");
    let o = run_demo(&out, &[], &[("COSTJOB_LOGS_PATH", logs.to_str().unwrap())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recon = table(&out, "reconciliation", DEMO_DATE);
    assert_eq!(
        recon.int("log_events", 0).unwrap(),
        events,
        "each file once"
    );
    assert_eq!(recon.int("log_skipped_files", 0).unwrap(), 3);
    let report = run_report(&out, DEMO_DATE);
    for name in [".hidden.gz", "_SUCCESS", "a-fifo"] {
        assert!(report.contains(name), "{name} named in the run report");
    }

    // A dangling link is an input error naming it, the OS error said once.
    std::fs::remove_file(&fifo).unwrap();
    std::os::unix::fs::symlink(tmp.path().join("gone.gz"), logs.join("dangling.gz")).unwrap();
    let o = run_demo(&out, &[], &[("COSTJOB_LOGS_PATH", logs.to_str().unwrap())]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("dangling.gz"), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).matches("No such file or directory").count(),
        1,
        "{}",
        stderr(&o)
    );
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk_files(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Case 9: a missing config file is a usage error (exit 2), said once.
#[test]
fn a_missing_config_file_is_exit_2_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let o = costjob(
        tmp.path(),
        &["run", "--config", "nowhere.toml", "--date", DEMO_DATE],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("nowhere.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

/// Case 10: a broken `_default.toml` reports its problem, not also "missing".
#[test]
fn a_broken_default_pricing_file_is_not_also_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let pricing = tmp.path().join("pricing");
    copy_dir(&repo().join("pricing"), &pricing);
    let default = pricing.join("_default.toml");
    let text = std::fs::read_to_string(&default).unwrap();
    let broken = text.replacen("driver = \"", "driver = \"no-such-driver-", 1);
    assert_ne!(broken, text);
    std::fs::write(&default, broken).unwrap();
    let config = repo().join("examples/costjob.toml");
    let o = costjob(
        tmp.path(),
        &["check", "--config", config.to_str().unwrap()],
        &[("COSTJOB_PRICING_PATH", pricing.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("_default.toml") && err.contains("no-such-driver-"),
        "{err}"
    );
    assert!(!err.contains("is missing"), "{err}");
}

/// Case 11: four-digit years only; `today-N`; `--from`/`--to` take the same forms.
#[test]
fn dates_need_four_digit_years_and_accept_today_minus_n() {
    let tmp = tempfile::tempdir().unwrap();
    let config = repo().join("examples/costjob.toml");
    let config = config.to_str().unwrap();
    for bad in [
        "26-11-23",
        "0000-01-01",
        "0026-11-23",
        "2026-11-31",
        "today+1",
    ] {
        let o = costjob(tmp.path(), &["run", "--config", config, "--date", bad], &[]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(!tmp.path().join("out").exists());
    }
    // Parsed (so not exit 2): the demo has no CUR rows for these days (exit 3).
    let out = tmp.path().join("out").to_str().unwrap().to_string();
    for args in [
        &["--date", "today-3"][..],
        &["--from", "yesterday", "--to", "today"][..],
        &["--from", "today-2", "--to", "today-1"][..],
    ] {
        let mut all = vec!["run", "--config", config, "--output", out.as_str()];
        all.extend_from_slice(args);
        let o = costjob(tmp.path(), &all, &[]);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("no CUR row"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

/// Case 12: an empty path is a configuration error, not the current directory.
#[test]
fn an_empty_output_path_is_a_configuration_error() {
    let tmp = tempfile::tempdir().unwrap();
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
        &[("COSTJOB_OUTPUT_PATH", "")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("COSTJOB_OUTPUT_PATH is set but empty"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

/// Issue 34.8: settings that would overflow, name another place than they
/// seem to, or silently mean "none" are configuration errors (exit 2) before
/// anything is read or written; a range longer than `--max-days` (366 by
/// default) is refused by `run` and `report` alike.
#[test]
fn settings_that_would_mislead_or_overflow_are_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let config = repo().join("examples/costjob.toml");
    let config = config.to_str().unwrap();
    let run = ["run", "--config", config, "--date", DEMO_DATE];
    let cases: [(&[&str], (&str, &str), &str); 9] = [
        (
            &run,
            ("COSTJOB_ALLOCATION_EXCLUDE_LINE_ITEM_TYPES", ""),
            "set but empty",
        ),
        (&run, ("COSTJOB_LOGS_FORMAT", " "), "set but empty"),
        (
            &run,
            ("COSTJOB_OUTPUT_LEASE_SECONDS", "18446744073709551615"),
            "lease_seconds",
        ),
        (
            &run,
            ("COSTJOB_OUTPUT_RETAIN_SUPERSEDED_HOURS", "5124095576030431"),
            "retain_superseded_hours",
        ),
        (&run, ("COSTJOB_OUTPUT_PATH", "s3://bucket/../x"), "segment"),
        (&run, ("COSTJOB_OUTPUT_PATH", "s3://bucket//x"), "segment"),
        (
            &run,
            ("COSTJOB_LOGS_PATH", "s3://logs/exports/{date} /x"),
            "character ' '",
        ),
        (
            &[
                "report",
                "--config",
                config,
                "--from",
                "2025-01-01",
                "--to",
                "2026-11-23",
            ],
            ("COSTJOB_UNUSED_NOTHING", "x"),
            "more than --max-days 366",
        ),
        (
            &[
                "run",
                "--config",
                config,
                "--from",
                "2026-01-01",
                "--to",
                "2026-11-23",
                "--max-days",
                "31",
            ],
            ("COSTJOB_UNUSED_NOTHING", "x"),
            "more than --max-days 31",
        ),
    ];
    for (args, (key, value), said) in cases {
        let env: Vec<(&str, &str)> = if key == "COSTJOB_UNUSED_NOTHING" {
            vec![]
        } else {
            vec![(key, value)]
        };
        let o = costjob(tmp.path(), args, &env);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{key}={value:?} {args:?}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains(said), "{key}={value:?}: {}", stderr(&o));
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "nothing written"
        );
    }
}
