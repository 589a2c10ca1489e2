//! The CUR's Parquet reader (SPEC 2.1): one file's rows for a day, with
//! column projection and row-group pruning on the usage date, each row priced
//! (cost basis + pricing rule) and folded into the day's pools. Both engines'
//! files go through it.
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int8Type, Int16Type, Int32Type};
use arrow_array::{Array, ArrayRef, MapArray, RecordBatch, StringArray};
use arrow_schema::{DataType, TimeUnit};
use chrono::NaiveDate;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::file::statistics::Statistics;

use crate::calendar::{Calendar, each_day, share_on, touches, usage_period};
use crate::config::{
    COST_COLUMNS, OPTIONAL, REQUIRED, TagColumns, USAGE_ACCOUNT, USAGE_END, USAGE_START,
};
use crate::cost_basis::{self, CostBasis, CostTerms};
use crate::model::RuleRef;
use crate::model::money::{self, Exact};
use crate::model::{CurDay, Line, PoolKey};
use crate::pricing::Pricing;
use crate::source::timestamps::parse_iso8601_micros;
use crate::storage::ParquetSource;
use crate::{Error, FastMap, Result};

/// What reading the CUR for a day did, for the run's logs.
#[derive(Debug, Default, Clone)]
pub struct CurScan {
    pub files: usize,
    pub row_groups_read: usize,
    pub row_groups_pruned: usize,
    pub rows_scanned: u64,
    /// Bytes fetched by ranged GETs (S3 objects; 0 for local files).
    pub bytes_fetched: u64,
    /// The Athena engine's query, when the rows came through Athena.
    pub query: Option<crate::source::athena::QueryStats>,
    /// Files with at least one `_net_` cost column (SPEC 2.2's net-amortized
    /// basis falls back to the gross amounts without them).
    pub files_with_net_columns: usize,
}

/// How a CUR row becomes money and a pool: the same for every engine.
pub struct RowRules<'a> {
    pub basis: CostBasis,
    /// The accounts allocated; empty: every account (SPEC 12.3).
    pub accounts: &'a [String],
    /// Whose days a row is apportioned over (SPEC 12.1).
    pub calendar: Calendar,
    pub excluded_types: &'a [String],
    pub tags: &'a TagColumns,
    pub pricing: &'a Pricing,
}

/// Decoded CUR batches being folded at once, at most.
const FOLDS_IN_FLIGHT: usize = 4;

/// Reads CUR files for a run of consecutive days: each row's cost
/// apportioned over the days of the run it covers (SPEC 12.1).
pub(super) struct DayReader<'a> {
    /// Each day's window, the first day's first.
    windows: Vec<Range<i64>>,
    accounts: &'a [String],
    calendar: Calendar,
    basis: CostBasis,
    excluded_types: &'a [String],
    tags: &'a TagColumns,
    pricing: &'a Pricing,
}

impl<'a> DayReader<'a> {
    /// A reader for `days` (non-empty: `first..=last`).
    pub(super) fn new(days: &RangeInclusive<NaiveDate>, rules: &RowRules<'a>) -> Self {
        let windows = each_day(days).map(|d| rules.calendar.window(d)).collect();
        DayReader {
            windows,
            accounts: rules.accounts,
            calendar: rules.calendar,
            basis: rules.basis,
            excluded_types: rules.excluded_types,
            tags: rules.tags,
            pricing: rules.pricing,
        }
    }

    /// [`Self::read_file`], with a panic inside the `parquet` crate's decoders
    /// (corrupt pages can trip its bounds asserts; found by fuzzing) turned into
    /// an input error naming the file.
    pub(super) fn read_guarded<R: ParquetSource>(
        &self,
        path: &PathBuf,
        file: R,
    ) -> Result<(Vec<CurDay>, CurScan)> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.read_file(path, file)))
            .unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Error::input(
                    path,
                    format!("not a readable Parquet file: its data does not decode ({why})"),
                ))
            })
    }

    /// The days' CUR, one per day of the reader's run, in order.
    pub(super) fn days(&self) -> Vec<CurDay> {
        vec![CurDay::default(); self.windows.len()]
    }

    /// The window of the reader's whole run of days.
    fn span(&self) -> Range<i64> {
        self.windows[0].start..self.windows[self.windows.len() - 1].end
    }

    fn read_file<R: ParquetSource>(
        &self,
        path: &PathBuf,
        file: R,
    ) -> Result<(Vec<CurDay>, CurScan)> {
        let parquet_err = |e: parquet::errors::ParquetError| {
            Error::input(path, format!("not a readable Parquet file: {e}"))
        };
        let fetched = file.fetched();
        let metadata = ArrowReaderMetadata::load(&file, Default::default()).map_err(parquet_err)?;
        let indices = self.projection(path, metadata.schema())?;
        let mut scan = CurScan {
            files_with_net_columns: usize::from(
                (metadata.schema().fields().iter()).any(|f| f.name().contains("_net_")),
            ),
            ..CurScan::default()
        };
        let keep = self.row_groups_of_the_day(&metadata, &mut scan);
        // The column chunks this read needs, fetched at once (S3) before decoding.
        let parquet_schema = metadata.parquet_schema();
        let leaves: Vec<usize> = (0..parquet_schema.num_columns())
            .filter(|&l| indices.contains(&parquet_schema.get_column_root_idx(l)))
            .collect();
        let file_len = parquet::file::reader::Length::len(&file);
        let ranges = chunk_ranges(path, metadata.metadata(), &keep, &leaves, file_len)?;
        file.prefetch(&ranges)?;
        let mask = ProjectionMask::roots(parquet_schema, indices);
        let batches = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone())
            .with_projection(mask)
            .with_row_groups(keep)
            .with_batch_size(65_536)
            .build()
            .map_err(parquet_err)?;
        let (day, rows) = self.fold_batches(path, batches)?;
        scan.rows_scanned = rows;
        scan.bytes_fetched = fetched.load(std::sync::atomic::Ordering::Relaxed);
        Ok((day, scan))
    }

    /// The root columns to read (SPEC 2.1's required and optional ones, and
    /// the tag columns), by index; a required one missing is an input error.
    fn projection(&self, path: &Path, schema: &arrow_schema::Schema) -> Result<Vec<usize>> {
        for column in REQUIRED {
            if schema.column_with_name(column).is_none() {
                return Err(Error::input(path, format!("missing column {column}")));
            }
        }
        if !self.accounts.is_empty() && schema.column_with_name(USAGE_ACCOUNT).is_none() {
            return Err(Error::input(
                path,
                format!("missing column {USAGE_ACCOUNT} (required by [cur] accounts)"),
            ));
        }
        let wanted: Vec<&str> = REQUIRED
            .iter()
            .chain(OPTIONAL.iter())
            .copied()
            .chain(self.tags.columns.iter().map(String::as_str))
            .collect();
        Ok((schema.fields().iter().enumerate())
            .filter(|(_, f)| wanted.contains(&f.name().as_str()))
            .map(|(i, _)| i)
            .collect())
    }

    /// The row groups that may hold rows whose usage period touches the
    /// reader's days (SPEC 12.1): by the usage dates' statistics, a group is read unless
    /// every row starts after the day, or every row starts before it and
    /// ends by its start (the others counted pruned). Missing statistics
    /// keep the group.
    fn row_groups_of_the_day(
        &self,
        metadata: &ArrowReaderMetadata,
        scan: &mut CurScan,
    ) -> Vec<usize> {
        let day = self.span();
        let bounds_of = |name: &str| {
            let data_type = metadata
                .schema()
                .field_with_name(name)
                .ok()?
                .data_type()
                .clone();
            let leaf = (metadata.parquet_schema().columns().iter())
                .position(|c| c.path().string() == name)?;
            Some((leaf, data_type))
        };
        let (starts, ends) = (bounds_of(USAGE_START), bounds_of(USAGE_END));
        let min_max = |group: &parquet::file::metadata::RowGroupMetaData,
                       column: &Option<(usize, DataType)>| {
            let (leaf, data_type) = column.as_ref()?;
            match (group.column(*leaf).statistics()?, data_type) {
                (Statistics::Int64(s), DataType::Timestamp(unit, _)) => Some((
                    to_micros(*s.min_opt()?, unit),
                    to_micros(*s.max_opt()?, unit),
                )),
                _ => None,
            }
        };
        let mut keep = Vec::new();
        for (i, group) in metadata.metadata().row_groups().iter().enumerate() {
            let start = min_max(group, &starts);
            let all_after = start.is_some_and(|(lo, _)| lo >= day.end);
            let all_before = start.is_some_and(|(_, hi)| hi < day.start)
                && min_max(group, &ends).is_some_and(|(_, hi)| hi <= day.start)
                && (group.column(ends.as_ref().expect("has statistics").0))
                    .statistics()
                    .and_then(|s| s.null_count_opt())
                    == Some(0);
            if all_after || all_before {
                scan.row_groups_pruned += 1;
            } else {
                keep.push(i);
            }
        }
        scan.row_groups_read = keep.len();
        keep
    }

    /// The batches decoded in turn and folded by tasks of their own, in
    /// parallel with the next batch's decoding; a few at a time, so the
    /// decoded batches waiting for a core stay few. Returns the day (parts
    /// merged in the file's order: the first bad row is the one reported)
    /// and the rows scanned.
    fn fold_batches(
        &self,
        path: &Path,
        batches: impl Iterator<Item = std::result::Result<RecordBatch, arrow_schema::ArrowError>> + Send,
    ) -> Result<(Vec<CurDay>, u64)> {
        let folded: Mutex<Vec<(u64, Result<Vec<CurDay>>)>> = Mutex::default();
        let pending = AtomicUsize::new(0);
        let rows = rayon::scope(|scope| -> Result<u64> {
            let mut first_row = 0u64;
            for batch in batches {
                let batch =
                    batch.map_err(|e| Error::input(path, format!("reading Parquet: {e}")))?;
                while pending.load(Ordering::Acquire) >= FOLDS_IN_FLIGHT {
                    rayon::yield_now(); // folds a waiting batch here
                }
                pending.fetch_add(1, Ordering::AcqRel);
                let rows = batch.num_rows() as u64;
                let (folded, pending) = (&folded, &pending);
                scope.spawn(move |_| {
                    let mut days = self.days();
                    let mut rule_cache = FastMap::default();
                    let result =
                        (self.fold_batch(path, &batch, first_row, &mut days, &mut rule_cache))
                            .map(|()| days);
                    let mut folded = folded.lock().unwrap_or_else(PoisonError::into_inner);
                    folded.push((first_row, result));
                    pending.fetch_sub(1, Ordering::AcqRel);
                });
                first_row += rows;
            }
            Ok(first_row)
        })?;
        let mut folded = folded.into_inner().unwrap_or_else(PoisonError::into_inner);
        folded.sort_by_key(|(first_row, _)| *first_row);
        let mut days = self.days();
        for (_, part) in folded {
            merge_days(&mut days, part?);
        }
        Ok((days, rows))
    }

    fn fold_batch(
        &self,
        path: &Path,
        batch: &RecordBatch,
        first_row: u64,
        days: &mut [CurDay],
        rule_cache: &mut FastMap<(String, String, String), RuleRef>,
    ) -> Result<()> {
        let columns = CurColumns::bind(path, batch, self.tags)?;
        let span = self.span();
        for row in 0..batch.num_rows() {
            let row_number = first_row + row as u64 + 1;
            let at_row = |name: &str, message: String| {
                Error::input(path, format!("row {row_number}: {name}: {message}"))
            };
            let start = (columns.dates.micros(row)).map_err(|m| at_row(USAGE_START, m))?;
            let end = match &columns.ends {
                Some(ends) => ends.micros_or_null(row).map_err(|m| at_row(USAGE_END, m))?,
                None => None,
            };
            let period = usage_period(start, end);
            if !touches(&period, &span) {
                continue;
            }
            let terms = columns.cost_terms(row, &at_row)?;
            let cost = cost_basis::row_cost(self.basis, &terms)
                .and_then(|c| (c.abs() <= money::DECIMAL_18_MAX).then_some(c))
                .ok_or_else(|| {
                    Error::input(
                        path,
                        format!(
                            "row {row_number}: the {} cost of this {} row does not fit DECIMAL(18,10)",
                            self.basis.as_str(),
                            terms.line_item_type
                        ),
                    )
                })?;
            let has_invoice = !text_at(&columns.invoice, row).is_empty();
            let line = self.line(&columns, row, &terms, rule_cache);
            // The row's share of each day it covers (all of it for an hourly row).
            let first = self.windows.partition_point(|w| w.end <= period.start);
            let mut covered = (first..self.windows.len())
                .take_while(|&i| touches(&period, &self.windows[i]))
                .peekable();
            while let Some(i) = covered.next() {
                let share = share_on(cost, &period, &self.windows[i], &self.calendar);
                if covered.peek().is_some() {
                    days[i].add(line.clone(), terms.line_item_type, share, has_invoice);
                } else {
                    days[i].add(line, terms.line_item_type, share, has_invoice);
                    break;
                }
            }
        }
        Ok(())
    }

    /// Where a row's cost goes (SPEC 12.3, 2.3, 4.1): out of scope (another
    /// account's), excluded (its line item type), or a pool.
    fn line(
        &self,
        columns: &CurColumns<'_>,
        row: usize,
        terms: &CostTerms<'_>,
        rule_cache: &mut FastMap<(String, String, String), RuleRef>,
    ) -> Line {
        if !self.accounts.is_empty() {
            let account = text_at(&columns.account, row).trim();
            if !self.accounts.iter().any(|a| a == account) {
                return Line::OutOfScope(account.to_string());
            }
        }
        if (self.excluded_types.iter()).any(|t| t == terms.line_item_type) {
            return Line::Excluded;
        }
        let (ut, op) = (
            text_at(&columns.usage_type, row),
            text_at(&columns.operation, row),
        );
        let cache_key = (
            terms.product_code.to_string(),
            ut.to_string(),
            op.to_string(),
        );
        let rule = match rule_cache.get(&cache_key) {
            Some(r) => *r,
            None => {
                let r = self.pricing.match_row(terms.product_code, ut, op);
                rule_cache.insert(cache_key, r);
                r
            }
        };
        let tag = |i: usize| columns.tag(row, i, self.tags);
        Line::Pool(PoolKey {
            product_code: terms.product_code.to_string(),
            rule,
            tag_transaction_type: tag(0),
            tag_flow: tag(1),
            tag_service: tag(2),
        })
    }
}

/// Adds each day of `part` to the same day of `days`.
fn merge_days(days: &mut [CurDay], part: Vec<CurDay>) {
    for (day, part) in days.iter_mut().zip(part) {
        day.merge(part);
    }
}

/// A batch's CUR columns (SPEC 2.1), bound once by name and type: an
/// optional column that is absent is `None`; one of the wrong type is an
/// input error naming it.
struct CurColumns<'a> {
    dates: UsageDate<'a>,
    ends: Option<UsageDate<'a>>,
    product: Option<Text<'a>>,
    usage_type: Option<Text<'a>>,
    operation: Option<Text<'a>>,
    line_type: Option<Text<'a>>,
    arn: Option<Text<'a>>,
    invoice: Option<Text<'a>>,
    account: Option<Text<'a>>,
    /// The cost columns, in [`COST_COLUMNS`]' order.
    costs: [Option<Number<'a>>; COST_COLUMNS.len()],
    tag_map: Option<&'a MapArray>,
    tag_columns: Vec<Option<Text<'a>>>,
}

impl<'a> CurColumns<'a> {
    fn bind(path: &Path, batch: &'a RecordBatch, tags: &TagColumns) -> Result<Self> {
        let text = |name: &str| -> Result<Option<Text<'a>>> {
            batch
                .column_by_name(name)
                .map(|c| Text::new(c).ok_or_else(|| bad_type(path, name, c)))
                .transpose()
        };
        let number = |name: &str| -> Result<Option<Number<'a>>> {
            batch
                .column_by_name(name)
                .map(|c| Number::new(c).ok_or_else(|| bad_type(path, name, c)))
                .transpose()
        };
        let usage_start = batch.column_by_name(USAGE_START).expect("projected");
        let dates =
            UsageDate::new(usage_start).ok_or_else(|| bad_type(path, USAGE_START, usage_start))?;
        let [
            product,
            usage_type,
            operation,
            line_type,
            arn,
            invoice,
            account,
        ] = [
            "line_item_product_code",
            "line_item_usage_type",
            "line_item_operation",
            "line_item_line_item_type",
            "reservation_reservation_a_r_n",
            "bill_invoice_id",
            USAGE_ACCOUNT,
        ]
        .map(text);
        let (product, usage_type, operation, line_type) =
            (product?, usage_type?, operation?, line_type?);
        let (arn, invoice, account) = (arn?, invoice?, account?);
        let mut costs = [const { None }; COST_COLUMNS.len()];
        for (cost, name) in costs.iter_mut().zip(COST_COLUMNS) {
            *cost = number(name)?;
        }
        let tag_map = match batch.column_by_name("resource_tags") {
            Some(c) => Some(
                c.as_map_opt()
                    .ok_or_else(|| bad_type(path, "resource_tags", c))?,
            ),
            None => None,
        };
        let ends = match batch.column_by_name(USAGE_END) {
            Some(c) => Some(UsageDate::new(c).ok_or_else(|| bad_type(path, USAGE_END, c))?),
            None => None,
        };
        Ok(CurColumns {
            dates,
            ends,
            product,
            usage_type,
            operation,
            line_type,
            arn,
            invoice,
            account,
            costs,
            tag_map,
            tag_columns: (tags.columns.iter())
                .map(|c| text(c))
                .collect::<Result<_>>()?,
        })
    }

    /// The row's cost terms; a value that does not decode is `at_row`'s
    /// error (column name, message).
    fn cost_terms(
        &self,
        row: usize,
        at_row: &dyn Fn(&str, String) -> Error,
    ) -> Result<CostTerms<'a>> {
        let mut values = [None; COST_COLUMNS.len()];
        for ((value, column), name) in values.iter_mut().zip(&self.costs).zip(COST_COLUMNS) {
            if let Some(c) = column {
                *value = c.get(row).map_err(|m| at_row(name, m))?;
            }
        }
        let [
            unblended,
            net_unblended,
            ri_effective,
            net_ri_effective,
            ri_upfront,
            net_ri_upfront,
            ri_recurring,
            net_ri_recurring,
            sp_effective,
            net_sp_effective,
            sp_commitment,
            sp_used,
        ] = values;
        Ok(CostTerms {
            line_item_type: text_at(&self.line_type, row),
            product_code: text_at(&self.product, row),
            reservation_arn: text_at(&self.arn, row),
            unblended: unblended.unwrap_or(0),
            net_unblended,
            reservation_effective: ri_effective.unwrap_or(0),
            net_reservation_effective: net_ri_effective,
            reservation_unused_amortized_upfront: ri_upfront.unwrap_or(0),
            net_reservation_unused_amortized_upfront: net_ri_upfront,
            reservation_unused_recurring: ri_recurring.unwrap_or(0),
            net_reservation_unused_recurring: net_ri_recurring,
            savings_plan_effective: sp_effective.unwrap_or(0),
            net_savings_plan_effective: net_sp_effective,
            savings_plan_total_commitment_to_date: sp_commitment.unwrap_or(0),
            savings_plan_used_commitment: sp_used.unwrap_or(0),
        })
    }

    /// The row's value of tag `i` (transaction type, flow, service), trimmed;
    /// `None` when absent or blank.
    fn tag(&self, row: usize, i: usize, tags: &TagColumns) -> Option<String> {
        let value = match self.tag_map {
            Some(map) => map_value(map, row, &tags.map_keys[i]),
            None => self.tag_columns[i].as_ref().and_then(|c| c.get(row)),
        };
        value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
    }
}

/// The byte ranges of the column chunks (`leaves`) of the row groups `keep`,
/// checked against the file: a corrupt footer's negative or out-of-file
/// offsets would make the parquet crate panic (found by fuzzing).
fn chunk_ranges(
    path: &Path,
    metadata: &parquet::file::metadata::ParquetMetaData,
    keep: &[usize],
    leaves: &[usize],
    file_len: u64,
) -> Result<Vec<std::ops::Range<u64>>> {
    let mut ranges = Vec::new();
    for &g in keep {
        let group = metadata.row_group(g);
        for &l in leaves {
            let column = group.column(l);
            let start = column
                .dictionary_page_offset()
                .unwrap_or(column.data_page_offset());
            let length = column.compressed_size();
            let end = start.checked_add(length);
            if start < 0 || length < 0 || end.is_none_or(|e| e as u64 > file_len) {
                return Err(Error::input(
                    path,
                    format!(
                        "not a readable Parquet file: row group {g}, column {}: chunk at {start} of {length} bytes outside the file's {file_len}",
                        column.column_path()
                    ),
                ));
            }
            ranges.push(start as u64..(start + length) as u64);
        }
    }
    Ok(ranges)
}

/// The text of `row`, or "" when the column is missing or null.
fn text_at<'a>(col: &Option<Text<'a>>, row: usize) -> &'a str {
    col.as_ref().and_then(|c| c.get(row)).unwrap_or("")
}

fn bad_type(path: &Path, column: &str, array: &ArrayRef) -> Error {
    Error::input(
        path,
        format!("column {column} has unsupported type {}", array.data_type()),
    )
}

fn to_micros(value: i64, unit: &TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => value.saturating_mul(1_000_000),
        TimeUnit::Millisecond => value.saturating_mul(1_000),
        TimeUnit::Microsecond => value,
        TimeUnit::Nanosecond => value.div_euclid(1_000),
    }
}

/// The value under `key` in row `row` of a `MAP<STRING, STRING>` column.
fn map_value<'a>(map: &'a MapArray, row: usize, key: &str) -> Option<&'a str> {
    if map.is_null(row) {
        return None;
    }
    let keys = map.keys().as_string_opt::<i32>()?;
    let values = map.values().as_string_opt::<i32>()?;
    let offsets = map.value_offsets();
    (offsets[row] as usize..offsets[row + 1] as usize)
        .find(|&j| keys.value(j) == key)
        .and_then(|j| (!values.is_null(j)).then(|| values.value(j)))
}

/// A string column of any of the encodings Parquet readers produce.
enum Text<'a> {
    Utf8(&'a StringArray),
    Large(&'a arrow_array::LargeStringArray),
    View(&'a arrow_array::StringViewArray),
    Dict(Box<dyn Fn(usize) -> Option<usize> + 'a>, &'a StringArray),
}

impl<'a> Text<'a> {
    fn new(array: &'a ArrayRef) -> Option<Self> {
        match array.data_type() {
            DataType::Utf8 => Some(Self::Utf8(array.as_string::<i32>())),
            DataType::LargeUtf8 => Some(Self::Large(array.as_string::<i64>())),
            DataType::Utf8View => Some(Self::View(array.as_string_view())),
            DataType::Dictionary(k, v) if **v == DataType::Utf8 => {
                let values;
                let lookup: Box<dyn Fn(usize) -> Option<usize> + 'a> = match **k {
                    DataType::Int32 => {
                        let d = array.as_dictionary::<Int32Type>();
                        values = d.values().as_string::<i32>();
                        Box::new(move |i| d.key(i))
                    }
                    DataType::Int16 => {
                        let d = array.as_dictionary::<Int16Type>();
                        values = d.values().as_string::<i32>();
                        Box::new(move |i| d.key(i))
                    }
                    DataType::Int8 => {
                        let d = array.as_dictionary::<Int8Type>();
                        values = d.values().as_string::<i32>();
                        Box::new(move |i| d.key(i))
                    }
                    _ => return None,
                };
                Some(Self::Dict(lookup, values))
            }
            DataType::Null => Some(Self::Dict(Box::new(|_| None), empty_strings())),
            _ => None,
        }
    }

    fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            Self::Utf8(a) => (!a.is_null(row)).then(|| a.value(row)),
            Self::Large(a) => (!a.is_null(row)).then(|| a.value(row)),
            Self::View(a) => (!a.is_null(row)).then(|| a.value(row)),
            Self::Dict(key, values) => key(row).map(|k| values.value(k)),
        }
    }
}

fn empty_strings() -> &'static StringArray {
    static EMPTY: std::sync::OnceLock<StringArray> = std::sync::OnceLock::new();
    EMPTY.get_or_init(|| StringArray::from(Vec::<&str>::new()))
}

/// A money column: floating point, decimal, integer, or decimal text.
enum Number<'a> {
    F64(&'a arrow_array::Float64Array),
    F32(&'a arrow_array::Float32Array),
    Decimal(&'a arrow_array::Decimal128Array, i8),
    I64(&'a arrow_array::Int64Array),
    I32(&'a arrow_array::Int32Array),
    Text(Text<'a>),
    Null,
}

impl<'a> Number<'a> {
    fn new(array: &'a ArrayRef) -> Option<Self> {
        use arrow_array::types::*;
        Some(match array.data_type() {
            DataType::Float64 => Self::F64(array.as_primitive::<Float64Type>()),
            DataType::Float32 => Self::F32(array.as_primitive::<Float32Type>()),
            DataType::Decimal128(_, scale) => {
                Self::Decimal(array.as_primitive::<Decimal128Type>(), *scale)
            }
            DataType::Int64 => Self::I64(array.as_primitive::<Int64Type>()),
            DataType::Int32 => Self::I32(array.as_primitive::<Int32Type>()),
            DataType::Null => Self::Null,
            _ => Self::Text(Text::new(array)?),
        })
    }

    /// The exact value (1e-30 USD units); `Ok(None)` for null.
    fn get(&self, row: usize) -> std::result::Result<Option<Exact>, String> {
        let bad = |what: String| format!("{what} is not a number");
        match self {
            Self::F64(a) => (!a.is_null(row))
                .then(|| {
                    money::exact_from_f64(a.value(row)).ok_or_else(|| bad(a.value(row).to_string()))
                })
                .transpose(),
            Self::F32(a) => (!a.is_null(row))
                .then(|| {
                    money::parse_exact(&a.value(row).to_string())
                        .ok_or_else(|| bad(a.value(row).to_string()))
                })
                .transpose(),
            Self::Decimal(a, scale) => (!a.is_null(row))
                .then(|| {
                    money::exact_from_scaled(a.value(row), *scale)
                        .ok_or_else(|| bad(a.value(row).to_string()))
                })
                .transpose(),
            Self::I64(a) => (!a.is_null(row))
                .then(|| {
                    money::exact_from_scaled(a.value(row).into(), 0)
                        .ok_or_else(|| bad(a.value(row).to_string()))
                })
                .transpose(),
            Self::I32(a) => (!a.is_null(row))
                .then(|| {
                    money::exact_from_scaled(a.value(row).into(), 0)
                        .ok_or_else(|| bad(a.value(row).to_string()))
                })
                .transpose(),
            Self::Text(t) => match t.get(row).map(str::trim) {
                None | Some("") | Some("\\N") => Ok(None),
                Some(s) => money::parse_exact(s)
                    .map(Some)
                    .ok_or_else(|| bad(format!("{s:?}"))),
            },
            Self::Null => Ok(None),
        }
    }
}

/// The usage date column: a timestamp of any unit, a date, or ISO-8601 text.
enum UsageDate<'a> {
    Timestamp(&'a dyn Array, Box<dyn Fn(usize) -> i64 + 'a>),
    Text(Text<'a>),
}

impl<'a> UsageDate<'a> {
    fn new(array: &'a ArrayRef) -> Option<Self> {
        use arrow_array::types::*;
        let f: Box<dyn Fn(usize) -> i64 + 'a> = match array.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => {
                let a = array.as_primitive::<TimestampSecondType>();
                Box::new(move |i| to_micros(a.value(i), &TimeUnit::Second))
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                let a = array.as_primitive::<TimestampMillisecondType>();
                Box::new(move |i| to_micros(a.value(i), &TimeUnit::Millisecond))
            }
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                let a = array.as_primitive::<TimestampMicrosecondType>();
                Box::new(move |i| a.value(i))
            }
            DataType::Timestamp(TimeUnit::Nanosecond, _) => {
                let a = array.as_primitive::<TimestampNanosecondType>();
                Box::new(move |i| to_micros(a.value(i), &TimeUnit::Nanosecond))
            }
            DataType::Date32 => {
                let a = array.as_primitive::<Date32Type>();
                Box::new(move |i| a.value(i) as i64 * 86_400_000_000)
            }
            DataType::Date64 => {
                let a = array.as_primitive::<Date64Type>();
                Box::new(move |i| a.value(i) * 1_000)
            }
            _ => return Text::new(array).map(Self::Text),
        };
        Some(Self::Timestamp(array.as_ref(), f))
    }

    /// [`Self::micros`], `None` when the value is null.
    fn micros_or_null(&self, row: usize) -> std::result::Result<Option<i64>, String> {
        let null = match self {
            Self::Timestamp(a, _) => a.is_null(row),
            Self::Text(t) => t.get(row).is_none(),
        };
        if null {
            Ok(None)
        } else {
            self.micros(row).map(Some)
        }
    }

    fn micros(&self, row: usize) -> std::result::Result<i64, String> {
        match self {
            Self::Timestamp(a, f) if a.is_null(row) => Err("null usage date".into()),
            Self::Timestamp(_, f) => Ok(f(row)),
            Self::Text(t) => {
                let s = t.get(row).ok_or("null usage date")?;
                parse_iso8601_micros(s)
                    .ok_or_else(|| format!("{s:?} is not an ISO-8601 date or timestamp"))
            }
        }
    }
}
