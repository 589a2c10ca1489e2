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
use std::sync::mpsc::SyncSender;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
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
        let ((mut read, read_files), stats) =
            athena::unload(store, plan, &sql, &target, &token, |files| {
                self.read_aggregates(store, &files)
            })?;
        // The table must read what [logs] path lists (the files counted, the
        // listing fingerprinted): an object it read that the listing lacks
        // means the two name different places.
        let listed: std::collections::HashSet<String> =
            objects.iter().map(|o| o.location.to_string()).collect();
        if let Some(stray) = read_files.iter().find(|f| !listed.contains(*f)) {
            return Err(Error::input(
                stray,
                format!(
                    "read by the logs table {}.{} but not under [logs] path: both must name the same objects (the path's {{date}} folder is the table's day)",
                    plan.database, plan.table
                ),
            ));
        }
        let c = &mut read.counters;
        c.files = objects.len() as u64;
        c.bytes = objects.iter().map(|o| o.size).sum();
        c.skipped_files = skipped.len() as u64;
        read.skipped = skipped;
        read.listing_fingerprint = crate::fingerprint::logs(&objects);
        Ok((read, stats))
    }

    /// The unloaded rows: every file's footer first (the day's rows size
    /// one vector), then each file read by a worker, a row group at a time,
    /// its transactions handed over a bounded channel and appended as they
    /// arrive. The day's transactions are held once, beside the row groups
    /// and batches in flight.
    fn read_aggregates(&self, store: &Store, files: &[Object]) -> Result<(LogDay, Vec<String>)> {
        let footers: Vec<(&Object, ArrowReaderMetadata)> = files
            .par_iter()
            .map(|file| {
                let load = match store.chunk_reader(file)? {
                    Chunks::Local(f) => ArrowReaderMetadata::load(&f, Default::default()),
                    Chunks::S3(r) => ArrowReaderMetadata::load(&r, Default::default()),
                };
                let metadata = load.map_err(|e| unloaded(file, &e))?;
                Ok((file, metadata))
            })
            .collect::<Result<_>>()?;
        let rows: i64 = (footers.iter())
            .map(|(_, m)| m.metadata().file_metadata().num_rows())
            .sum();
        let mut transactions = Vec::with_capacity(usize::try_from(rows).unwrap_or(0));
        let (send, arrivals) = std::sync::mpsc::sync_channel(2 * rayon::current_num_threads());
        let parts: Vec<Result<Part>> = std::thread::scope(|s| {
            let reading = s.spawn(move || {
                (footers.into_par_iter())
                    .map_with(send, |send, (file, metadata)| {
                        self.read_file(store, file, &metadata, send)
                    })
                    .collect()
            });
            for arrived in arrivals {
                transactions.extend(arrived);
            }
            reading.join().expect("the readers do not panic")
        });
        // The row groups' bytes and batches, freed on the workers' threads,
        // returned before the allocation.
        crate::memory::release_freed();
        let mut day = LogDay {
            transactions,
            ..LogDay::default()
        };
        let mut counters = LogCounters::default();
        let mut read_files = Vec::new();
        for part in parts {
            let part = part?;
            if let Some(file) = part.corrupt {
                return Err(Error::input(
                    &file,
                    "a line that is not a CloudWatch Logs subscription record (the athena log engine cannot skip a file's rest as --allow-corrupt-input does: read the day with the file engine)",
                ));
            }
            read_files.extend(part.files);
            counters.type_conflicts += part.type_conflicts;
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
        // The query counts each line's outcome, not the lines.
        counters.lines = counters.per_line_buckets();
        day.counters = counters;
        Ok((day, read_files))
    }

    /// One unloaded file, a row group at a time (on S3: the row group's
    /// bytes fetched by concurrent ranged GETs, then decoded), its
    /// transactions sent as each batch is read.
    fn read_file(
        &self,
        store: &Store,
        file: &Object,
        metadata: &ArrowReaderMetadata,
        send: &SyncSender<Vec<Transaction>>,
    ) -> Result<Part> {
        let mut part = Part::default();
        for (index, group) in metadata.metadata().row_groups().iter().enumerate() {
            let ranges: Vec<std::ops::Range<u64>> = (group.columns().iter())
                .map(|c| {
                    let (start, length) = c.byte_range();
                    start..start + length
                })
                .collect();
            match store.chunk_reader(file)? {
                Chunks::Local(f) => {
                    self.read_row_group(f, file, metadata, (index, &ranges), &mut part, send)
                }
                Chunks::S3(r) => {
                    self.read_row_group(r, file, metadata, (index, &ranges), &mut part, send)
                }
            }?;
        }
        Ok(part)
    }

    fn read_row_group<R: ParquetSource>(
        &self,
        source: R,
        file: &Object,
        metadata: &ArrowReaderMetadata,
        (index, ranges): (usize, &[std::ops::Range<u64>]),
        part: &mut Part,
        send: &SyncSender<Vec<Transaction>>,
    ) -> Result<()> {
        source.prefetch(ranges)?;
        let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(source, metadata.clone())
            .with_row_groups(vec![index])
            .with_batch_size(65_536)
            .build()
            .map_err(|e| unloaded(file, &e))?;
        for batch in batches {
            let batch = batch.map_err(|e| unloaded(file, &e))?;
            let transactions = self
                .read_batch(&batch, part)
                .map_err(|e| unloaded(file, &e))?;
            // The reader has stopped only when another file failed.
            let _ = send.send(transactions);
        }
        Ok(())
    }

    /// The batch's transactions; its counters and samples added to `part`.
    fn read_batch(
        &self,
        batch: &RecordBatch,
        part: &mut Part,
    ) -> std::result::Result<Vec<Transaction>, String> {
        let rows = Rows::of(batch, self.keys.len())?;
        let mut transactions = Vec::with_capacity(batch.num_rows());
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
                    transactions.push(transaction);
                }
                "counter" => part.counters.push((
                    rows.detail.value(row).to_string(),
                    count(&rows.events, row, "a counter")?,
                )),
                "malformed" => part.malformed.push(rows.sample(row, "malformed")),
                "unused" => part.unused = Some(rows.sample(row, "not an event")),
                "corrupt" => part.corrupt = Some(rows.file.value(row).to_string()),
                "file" => part.files.push(rows.file.value(row).to_string()),
                other => return Err(format!("row_kind {other:?}")),
            }
        }
        Ok(transactions)
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

/// An error of an unloaded file.
fn unloaded(file: &Object, e: &dyn std::fmt::Display) -> Error {
    Error::input(file.location.to_string(), format!("unloaded rows: {e}"))
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
    /// The flow and status names of the texts read so far (each new text
    /// taken once, however many there are).
    fn names(&mut self, catalog: &FlowCatalog) -> &mut Names {
        let names = (self.names).get_or_insert_with(|| Names::new(catalog, &self.texts));
        names.update(&self.texts);
        names
    }
}

/// What one unloaded file held.
#[derive(Default)]
struct Part {
    type_conflicts: u64,
    texts: Texts,
    /// The names of `texts`.
    names: Option<Names>,
    counters: Vec<(String, u64)>,
    malformed: Vec<Sample>,
    unused: Option<Sample>,
    corrupt: Option<String>,
    /// The objects the table read.
    files: Vec<String>,
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
