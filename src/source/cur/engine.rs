//! The CUR engine trait (SPEC 2.1, 2.7) and the file engine: every Parquet
//! file under a location read for one day (in parallel) into the day's pools.

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
    fn read_day(
        &self,
        store: &Store,
        date: NaiveDate,
        run_id: &str,
        rules: &RowRules<'_>,
    ) -> Result<(CurDay, CurScan)>;
}

impl CurEngine for Location {
    fn read_day(
        &self,
        store: &Store,
        date: NaiveDate,
        _run_id: &str,
        rules: &RowRules<'_>,
    ) -> Result<(CurDay, CurScan)> {
        read_day(store, self, date, rules)
    }
}

/// Reads every Parquet file under `location` (local or S3) for `date` into the day's pools.
pub fn read_day(
    store: &Store,
    location: &Location,
    date: NaiveDate,
    rules: &RowRules<'_>,
) -> Result<(CurDay, CurScan)> {
    let files: Vec<Object> = store
        .list(location)?
        .objects
        .into_iter()
        .filter(|o| o.location.to_string().ends_with(".parquet"))
        .collect();
    if files.is_empty() {
        return Err(Error::input(
            location.to_string(),
            "no CUR Parquet files (*.parquet) found",
        ));
    }
    read_files(store, &files, date, rules)
}

/// Reads the given Parquet objects (whatever their names: Athena's UNLOAD
/// writes them without an extension) for `date` into the day's pools.
pub fn read_files(
    store: &Store,
    files: &[Object],
    date: NaiveDate,
    rules: &RowRules<'_>,
) -> Result<(CurDay, CurScan)> {
    let reader = DayReader::new(date, rules);
    let parts: Vec<Result<(CurDay, CurScan)>> = files
        .par_iter()
        .map(|file| match store.chunk_reader(file)? {
            Chunks::Local(f) => reader.read_guarded(&file.name(), f),
            Chunks::S3(r) => reader.read_guarded(&file.name(), r),
        })
        .collect();
    let mut day = CurDay::default();
    let mut scan = CurScan::default();
    for part in parts {
        let (d, s) = part?;
        day.merge(d);
        scan.files += 1;
        scan.row_groups_read += s.row_groups_read;
        scan.row_groups_pruned += s.row_groups_pruned;
        scan.rows_scanned += s.rows_scanned;
        scan.bytes_fetched += s.bytes_fetched;
    }
    Ok((day, scan))
}

/// Reads one Parquet file's bytes for `date`: the path every CUR file takes,
/// for fuzzing and replay.
pub fn read_parquet_bytes(
    name: &Path,
    bytes: bytes::Bytes,
    date: NaiveDate,
    rules: &RowRules<'_>,
) -> Result<(CurDay, CurScan)> {
    let reader = DayReader::new(date, rules);
    reader.read_guarded(&name.to_path_buf(), bytes)
}
