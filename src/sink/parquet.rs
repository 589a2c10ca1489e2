//! Parquet sink (SPEC 5): builds the five tables as Arrow batches (money as
//! DECIMAL(18,10)), writes them ZSTD-compressed under `<table>/dt=YYYY-MM-DD/`,
//! (`sink::publish` decides where). Also reads a day back for `report`.

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::Array as _;
use arrow_array::cast::AsArray;
use arrow_array::{
    ArrayRef, BooleanArray, Decimal128Array, Int64Array, ListArray, RecordBatch, StringArray,
    StructArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use parquet::schema::types::SchemaDescriptor;

use super::list_leaf::{ListLeaf, ListLevels};
use crate::model::money::{self, Money};
use crate::{Error, Result};

/// The output tables, in the order they are published.
pub const TABLES: [&str; 7] = [
    "transactions",
    "flow_costs",
    "flow_summary",
    "unallocated",
    "pools",
    "restatements",
    "reconciliation",
];

/// A table under construction: named, typed columns of equal length.
#[derive(Default)]
pub struct Table {
    fields: Vec<Field>,
    columns: Vec<ArrayRef>,
}

fn money_type() -> DataType {
    DataType::Decimal128(18, money::SCALE as i8)
}

impl Table {
    pub fn text<S: AsRef<str>>(
        mut self,
        name: &str,
        values: impl IntoIterator<Item = Option<S>>,
    ) -> Self {
        let array = StringArray::from_iter(values);
        self.fields.push(Field::new(name, DataType::Utf8, true));
        self.columns.push(Arc::new(array));
        self
    }

    /// Texts that rows share, as each row's index into `texts` (`None`:
    /// null): a dictionary column, no text copied per row (the file's
    /// schema says `string`, see [`file_schema`]).
    pub fn label<S: AsRef<str>>(
        mut self,
        name: &str,
        texts: impl IntoIterator<Item = S>,
        keys: impl IntoIterator<Item = Option<u32>>,
    ) -> Self {
        let texts = StringArray::from_iter_values(texts);
        let keys = arrow_array::UInt32Array::from_iter(keys);
        let array = arrow_array::DictionaryArray::try_new(keys, Arc::new(texts))
            .expect("keys into the texts");
        self.fields
            .push(Field::new(name, array.data_type().clone(), true));
        self.columns.push(Arc::new(array));
        self
    }

    pub fn int(mut self, name: &str, values: impl IntoIterator<Item = i64>) -> Self {
        self.fields.push(Field::new(name, DataType::Int64, false));
        self.columns
            .push(Arc::new(Int64Array::from_iter_values(values)));
        self
    }

    pub fn boolean(mut self, name: &str, values: impl IntoIterator<Item = bool>) -> Self {
        self.fields.push(Field::new(name, DataType::Boolean, false));
        self.columns.push(Arc::new(BooleanArray::from_iter(
            values.into_iter().map(Some),
        )));
        self
    }

    /// Epoch milliseconds as `TIMESTAMP(ms, UTC)`.
    pub fn timestamp(mut self, name: &str, values: impl IntoIterator<Item = i64>) -> Self {
        let array = TimestampMillisecondArray::from_iter_values(values).with_timezone("UTC");
        self.fields.push(Field::new(
            name,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ));
        self.columns.push(Arc::new(array));
        self
    }

    /// Money as DECIMAL(18,10); fails on values that do not fit.
    pub fn money(
        mut self,
        name: &str,
        values: impl IntoIterator<Item = Option<Money>>,
    ) -> Result<Self> {
        let values: Vec<Option<Money>> = values
            .into_iter()
            .map(|v| {
                v.map(|m| money::check_decimal_18(m, || format!("column {name}")))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let nullable = values.iter().any(Option::is_none);
        let array = Decimal128Array::from(values)
            .with_precision_and_scale(18, money::SCALE as i8)
            .expect("valid");
        self.fields.push(Field::new(name, money_type(), nullable));
        self.columns.push(Arc::new(array));
        Ok(self)
    }

    /// Whole numbers up to 10^38 (driver units, remainders) as DECIMAL(38,0).
    pub fn whole(mut self, name: &str, values: impl IntoIterator<Item = Option<u128>>) -> Self {
        let array = Decimal128Array::from_iter(
            values
                .into_iter()
                .map(|v| v.map(|v| v.min(i128::MAX as u128) as i128)),
        )
        .with_precision_and_scale(38, 0)
        .expect("valid");
        self.fields
            .push(Field::new(name, DataType::Decimal128(38, 0), true));
        self.columns.push(Arc::new(array));
        self
    }

    /// `array<struct<unit_key string, units bigint>>`: each row's driver units,
    /// as (unit key, units) with the key naming `key_names[key]`.
    pub fn unit_list<R, I>(mut self, name: &str, key_names: &[String], rows: R) -> Self
    where
        R: IntoIterator<Item = I>,
        I: IntoIterator<Item = (u16, i64)>,
    {
        let labels: Vec<[&str; 1]> = key_names.iter().map(|k| [k.as_str()]).collect();
        let mut entries = Entries::new();
        let mut units = Vec::new();
        for row in rows {
            for (key, value) in row {
                entries.labels.push(u32::from(key));
                units.push(value);
            }
            entries.end_row();
        }
        let array = entries.finish(
            ["unit_key"],
            &labels,
            Field::new("units", DataType::Int64, true),
            Arc::new(Int64Array::from(units)),
        );
        self.fields
            .push(Field::new(name, array.data_type().clone(), true));
        self.columns.push(Arc::new(array));
        self
    }

    /// A one-row `list<struct<key_field, cost_usd>>` column of `map`'s entries,
    /// in key order (the reconciliation's amounts by line item type, by account).
    pub fn money_by(
        self,
        name: &str,
        key_field: &str,
        map: &BTreeMap<String, Money>,
    ) -> Result<Self> {
        self.money_by_row(name, key_field, std::iter::once(map))
    }

    /// [`Self::money_by`] for a table of many rows: one map a row.
    pub fn money_by_row<'m>(
        self,
        name: &str,
        key_field: &str,
        maps: impl IntoIterator<Item = &'m BTreeMap<String, Money>>,
    ) -> Result<Self> {
        let mut labels: Vec<[&str; 1]> = Vec::new();
        let mut keys = Vec::new();
        let mut values = Vec::new();
        let mut offsets = vec![0];
        for map in maps {
            for (key, value) in map {
                keys.push(labels.len() as u32);
                labels.push([key.as_str()]);
                values.push(*value);
            }
            offsets.push(values.len() as i32);
        }
        self.money_list(
            name,
            [key_field],
            "cost_usd",
            &labels,
            offsets,
            keys,
            values,
        )
    }

    /// `array<struct<N strings, one decimal>>`, from its entries laid out flat:
    /// row `r`'s are `offsets[r]..offsets[r + 1]` of `keys` (each naming the N
    /// texts `labels[key]`) and `values`, which become the columns as they are.
    #[allow(clippy::too_many_arguments)]
    pub fn money_list<const N: usize>(
        mut self,
        name: &str,
        text_fields: [&str; N],
        money_field: &str,
        labels: &[[&str; N]],
        offsets: Vec<i32>,
        keys: Vec<u32>,
        values: Vec<Money>,
    ) -> Result<Self> {
        for &value in &values {
            money::check_decimal_18(value, || format!("column {name}"))?;
        }
        let money = Decimal128Array::from(values)
            .with_precision_and_scale(18, money::SCALE as i8)
            .expect("valid");
        let entries = Entries {
            labels: keys,
            offsets,
        };
        let array = entries.finish(
            text_fields,
            labels,
            Field::new(money_field, money_type(), true),
            Arc::new(money),
        );
        self.fields
            .push(Field::new(name, array.data_type().clone(), false));
        self.columns.push(Arc::new(array));
        Ok(self)
    }

    pub fn into_batch(self) -> RecordBatch {
        RecordBatch::try_new(Arc::new(Schema::new(self.fields)), self.columns)
            .expect("columns of equal length")
    }
}

/// The entries of a list-of-struct column being built: each entry's label (the
/// index of its texts) and where each row ends. Each text field is a dictionary
/// over one small array of texts, keyed by the labels themselves: no text is
/// copied per entry (the file's schema says `string`, see [`file_schema`]).
struct Entries {
    labels: Vec<u32>,
    /// Where each row starts, and the end: one more than the rows.
    offsets: Vec<i32>,
}

impl Entries {
    fn new() -> Self {
        Self {
            labels: Vec::new(),
            offsets: vec![0],
        }
    }

    fn end_row(&mut self) {
        self.offsets.push(self.labels.len() as i32);
    }

    /// `list<struct<text_fields..., value>>` (every field nullable, as the
    /// builders made it), the texts of entry `k` being `labels[self.labels[k]]`.
    fn finish<const N: usize>(
        self,
        text_fields: [&str; N],
        labels: &[[&str; N]],
        value_field: Field,
        values: ArrayRef,
    ) -> arrow_array::ListArray {
        let indices = arrow_array::UInt32Array::from(self.labels);
        let label_type = DataType::Dictionary(Box::new(DataType::UInt32), Box::new(DataType::Utf8));
        let mut fields: Vec<Field> = text_fields
            .iter()
            .map(|f| Field::new(*f, label_type.clone(), true))
            .collect();
        let texts = |i: usize| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(labels.iter().map(|l| l[i])))
        };
        // The keys are checked once, against the first field's texts: every
        // field has one text per label.
        let keyed =
            arrow_array::DictionaryArray::try_new(indices, texts(0)).expect("labels in range");
        let mut columns: Vec<ArrayRef> = (0..N)
            .map(|i| Arc::new(keyed.with_values(texts(i))) as ArrayRef)
            .collect();
        fields.push(value_field);
        columns.push(values);
        let entries = arrow_array::StructArray::new(Fields::from(fields), columns, None);
        let item = Arc::new(Field::new("item", entries.data_type().clone(), true));
        arrow_array::ListArray::new(
            item,
            arrow_buffer::OffsetBuffer::new(self.offsets.into()),
            Arc::new(entries),
            None,
        )
    }
}

/// Rows per data page of a list column's entries (27 entries a `transactions`
/// row in `costs`): the writer holds a page's dictionary indices as 8 bytes an
/// entry, so the default page of 20,000 rows held 3.5 MB per text field and
/// writer (docs/performance.md).
const LIST_PAGE_ROWS: usize = 2_048;

/// Columns whose values are (nearly) all distinct, written without a dictionary.
const NEARLY_UNIQUE: &[&str] = &["transaction_id", "direct_cost_usd"];

/// 64-bit integer columns (timestamps, amounts, durations) written as
/// differences (`DELTA_BINARY_PACKED`), without a dictionary. In
/// transaction-id order their values are random within a narrow range, so
/// plain values left ZSTD only the range's unused high bytes to remove
/// (slowly; figures in docs/performance.md), which
/// the differences' bit packing removes as well, before ZSTD. Not
/// `direct_cost_usd`: most transactions repeat a few direct costs, which
/// ZSTD finds in the plain values and not in the differences.
const DELTA_ENCODED: &[&str] = &[
    "first_event_at",
    "last_event_at",
    "duration_ms",
    "cost_usd",
    "shared_cost_usd",
];

/// Rows of the `transactions` table per Parquet row group: large enough to scan well.
pub const TRANSACTIONS_PER_ROW_GROUP: usize = 16_384;

/// A table's batches, produced as they are written.
pub type Batches<'a> = Box<dyn Iterator<Item = Result<RecordBatch>> + Send + 'a>;

/// A table's files: each a sequence of batches; files are written in parallel.
pub type Parts<'a> = Vec<Batches<'a>>;

/// The file name of a table's `index`-th part in a partition.
pub fn part_name(index: usize) -> String {
    format!("part-{index:05}.parquet")
}

/// Writes `batches` (at least one; all of one schema) as one Parquet file, synced.
pub fn write_file(path: &Path, batches: Batches<'_>) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    #[cfg(feature = "failpoints")]
    fail::fail_point!("parquet::write", |_| Err(Error::io(
        path,
        std::io::Error::from(std::io::ErrorKind::StorageFull)
    )));
    let file = write_to(WriteBehind::new(file), &path.display().to_string(), batches)?;
    file.file.sync_all().map_err(|e| Error::io(path, e))
}

/// A file whose written bytes the kernel starts writing to disk every
/// [`WriteBehind::EVERY`] bytes, while the sink goes on: the `sync_all`
/// that ends the file then waits for its last few megabytes, not all of
/// them, with both cores idle (docs/performance.md).
struct WriteBehind {
    file: File,
    written: u64,
    /// Where the range not yet handed to the kernel's writeback starts.
    behind: u64,
}

impl WriteBehind {
    const EVERY: u64 = 1 << 20;

    fn new(file: File) -> Self {
        Self {
            file,
            written: 0,
            behind: 0,
        }
    }

    /// Starts the writeback of the bytes written since the last call
    /// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`: no wait, no durability;
    /// `sync_all` gives that). Only Linux has it; elsewhere the final sync
    /// does all the work, as before.
    fn start_writeback(&mut self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let (offset, len) = (
                self.behind as libc::off64_t,
                (self.written - self.behind) as libc::off64_t,
            );
            // SAFETY: the descriptor is this open file's; the call reads no memory of ours.
            // Its failure costs only the early start: `sync_all` reports real errors.
            #[allow(unsafe_code)]
            unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    offset,
                    len,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        self.behind = self.written;
    }
}

impl std::io::Write for WriteBehind {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.behind >= Self::EVERY {
            self.start_writeback();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Writes `batches` as one Parquet file into `sink` (a file, an S3 upload); returns the sink.
pub fn write_to<W: std::io::Write + Send>(
    sink: W,
    name: &str,
    mut batches: Batches<'_>,
) -> Result<W> {
    let parquet_err = |e: parquet::errors::ParquetError| Error::Parquet {
        path: PathBuf::from(name),
        message: e.to_string(),
    };
    let first = batches.next().expect("every table has a batch")?;
    let schema = file_schema(&first.schema());
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_created_by(format!("costjob {}", env!("CARGO_PKG_VERSION")))
        .set_max_row_group_row_count(Some(TRANSACTIONS_PER_ROW_GROUP));
    // The entries of list columns (27 a transaction in `costs`) carry no
    // statistics: no query prunes on them, and min/max cost a comparison per
    // value. Values nearly unique per row skip the dictionary, which would
    // only overflow into plain encoding after hashing each one.
    for field in schema.fields() {
        if let DataType::List(item) = field.data_type()
            && let DataType::Struct(children) = item.data_type()
        {
            for child in children {
                let path = ColumnPath::new(vec![
                    field.name().clone(),
                    "list".into(),
                    item.name().clone(),
                    child.name().clone(),
                ]);
                props = props.set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
                props = props.set_column_data_page_row_count_limit(path.clone(), LIST_PAGE_ROWS);
                if *child.data_type() != DataType::Utf8 {
                    props = props.set_column_dictionary_enabled(path, false);
                }
            }
        }
    }
    for name in NEARLY_UNIQUE {
        props = props.set_column_dictionary_enabled(ColumnPath::from(*name), false);
    }
    for name in DELTA_ENCODED {
        let path = ColumnPath::from(*name);
        props = props.set_column_dictionary_enabled(path.clone(), false);
        props = props.set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
    }
    let props = props.build();
    let writer = ArrowWriter::try_new(sink, schema.clone(), Some(props)).map_err(parquet_err)?;
    let (file, factory) = writer.into_serialized_writer().map_err(parquet_err)?;
    let mut file = FileWriter::new(file, factory, schema, &first.schema());
    file.write(first).map_err(parquet_err)?;
    for batch in batches {
        file.write(batch?).map_err(parquet_err)?;
    }
    file.into_inner().map_err(parquet_err)
}

/// A top-level column: its leaves (indices into the file's), and how they are written.
struct Column {
    leaves: Range<usize>,
    plan: ColumnPlan,
}

enum ColumnPlan {
    /// By arrow-rs, every leaf.
    Arrow,
    /// A top-level `Dictionary(UInt32, Utf8)` column, by [`ListLeaf::flat`].
    Labels,
    /// A `list<struct<...>>` whose dictionary and integer fields are written
    /// from the batch's arrays ([`ListLeaf`]) and the other fields (`rest`) by
    /// arrow-rs, from the list projected to them (`projected`).
    Lists {
        rest: Vec<usize>,
        projected: Option<Projection>,
    },
}

/// A list column projected to some of its entries' fields.
struct Projection {
    /// The list's field and its item's.
    field: FieldRef,
    item: FieldRef,
    children: Fields,
}

/// A Parquet file written row group by row group: the leaves of list columns
/// by [`ListLeaf`], every other leaf by arrow-rs.
struct FileWriter<W: std::io::Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    columns: Vec<Column>,
    /// The row group being written: arrow-rs's writer for each leaf (those of
    /// list leaves unused), and the list leaves by leaf index.
    writers: Vec<ArrowColumnWriter>,
    list_leaves: Vec<Option<ListLeaf>>,
    rows: usize,
    max_rows: usize,
}

impl<W: std::io::Write + Send> FileWriter<W> {
    /// `schema` is the file's (texts as `Utf8`), `batch_schema` the batches'
    /// (list entries' texts as dictionaries).
    fn new(
        file: SerializedFileWriter<W>,
        factory: ArrowRowGroupWriterFactory,
        schema: SchemaRef,
        batch_schema: &Schema,
    ) -> Self {
        let props = file.properties().clone();
        let mut columns = Vec::new();
        let mut list_leaves = Vec::new();
        for (field, batch_field) in schema.fields().iter().zip(batch_schema.fields()) {
            let first_leaf = list_leaves.len();
            list_leaves.extend((0..leaf_count(field.data_type())).map(|_| None));
            let leaves = first_leaf..list_leaves.len();
            let descr = file.schema_descr();
            // The plain twin writes every column with arrow-rs.
            let ours = !crate::fast_path::plain();
            let flat = (ours && matches!(field.data_type(), DataType::Utf8))
                .then(|| {
                    let leaf = descr.column(first_leaf);
                    let compression = props.compression(leaf.path());
                    ListLeaf::flat(leaf, batch_field.data_type(), compression)
                })
                .flatten();
            let plan = if let Some(writer) = flat {
                list_leaves[first_leaf] = Some(writer);
                ColumnPlan::Labels
            } else if let Some((plan, writers)) = ours
                .then(|| list_plan(field, batch_field, first_leaf, descr, &props))
                .flatten()
            {
                for (leaf, writer) in writers {
                    list_leaves[leaf] = Some(writer);
                }
                plan
            } else {
                ColumnPlan::Arrow
            };
            columns.push(Column { leaves, plan });
        }
        let max_rows = props.max_row_group_row_count().unwrap_or(usize::MAX);
        Self {
            file,
            factory,
            schema,
            columns,
            writers: Vec::new(),
            list_leaves,
            rows: 0,
            max_rows,
        }
    }

    fn write(&mut self, mut batch: RecordBatch) -> parquet::errors::Result<()> {
        while batch.num_rows() > 0 {
            if self.writers.is_empty() {
                let index = self.file.flushed_row_groups().len();
                self.writers = self.factory.create_column_writers(index)?;
            }
            let take = batch.num_rows().min(self.max_rows - self.rows);
            self.write_rows(&batch.slice(0, take))?;
            batch = batch.slice(take, batch.num_rows() - take);
            self.rows += take;
            if self.rows == self.max_rows {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn write_rows(&mut self, batch: &RecordBatch) -> parquet::errors::Result<()> {
        for ((field, column), Column { leaves, plan }) in
            (self.schema.fields().iter().zip(batch.columns())).zip(&self.columns)
        {
            match plan {
                ColumnPlan::Arrow => {
                    let arrow_leaves = compute_leaves(field, column)?;
                    for (writer, leaf) in self.writers[leaves.clone()].iter_mut().zip(&arrow_leaves)
                    {
                        writer.write(leaf)?;
                    }
                }
                ColumnPlan::Labels => {
                    let levels = ListLevels::flat(column.as_ref());
                    for leaf in self.list_leaves[leaves.clone()].iter_mut().flatten() {
                        leaf.write_flat(column.as_ref(), &levels)?;
                    }
                }
                ColumnPlan::Lists { rest, projected } => {
                    let list = column.as_list::<i32>();
                    let levels = ListLevels::of(list, field.is_nullable());
                    for leaf in self.list_leaves[leaves.clone()].iter_mut().flatten() {
                        leaf.write(list, &levels)?;
                    }
                    if let Some(Projection {
                        field,
                        item,
                        children,
                    }) = projected
                    {
                        let entries = list.values().as_struct();
                        let columns = rest.iter().map(|&i| entries.column(i).clone()).collect();
                        let entries =
                            StructArray::new(children.clone(), columns, entries.nulls().cloned());
                        let list = ListArray::new(
                            item.clone(),
                            list.offsets().clone(),
                            Arc::new(entries),
                            list.nulls().cloned(),
                        );
                        let arrow_leaves = compute_leaves(field, &(Arc::new(list) as ArrayRef))?;
                        for (&i, leaf) in rest.iter().zip(&arrow_leaves) {
                            self.writers[leaves.start + i].write(leaf)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Closes the row group being written, if it has rows.
    fn flush(&mut self) -> parquet::errors::Result<()> {
        let writers = std::mem::take(&mut self.writers);
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.file.next_row_group()?;
        for (writer, list_leaf) in writers.into_iter().zip(&mut self.list_leaves) {
            match list_leaf {
                Some(leaf) => {
                    let (bytes, close) = leaf.finish()?;
                    group.append_column(&bytes, close)?;
                }
                None => writer.close()?.append_to_row_group(&mut group)?,
            }
        }
        group.close()?;
        self.rows = 0;
        Ok(())
    }

    fn into_inner(mut self) -> parquet::errors::Result<W> {
        self.flush()?;
        self.file.into_inner()
    }
}

/// The plan of a `list<struct<...>>` column (`parquet::Entries`) with the
/// leaves [`ListLeaf`] writes, by leaf index; `None` for any other column.
fn list_plan(
    field: &Field,
    batch_field: &Field,
    first_leaf: usize,
    descriptor: &SchemaDescriptor,
    props: &WriterProperties,
) -> Option<(ColumnPlan, Vec<(usize, ListLeaf)>)> {
    let (DataType::List(item), DataType::List(batch_item)) =
        (field.data_type(), batch_field.data_type())
    else {
        return None;
    };
    let (DataType::Struct(children), DataType::Struct(batch_children)) =
        (item.data_type(), batch_item.data_type())
    else {
        return None;
    };
    if leaf_count(item.data_type()) != children.len() {
        return None;
    }
    let (mut leaves, mut rest) = (Vec::new(), Vec::new());
    for (i, child) in batch_children.iter().enumerate() {
        let descr = descriptor.column(first_leaf + i);
        let compression = props.compression(descr.path());
        match ListLeaf::new(
            descr,
            i,
            child.data_type(),
            field.is_nullable(),
            compression,
        ) {
            Some(leaf) => leaves.push((first_leaf + i, leaf)),
            None => rest.push(i),
        }
    }
    if leaves.is_empty() {
        return None;
    }
    let projected = (!rest.is_empty()).then(|| {
        let children: Fields = rest.iter().map(|&i| children[i].clone()).collect();
        let item =
            Arc::new((item.as_ref().clone()).with_data_type(DataType::Struct(children.clone())));
        let field = Arc::new(field.clone().with_data_type(DataType::List(item.clone())));
        Projection {
            field,
            item,
            children,
        }
    });
    Some((ColumnPlan::Lists { rest, projected }, leaves))
}

/// The Parquet leaves a column of this type has.
fn leaf_count(data_type: &DataType) -> usize {
    match data_type {
        DataType::List(item) => leaf_count(item.data_type()),
        DataType::Struct(children) => children.iter().map(|c| leaf_count(c.data_type())).sum(),
        _ => 1,
    }
}

/// The schema a table is written and read back with: each dictionary column as
/// its values' type. The writer encodes a dictionary column's values as it would
/// the plain column (Parquet's own dictionary), so the files are the same either way.
fn file_schema(batch_schema: &Schema) -> Arc<Schema> {
    fn plain(data_type: &DataType) -> DataType {
        match data_type {
            DataType::Dictionary(_, values) => plain(values),
            DataType::List(item) => DataType::List(Arc::new(plain_field(item))),
            DataType::Struct(fields) => {
                DataType::Struct(fields.iter().map(|f| plain_field(f)).collect())
            }
            other => other.clone(),
        }
    }
    fn plain_field(field: &Field) -> Field {
        field.clone().with_data_type(plain(field.data_type()))
    }
    let fields: Vec<Field> = batch_schema
        .fields()
        .iter()
        .map(|f| plain_field(f))
        .collect();
    Arc::new(Schema::new_with_metadata(
        fields,
        batch_schema.metadata().clone(),
    ))
}
