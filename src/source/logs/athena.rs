//! The Athena log engine (SPEC 14): the day's logs parsed, filtered and
//! summed per transaction by one `UNLOAD` ([`super::athena_sql`]), the
//! unloaded rows read back here, file by file in parallel, into the same
//! [`LogDay`] the file engine makes: every transaction classified by
//! [`TransactionAcc::finish`], every counter filled. No log byte passes
//! through the task; its memory grows with the day's transactions.
//!
//! What the task still does itself: it lists the day's log objects (as the
//! file engine does, never reading them) for the file counts, the names
//! skipped and the listing's fingerprint (SPEC 12.2).

use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

use super::athena_sql::{self, LogQuery};
use super::{LogDay, LogReader};
use crate::classify::{Aggregate, FlowCatalog, FlowNumber, Names, Texts, TransactionAcc};
use crate::config::{AthenaPlan, LogFormat};
use crate::model::id::TransactionId;
use crate::model::units::Units;
use crate::model::{LogCounters, Sample, Transaction};
use crate::source::athena::{self, QueryStats, table_shape};
use crate::storage::{Chunks, Listing, Location, Object, ParquetSource, Store};
use crate::{Error, Result};

impl LogReader<'_> {
    /// Reads the day through Athena: `plan`'s database and table over the
    /// objects under `sources` (listed here, not read), the query named by
    /// `run_id` and the day.
    pub fn read_athena(
        &self,
        store: &Store,
        plan: &AthenaPlan,
        sources: &[Location],
        run_id: &str,
    ) -> Result<(LogDay, QueryStats)> {
        let Listing { objects, skipped } = store.list_all(sources)?;
        let table = table_shape(store.aws(), plan)?;
        let mut partitions = self.calendar.utc_dates(self.date);
        if self.format == LogFormat::Firehose
            && let Some(&last) = partitions.last()
        {
            partitions.push(last + chrono::Days::new(1)); // records buffered past midnight
        }
        let window = self.calendar.window(self.date);
        let query = LogQuery {
            format: self.format,
            fields: self.fields,
            catalog: self.catalog,
            keys: self.keys,
            day_ms: window.start.div_euclid(1000)..window.end.div_euclid(1000),
            partitions,
            partition_key: table.partition_keys.first().cloned(),
            max_line_bytes: self.max_line_bytes,
        };
        let day = self.date.format("%Y-%m-%d");
        let target = plan
            .output_location
            .join(&format!("unload/{run_id}-logs-{day}"));
        let sql = athena_sql::unload_sql(plan, &query, &target)?;
        let token = format!("costjob-{run_id}-unload-logs-{day}");
        let (mut read, stats) = athena::unload(store, plan, &sql, &target, &token, |files| {
            self.read_aggregates(store, &files)
        })?;
        let c = &mut read.counters;
        c.files = objects.len() as u64;
        c.bytes = objects.iter().map(|o| o.size).sum();
        c.skipped_files = skipped.len() as u64;
        read.skipped = skipped;
        read.listing_fingerprint = crate::fingerprint::logs(&objects);
        Ok((read, stats))
    }

    /// The unloaded rows, each file read by a worker of its own.
    fn read_aggregates(&self, store: &Store, files: &[Object]) -> Result<LogDay> {
        let parts: Vec<Result<Part>> = files
            .par_iter()
            .map(|file| {
                let name = PathBuf::from(file.location.to_string());
                match store.chunk_reader(file)? {
                    Chunks::Local(f) => self.read_part(&name, f, file.size),
                    Chunks::S3(r) => self.read_part(&name, r, file.size),
                }
            })
            .collect();
        let parts: Vec<Part> = parts.into_iter().collect::<Result<_>>()?;
        let mut day = LogDay {
            // Exactly the day's transactions: each part's moved in and freed.
            transactions: Vec::with_capacity(parts.iter().map(|p| p.transactions.len()).sum()),
            ..LogDay::default()
        };
        let mut counters = LogCounters::default();
        for part in parts {
            if let Some(file) = part.corrupt {
                return Err(Error::input(
                    &file,
                    "a line that is not a CloudWatch Logs subscription record (the athena log engine cannot skip a file's rest as --allow-corrupt-input does: read the day with the file engine)",
                ));
            }
            counters.type_conflicts += part.type_conflicts;
            day.transactions.extend(part.transactions);
            for (name, n) in part.counters {
                add_counter(&mut counters, &name, n)?;
            }
            day.malformed.extend(part.malformed);
            if let Some(s) = part.unused
                && day.first_unused.as_ref().is_none_or(|u| s < *u)
            {
                day.first_unused = Some(s);
            }
        }
        day.malformed.sort();
        day.malformed.truncate(super::MALFORMED_SAMPLES);
        day.transactions
            .par_sort_unstable_by(|a, b| a.id.cmp(&b.id));
        counters.lines = counters.events
            + counters.out_of_day
            + counters.non_json
            + counters.no_transaction
            + counters.missing_service
            + counters.malformed
            + counters.blank
            + counters.bad_timestamp
            + counters.duplicate
            + counters.oversized;
        day.counters = counters;
        Ok(day)
    }

    /// One unloaded file's rows.
    fn read_part<R: ParquetSource>(&self, name: &PathBuf, file: R, size: u64) -> Result<Part> {
        let bad = |e: &dyn std::fmt::Display| Error::input(name, format!("unloaded rows: {e}"));
        // The file's bytes in one go (concurrent ranged GETs on S3): the
        // aggregates, a few tens of bytes per transaction, held while decoded.
        file.prefetch(std::slice::from_ref(&(0..size)))?;
        let batches = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(65_536).build())
            .map_err(|e| bad(&e))?;
        let mut part = Part::default();
        for batch in batches {
            let batch = batch.map_err(|e| bad(&e))?;
            self.read_batch(&batch, &mut part).map_err(|e| bad(&e))?;
        }
        Ok(part)
    }

    fn read_batch(&self, batch: &RecordBatch, part: &mut Part) -> std::result::Result<(), String> {
        let rows = Rows::of(batch, self.keys.len())?;
        for row in 0..batch.num_rows() {
            match rows.row_kind.value(row) {
                "transaction" => {
                    let aggregate = rows.aggregate(row, self.catalog.flows().len())?;
                    let acc = TransactionAcc::aggregated(aggregate, &mut part.texts)?;
                    let id = TransactionId::new(rows.id.value(row));
                    let mut conflicts = 0;
                    let names = part.names(self.catalog);
                    let transaction = acc.finish(id, self.catalog, names, &mut conflicts);
                    part.type_conflicts += conflicts;
                    part.transactions.push(transaction);
                }
                "counter" => part.counters.push((
                    rows.detail.value(row).to_string(),
                    count(&rows.events, row, "a counter")?,
                )),
                "malformed" => part.malformed.push(rows.sample(row, "malformed")),
                "unused" => part.unused = Some(rows.sample(row, "not an event")),
                "corrupt" => part.corrupt = Some(rows.file.value(row).to_string()),
                other => return Err(format!("row_kind {other:?}")),
            }
        }
        Ok(())
    }
}

/// The columns of a batch of unloaded rows ([`super::athena_sql`]).
struct Rows<'a> {
    row_kind: &'a StringArray,
    id: &'a StringArray,
    flow: &'a StringArray,
    status: &'a StringArray,
    file: &'a StringArray,
    detail: &'a StringArray,
    route_flow: Ints<'a>,
    first: Ints<'a>,
    last: Ints<'a>,
    events: Ints<'a>,
    duration: Ints<'a>,
    explicit_types: [Ints<'a>; 3],
    units: Vec<Ints<'a>>,
}

impl<'a> Rows<'a> {
    fn of(batch: &'a RecordBatch, keys: usize) -> std::result::Result<Self, String> {
        let column = |name: &str| -> std::result::Result<&'a ArrayRef, String> {
            batch
                .column_by_name(name)
                .ok_or(format!("no column {name}"))
        };
        let text = |name: &str| -> std::result::Result<&'a StringArray, String> {
            column(name)?
                .as_string_opt::<i32>()
                .ok_or(format!("column {name} is not a string"))
        };
        let int = |name: &str| -> std::result::Result<Ints<'a>, String> {
            let c = column(name)?;
            match c.data_type() {
                DataType::Int64 => Ok(Ints::I64(c.as_primitive::<Int64Type>())),
                DataType::Int32 => Ok(Ints::I32(c.as_primitive::<Int32Type>())),
                DataType::Null => Ok(Ints::Null),
                other => Err(format!("column {name} is {other}, not an integer")),
            }
        };
        Ok(Self {
            row_kind: text("row_kind")?,
            id: text("transaction_id")?,
            flow: text("flow")?,
            status: text("status")?,
            file: text("file")?,
            detail: text("detail")?,
            route_flow: int("route_flow")?,
            first: int("first_ms")?,
            last: int("last_ms")?,
            events: int("events")?,
            duration: int("duration_ms")?,
            explicit_types: [int("monetary")?, int("non_monetary")?, int("other_type")?],
            units: (0..keys)
                .map(|k| int(&format!("u{k}")))
                .collect::<std::result::Result<_, _>>()?,
        })
    }

    /// A `transaction` row; `flows`: how many the catalog has.
    fn aggregate(&self, row: usize, flows: usize) -> std::result::Result<Aggregate<'a>, String> {
        let mut pairs = Vec::new();
        for (key, column) in self.units.iter().enumerate() {
            let n = count(column, row, "units")?;
            if n > 0 {
                pairs.push((key as u16, n));
            }
        }
        let mut units = Units::default();
        units
            .add(&pairs)
            .map_err(|_| "units past 2^64".to_string())?;
        let text = |a: &'a StringArray| (!a.is_null(row)).then(|| a.value(row));
        let [monetary, non_monetary, other] = &self.explicit_types;
        Ok(Aggregate {
            first_ms: self.first.get(row).ok_or("no first_ms")?,
            last_ms: self.last.get(row).ok_or("no last_ms")?,
            events: count(&self.events, row, "events")?,
            duration_ms: count(&self.duration, row, "duration_ms")?,
            flow: text(self.flow),
            route_flow: (self.route_flow.get(row))
                .and_then(|n| u16::try_from(n).ok())
                .and_then(FlowNumber::new)
                .filter(|n| usize::from(n.get()) <= flows),
            status: text(self.status),
            explicit_types: [
                count(monetary, row, "monetary")?,
                count(non_monetary, row, "non_monetary")?,
                count(other, row, "other_type")?,
            ],
            units,
        })
    }

    /// A sample line: Athena gives its file, not its line number (0).
    fn sample(&self, row: usize, what: &str) -> Sample {
        Sample {
            file: PathBuf::from(self.file.value(row)),
            line: 0,
            error: format!("{what}: {}", self.detail.value(row)),
        }
    }
}

/// A count (0 when NULL), never negative.
fn count(a: &Ints<'_>, row: usize, what: &str) -> std::result::Result<u64, String> {
    let v = a.get(row).unwrap_or(0);
    u64::try_from(v).map_err(|_| format!("{what} {v} is negative"))
}

/// An integer column as Athena or DuckDB typed it; a column of NULLs only
/// may come typed as nothing.
enum Ints<'a> {
    I64(&'a arrow_array::Int64Array),
    I32(&'a arrow_array::Int32Array),
    Null,
}

impl Ints<'_> {
    fn get(&self, row: usize) -> Option<i64> {
        match self {
            Ints::I64(a) => (!a.is_null(row)).then(|| a.value(row)),
            Ints::I32(a) => (!a.is_null(row)).then(|| i64::from(a.value(row))),
            Ints::Null => None,
        }
    }
}

impl Part {
    /// The flow and status names of the texts read so far (made again when
    /// a new text came: the vocabulary is small, the rows many).
    fn names(&mut self, catalog: &FlowCatalog) -> &mut Names {
        let held = self.texts.len();
        if self.names.as_ref().is_none_or(|(n, _)| *n != held) {
            self.names = Some((held, Names::new(catalog, &self.texts)));
        }
        &mut self.names.as_mut().expect("just made").1
    }
}

/// What one unloaded file held.
#[derive(Default)]
struct Part {
    /// Classified as read: a transaction is held once, as the file engine
    /// holds it at the end (no accumulator beside it).
    transactions: Vec<Transaction>,
    type_conflicts: u64,
    texts: Texts,
    /// The names of `texts` when it held this many texts.
    names: Option<(usize, Names)>,
    counters: Vec<(String, u64)>,
    malformed: Vec<Sample>,
    unused: Option<Sample>,
    corrupt: Option<String>,
}

/// Adds the query's count of `name` (an outcome or `control_messages`) to its counter.
fn add_counter(c: &mut LogCounters, name: &str, n: u64) -> Result<()> {
    let counter = match name {
        "event" => &mut c.events,
        "out_of_day" => &mut c.out_of_day,
        "non_json" => &mut c.non_json,
        "no_transaction" => &mut c.no_transaction,
        "missing_service" => &mut c.missing_service,
        "malformed" => &mut c.malformed,
        "blank" => &mut c.blank,
        "bad_timestamp" => &mut c.bad_timestamp,
        "duplicate" => &mut c.duplicate,
        "oversized" => &mut c.oversized,
        "control_messages" => &mut c.control_messages,
        "corrupt" => {
            return Err(Error::input(
                "athena log query",
                format!(
                    "{n} log events are not of a CloudWatch Logs subscription record (an id or a time of the wrong type, no message)"
                ),
            ));
        }
        other => {
            return Err(Error::input(
                "athena log query",
                format!("unloaded counter {other:?} ({n}) is none of costjob's"),
            ));
        }
    };
    *counter += n;
    Ok(())
}
