//! The Parquet sink's own column writer: list columns' leaves and top-level
//! label columns are written from the batch's arrays (`sink::list_leaf`: the
//! labels from their dictionary keys, the numbers copied once), so the files
//! must read back as the same table arrow-rs's writer makes of the same
//! batches, with the same statistics for the top-level columns.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::{Array, ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_schema::DataType;
use arrow_select::concat::concat_batches;
use arrow_select::take::take;
use costjob::model::money::Money;
use costjob::sink::parquet::{Table, write_file};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;

const LABELS: [[&str; 2]; 4] = [
    ["AmazonEC2", "compute"],
    ["AmazonRDS", "database"],
    ["AWSLambda", "compute"],
    ["AmazonS3", ""],
];

/// `rows` rows from `first`: row `r` has `r % 5` cost entries (none every fifth
/// row) and `r % 3` unit entries ([`units`]), labels and amounts varying with the row.
fn batch(first: usize, rows: usize) -> RecordBatch {
    let (mut offsets, mut keys, mut costs) = (vec![0i32], Vec::new(), Vec::<Money>::new());
    for r in first..first + rows {
        for e in 0..r % 5 {
            keys.push(((r + e) % LABELS.len()) as u32);
            // Signed, and up to the largest DECIMAL(18,10).
            let magnitude = if e == 3 {
                999_999_999_999_999_999 - r as Money
            } else {
                (r * 7 + e) as Money
            };
            costs.push(if e % 2 == 1 { -magnitude } else { magnitude });
        }
        offsets.push(keys.len() as i32);
    }
    let key_names: Vec<String> = ["requests", "bytes", "seconds"].map(String::from).to_vec();
    Table::default()
        .int("row", (first..first + rows).map(|r| r as i64))
        // Null every fourth row; "WAITING", in every batch's texts, used
        // only by the first 5,000 rows (the first row group's largest).
        .label(
            "status",
            ["OK", "", "WAITING"],
            (first..first + rows).map(|r| {
                let used = if r < 5_000 { 3 } else { 2 };
                (r % 4 != 0).then_some((r % used) as u32)
            }),
        )
        .money_list(
            "costs",
            ["product_code", "category"],
            "cost_usd",
            &LABELS,
            offsets,
            keys,
            costs,
        )
        .unwrap()
        .unit_list(
            "units",
            &key_names,
            (first..first + rows).map(|r| (0..r % 3).map(move |k| (k as u16, units(r, k)))),
        )
        .into_batch()
}

/// Row `r`'s units of key `k`: mostly small, now and then the extremes of
/// 64 bits, so that neighbours differ by every width, past 2^63 too.
fn units(r: usize, k: usize) -> i64 {
    match (r * 3 + k) % 97 {
        0 => i64::MAX,
        1 => i64::MIN,
        2 => 0,
        3 => -(r as i64),
        _ => (r * k) as i64,
    }
}

fn read(path: &std::path::Path) -> (Vec<RecordBatch>, usize) {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let row_groups = reader.metadata().num_row_groups();
    let batches = reader.build().unwrap().map(Result::unwrap).collect();
    (batches, row_groups)
}

#[test]
fn list_leaves_written_from_the_batch_read_back_as_arrow_rs_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    // Batches across a row group's end (16,384 rows), the last one short.
    let sizes = [4_096, 10_000, 4_096, 1];
    let batches = || {
        let mut first = 0;
        sizes
            .iter()
            .map(|&n| {
                first += n;
                batch(first - n, n)
            })
            .collect::<Vec<_>>()
    };

    let ours_path = dir.path().join("ours.parquet");
    write_file(&ours_path, Box::new(batches().into_iter().map(Ok))).unwrap();

    let (ours, row_groups) = read(&ours_path);
    assert_eq!(row_groups, 2, "16,384 rows a row group");

    // The reference: arrow-rs's writer given the same batches, their
    // dictionaries as plain texts (what the file's schema says).
    let reference = dir.path().join("arrow-rs.parquet");
    let schema = ours[0].schema();
    let file = std::fs::File::create(&reference).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(16_384))
        .build();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
    for batch in batches() {
        let columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| plain(c, f.data_type()))
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
    let (expected, _) = read(&reference);

    // The label column's chunk statistics, row group by row group.
    let status_statistics = |path: &std::path::Path| {
        let file = std::fs::File::open(path).unwrap();
        let metadata = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .metadata()
            .clone();
        (metadata.row_groups().iter())
            .map(|group| {
                let column = group
                    .columns()
                    .iter()
                    .find(|c| c.column_path().string() == "status");
                let statistics = column.unwrap().statistics().unwrap();
                (
                    statistics.min_bytes_opt().map(<[u8]>::to_vec),
                    statistics.max_bytes_opt().map(<[u8]>::to_vec),
                    statistics.null_count_opt(),
                )
            })
            .collect::<Vec<_>>()
    };
    let statistics = status_statistics(&ours_path);
    assert_eq!(statistics, status_statistics(&reference));
    assert_eq!(statistics[0].1.as_deref(), Some(&b"WAITING"[..]));
    assert_eq!(
        statistics[1].1.as_deref(),
        Some(&b"OK"[..]),
        "WAITING unused"
    );
    assert_eq!(statistics[0].2, Some(16_384 / 4), "a null every fourth row");

    let concat = |b: &[RecordBatch]| concat_batches(&b[0].schema(), b).unwrap();
    let (ours, expected) = (concat(&ours), concat(&expected));
    assert_eq!(ours.num_rows(), sizes.iter().sum::<usize>());
    assert_eq!(ours, expected);
}

/// A list-of-struct column with its dictionary fields as plain texts.
fn plain(array: &ArrayRef, to: &DataType) -> ArrayRef {
    if array.data_type() == to {
        return array.clone();
    }
    if let DataType::Dictionary(..) = array.data_type() {
        let dict = array.as_dictionary::<UInt32Type>();
        return take(dict.values().as_ref(), dict.keys(), None).unwrap();
    }
    let list = array.as_list::<i32>();
    let DataType::List(item) = to else {
        panic!("only lists carry dictionaries")
    };
    let DataType::Struct(fields) = item.data_type() else {
        panic!("of structs")
    };
    let entries = list.values().as_struct();
    let columns = entries
        .columns()
        .iter()
        .zip(fields)
        .map(|(c, f)| match c.data_type() {
            DataType::Dictionary(..) => {
                let dict = c.as_dictionary::<UInt32Type>();
                take(dict.values().as_ref(), dict.keys(), None).unwrap()
            }
            _ => {
                assert_eq!(c.data_type(), f.data_type());
                c.clone()
            }
        })
        .collect();
    Arc::new(ListArray::new(
        item.clone(),
        list.offsets().clone(),
        Arc::new(StructArray::new(
            fields.clone(),
            columns,
            entries.nulls().cloned(),
        )),
        list.nulls().cloned(),
    ))
}
