//! The CUR engine trait (SPEC 2.1, 2.7) and the file engine: every Parquet
//! file under a location read (in parallel) into the pools of each day of a run of days.

use std::ops::RangeInclusive;
use std::path::Path;

use chrono::NaiveDate;
use rayon::prelude::*;

use super::parquet::{CurScan, DayReader, RowRules};
use crate::model::CurDay;
use crate::storage::{Chunks, Location, Object, Store};
use crate::{Error, Result};

/// Where a day's CUR rows come from (SPEC 2.1, 2.7). The allocation sees only
/// the pools: Parquet files ([`Location`]) and Athena give the same ones.
pub trait CurEngine {
    /// The CUR of each day of `days` (`first..=last`, in order), read once
    /// for them all: each row apportioned over the days it covers (SPEC 12.1).
    fn read_days(
        &self,
        store: &Store,
        days: &RangeInclusive<NaiveDate>,
        run_id: &str,
        rules: &RowRules<'_>,
    ) -> Result<(Vec<CurDay>, CurScan)>;

    /// The CUR of one day.
    fn read_day(
        &self,
        store: &Store,
        date: NaiveDate,
        run_id: &str,
        rules: &RowRules<'_>,
    ) -> Result<(CurDay, CurScan)> {
        let (mut days, scan) = self.read_days(store, &(date..=date), run_id, rules)?;
        Ok((days.pop().unwrap_or_default(), scan))
    }
}

impl CurEngine for Location {
    fn read_days(
        &self,
        store: &Store,
        days: &RangeInclusive<NaiveDate>,
        _run_id: &str,
        rules: &RowRules<'_>,
    ) -> Result<(Vec<CurDay>, CurScan)> {
        let files: Vec<Object> = store
            .list(self)?
            .objects
            .into_iter()
            .filter(|o| o.location.to_string().ends_with(".parquet"))
            .collect();
        if files.is_empty() {
            return Err(Error::input(
                self.to_string(),
                "no CUR Parquet files (*.parquet) found",
            ));
        }
        read_files(store, &files, days, rules)
    }
}

/// Reads the given Parquet objects (whatever their names: Athena's UNLOAD
/// writes them without an extension) for `days` (non-empty), one `CurDay` a day.
pub fn read_files(
    store: &Store,
    files: &[Object],
    days: &RangeInclusive<NaiveDate>,
    rules: &RowRules<'_>,
) -> Result<(Vec<CurDay>, CurScan)> {
    let reader = DayReader::new(days, rules);
    let parts: Vec<Result<(Vec<CurDay>, CurScan)>> = files
        .par_iter()
        .map(|file| match store.chunk_reader(file)? {
            Chunks::Local(f) => reader.read_guarded(&file.name(), f),
            Chunks::S3(r) => reader.read_guarded(&file.name(), r),
        })
        .collect();
    let mut read = reader.days();
    let mut scan = CurScan::default();
    for part in parts {
        let (d, s) = part?;
        for (day, part) in read.iter_mut().zip(d) {
            day.merge(part);
        }
        scan.files += 1;
        scan.row_groups_read += s.row_groups_read;
        scan.row_groups_pruned += s.row_groups_pruned;
        scan.rows_scanned += s.rows_scanned;
        scan.bytes_fetched += s.bytes_fetched;
        scan.files_with_net_columns += s.files_with_net_columns;
    }
    Ok((read, scan))
}

/// Reads one Parquet file's bytes for `date`: the path every CUR file takes,
/// for fuzzing and replay.
pub fn read_parquet_bytes(
    name: &Path,
    bytes: bytes::Bytes,
    date: NaiveDate,
    rules: &RowRules<'_>,
) -> Result<(CurDay, CurScan)> {
    let reader = DayReader::new(&(date..=date), rules);
    let (mut days, scan) = reader.read_guarded(&name.to_path_buf(), bytes)?;
    Ok((days.pop().unwrap_or_default(), scan))
}
