//! The publish journal (`_journal/dt=D.json`): written before the first
//! flip, it lets a run finish (files whole) or undo (files missing) a publish
//! that was interrupted, and the flips in both directions.

use aws_sdk_s3::primitives::ByteStream;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::catalog::Catalog;
use super::keys::{bucket_of, day_of_key, get_if_exists, journal_key, list_keys, s3_err};
use super::lease::{Lease, acquire};
use crate::config::Output;
use crate::failpoint::crash_point;
use crate::output::{RUN_REPORTS, Recovery};
use crate::storage::Store;
use crate::{Error, Result};

/// One table in the journal: where its partition pointed before, where it
/// points after, and the files the new location must hold.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct JournalTable {
    pub(super) table: String,
    pub(super) previous: Option<String>,
    pub(super) location: String,
    pub(super) files: Vec<(String, u64)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Journal {
    pub(super) run_id: String,
    pub(super) date: NaiveDate,
    pub(super) tables: Vec<JournalTable>,
}

/// The journal of `date`'s interrupted publish, if there is one.
pub(super) fn read_journal(
    store: &Store,
    output: &Output,
    date: NaiveDate,
) -> Result<Option<Journal>> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let jkey = journal_key(output, date);
    let url = format!("s3://{bucket}/{jkey}");
    let Some(body) = get_if_exists(aws, bucket, &jkey)? else {
        return Ok(None);
    };
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| Error::Storage {
            what: url,
            message: format!("unreadable publish journal ({e}); inspect and delete it by hand"),
        })
}

/// Writes the journal: from here a crash is rolled forward or back.
pub(super) fn write_journal(store: &Store, output: &Output, journal: &Journal) -> Result<()> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let jkey = journal_key(output, journal.date);
    aws.runtime
        .block_on(
            aws.s3
                .put_object()
                .bucket(bucket)
                .key(&jkey)
                .body(ByteStream::from(
                    serde_json::to_vec_pretty(journal).expect("serializable"),
                ))
                .send(),
        )
        .map_err(|e| s3_err(&format!("s3://{bucket}/{jkey}"), e))?;
    Ok(())
}

/// Deletes the day's journal: the publish it described is finished or undone.
pub(super) fn delete_journal(store: &Store, output: &Output, date: NaiveDate) -> Result<()> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let jkey = journal_key(output, date);
    aws.runtime
        .block_on(aws.s3.delete_object().bucket(bucket).key(&jkey).send())
        .map_err(|e| s3_err(&format!("s3://{bucket}/{jkey}"), e))?;
    Ok(())
}

/// The first file the journal names that is not in place with its size
/// (`None` when every one is): a publish whose files are all there can be
/// flipped to, one that lacks any must not be.
pub(super) fn journal_complete(
    store: &Store,
    bucket: &str,
    journal: &Journal,
) -> Result<Option<String>> {
    let aws = store.aws();
    for t in &journal.tables {
        for (file, size) in &t.files {
            let url = format!("s3://{bucket}/{file}");
            let head = aws
                .runtime
                .block_on(aws.s3.head_object().bucket(bucket).key(file).send());
            match head {
                Ok(h) if h.content_length() == Some(*size as i64) => {}
                Ok(h) => {
                    return Ok(Some(format!(
                        "{url} has {} bytes, not {size}",
                        h.content_length().unwrap_or(0)
                    )));
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                    return Ok(Some(format!("{url} is missing")));
                }
                Err(e) => return Err(s3_err(&url, e)),
            }
        }
    }
    Ok(None)
}

/// Points every table's partition at the journal's locations, in order
/// (reconciliation last), each only while the lease is this run's; the run
/// report needs no catalog entry.
pub(super) fn flip(catalog: &Catalog, journal: &Journal, lease: &Lease) -> Result<()> {
    for t in &journal.tables {
        if t.table == RUN_REPORTS {
            continue;
        }
        lease.ensure()?;
        let now = catalog.partition_location(&t.table, journal.date)?;
        if now.as_deref() != Some(t.location.as_str()) {
            catalog.point(&t.table, journal.date, &t.location, now.is_some())?;
        }
        crash_point!(&format!("publish::flipped::{}", t.table));
    }
    Ok(())
}

/// Points every table the journal moved back where it was before (or drops
/// the partition it created), in reverse flip order. Idempotent.
pub(super) fn unflip(catalog: &Catalog, journal: &Journal, lease: &Lease) -> Result<()> {
    let date = journal.date;
    for t in journal
        .tables
        .iter()
        .rev()
        .filter(|t| t.table != RUN_REPORTS)
    {
        lease.ensure()?;
        let now = catalog.partition_location(&t.table, date)?;
        if now.as_deref() == Some(t.location.as_str()) {
            match &t.previous {
                Some(previous) => catalog.point(&t.table, date, previous, true)?,
                None => {
                    let request = catalog
                        .glue
                        .delete_partition()
                        .database_name(catalog.database)
                        .table_name(&t.table)
                        .partition_values(date.to_string())
                        .send();
                    catalog
                        .aws
                        .runtime
                        .block_on(request)
                        .map_err(|e| s3_err(&catalog.what(&t.table), e))?;
                }
            }
        }
        crash_point!(&format!("publish::unflipped::{}", t.table));
    }
    Ok(())
}

/// Finishes (or undoes, when its files are not all there) an interrupted
/// publish of `date`. Requires the day's lease.
pub fn recover(store: &Store, output: &Output, date: NaiveDate, lease: &Lease) -> Result<Recovery> {
    let Some(journal) = read_journal(store, output, date)? else {
        return Ok(Recovery::default());
    };
    let catalog = Catalog::new(store, output);
    let bucket = bucket_of(output);
    let mut recovery = Recovery::default();
    if journal_complete(store, bucket, &journal)?.is_none() {
        flip(&catalog, &journal, lease)?;
        recovery.rolled_forward = Some(journal.run_id.clone());
    } else {
        unflip(&catalog, &journal, lease)?;
        recovery.rolled_back = Some(journal.run_id.clone());
    }
    delete_journal(store, output, date)?;
    Ok(recovery)
}

/// Repairs the interrupted publishes of other days whose lease is free (a
/// night that crashed is finished by the next night's run).
pub fn recover_others(
    store: &Store,
    output: &Output,
    except: NaiveDate,
    run_id: &str,
) -> Result<Vec<(NaiveDate, Recovery)>> {
    let mut done = Vec::new();
    for (k, _) in list_keys(store, output, "_journal/")? {
        let Some(date) = day_of_key(&k).filter(|d| *d != except) else {
            continue;
        };
        let lease = match acquire(store, output, date, run_id) {
            Ok(lease) => lease,
            Err(Error::Held { .. }) => continue,
            Err(e) => return Err(e),
        };
        let recovery = recover(store, output, date, &lease);
        let released = lease.release(store);
        done.push((date, recovery?));
        released?;
    }
    Ok(done)
}
