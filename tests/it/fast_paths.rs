//! One tester for every fast path (STYLE 16): the golden days run with the
//! fast paths and with their plain twins (`costjob::fast_path`, switched by
//! the `fast_paths::plain` failpoint: serde_json instead of the JSON scanner,
//! ids by text instead of the UUID table, 128-bit splits, a full sort of the
//! remainders, arrow-rs's writer for every column), and every table compared.

use std::path::Path;

use crate::helpers::*;

const PLAIN: (&str, &str) = ("FAILPOINTS", "fast_paths::plain=return");

/// Runs `config`'s `day` into `out`, with the plain twins when `plain`.
fn run_day(dir: &Path, config: &Path, day: &str, out: &Path, plain: bool) {
    let env: &[(&str, &str)] = if plain { &[PLAIN] } else { &[] };
    let o = costjob(
        dir,
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--date",
            day,
            "--output",
            out.to_str().unwrap(),
        ],
        env,
    );
    assert!(o.status.success(), "plain {plain}: {}", stderr(&o));
}

#[test]
fn the_demo_day_is_the_same_through_the_plain_twins() {
    let tmp = tempfile::tempdir().unwrap();
    let config = repo().join("examples/costjob.toml");
    let (fast, plain) = (tmp.path().join("fast"), tmp.path().join("plain"));
    run_day(tmp.path(), &config, DEMO_DATE, &fast, false);
    run_day(tmp.path(), &config, DEMO_DATE, &plain, true);
    assert_same_day(&fast, &plain, DEMO_DATE);
}

/// A generated day of 100,000 transactions (UUID ids, every service, Savings
/// Plans and RI rows): past one selection of the largest remainders and one
/// task of the parallel paths, so both sides of every switch are exercised.
#[test]
fn a_100k_day_is_the_same_through_the_plain_twins() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("day");
    sample_day(&data, DEMO_DATE, 100_000);
    let config = write_config(
        tmp.path(),
        &data.join("cur"),
        &data.join("logs"),
        "cloudwatch-export",
        "",
    );
    let (fast, plain) = (tmp.path().join("fast"), tmp.path().join("plain"));
    run_day(tmp.path(), &config, DEMO_DATE, &fast, false);
    run_day(tmp.path(), &config, DEMO_DATE, &plain, true);
    assert_same_day(&fast, &plain, DEMO_DATE);
}
