//! Where things live under an S3 output root (`<table>/dt=D/run=R/`,
//! `_leases/`, `_journal/`) and the small reads and listings of them.

use chrono::NaiveDate;

use crate::config::Output;
use crate::storage::{Aws, Location, Store, describe};
use crate::{Error, Result};

pub(super) fn s3_err<E: std::error::Error>(what: &str, e: E) -> Error {
    Error::Storage {
        what: what.to_string(),
        message: describe(&e),
    }
}

/// The bucket of the output root.
pub(super) fn bucket_of(output: &Output) -> &str {
    match &output.root {
        Location::S3 { bucket, .. } => bucket,
        Location::Local(_) => unreachable!("the S3 publish is only planned for s3:// roots"),
    }
}

/// The key of `rest` under the output root (the root's [`Location::join`]).
pub(super) fn key(output: &Output, rest: &str) -> String {
    match output.root.join(rest) {
        Location::S3 { key, .. } => key,
        Location::Local(_) => unreachable!("the S3 publish is only planned for s3:// roots"),
    }
}

pub(super) fn lease_key(output: &Output, date: NaiveDate) -> String {
    key(output, &format!("_leases/dt={date}.json"))
}

pub(super) fn journal_key(output: &Output, date: NaiveDate) -> String {
    key(output, &format!("_journal/dt={date}.json"))
}

/// Where run `run_id` publishes a table's day: `<root>/<table>/dt=D/run=<run_id>`.
pub fn run_location(output: &Output, table: &str, date: NaiveDate, run_id: &str) -> Location {
    output.root.join(&format!("{table}/dt={date}/run={run_id}"))
}

/// The run prefix of a table for a day (ends with `/`).
pub(super) fn run_prefix(output: &Output, table: &str, date: NaiveDate, run_id: &str) -> String {
    key(output, &format!("{table}/dt={date}/run={run_id}/"))
}

/// An object's bytes, or `None` when there is no such key.
pub(super) fn get_if_exists(aws: &Aws, bucket: &str, key: &str) -> Result<Option<bytes::Bytes>> {
    let url = format!("s3://{bucket}/{key}");
    let got = aws
        .runtime
        .block_on(async { aws.s3.get_object().bucket(bucket).key(key).send().await });
    match got {
        Ok(out) => Ok(Some(
            aws.runtime
                .block_on(out.body.collect())
                .map_err(|e| s3_err(&url, e))?
                .into_bytes(),
        )),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(s3_err(&url, e)),
    }
}

/// The keys under `prefix` (relative to the root) with their modification times.
pub(super) fn list_keys(
    store: &Store,
    output: &Output,
    prefix: &str,
) -> Result<Vec<(String, i64)>> {
    let keys = store.list_keys(bucket_of(output), &key(output, prefix))?;
    Ok(keys
        .into_iter()
        .map(|(k, modified, _)| (k, modified))
        .collect())
}

/// The day of a `.../dt=D.json` key.
pub(super) fn day_of_key(key: &str) -> Option<NaiveDate> {
    key.rsplit('/')
        .next()?
        .strip_prefix("dt=")?
        .strip_suffix(".json")?
        .parse()
        .ok()
}
