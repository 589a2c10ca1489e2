//! Garbage collection on an S3 root: superseded run prefixes and the
//! multipart uploads of killed runs, each judged under its day's lease.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, Utc};

use super::catalog::Catalog;
use super::journal::read_journal;
use super::keys::{bucket_of, key, list_keys, run_prefix, s3_err};
use super::lease::{Lease, acquire, leases, live_runs};
use crate::config::Output;
use crate::output::RUN_REPORTS;
use crate::storage::Store;
use crate::{Error, Result};

/// A multipart upload under the root that no live run will finish.
pub(super) struct DeadUpload {
    pub(super) key: String,
    pub(super) upload_id: String,
    pub(super) run: Option<String>,
    pub(super) initiated: i64,
}

/// Multipart uploads under the root whose run holds no live lease: runs that
/// were killed between starting and completing (or aborting) an upload.
pub(super) fn dead_uploads(
    store: &Store,
    output: &Output,
    live: &BTreeSet<&str>,
) -> Result<Vec<DeadUpload>> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let root = key(output, "");
    aws.runtime.block_on(async {
        let mut found = Vec::new();
        let mut marker: Option<(String, String)> = None;
        loop {
            let mut request = aws.s3.list_multipart_uploads().bucket(bucket).prefix(&root);
            if let Some((k, id)) = &marker {
                request = request.key_marker(k).upload_id_marker(id);
            }
            let page = request
                .send()
                .await
                .map_err(|e| s3_err(&format!("s3://{bucket}/{root}"), e))?;
            for upload in page.uploads() {
                let key = upload.key().unwrap_or_default().to_string();
                let run = key
                    .split("/run=")
                    .nth(1)
                    .and_then(|r| r.split('/').next())
                    .map(str::to_string);
                if !run.as_ref().is_some_and(|r| live.contains(r.as_str())) {
                    found.push(DeadUpload {
                        upload_id: upload.upload_id().unwrap_or_default().to_string(),
                        initiated: upload.initiated().map_or(0, |t| t.secs()),
                        key,
                        run,
                    });
                }
            }
            if page.is_truncated() != Some(true) {
                return Ok::<_, Error>(found);
            }
            marker = Some((
                page.next_key_marker().unwrap_or_default().to_string(),
                page.next_upload_id_marker().unwrap_or_default().to_string(),
            ));
        }
    })
}

/// A run prefix under the root, `<table>/dt=D/run=R/`, as its parts.
pub(super) struct RunPrefix {
    table: String,
    date: NaiveDate,
    run: String,
    /// `s3://bucket/<root>/<table>/dt=D/run=R/`, as partitions name it.
    url: String,
}

/// A run prefix's objects: their keys and the newest one's modification.
pub(super) struct RunObjects {
    prefix: RunPrefix,
    newest: i64,
    keys: Vec<String>,
}

/// The run prefix a key under the root belongs to, if it is in one.
pub(super) fn run_prefix_of(output: &Output, bucket: &str, k: &str) -> Option<RunPrefix> {
    let root = key(output, "");
    let relative = k.strip_prefix(root.as_str())?.trim_start_matches('/');
    let mut parts = relative.splitn(4, '/');
    let (table, day, run) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next()?; // a file inside the run prefix
    let date = day.strip_prefix("dt=")?.parse().ok()?;
    let run = run.strip_prefix("run=")?.to_string();
    Some(RunPrefix {
        table: table.to_string(),
        date,
        url: format!("s3://{bucket}/{}", run_prefix(output, table, date, &run)),
        run,
    })
}

/// Deletes run prefixes that no partition points at (superseded runs, and
/// staging of runs that died before their journal) once their newest object is
/// older than `retain_superseded_hours`, and aborts the multipart uploads of
/// killed runs as old. Returns the prefixes deleted and the uploads aborted.
///
/// A prefix is only judged under its own day's lease (`held`, this run's, for
/// its day; taken for any other day, which is skipped while another run holds
/// it), with the day's partitions read after the listing: no run can flip to a
/// prefix while it is judged, and one that holds the day is never deprived of
/// what it staged. A day with an interrupted publish is left to its recovery.
pub fn collect_garbage(
    store: &Store,
    output: &Output,
    tables: &[&str],
    held: &Lease,
    run_id: &str,
) -> Result<Vec<String>> {
    let cutoff = Utc::now().timestamp() - (output.retain_superseded_hours * 3600) as i64;
    let catalog = Catalog::new(store, output);
    let mut deleted = Vec::new();
    for (date, runs) in run_prefixes(store, output, tables)? {
        let old: Vec<RunObjects> = (runs.into_values())
            .filter(|run| run.newest <= cutoff)
            .collect();
        if old.is_empty() {
            continue;
        }
        let taken = if date == held.date {
            None
        } else {
            match acquire(store, output, date, run_id) {
                Ok(lease) => Some(lease),
                Err(Error::Held { .. }) => continue, // a live run's day
                Err(e) => return Err(e),
            }
        };
        let lease = taken.as_ref().unwrap_or(held);
        let judged = judge_day(store, &catalog, output, date, &old, lease);
        // A lease taken for the judgement is released whatever it found.
        let released = taken.map_or(Ok(()), |lease| lease.release(store));
        deleted.extend(judged?);
        released?;
    }
    deleted.extend(abort_dead_uploads(store, output, cutoff)?);
    Ok(deleted)
}

/// Every run prefix under the tables (and the run reports), by day, with its
/// objects and their newest modification.
fn run_prefixes(
    store: &Store,
    output: &Output,
    tables: &[&str],
) -> Result<BTreeMap<NaiveDate, BTreeMap<String, RunObjects>>> {
    let bucket = bucket_of(output);
    let mut days: BTreeMap<NaiveDate, BTreeMap<String, RunObjects>> = BTreeMap::new();
    for table in tables.iter().copied().chain([RUN_REPORTS]) {
        for (k, modified) in list_keys(store, output, &format!("{table}/"))? {
            let Some(prefix) = run_prefix_of(output, bucket, &k) else {
                continue;
            };
            let entry = days
                .entry(prefix.date)
                .or_default()
                .entry(prefix.url.clone())
                .or_insert(RunObjects {
                    prefix,
                    newest: i64::MIN,
                    keys: Vec::new(),
                });
            entry.newest = entry.newest.max(modified);
            entry.keys.push(k);
        }
    }
    Ok(days)
}

/// Deletes the `old` run prefixes of `date` that its partitions (read now,
/// under `lease`) do not point at; a day with a journal is left alone.
fn judge_day(
    store: &Store,
    catalog: &Catalog,
    output: &Output,
    date: NaiveDate,
    old: &[RunObjects],
    lease: &Lease,
) -> Result<Vec<String>> {
    if read_journal(store, output, date)?.is_some() {
        return Ok(Vec::new()); // an interrupted publish: recovery's
    }
    let mut live: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let mut removed = Vec::new();
    for RunObjects { prefix, keys, .. } in old {
        lease.ensure()?;
        // The run report lives as long as the day's reconciliation run.
        let table = if prefix.table == RUN_REPORTS {
            "reconciliation"
        } else {
            prefix.table.as_str()
        };
        if !live.contains_key(table) {
            live.insert(table, catalog.partition_location(table, date)?);
        }
        let points_here = live[table].as_deref().is_some_and(|l| {
            l.trim_end_matches('/')
                .ends_with(&format!("/dt={date}/run={}", prefix.run))
        });
        if !points_here {
            store
                .delete_keys(bucket_of(output), keys)
                .map_err(|e| s3_err(&prefix.url, e))?;
            removed.push(prefix.url.clone());
        }
    }
    Ok(removed)
}

/// Aborts the multipart uploads, started before `cutoff`, of runs that hold
/// no live lease (killed runs).
fn abort_dead_uploads(store: &Store, output: &Output, cutoff: i64) -> Result<Vec<String>> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let leases = leases(store, output)?;
    let mut aborted = Vec::new();
    for upload in dead_uploads(store, output, &live_runs(&leases))? {
        if upload.initiated > cutoff {
            continue;
        }
        let url = format!("s3://{bucket}/{}", upload.key);
        let abort = aws
            .s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .send();
        aws.runtime.block_on(abort).map_err(|e| s3_err(&url, e))?;
        aborted.push(format!("{url} (multipart upload {})", upload.upload_id));
    }
    Ok(aborted)
}
