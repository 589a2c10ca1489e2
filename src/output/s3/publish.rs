//! Publishing a day on an S3 output root through the Glue catalog (SPEC 5.1),
//! the same state machine as the local publish with S3 and Glue moves:
//! **Leased** (a lease object created with `If-None-Match: *`, taken over with
//! `If-Match` once expired, renewed by a heartbeat) -> **Recovered** (an
//! earlier journal rolled forward or back) -> **Staged** (every table under
//! `<table>/dt=D/run=<run>/`, large files by multipart upload) -> **Journaled**
//! (`_journal/dt=D.json`: each table's new and previous location, every file
//! with its size) -> **Flipped** (each table's `dt=D` partition pointed at the
//! new prefix by one BatchCreatePartition/BatchUpdatePartition,
//! `reconciliation` last) -> **Finished** (journal deleted, superseded runs
//! collected, lease released).

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{NaiveDate, Utc};

use super::catalog::{Catalog, published_location};
use super::gc::{collect_garbage, dead_uploads};
use super::journal::{
    Journal, JournalTable, delete_journal, flip, journal_complete, read_journal, recover,
    recover_others, unflip, write_journal,
};
use super::keys::{bucket_of, day_of_key, list_keys, run_location, run_prefix};
use super::lease::{Lease, acquire, leases, live_runs};
use super::upload::S3Writer;
use crate::config::Output;
use crate::failpoint::{crash_point, pause_point};
use crate::output::{DayHold, Publisher, RUN_REPORTS, Taken};
use crate::sink::parquet::Parts;
use crate::storage::{Location, Store};
use crate::{Error, Result};

/// An `s3://` output root whose readers find each day through the Glue
/// catalog ([`Publisher`]'s guarantees, with S3 and Glue moves).
pub struct S3Root<'a> {
    pub(crate) store: &'a Store,
    pub(crate) output: &'a Output,
}

/// A day held by a run on an S3 root: its lease, then what it staged.
struct S3Day<'a> {
    root: &'a S3Root<'a>,
    date: NaiveDate,
    run_id: String,
    lease: Lease,
    /// The tables this run stages (the run report among them), for a clean-up.
    tables: Vec<&'static str>,
    staged: Option<Journal>,
}

impl Publisher for S3Root<'_> {
    fn take<'a>(&'a self, date: NaiveDate, run_id: &str) -> Result<Taken<'a>> {
        let (store, output) = (self.store, self.output);
        let lease = acquire(store, output, date, run_id)?;
        crash_point!("run::locked");
        let mut repaired = vec![(date, recover(store, output, date, &lease)?)];
        repaired.extend(recover_others(store, output, date, run_id)?);
        let day = S3Day {
            root: self,
            date,
            run_id: run_id.to_string(),
            lease,
            tables: Vec::new(),
            staged: None,
        };
        Ok(Taken {
            hold: Box::new(day),
            repaired,
        })
    }

    fn inspect(&self) -> Result<Vec<String>> {
        inspect(self.store, self.output)
    }

    fn locate(&self, table: &str, date: NaiveDate) -> Result<Option<Location>> {
        published_location(self.store, self.output, table, date)
    }
}

impl DayHold for S3Day<'_> {
    fn stage(&mut self, tables: Vec<(&'static str, Parts<'_>)>, report: &[u8]) -> Result<()> {
        let (store, output) = (self.root.store, self.root.output);
        self.tables = tables
            .iter()
            .map(|(t, _)| *t)
            .chain([RUN_REPORTS])
            .collect();
        match stage(store, output, self.date, &self.run_id, tables, report) {
            Ok(journal) => {
                self.staged = Some(journal);
                Ok(())
            }
            Err(e) => Err(self.discard(e)),
        }
    }

    fn files(&self, tables: &[(&str, usize)]) -> Vec<String> {
        let output = self.root.output;
        let dir = |table: &str| run_location(output, table, self.date, &self.run_id);
        (tables.iter())
            .flat_map(|(table, parts)| {
                let dir = dir(table);
                (0..*parts).map(move |i| dir.join(&crate::sink::parquet::part_name(i)))
            })
            .chain([dir(RUN_REPORTS).join("report.json")])
            .map(|location| location.to_string())
            .collect()
    }

    /// Journals, checks that every staged object is still there, flips each
    /// table's partition (reconciliation last), deletes the journal, then
    /// collects garbage (a failure of which is a warning: the day is published).
    ///
    /// On a failure the run cleans up after itself: before the journal, it
    /// deletes what it staged; after it, it points every table back at its
    /// previous run, deletes the journal and what it staged, so a reader never
    /// sees the day half-flipped until the next run. Only when that fails too
    /// is the journal left for the next run to roll forward or back. A lease
    /// found lost stops the run at once and touches nothing more: the day is
    /// the new holder's.
    fn commit(&mut self) -> Result<()> {
        let (store, output, date) = (self.root.store, self.root.output, self.date);
        let journal = self.staged.take().expect("a commit follows its stage");
        crash_point!("publish::staged");
        pause_point!("publish::staged");
        if let Err(e) = self
            .lease
            .ensure()
            .and_then(|()| write_journal(store, output, &journal))
        {
            return Err(self.discard(e));
        }
        crash_point!("publish::journaled");
        let catalog = Catalog::new(store, output);
        let bucket = bucket_of(output);
        let flipped = journal_complete(store, bucket, &journal).and_then(|missing| match missing {
            // Right before the flip: a staged object that is gone (deleted by
            // another process) would leave a partition pointing at nothing.
            Some(missing) => Err(Error::Storage {
                what: format!("the publish of {date}"),
                message: format!("{missing} right before the flip; nothing was flipped"),
            }),
            None => flip(&catalog, &journal, &self.lease),
        });
        match flipped {
            Ok(()) => {}
            Err(e @ Error::Held { .. }) => return Err(e),
            Err(e) => {
                let undone = unflip(&catalog, &journal, &self.lease)
                    .and_then(|()| delete_journal(store, output, date));
                return Err(match undone {
                    Ok(()) => self.discard(Error::Storage {
                        what: format!("the publish of {date}"),
                        message: format!(
                            "{e}; every table was pointed back at the run it had before"
                        ),
                    }),
                    Err(undo) => Error::Storage {
                        what: format!("the publish of {date}"),
                        message: format!(
                            "{e}; pointing the tables back failed too ({undo}): the journal is left for the next run, which finishes or undoes the publish"
                        ),
                    },
                });
            }
        }
        delete_journal(store, output, date)?;
        crash_point!("publish::committed");
        // The day is published; a failed clean-up is retried by the next run.
        let tables: Vec<&str> = journal
            .tables
            .iter()
            .map(|t| t.table.as_str())
            .filter(|t| *t != RUN_REPORTS)
            .collect();
        match collect_garbage(store, output, &tables, &self.lease, &self.run_id) {
            Ok(removed) => {
                tracing::info!(stage = "gc", %date, removed = removed.len(), "removed superseded runs and killed runs' uploads")
            }
            Err(e) => {
                tracing::warn!(stage = "gc", %date, error = %e, "garbage collection failed; the next run retries it")
            }
        }
        Ok(())
    }

    fn release(self: Box<Self>) -> Result<()> {
        self.lease.release(self.root.store)
    }
}

impl S3Day<'_> {
    /// Deletes what this run staged and returns `error`, with what that could not do.
    fn discard(&self, error: Error) -> Error {
        let (store, output) = (self.root.store, self.root.output);
        discard_staged(store, output, self.date, &self.run_id, &self.tables, error)
    }
}

/// Writes every table's parts and the run report under this run's prefixes;
/// returns the journal naming them with their sizes.
fn stage(
    store: &Store,
    output: &Output,
    date: NaiveDate,
    run_id: &str,
    tables: Vec<(&'static str, Parts<'_>)>,
    report: &[u8],
) -> Result<Journal> {
    use rayon::prelude::*;
    let aws = store.aws();
    let bucket = bucket_of(output);
    let catalog = Catalog::new(store, output);
    let mut journal = Journal {
        run_id: run_id.to_string(),
        date,
        tables: Vec::new(),
    };
    let mut jobs = Vec::new();
    for (table, parts) in tables {
        let prefix = run_prefix(output, table, date, run_id);
        let names: Vec<String> = (0..parts.len())
            .map(|i| format!("{prefix}{}", crate::sink::parquet::part_name(i)))
            .collect();
        for (name, batches) in names.iter().cloned().zip(parts) {
            jobs.push((name, batches));
        }
        journal.tables.push(JournalTable {
            table: table.to_string(),
            previous: catalog.partition_location(table, date)?,
            location: format!("s3://{bucket}/{prefix}"),
            files: names.into_iter().map(|n| (n, 0)).collect(),
        });
    }
    let sizes: BTreeMap<String, u64> = jobs
        .into_par_iter()
        .map(|(name, batches)| {
            let writer = S3Writer::new(aws, bucket, &name);
            let writer =
                crate::sink::parquet::write_to(writer, &format!("s3://{bucket}/{name}"), batches)?;
            Ok((name, writer.finish()?))
        })
        .collect::<Result<_>>()?;
    for t in &mut journal.tables {
        for (name, size) in &mut t.files {
            *size = sizes[name.as_str()];
        }
    }
    let report_prefix = run_prefix(output, RUN_REPORTS, date, run_id);
    let report_key = format!("{report_prefix}report.json");
    let mut writer = S3Writer::new(aws, bucket, &report_key);
    writer.write_all(report).map_err(|e| Error::Storage {
        what: report_key.clone(),
        message: e.to_string(),
    })?;
    let size = writer.finish()?;
    let last = journal.tables.len() - 1;
    journal.tables.insert(
        last,
        JournalTable {
            table: RUN_REPORTS.to_string(),
            previous: None,
            location: format!("s3://{bucket}/{report_prefix}"),
            files: vec![(report_key, size)],
        },
    );
    Ok(journal)
}

/// Deletes everything this run staged for `date` (no partition points at it)
/// and returns `error`, the reason, with what the clean-up could not do.
fn discard_staged(
    store: &Store,
    output: &Output,
    date: NaiveDate,
    run_id: &str,
    tables: &[&str],
    error: Error,
) -> Error {
    let bucket = bucket_of(output);
    let mut failed = Vec::new();
    for table in tables {
        let prefix = run_prefix(output, table, date, run_id);
        let removed = store.list_keys(bucket, &prefix).and_then(|keys| {
            let keys: Vec<String> = keys.into_iter().map(|(k, _, _)| k).collect();
            store.delete_keys(bucket, &keys)
        });
        if let Err(e) = removed {
            failed.push(format!("s3://{bucket}/{prefix}: {e}"));
        }
    }
    if failed.is_empty() {
        return error;
    }
    Error::Storage {
        what: error.to_string(),
        message: format!(
            "and what the run staged could not all be removed ({}); a later run's garbage collection removes it",
            failed.join("; ")
        ),
    }
}

/// What `costjob check` reports on an S3 root: interrupted publishes, leases
/// of runs that died holding them, and multipart uploads left unfinished by
/// runs that hold no live lease (killed runs).
fn inspect(store: &Store, output: &Output) -> Result<Vec<String>> {
    let bucket = bucket_of(output);
    let now = Utc::now().timestamp();
    let mut findings = Vec::new();
    for (k, _) in list_keys(store, output, "_journal/")? {
        let url = format!("s3://{bucket}/{k}");
        let Some(date) = day_of_key(&k) else {
            findings.push(format!("{url}: not a journal this version writes"));
            continue;
        };
        match read_journal(store, output, date) {
            Ok(Some(j)) => findings.push(format!(
                "{url}: interrupted publish of {date} by run {} (the next run rolls it {})",
                j.run_id,
                if journal_complete(store, bucket, &j)?.is_none() {
                    "forward"
                } else {
                    "back"
                }
            )),
            Ok(None) => {}
            Err(e) => findings.push(e.to_string()),
        }
    }
    let leases = leases(store, output)?;
    for (url, lease) in &leases {
        match lease {
            Ok(lease) if lease.expires_at <= now => findings.push(format!(
                "{url}: lease of run {} expired {} s ago (a run died holding it; the next run takes it over)",
                lease.run_id,
                now - lease.expires_at
            )),
            Ok(_) => {}
            Err(e) => findings.push(format!("{url}: unreadable lease ({e})")),
        }
    }
    for upload in dead_uploads(store, output, &live_runs(&leases))? {
        findings.push(format!(
            "s3://{bucket}/{}: unfinished multipart upload of run {} (a killed run; the next run's garbage collection aborts it)",
            upload.key,
            upload.run.as_deref().unwrap_or("?")
        ));
    }
    Ok(findings)
}
