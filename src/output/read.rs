//! Reading published days back (for `report`, `explain` and the tests): a
//! table's partition, wherever the [`super::Publisher`] of its root says it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow_array::Array as _;
use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::Decimal128Type;
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::model::money::Money;
use crate::storage::{Chunks, Location, Store};
use crate::{Error, Result};

/// Reads the published `date` partition of a table back as one batch (for
/// `report`): on a local root its `dt=` directory, on S3 the prefix its Glue
/// partition points at, read by ranged GETs.
pub fn read_day(
    store: &Store,
    output: &crate::config::Output,
    table: &str,
    date: NaiveDate,
) -> Result<RecordBatch> {
    read_day_columns(store, output, table, date, None)
}

/// [`read_day`] of some columns only (`None`: all): the others are not
/// fetched nor decoded (a day's `transactions` is large; its `costs` list the
/// largest part).
pub fn read_day_columns(
    store: &Store,
    output: &crate::config::Output,
    table: &str,
    date: NaiveDate,
    columns: Option<&[&str]>,
) -> Result<RecordBatch> {
    let location = (super::root(store, output).locate(table, date)?)
        .ok_or_else(|| not_published(output, date, date))?;
    read_location(store, &location, columns)
}

/// The one error of every command that reads a day never published (exit
/// 3): which days, where, and the command that publishes them.
pub fn not_published(output: &crate::config::Output, first: NaiveDate, last: NaiveDate) -> Error {
    let root = match (&output.root, output.glue_database.as_deref()) {
        (Location::S3 { .. }, Some(database)) => {
            format!("{} (Glue database {database})", output.root)
        }
        (root, _) => root.to_string(),
    };
    let message = if first == last {
        format!(
            "{first} is not published in {root}: publish it with `costjob run --date {first}` (or `costjob refresh`)"
        )
    } else {
        format!(
            "no day of {first} to {last} is published in {root}: publish them with `costjob run --from {first} --to {last}` (or `costjob refresh`)"
        )
    };
    Error::Input {
        path: std::path::PathBuf::new(),
        message,
    }
}

/// The published `date` partition of a table, or `None` when that day's
/// partition of the table was never published.
pub fn read_published(
    store: &Store,
    output: &crate::config::Output,
    table: &str,
    date: NaiveDate,
) -> Result<Option<RecordBatch>> {
    match super::root(store, output).locate(table, date)? {
        Some(location) => read_location(store, &location, None).map(Some),
        None => Ok(None),
    }
}

/// A local root's `date` partition of a table, as one batch (for tests).
pub fn read_partition(root: &Path, table: &str, date: NaiveDate) -> Result<RecordBatch> {
    let dir = super::local::partition_dir(root, table, date);
    read_location(&Store::default(), &Location::Local(dir), None)
}

fn read_location(
    store: &Store,
    location: &Location,
    columns: Option<&[&str]>,
) -> Result<RecordBatch> {
    let name = PathBuf::from(location.to_string());
    let parquet_err = |e: String| Error::Parquet {
        path: name.clone(),
        message: e,
    };
    let mut batches = Vec::new();
    let mut schema = None;
    for object in store.list(location)?.objects {
        if object.name().extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let (s, b) = match store.chunk_reader(&object)? {
            Chunks::Local(file) => read_batches(file, columns),
            Chunks::S3(remote) => read_batches(remote, columns),
        }
        .map_err(|e| Error::Parquet {
            path: object.name(),
            message: e.to_string(),
        })?;
        schema.get_or_insert(s);
        batches.extend(b);
    }
    let schema = schema.ok_or_else(|| Error::input(&name, "no Parquet files in this partition"))?;
    arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| parquet_err(e.to_string()))
}

fn read_batches<R: parquet::file::reader::ChunkReader + 'static>(
    reader: R,
    columns: Option<&[&str]>,
) -> std::result::Result<(arrow_schema::SchemaRef, Vec<RecordBatch>), parquet::errors::ParquetError>
{
    let mut reader = ParquetRecordBatchReaderBuilder::try_new(reader)?;
    if let Some(columns) = columns {
        let roots: Vec<usize> = (reader.schema().fields().iter().enumerate())
            .filter(|(_, f)| columns.contains(&f.name().as_str()))
            .map(|(i, _)| i)
            .collect();
        let mask = parquet::arrow::ProjectionMask::roots(reader.parquet_schema(), roots);
        reader = reader.with_projection(mask);
    }
    let reader = reader.build()?;
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    let batches = reader
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))?;
    Ok((schema, batches))
}

/// Typed access to a batch read back; a missing or mistyped column is an error.
pub trait BatchExt {
    fn text(&self, column: &str, row: usize) -> Result<String>;
    /// A text column that days published by earlier versions lack: empty then.
    fn text_or_empty(&self, column: &str, row: usize) -> Result<String>;
    fn boolean(&self, column: &str, row: usize) -> Result<bool>;
    /// A timestamp column, as epoch milliseconds.
    fn timestamp_ms(&self, column: &str, row: usize) -> Result<i64>;
    /// An `array<struct<key string, cost_usd decimal>>` column as a map.
    fn money_by(&self, column: &str, row: usize) -> Result<BTreeMap<String, Money>>;
    fn int(&self, column: &str, row: usize) -> Result<i64>;
    fn money(&self, column: &str, row: usize) -> Result<Option<Money>>;
}

fn column_error(column: &str, expected: &str) -> Error {
    Error::Parquet {
        path: PathBuf::from(column),
        message: format!("expected a column of type {expected}"),
    }
}

impl BatchExt for RecordBatch {
    fn text(&self, column: &str, row: usize) -> Result<String> {
        let a = self
            .column_by_name(column)
            .and_then(|a| a.as_string_opt::<i32>())
            .ok_or_else(|| column_error(column, "string"))?;
        Ok(if a.is_valid(row) {
            a.value(row).to_string()
        } else {
            String::new()
        })
    }

    fn text_or_empty(&self, column: &str, row: usize) -> Result<String> {
        match self.column_by_name(column) {
            None => Ok(String::new()),
            Some(_) => self.text(column, row),
        }
    }

    fn boolean(&self, column: &str, row: usize) -> Result<bool> {
        let a = self
            .column_by_name(column)
            .and_then(|a| a.as_boolean_opt())
            .ok_or_else(|| column_error(column, "boolean"))?;
        Ok(a.is_valid(row) && a.value(row))
    }

    fn timestamp_ms(&self, column: &str, row: usize) -> Result<i64> {
        let a = self
            .column_by_name(column)
            .and_then(|a| a.as_primitive_opt::<arrow_array::types::TimestampMillisecondType>())
            .ok_or_else(|| column_error(column, "timestamp"))?;
        Ok(a.value(row))
    }

    fn money_by(&self, column: &str, row: usize) -> Result<BTreeMap<String, Money>> {
        let mut map = BTreeMap::new();
        let Some(array) = self.column_by_name(column) else {
            return Ok(map); // a column that days published by earlier versions lack
        };
        let list = array
            .as_list_opt::<i32>()
            .ok_or_else(|| column_error(column, "array<struct<string, decimal>>"))?;
        if !list.is_valid(row) {
            return Ok(map);
        }
        let entries = list.value(row);
        let entries = entries
            .as_struct_opt()
            .ok_or_else(|| column_error(column, "array<struct<string, decimal>>"))?;
        let keys = entries.column(0).as_string_opt::<i32>();
        let costs = entries.column(1).as_primitive_opt::<Decimal128Type>();
        let (Some(keys), Some(costs)) = (keys, costs) else {
            return Err(column_error(column, "array<struct<string, decimal>>"));
        };
        for i in 0..entries.len() {
            map.insert(keys.value(i).to_string(), costs.value(i));
        }
        Ok(map)
    }

    fn int(&self, column: &str, row: usize) -> Result<i64> {
        let a = self
            .column_by_name(column)
            .and_then(|a| a.as_primitive_opt::<arrow_array::types::Int64Type>())
            .ok_or_else(|| column_error(column, "bigint"))?;
        Ok(a.value(row))
    }

    fn money(&self, column: &str, row: usize) -> Result<Option<Money>> {
        let a = self
            .column_by_name(column)
            .and_then(|a| a.as_primitive_opt::<Decimal128Type>())
            .ok_or_else(|| column_error(column, "decimal(18,10)"))?;
        Ok(a.is_valid(row).then(|| a.value(row)))
    }
}
