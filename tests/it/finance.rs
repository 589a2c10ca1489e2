//! What finance asks next: every report as CSV and JSON carrying the
//! published figures exactly, a range with totals and a monthly roll-up,
//! `compare` with volume and rate effects that add up to the change, the
//! cost of a successful transaction, and the pricing model's drift.

use std::collections::BTreeMap;

use costjob::model::money::{Money, format_usd, parse_decimal};
use costjob::output::BatchExt;

use crate::helpers::*;

type Row = BTreeMap<String, String>;

/// A CSV report's rows by column key (no field of ours needs quoting).
fn csv(text: &str) -> Vec<Row> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header row").split(',').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{l}");
            (header.iter().zip(cells))
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
        .collect()
}

fn usd(row: &Row, key: &str) -> Money {
    parse_decimal(&row[key]).unwrap_or_else(|| panic!("{key} = {:?} in {row:?}", row[key]))
}

const FIRST: &str = "2026-11-19";
const SECOND: &str = "2026-11-20";

/// Two sampled days published under `dir/out` (300 transactions, then
/// 450); a reader of reports that must succeed.
fn two_days(dir: &std::path::Path) -> (std::path::PathBuf, impl Fn(&str, &[&str]) -> String) {
    sample_books(dir, &[FIRST], 300, "");
    sample_books(dir, &[SECOND], 450, "");
    let config = dir.join("costjob.toml");
    let args = [
        "run",
        "--config",
        config.to_str().unwrap(),
        "--from",
        FIRST,
        "--to",
        SECOND,
    ];
    let o = costjob(dir, &args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.join("out");
    let reader_out = out.clone();
    let read = move |command: &str, args: &[&str]| {
        let o = read_command(command, &config, &reader_out, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
    };
    (out, read)
}

/// SPEC 13: the day, the range (per day and per month, with totals) and
/// the breakdown by product as CSV and JSON: a header row of keys, every
/// money figure the exact published decimal, totals that are the sums.
#[test]
fn every_report_is_csv_and_json_with_the_published_figures_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, read) = two_days(tmp.path());
    let summary = |day: &str| {
        let t = table(&out, "flow_summary", day);
        (0..t.num_rows())
            .map(|i| {
                let key = (
                    t.text("transaction_type", i).unwrap(),
                    t.text("flow", i).unwrap(),
                );
                let n = t.int("transactions", i).unwrap();
                (key, (n, t.money("cost_usd", i).unwrap().unwrap()))
            })
            .collect::<BTreeMap<_, _>>()
    };
    let (first, second) = (summary(FIRST), summary(SECOND));

    // The day: one row per flow, the table's figures to the last digit.
    let day = csv(&read("report", &["--date", FIRST, "--format", "csv"]));
    assert_eq!(day.len(), first.len());
    for row in &day {
        let (n, cost) = first[&(row["transaction_type"].clone(), row["flow"].clone())];
        assert_eq!(row["transactions"], n.to_string());
        assert_eq!(row["cost_usd"], format_usd(cost), "plain exact decimals");
    }

    // The range: each day's rows, a total per flow and one for all flows.
    for (format, rows) in [
        (
            "csv",
            csv(&read(
                "report",
                &["--from", FIRST, "--to", SECOND, "--format", "csv"],
            )),
        ),
        (
            "json",
            json_rows(&read(
                "report",
                &["--from", FIRST, "--to", SECOND, "--format", "json"],
            )),
        ),
    ] {
        let flows: std::collections::BTreeSet<_> = first.keys().chain(second.keys()).collect();
        assert_eq!(
            rows.len(),
            first.len() + second.len() + flows.len() + 1,
            "{format}"
        );
        let mut all = (0i64, 0 as Money);
        for flow in &flows {
            let of = |m: &BTreeMap<_, (i64, Money)>| m.get(*flow).copied().unwrap_or((0, 0));
            let (a, b) = (of(&first), of(&second));
            let total = (rows.iter())
                .find(|r| r["day"] == "total" && r["flow"] == flow.1)
                .unwrap_or_else(|| panic!("{format}: no total for {flow:?}"));
            assert_eq!(total["transactions"], (a.0 + b.0).to_string(), "{format}");
            assert_eq!(usd(total, "cost_usd"), a.1 + b.1, "{format}");
            all = (all.0 + a.0 + b.0, all.1 + a.1 + b.1);
        }
        let grand = rows.last().unwrap();
        assert_eq!(grand["flow"], "all flows", "{format}");
        assert_eq!(grand["transactions"], all.0.to_string(), "{format}");
        assert_eq!(usd(grand, "cost_usd"), all.1, "{format}");
        let unit = usd(grand, "unit_cost_usd");
        assert!(
            (unit * all.0 as Money - all.1).abs() * 2 <= all.0 as Money,
            "{format}: the unit cost is the total over the transactions"
        );
    }

    // By month: November's rows equal the range's totals.
    let month = csv(&read(
        "report",
        &[
            "--from", FIRST, "--to", SECOND, "--by", "month", "--format", "csv",
        ],
    ));
    let november: Vec<&Row> = month.iter().filter(|r| r["month"] == "2026-11").collect();
    let totals: Vec<&Row> = (month.iter())
        .filter(|r| r["month"] == "total" && r["flow"] != "all flows")
        .collect();
    assert_eq!(november.len(), totals.len());
    for (m, t) in november.iter().zip(&totals) {
        assert_eq!(
            (&m["flow"], &m["transactions"], &m["cost_usd"]),
            (&t["flow"], &t["transactions"], &t["cost_usd"])
        );
    }

    // By product: each flow's products sum to its cost, exactly.
    let products = json_rows(&read(
        "report",
        &["--date", FIRST, "--by", "product", "--format", "json"],
    ));
    for ((_, flow), (_, cost)) in &first {
        let lines: Vec<&Row> = products.iter().filter(|r| r["flow"] == *flow).collect();
        let (total, parts): (Vec<&Row>, Vec<&Row>) =
            lines.into_iter().partition(|r| r["service"] == "total");
        assert_eq!(usd(total[0], "cost_usd"), *cost, "{flow}");
        assert_eq!(
            parts.iter().map(|r| usd(r, "cost_usd")).sum::<Money>(),
            *cost,
            "{flow}"
        );
        assert!(
            parts
                .iter()
                .any(|r| r["product_code"] == "awskms" && r["service"] == "AWS KMS")
        );
    }
}

/// JSON rows with every value as text (money is a decimal string already).
fn json_rows(text: &str) -> Vec<Row> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    (value.as_array().expect("one array").iter())
        .map(|o| {
            (o.as_object().expect("objects").iter())
                .map(|(k, v)| {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .collect()
}

/// SPEC 13: `compare` per flow and per product: each line's change is the
/// published costs' difference, and volume + rate = change exactly.
#[test]
fn compare_splits_every_change_into_volume_and_rate_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (_out, read) = two_days(tmp.path());
    let base = format!("{FIRST}:{FIRST}");
    let with = format!("{SECOND}:{SECOND}");
    for by in [&[][..], &["--by", "product"][..]] {
        let args = [
            &["--base", base.as_str(), "--with", &with, "--format", "json"][..],
            by,
        ]
        .concat();
        let rows = json_rows(&read("compare", &args));
        assert!(rows.len() > 4, "{rows:?}");
        for row in &rows {
            let change = usd(row, "change_usd");
            assert_eq!(
                change,
                usd(row, "with_cost_usd") - usd(row, "base_cost_usd"),
                "{row:?}"
            );
            assert_eq!(
                usd(row, "volume_effect_usd") + usd(row, "rate_effect_usd"),
                change,
                "{row:?}"
            );
            let (nb, nw): (i64, i64) = (
                row["base_transactions"].parse().unwrap(),
                row["with_transactions"].parse().unwrap(),
            );
            let total =
                row["flow"] == "all flows" || row.get("service").is_some_and(|s| s == "total");
            if nb > 0 && !total {
                // volume = (N_with - N_base) x base cost / N_base, to 1e-10 USD
                let exact = Money::from(nw - nb) * usd(row, "base_cost_usd");
                assert!(
                    (usd(row, "volume_effect_usd") * Money::from(nb) - exact).abs() * 2
                        <= Money::from(nb),
                    "{row:?}"
                );
            }
        }
        let all = rows.last().unwrap();
        assert_eq!(all["flow"], "all flows");
    }
    let table = read("compare", &["--base", &base, "--with", &with]);
    assert!(
        table.contains("volume effect") && table.contains("rate effect"),
        "{table}"
    );
}

/// SPEC 13: `[allocation] success_statuses` splits each flow into what its
/// successful transactions are and what the others cost.
#[test]
fn the_cost_of_a_successful_transaction_includes_the_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tempfile::tempdir().unwrap();
    let out = first.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let t = table(&out, "transactions", DEMO_DATE);
    let pagos: Vec<String> = (0..t.num_rows())
        .filter(|&i| t.text("flow", i).unwrap() == "pago")
        .map(|i| t.text("transaction_id", i).unwrap())
        .take(3)
        .collect();
    // Three payments end declined (their last status, late in the day).
    let logs = demo_logs(tmp.path());
    let declined: Vec<String> = (pagos.iter())
        .map(|tx| format!(r#"2026-11-23T23:59:58.000Z {{"service":"pagos-svc","transaction_id":"{tx}","status":"DECLINED"}}"#))
        .collect();
    add_stream(&logs, &declined);
    let logs_path = logs.to_str().unwrap();
    for (statuses, expect_failed) in [(None, 3), (Some("OK,DECLINED"), 0)] {
        let out = tmp.path().join(format!("out-{expect_failed}"));
        let mut env = vec![("COSTJOB_LOGS_PATH", logs_path)];
        if let Some(s) = statuses {
            env.push(("COSTJOB_ALLOCATION_SUCCESS_STATUSES", s));
        }
        assert!(run_demo(&out, &[], &env).status.success());
        let t = table(&out, "transactions", DEMO_DATE);
        let s = table(&out, "flow_summary", DEMO_DATE);
        for i in 0..s.num_rows() {
            let flow = s.text("flow", i).unwrap();
            let ok = |status: &str| statuses.unwrap_or("OK").split(',').any(|x| x == status);
            let (mut good, mut failed_cost, mut failed) = (0i64, 0 as Money, 0);
            for j in (0..t.num_rows()).filter(|&j| t.text("flow", j).unwrap() == flow) {
                if ok(&t.text("status", j).unwrap()) {
                    good += 1;
                } else {
                    failed += 1;
                    failed_cost += t.money("cost_usd", j).unwrap().unwrap();
                }
            }
            assert_eq!(
                failed,
                if flow == "pago" { expect_failed } else { 0 },
                "{flow}"
            );
            assert_eq!(s.int("successful_transactions", i).unwrap(), good, "{flow}");
            assert_eq!(
                s.money("failed_cost_usd", i).unwrap(),
                Some(failed_cost),
                "{flow}"
            );
            let cost = s.money("cost_usd", i).unwrap().unwrap();
            let per = s.money("cost_per_success_usd", i).unwrap().unwrap();
            assert!(
                (per * Money::from(good) - cost).abs() * 2 <= Money::from(good),
                "{flow}"
            );
            if flow == "pago" && expect_failed > 0 {
                assert!(failed_cost > 0);
                assert!(
                    per > s.money("unit_cost_usd", i).unwrap().unwrap(),
                    "a good payment carries the failures"
                );
            }
        }
    }
}

/// SPEC 13: the day's report puts each flow's actual cost of its priced
/// products beside the model (list price x units) and the drift.
#[test]
fn the_day_report_shows_the_pricing_models_drift() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    let config = repo().join("examples/costjob.toml");
    let o = read_command(
        "report",
        &config,
        &out,
        &["--date", DEMO_DATE, "--format", "csv"],
    );
    let rows = csv(&stdout(&o));
    let fc = table(&out, "flow_costs", DEMO_DATE);
    for row in &rows {
        let (mut actual, mut modelled) = (0 as Money, 0 as Money);
        for i in (0..fc.num_rows()).filter(|&i| fc.text("flow", i).unwrap() == row["flow"]) {
            if let Some(m) = fc.money("modelled_cost_usd", i).unwrap() {
                modelled += m;
                actual += fc.money("cost_usd", i).unwrap().unwrap();
            }
        }
        let n: Money = row["transactions"].parse().unwrap();
        assert!(
            (usd(row, "modelled_unit_cost_usd") * n - modelled).abs() * 2 <= n,
            "{row:?}"
        );
        assert!(
            (usd(row, "priced_unit_cost_usd") * n - actual).abs() * 2 <= n,
            "{row:?}"
        );
        let drift: f64 = row["drift_percent"].parse().unwrap();
        let expected = (actual - modelled) as f64 * 100.0 / modelled as f64;
        assert!(
            (drift - expected).abs() < 1e-3,
            "{drift} against {expected}: {row:?}"
        );
    }
    let table_text = stdout(&read_command(
        "report",
        &config,
        &out,
        &["--date", DEMO_DATE],
    ));
    assert!(table_text.contains("drift"), "{table_text}");
}

/// SPEC 13: a pricing rule's `bytes` driver counts the bytes of each event's
/// message (CloudWatch Logs bills ingestion and storage by the byte): each
/// demo transaction's `bytes` units are the length of its export lines'
/// JSON, read here from the raw files.
#[test]
fn cloudwatch_logs_are_split_by_the_bytes_each_transaction_logged() {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert!(run_demo(&out, &[], &[]).status.success());
    // The raw export lines of the day, by transaction: (lines, bytes).
    let mut logged: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    let mut files = vec![repo().join("examples/data/logs")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            let Some((ts, json)) = line.split_once(' ') else {
                continue;
            };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(json) else {
                continue;
            };
            if !ts.starts_with(DEMO_DATE) || value["service"].as_str().is_none() {
                continue;
            }
            if let Some(id) = value["transaction_id"].as_str() {
                let entry = logged.entry(id.to_string()).or_default();
                entry.0 += 1;
                entry.1 += json.len() as u64;
            }
        }
    }
    let t = table(&out, "transactions", DEMO_DATE);
    let units = t.column_by_name("units").unwrap().as_list::<i32>();
    let (mut compared, mut with_bytes) = (0, 0);
    for row in 0..t.num_rows() {
        let id = t.text("transaction_id", row).unwrap();
        let list = units.value(row);
        let list = list.as_struct();
        let keys = list.column(0).as_string::<i32>();
        let values = list
            .column(1)
            .as_primitive::<arrow_array::types::Int64Type>();
        let bytes = (0..list.len())
            .find(|&i| keys.value(i) == "bytes")
            .map(|i| values.value(i) as u64);
        with_bytes += usize::from(bytes.is_some());
        // Where the raw lines are exactly the events the reader used.
        if let Some(&(lines, expected)) = logged.get(&id)
            && lines == t.int("events", row).unwrap()
        {
            assert_eq!(bytes, Some(expected), "{id}");
            compared += 1;
        }
    }
    assert_eq!(with_bytes, t.num_rows(), "every transaction logged bytes");
    assert!(
        compared * 100 >= t.num_rows() * 95,
        "{compared} of {}",
        t.num_rows()
    );
    // The CloudWatch Logs pools are split by them.
    let pools = table(&out, "pools", DEMO_DATE);
    let logs_pools: Vec<String> = (0..pools.num_rows())
        .filter(|&p| pools.text("product_code", p).unwrap() == "AmazonCloudWatch")
        .filter(|&p| pools.text("rule_id", p).unwrap().starts_with("logs-"))
        .map(|p| pools.text("unit_key", p).unwrap())
        .collect();
    assert!(!logs_pools.is_empty());
    assert!(logs_pools.iter().all(|k| k == "bytes"), "{logs_pools:?}");
}
