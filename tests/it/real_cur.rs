//! costjob on CUR exports written by AWS (`tests/data/real-cur/`, see each
//! SOURCE.md). Expected totals were computed independently (Python `decimal`
//! over pyarrow / the raw text, rounding each row half-to-even to 1e-10 USD):
//! see `tests/data/real-cur/EXPECTED.md`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use costjob::config::TagColumns;
use costjob::cost_basis::CostBasis;
use costjob::model::money::parse_decimal;
use costjob::pricing::Pricing;
use costjob::source::cur::{self, CurEngine};

use costjob::storage::{Location, Store};

use crate::helpers::*;

fn tags(keys: [&str; 3]) -> TagColumns {
    let columns = keys.map(|k| costjob::config::tag_column(k).unwrap());
    TagColumns {
        map_keys: columns
            .clone()
            .map(|c| c.trim_start_matches("resource_tags_").to_string()),
        columns,
    }
}

fn default_tags() -> TagColumns {
    tags(["user:transaction-type", "user:flow", "aws:ecs:serviceName"])
}

fn pricing() -> Pricing {
    Pricing::load(&repo().join("pricing")).unwrap()
}

fn usd(s: &str) -> i128 {
    parse_decimal(s).unwrap()
}

/// The CUR reader over `location` with these row rules.
fn read_cur(
    location: &Location,
    day: chrono::NaiveDate,
    basis: CostBasis,
    excluded_types: &[String],
    tags: &TagColumns,
    pricing: &Pricing,
) -> costjob::Result<(costjob::model::CurDay, cur::CurScan)> {
    let rules = cur::RowRules {
        basis,
        calendar: Default::default(),
        accounts: &[],
        excluded_types,
        tags,
        pricing,
    };
    location.read_day(&Store::default(), day, "", &rules)
}

const WORKSHOP: &str = "wal-workshop-cur-2018";

#[test]
fn workshop_2018_totals_per_basis_with_ri_rows() {
    let path = real_cur_data()
        .join(WORKSHOP)
        .join("Nov2018-WorkshopCUR-00001.snappy.parquet");
    let p = pricing();
    let none: Vec<String> = Vec::new();
    // (day, rows, unblended, amortized): the month's RIFee rows (dated from
    // the 1st, or the day the RI was bought, to 23:59:59 of the 30th) spread
    // over the days they cover; DiscountedUsage every day. Figures from
    // tests/data/real-cur/apportion.py (EXPECTED.md).
    for (day, rows, unblended, amortized) in [
        ("2018-11-01", 4167, "156.7265829054", "160.9676788508"),
        ("2018-11-15", 4351, "179.0629259515", "183.3040218968"),
    ] {
        for (basis, want) in [
            (CostBasis::Unblended, unblended),
            (CostBasis::Amortized, amortized),
            (CostBasis::NetAmortized, amortized),
        ] {
            let (d, scan) = read_cur(
                &Location::Local(path.to_path_buf()),
                date(day),
                basis,
                &none,
                &default_tags(),
                &p,
            )
            .unwrap();
            assert_eq!(d.rows, rows, "{day}");
            assert_eq!(d.total, usd(want), "{day} {}", basis.as_str());
            assert_eq!(d.pools.values().sum::<i128>(), d.total);
            assert_eq!(scan.rows_scanned, 124_340);
            assert!(
                !d.pools.keys().any(|k| k.tag_flow.is_some()),
                "no costjob tags in 2018"
            );
            assert_eq!(
                d.rows_without_invoice, 0,
                "closed months: every row has an invoice id"
            );
        }
    }
}

#[test]
fn row_groups_of_other_months_are_pruned() {
    let dir = real_cur_data().join(WORKSHOP);
    let (d, scan) = read_cur(
        &Location::Local(dir.to_path_buf()),
        date("2018-11-15"),
        CostBasis::Unblended,
        &[],
        &default_tags(),
        &pricing(),
    )
    .unwrap();
    assert_eq!(scan.files, 3);
    assert_eq!(
        (scan.row_groups_read, scan.row_groups_pruned),
        (1, 2),
        "Oct and Dec skipped by statistics"
    );
    assert_eq!(d.total, usd("179.0629259515"));
}

/// SPEC 12.1: every day of October to December 2018 read on its own, the
/// month-long RI fees spread over their days; the days sum to the three
/// files' total exactly, and the 15th of November carries its share of the
/// month's RI fee (figures: tests/data/real-cur/apportion.py).
#[test]
fn the_apportioned_days_of_a_quarter_sum_to_its_bill() {
    let dir = Location::Local(real_cur_data().join(WORKSHOP));
    let p = pricing();
    let ri_fee = vec!["RIFee".to_string()];
    for (basis, quarter, ri_fee_on_the_15th) in [
        (CostBasis::Unblended, "7978.1860921001", "4.9128000000"),
        (CostBasis::Amortized, "8368.3669225501", "1.4405479453"),
    ] {
        let mut sum = 0;
        // The quarter read at once (as `refresh` reads its window) gives
        // each day what reading it alone gives.
        let rules = cur::RowRules {
            basis,
            calendar: Default::default(),
            accounts: &[],
            excluded_types: &ri_fee,
            tags: &default_tags(),
            pricing: &p,
        };
        let quarter_days = date("2018-10-01")..=date("2018-12-31");
        let (at_once, _) = dir
            .read_days(&Store::default(), &quarter_days, "", &rules)
            .unwrap();
        assert_eq!(at_once.len(), 92);
        for (day, once) in date("2018-10-01").iter_days().zip(&at_once) {
            let (d, _) = read_cur(&dir, day, basis, &ri_fee, &default_tags(), &p).unwrap();
            assert_eq!(
                (once.total, once.rows, &once.excluded, &once.by_type),
                (d.total, d.rows, &d.excluded, &d.by_type),
                "{day}"
            );
            let mut pools: Vec<_> = once.pools.iter().collect();
            let mut alone: Vec<_> = d.pools.iter().collect();
            pools.sort();
            alone.sort();
            assert_eq!(pools, alone, "{day}");
            assert_eq!(
                d.pools.values().sum::<i128>() + d.excluded.values().sum::<i128>(),
                d.total
            );
            sum += d.total;
            let fee = d.excluded.get("RIFee").copied().unwrap_or(0);
            assert!(fee > 0, "{day}: every day of the quarter carries RI fees");
            if day == date("2018-11-15") {
                assert_eq!(fee, usd(ri_fee_on_the_15th), "{}", basis.as_str());
            }
        }
        assert_eq!(sum, usd(quarter), "{}", basis.as_str());
        // Nothing of the quarter lands outside it.
        for day in [date("2018-09-30"), date("2019-01-01")] {
            let (d, _) = read_cur(&dir, day, basis, &ri_fee, &default_tags(), &p).unwrap();
            assert_eq!((d.rows, d.total), (0, 0), "{day}");
        }
    }
}

#[test]
fn workshop_2018_end_to_end_with_logs() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = workshop_logs(tmp.path());
    let file = real_cur_data()
        .join(WORKSHOP)
        .join("Nov2018-WorkshopCUR-00001.snappy.parquet");
    write_config(
        tmp.path(),
        &file,
        &logs,
        "jsonl",
        "[allocation]\ncost_basis = \"amortized\"\nexclude_line_item_types = []\n",
    );
    let o = costjob(tmp.path(), &["run", "--date", "2018-11-15"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    use costjob::output::BatchExt;
    let recon = table(&tmp.path().join("out"), "reconciliation", "2018-11-15");
    assert_eq!(
        recon.money("cur_total_usd", 0).unwrap(),
        Some(usd("183.3040218968"))
    );
    assert_eq!(
        recon.money("allocated_usd", 0).unwrap(),
        Some(usd("183.3040218968")),
        "every pool untagged: all shared"
    );
    assert_eq!(recon.int("transactions", 0).unwrap(), 300);
}

/// Step5CUR.gz: Hive text, \x01-separated, `\N` for null, no header; columns
/// 0..139 follow Step1CUR.gz's header (SOURCE.md). Written to Parquet as it is
/// in Athena over the raw files: every column a string.
pub fn step5_as_parquet(dir: &Path) -> PathBuf {
    let base = real_cur_data().join("wal-costopt-workload-sp-2019");
    let header_line = std::io::BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(base.join("Step1CUR.gz")).unwrap(),
    ))
    .lines()
    .next()
    .unwrap()
    .unwrap();
    let header: Vec<&str> = header_line.split('\x01').take(140).collect();
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); header.len()];
    for line in std::io::BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(base.join("Step5CUR.gz")).unwrap(),
    ))
    .lines()
    {
        let line = line.unwrap();
        for (i, field) in line.split('\x01').take(140).enumerate() {
            columns[i].push(if field == "\\N" {
                None
            } else {
                Some(field.to_string())
            });
        }
    }
    let arrays: Vec<(&str, ArrayRef)> = header
        .iter()
        .zip(columns)
        .map(|(name, values)| (*name, Arc::new(StringArray::from(values)) as ArrayRef))
        .collect();
    let batch = RecordBatch::try_from_iter(arrays).unwrap();
    let path = dir.join("step5.parquet");
    write_parquet(&path, &batch);
    path
}

#[test]
fn costopt_2019_savings_plans_from_text_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let file = step5_as_parquet(tmp.path());
    let p = pricing();
    // The workload's real tag, user:application = "ordering", as the flow tag.
    let app_tags = tags([
        "user:transaction-type",
        "user:application",
        "aws:ecs:serviceName",
    ]);
    for (day, rows, total) in [
        ("2019-11-29", 926, "9.6667374953"),
        ("2019-11-30", 5015, "60.6029206141"),
    ] {
        for basis in [
            CostBasis::Unblended,
            CostBasis::Amortized,
            CostBasis::NetAmortized,
        ] {
            let (d, _) = read_cur(
                &Location::Local(file.to_path_buf()),
                date(day),
                basis,
                &[],
                &app_tags,
                &p,
            )
            .unwrap();
            assert_eq!(d.rows, rows, "{day}");
            assert_eq!(d.total, usd(total), "{day} {}", basis.as_str());
        }
    }
    let (d, _) = read_cur(
        &Location::Local(file.to_path_buf()),
        date("2019-11-30"),
        CostBasis::Amortized,
        &[],
        &app_tags,
        &p,
    )
    .unwrap();
    let tagged: BTreeMap<Option<String>, i128> =
        d.pools.iter().fold(BTreeMap::new(), |mut m, (k, v)| {
            *m.entry(k.tag_flow.clone()).or_default() += v;
            m
        });
    assert!(
        tagged.contains_key(&Some("ordering".to_string())),
        "{tagged:?}"
    );
    // SavingsPlanNegation rows are 0 amortized but -0.17 unblended on their own.
    let (u, _) = read_cur(
        &Location::Local(file.to_path_buf()),
        date("2019-11-30"),
        CostBasis::Unblended,
        &["SavingsPlanNegation".into()],
        &app_tags,
        &p,
    )
    .unwrap();
    assert!(u.excluded["SavingsPlanNegation"] < 0);
}

#[test]
fn split_cost_allocation_sample_has_no_usable_dates() {
    // Saved through a spreadsheet: line_item_usage_start_date reads "00:00.0" (SOURCE.md).
    let tmp = tempfile::tempdir().unwrap();
    let csv = std::fs::read_to_string(
        real_cur_data().join("saas-split-cost-allocation/split_cost_allocation_data.csv"),
    )
    .unwrap();
    let mut lines = csv.lines();
    let header = split_csv_line(lines.next().unwrap());
    let rows: Vec<Vec<String>> = lines.map(split_csv_line).collect();
    assert!(
        rows.iter().all(|r| r.len() == header.len()),
        "quoted commas kept in their field"
    );
    let arrays: Vec<(&str, ArrayRef)> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            (
                h.as_str(),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| Some(r[i].as_str())).collect::<Vec<_>>(),
                )) as ArrayRef,
            )
        })
        .collect();
    let batch = RecordBatch::try_from_iter(arrays).unwrap();
    let path = tmp.path().join("split.parquet");
    write_parquet(&path, &batch);
    let err = read_cur(
        &Location::Local(path.to_path_buf()),
        date("2024-08-21"),
        CostBasis::Amortized,
        &[],
        &default_tags(),
        &pricing(),
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), 3);
    let text = err.to_string();
    assert!(
        text.contains("split.parquet") && text.contains("row 1") && text.contains("\"00:00.0\""),
        "{text}"
    );
}

/// RFC 4180 fields of one line: commas inside double quotes stay, `""` is a quote.
fn split_csv_line(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[test]
fn cur_2_0_tags_come_from_the_resource_tags_map() {
    use arrow_array::builder::{MapBuilder, StringBuilder};
    use arrow_array::{Float64Array, TimestampMicrosecondArray};
    let tmp = tempfile::tempdir().unwrap();
    let mut tags = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    let rows: [&[(&str, &str)]; 3] = [
        &[
            ("user_flow", "pago"),
            ("user_transaction_type", "monetary"),
            ("aws_ecs_service_name", "pagos-svc"),
        ],
        &[("user_team", "core")],
        &[("user_flow", "")], // an empty tag value counts as no tag
    ];
    for row in rows {
        for (k, v) in row {
            tags.keys().append_value(k);
            tags.values().append_value(v);
        }
        tags.append(true).unwrap();
    }
    let day = 1_795_392_000_000_000i64; // 2026-11-23T00:00:00Z in microseconds
    let batch = RecordBatch::try_from_iter([
        (
            "line_item_usage_start_date",
            Arc::new(
                TimestampMicrosecondArray::from(vec![
                    day,
                    day + 3_600_000_000,
                    day + 7_200_000_000,
                ])
                .with_timezone("UTC"),
            ) as ArrayRef,
        ),
        (
            "line_item_product_code",
            Arc::new(StringArray::from(vec!["AmazonECS"; 3])) as ArrayRef,
        ),
        (
            "line_item_usage_type",
            Arc::new(StringArray::from(vec!["USE1-Fargate-vCPU-Hours:perCPU"; 3])) as ArrayRef,
        ),
        (
            "line_item_operation",
            Arc::new(StringArray::from(vec!["FargateTask"; 3])) as ArrayRef,
        ),
        (
            "line_item_line_item_type",
            Arc::new(StringArray::from(vec!["Usage"; 3])) as ArrayRef,
        ),
        (
            "line_item_unblended_cost",
            Arc::new(Float64Array::from(vec![1.5, 2.25, 0.125])) as ArrayRef,
        ),
        ("resource_tags", Arc::new(tags.finish()) as ArrayRef),
    ])
    .unwrap();
    let path = tmp.path().join("cur2.parquet");
    write_parquet(&path, &batch);
    let (d, _) = read_cur(
        &Location::Local(path.to_path_buf()),
        date("2026-11-23"),
        CostBasis::Amortized,
        &[],
        &default_tags(),
        &pricing(),
    )
    .unwrap();
    assert_eq!(d.rows, 3);
    assert_eq!(d.total, usd("3.875"));
    let mut pools: Vec<_> = d
        .pools
        .iter()
        .map(|(k, v)| {
            (
                k.tag_flow.clone(),
                k.tag_transaction_type.clone(),
                k.tag_service.clone(),
                *v,
            )
        })
        .collect();
    pools.sort();
    assert_eq!(
        pools,
        vec![
            (None, None, None, usd("2.375")),
            (
                Some("pago".into()),
                Some("monetary".into()),
                Some("pagos-svc".into()),
                usd("1.5")
            ),
        ]
    );
}

/// A file of several decoding batches (65,536 rows each) is folded batch by
/// batch in parallel: the day's sums are every row's, and of two bad rows in
/// different batches the first in the file is the one reported.
#[test]
fn a_cur_of_many_batches_sums_every_row_and_reports_its_first_bad_row() {
    use arrow_array::{Float64Array, TimestampMicrosecondArray};
    const ROWS: usize = 200_000;
    let tmp = tempfile::tempdir().unwrap();
    let day = 1_795_392_000_000_000i64; // 2026-11-23T00:00:00Z in microseconds
    let file = |costs: Vec<f64>| {
        let batch = RecordBatch::try_from_iter([
            (
                "line_item_usage_start_date",
                Arc::new(
                    TimestampMicrosecondArray::from(
                        (0..ROWS as i64)
                            .map(|r| day + r * 400_000)
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ) as ArrayRef,
            ),
            (
                "line_item_product_code",
                Arc::new(StringArray::from(vec!["AWSLambda"; ROWS])) as ArrayRef,
            ),
            (
                "line_item_usage_type",
                Arc::new(StringArray::from(vec!["Request"; ROWS])) as ArrayRef,
            ),
            (
                "line_item_operation",
                Arc::new(StringArray::from(vec!["Invoke"; ROWS])) as ArrayRef,
            ),
            (
                "line_item_line_item_type",
                Arc::new(StringArray::from(vec!["Usage"; ROWS])) as ArrayRef,
            ),
            (
                "line_item_unblended_cost",
                Arc::new(Float64Array::from(costs)) as ArrayRef,
            ),
        ])
        .unwrap();
        let path = tmp.path().join("cur.parquet");
        write_parquet(&path, &batch);
        let none: Vec<String> = Vec::new();
        read_cur(
            &Location::Local(path),
            date("2026-11-23"),
            CostBasis::Unblended,
            &none,
            &default_tags(),
            &pricing(),
        )
    };
    // Row r costs r x 1e-4 USD: the day's total is 1e-4 x (0 + ... + 199,999).
    let (d, scan) = file((0..ROWS).map(|r| r as f64 / 10_000.0).collect()).unwrap();
    assert_eq!((d.rows, scan.rows_scanned), (ROWS as u64, ROWS as u64));
    assert_eq!(d.total, usd("1999990.0000"));
    assert_eq!(d.pools.values().sum::<i128>(), d.total);

    let mut costs = vec![0.5; ROWS];
    costs[150_000] = f64::NAN; // the third batch
    costs[70_000] = f64::INFINITY; // the second
    let err = file(costs).unwrap_err().to_string();
    assert!(
        err.contains("row 70001: line_item_unblended_cost"),
        "the first bad row in the file: {err}"
    );
}

/// SPEC 12.3 on AWS's export, whose rows belong to two accounts: each
/// account's scope leaves the other's cost out of scope, per account; the
/// two scopes' allocated costs are each other's out-of-scope ones and sum to
/// the day; and the identity holds in the published reconciliation.
#[test]
fn accounts_outside_the_scope_are_out_of_scope_per_account() {
    let dir = Location::Local(real_cur_data().join(WORKSHOP));
    let (a, b) = ("836060457634".to_string(), "011254002932".to_string());
    let p = pricing();
    let read = |accounts: &[String]| {
        let rules = cur::RowRules {
            basis: CostBasis::Unblended,
            calendar: Default::default(),
            accounts,
            excluded_types: &[],
            tags: &default_tags(),
            pricing: &p,
        };
        dir.read_day(&Store::default(), date("2018-11-15"), "", &rules)
            .unwrap()
            .0
    };
    let (only_a, only_b) = (
        read(std::slice::from_ref(&a)),
        read(std::slice::from_ref(&b)),
    );
    let in_scope = |d: &costjob::model::CurDay| d.pools.values().sum::<i128>();
    assert_eq!(only_a.out_of_scope.keys().collect::<Vec<_>>(), [&b]);
    assert_eq!(only_b.out_of_scope.keys().collect::<Vec<_>>(), [&a]);
    assert_eq!(only_a.out_of_scope[&b], in_scope(&only_b));
    assert_eq!(only_b.out_of_scope[&a], in_scope(&only_a));
    assert_eq!(in_scope(&only_a) + in_scope(&only_b), usd("179.0629259515"));
    assert!(in_scope(&only_a) > 0 && in_scope(&only_b) > 0);
    for d in [&only_a, &only_b] {
        assert_eq!(d.total, usd("179.0629259515"), "every row counted");
    }

    let tmp = tempfile::tempdir().unwrap();
    let logs = workshop_logs(tmp.path());
    write_config(
        tmp.path(),
        &real_cur_data().join(WORKSHOP),
        &logs,
        "jsonl",
        "[allocation]\ncost_basis = \"unblended\"\nexclude_line_item_types = []\n",
    );
    let o = costjob(
        tmp.path(),
        &["run", "--date", "2018-11-15"],
        &[("COSTJOB_CUR_ACCOUNTS", &a)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    use costjob::output::BatchExt;
    let recon = table(&tmp.path().join("out"), "reconciliation", "2018-11-15");
    let m = |c: &str| recon.money(c, 0).unwrap().unwrap();
    assert_eq!(m("out_of_scope_usd"), only_a.out_of_scope[&b]);
    assert_eq!(
        m("cur_total_usd"),
        m("allocated_usd") + m("unallocated_usd") + m("excluded_usd") + m("out_of_scope_usd")
    );
    assert_eq!(m("allocated_usd") + m("unallocated_usd"), in_scope(&only_a));
    // The report says the identity holds, out of scope included.
    let page = tmp.path().join("report.html");
    let args = ["--html", page.to_str().unwrap(), "--date", "2018-11-15"];
    let config = tmp.path().join("costjob.toml");
    let o = read_command("report", &config, &tmp.path().join("out"), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    let exact = costjob::model::money::format_usd(m("out_of_scope_usd"));
    assert!(
        html.contains(&format!(">${exact}<")),
        "out of scope {exact}"
    );
    assert!(html.contains(">holds exactly<") && !html.contains("off by"));
}

#[test]
fn accounts_need_the_account_column_and_real_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = workshop_logs(tmp.path());
    let file = tmp.path().join("cur.parquet");
    let batch = RecordBatch::try_from_iter([
        (
            "line_item_usage_start_date",
            Arc::new(StringArray::from(vec!["2018-11-15T10:00:00Z"])) as ArrayRef,
        ),
        (
            "line_item_product_code",
            Arc::new(StringArray::from(vec!["AmazonEC2"])) as ArrayRef,
        ),
        (
            "line_item_usage_type",
            Arc::new(StringArray::from(vec!["BoxUsage"])) as ArrayRef,
        ),
        (
            "line_item_operation",
            Arc::new(StringArray::from(vec!["RunInstances"])) as ArrayRef,
        ),
        (
            "line_item_line_item_type",
            Arc::new(StringArray::from(vec!["Usage"])) as ArrayRef,
        ),
        (
            "line_item_unblended_cost",
            Arc::new(StringArray::from(vec!["1.5"])) as ArrayRef,
        ),
    ])
    .unwrap();
    write_parquet(&file, &batch);
    write_config(tmp.path(), &file, &logs, "jsonl", "");
    let o = costjob(
        tmp.path(),
        &["run", "--date", "2018-11-15"],
        &[("COSTJOB_CUR_ACCOUNTS", "836060457634")],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("missing column line_item_usage_account_id (required by [cur] accounts)"),
        "{}",
        stderr(&o)
    );
    let o = costjob(
        tmp.path(),
        &["check"],
        &[("COSTJOB_CUR_ACCOUNTS", "836060457634, deuna-prod")],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"deuna-prod\" is not a 12-digit AWS account id"),
        "{}",
        stderr(&o)
    );
}
