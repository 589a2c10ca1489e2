//! `[calendar] timezone` (SPEC 12.1): day D is the zone's midnight to
//! midnight, for the log events (read from every UTC-dated prefix the local
//! day overlaps) and for the CUR's usage periods alike.

use std::path::Path;

use costjob::output::BatchExt;

use crate::helpers::*;

/// Logs under `logs/{date}/` (UTC-dated, as an export or Firehose writes
/// them): a payment at each of these UTC times, one transaction each.
fn dated_logs(dir: &Path, payments: &[(&str, &str)]) {
    for &(id, ts) in payments {
        let day = &ts[..10];
        let folder = dir.join("logs").join(day);
        std::fs::create_dir_all(&folder).unwrap();
        let line = format!(
            r#"{{"timestamp":"{ts}","service":"pagos-api","transaction_id":"{id}","flow":"pago","transaction_type":"monetary","route":"POST /v1/pagos","status":"ok","duration_ms":40}}"#
        );
        let file = folder.join(format!("{id}.jsonl"));
        std::fs::write(file, line + "\n").unwrap();
    }
}

fn transaction_ids(out: &Path, day: &str) -> Vec<String> {
    let t = table(out, "transactions", day);
    let mut ids: Vec<String> = (0..t.num_rows())
        .map(|r| t.text("transaction_id", r).unwrap())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_payment_at_20_00_in_quito_is_on_that_days_books() {
    let tmp = tempfile::tempdir().unwrap();
    dated_logs(
        tmp.path(),
        &[
            ("a-22-local", "2026-11-23T03:00:00Z"), // 22:00 on the 22nd in Quito
            ("b-23-both", "2026-11-23T12:00:00Z"),
            ("c-23-local", "2026-11-24T01:00:00Z"), // 20:00 on the 23rd in Quito
            ("d-24-both", "2026-11-24T06:00:00Z"),
        ],
    );
    let cur = repo().join("examples/data/cur");
    let logs = tmp.path().join("logs/{date}");
    write_config(tmp.path(), &cur, &logs, "jsonl", "");
    let run = |zone: &str| {
        let o = costjob(
            tmp.path(),
            &["run", "--date", "2026-11-23"],
            &[("COSTJOB_CALENDAR_TIMEZONE", zone)],
        );
        assert!(o.status.success(), "{zone}: {}", stderr(&o));
        transaction_ids(&tmp.path().join("out"), "2026-11-23")
    };
    assert_eq!(run("UTC"), ["a-22-local", "b-23-both"]);
    let local = run("America/Guayaquil");
    assert_eq!(local, ["b-23-both", "c-23-local"]);
    // The CUR day is the local one too: the demo's hourly rows of the 23rd
    // (UTC) from 05:00 on, 19 of its 24 hours.
    let recon = table(&tmp.path().join("out"), "reconciliation", "2026-11-23");
    let local_total = recon.money("cur_total_usd", 0).unwrap().unwrap();
    let o = costjob(
        tmp.path(),
        &["run", "--date", "2026-11-23"],
        &[("COSTJOB_CALENDAR_TIMEZONE", "UTC")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let recon = table(&tmp.path().join("out"), "reconciliation", "2026-11-23");
    let utc_total = recon.money("cur_total_usd", 0).unwrap().unwrap();
    assert!(
        0 < local_total && local_total < utc_total,
        "{local_total} of {utc_total}"
    );
}

#[test]
fn a_timezone_that_is_not_one_is_a_config_error() {
    let tmp = tempfile::tempdir().unwrap();
    let cur = repo().join("examples/data/cur");
    write_config(
        tmp.path(),
        &cur,
        &tmp.path().join("logs"),
        "jsonl",
        "[calendar]\ntimezone = \"Ecuador/Quito\"\n",
    );
    let o = costjob(tmp.path(), &["check"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("[calendar] timezone = \"Ecuador/Quito\": not an IANA time zone"),
        "{}",
        stderr(&o)
    );
}
