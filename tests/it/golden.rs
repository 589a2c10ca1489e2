//! Golden outputs: the demo day's `flow_summary` and `reconciliation`, compared to
//! the expected rows checked in under `tests/data/golden/` (volatile columns such
//! as run_id and timestamps left out). `UPDATE_GOLDEN=1 cargo test golden` rewrites them
//! after a deliberate change; review the diff.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_schema::DataType;

use crate::helpers::*;

/// Left out: what differs from run to run, and the log listing's
/// fingerprint (the files' modification times differ from clone to clone).
const VOLATILE: [&str; 6] = [
    "run_id",
    "started_at",
    "finished_at",
    "costjob_version",
    "pricing_sha256",
    "logs_fingerprint",
];

/// One line per row, `column=value` pairs sorted by row, money with 10 places.
fn render(batch: &RecordBatch) -> String {
    let mut rows = Vec::new();
    for i in 0..batch.num_rows() {
        let mut cells = Vec::new();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            if VOLATILE.contains(&field.name().as_str()) {
                continue;
            }
            let value = match field.data_type() {
                DataType::Decimal128(_, _) => costjob::model::money::format_usd(
                    column
                        .as_primitive::<arrow_array::types::Decimal128Type>()
                        .value(i),
                ),
                _ => arrow_cell(column, i),
            };
            cells.push(format!("{}={value}", field.name()));
        }
        rows.push(cells.join(" "));
    }
    rows.sort();
    rows.join("\n") + "\n"
}

fn arrow_cell(column: &arrow_array::ArrayRef, i: usize) -> String {
    use arrow_array::Array;
    if column.is_null(i) {
        return "null".into();
    }
    match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().value(i).to_string(),
        DataType::Int64 => column
            .as_primitive::<arrow_array::types::Int64Type>()
            .value(i)
            .to_string(),
        DataType::Boolean => column.as_boolean().value(i).to_string(),
        DataType::List(_) => {
            let list = column.as_list::<i32>().value(i);
            let s = list.as_struct();
            (0..s.len())
                .map(|j| {
                    s.columns()
                        .iter()
                        .map(|c| match c.data_type() {
                            DataType::Decimal128(_, _) => costjob::model::money::format_usd(
                                c.as_primitive::<arrow_array::types::Decimal128Type>()
                                    .value(j),
                            ),
                            _ => arrow_cell(c, j),
                        })
                        .collect::<Vec<_>>()
                        .join(":")
                })
                .collect::<Vec<_>>()
                .join(",")
        }
        other => format!("<{other}>"),
    }
}

#[test]
fn demo_day_matches_the_golden_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_demo(&out, &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    for name in [
        "flow_summary",
        "reconciliation",
        "flow_costs",
        "unallocated",
    ] {
        let actual = render(&table(&out, name, DEMO_DATE));
        let path = repo().join(format!("tests/data/golden/demo-{name}.txt"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &actual).unwrap();
        }
        let expected =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(actual, expected, "{name} differs from {}", path.display());
    }
}
