//! Publishing a day on an S3 output root through the Glue catalog (SPEC 5.1),
//! the same state machine as the local publish with S3 and Glue moves:
//! **Leased** (a lease object created with `If-None-Match: *`, taken over with
//! `If-Match` once expired) -> **Recovered** (an earlier journal rolled forward
//! or back) -> **Staged** (every table under `<table>/dt=D/run=<run>/`, large
//! files by multipart upload) -> **Journaled** (`_journal/dt=D.json`: each
//! table's new and previous location, every file with its size) -> **Flipped**
//! (each table's `dt=D` partition pointed at the new prefix by one
//! BatchCreatePartition/BatchUpdatePartition, `reconciliation` last) ->
//! **Finished** (journal deleted, lease released). Superseded run prefixes are
//! deleted by a later run once older than `retain_superseded_hours`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use aws_sdk_glue::types::{BatchUpdatePartitionRequestEntry, PartitionInput, StorageDescriptor};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::publish::{RUN_REPORTS, crash_point};
use crate::config::Output;
use crate::storage::{Aws, Location, Store, describe};
use crate::{Error, Result};

/// Parts of a multipart upload (S3's minimum is 5 MiB).
const PART_BYTES: usize = 8 << 20;

fn s3_err<E: std::error::Error>(what: &str, e: E) -> Error {
    Error::Storage {
        what: what.to_string(),
        message: describe(&e),
    }
}

/// The bucket of the output root.
fn bucket_of(output: &Output) -> &str {
    match &output.root {
        Location::S3 { bucket, .. } => bucket,
        Location::Local(_) => unreachable!("the S3 publish is only planned for s3:// roots"),
    }
}

/// The key of `rest` under the output root (the root's [`Location::join`]).
fn key(output: &Output, rest: &str) -> String {
    match output.root.join(rest) {
        Location::S3 { key, .. } => key,
        Location::Local(_) => unreachable!("the S3 publish is only planned for s3:// roots"),
    }
}

/// A file written straight to S3: one PUT when small, a multipart upload
/// (8 MiB parts) otherwise; dropped unfinished, it aborts its upload.
pub struct S3Writer<'s> {
    aws: &'s Aws,
    bucket: String,
    key: String,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    written: u64,
}

impl<'s> S3Writer<'s> {
    pub fn new(aws: &'s Aws, bucket: &str, key: &str) -> Self {
        Self {
            aws,
            bucket: bucket.to_string(),
            key: key.to_string(),
            buffer: Vec::with_capacity(PART_BYTES),
            upload_id: None,
            parts: Vec::new(),
            written: 0,
        }
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn upload_part(&mut self) -> std::io::Result<()> {
        let (s3, bucket, key) = (&self.aws.s3, &self.bucket, &self.key);
        let body = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART_BYTES));
        let number = self.parts.len() as i32 + 1;
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let created = self
                    .aws
                    .runtime
                    .block_on(s3.create_multipart_upload().bucket(bucket).key(key).send())
                    .map_err(|e| std::io::Error::other(describe(&e)))?;
                let id = created.upload_id().unwrap_or_default().to_string();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let part = self
            .aws
            .runtime
            .block_on(
                s3.upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(body))
                    .send(),
            )
            .map_err(|e| std::io::Error::other(describe(&e)))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    /// Completes the object; returns its size.
    pub fn finish(mut self) -> Result<u64> {
        let url = self.url();
        let (s3, bucket, key) = (self.aws.s3.clone(), self.bucket.clone(), self.key.clone());
        match self.upload_id.clone() {
            None => {
                let body = std::mem::take(&mut self.buffer);
                self.aws
                    .runtime
                    .block_on(
                        s3.put_object()
                            .bucket(&bucket)
                            .key(&key)
                            .body(ByteStream::from(body))
                            .send(),
                    )
                    .map_err(|e| s3_err(&url, e))?;
            }
            Some(id) => {
                if !self.buffer.is_empty() {
                    self.upload_part().map_err(|e| Error::Storage {
                        what: url.clone(),
                        message: e.to_string(),
                    })?;
                }
                let parts = std::mem::take(&mut self.parts);
                self.aws
                    .runtime
                    .block_on(
                        s3.complete_multipart_upload()
                            .bucket(&bucket)
                            .key(&key)
                            .upload_id(&id)
                            .multipart_upload(
                                CompletedMultipartUpload::builder()
                                    .set_parts(Some(parts))
                                    .build(),
                            )
                            .send(),
                    )
                    .map_err(|e| s3_err(&url, e))?;
                self.upload_id = None;
            }
        }
        Ok(self.written)
    }
}

impl Write for S3Writer<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = PART_BYTES - self.buffer.len();
        let n = data.len().min(room);
        self.buffer.extend_from_slice(&data[..n]);
        self.written += n as u64;
        if self.buffer.len() == PART_BYTES {
            self.upload_part()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for S3Writer<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.upload_id.take() {
            let request = self
                .aws
                .s3
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(id)
                .send();
            let _ = self.aws.runtime.block_on(request);
        }
    }
}

/// The lease object's body.
#[derive(Debug, Serialize, Deserialize)]
struct LeaseBody {
    run_id: String,
    expires_at: i64,
}

/// A held lease on (root, day): released on [`Lease::release`]; a crashed
/// holder's lease expires after `lease_seconds`.
pub struct Lease {
    key: String,
    etag: String,
    run_id: String,
    seconds: u64,
}

fn lease_key(output: &Output, date: NaiveDate) -> String {
    key(output, &format!("_leases/dt={date}.json"))
}

fn lease_body(run_id: &str, seconds: u64) -> Vec<u8> {
    serde_json::to_vec(&LeaseBody {
        run_id: run_id.to_string(),
        expires_at: Utc::now().timestamp() + seconds as i64,
    })
    .expect("serializable")
}

/// Whether an S3 error is a failed precondition (another writer got there first).
fn precondition_failed<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "PreconditionFailed" || c == "ConditionalRequestConflict")
}

/// Creates the day's lease (`If-None-Match: *`), or takes over an expired one
/// (`If-Match` on its ETag); a live lease of another run is [`Error::Held`].
pub fn acquire(store: &Store, output: &Output, date: NaiveDate, run_id: &str) -> Result<Lease> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let key = lease_key(output, date);
    let url = format!("s3://{bucket}/{key}");
    let seconds = output.lease_seconds;
    aws.runtime.block_on(async {
        let created = aws
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from(lease_body(run_id, seconds)))
            .send()
            .await;
        let etag = match created {
            Ok(out) => out.e_tag().unwrap_or_default().to_string(),
            Err(e) if precondition_failed(&e) => {
                let current = aws.s3.get_object().bucket(bucket).key(&key).send().await;
                let current = current.map_err(|e| s3_err(&url, e))?;
                let held_etag = current.e_tag().unwrap_or_default().to_string();
                let body = current.body.collect().await.map_err(|e| s3_err(&url, e))?;
                let holder: Option<LeaseBody> = serde_json::from_slice(&body.into_bytes()).ok();
                let expired = holder
                    .as_ref()
                    .is_none_or(|h| h.expires_at <= Utc::now().timestamp());
                if !expired {
                    return Err(Error::Held {
                        date,
                        holder: holder.map(|h| h.run_id).unwrap_or_default(),
                        lock: url.clone().into(),
                    });
                }
                let taken = aws
                    .s3
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .if_match(&held_etag)
                    .body(ByteStream::from(lease_body(run_id, seconds)))
                    .send()
                    .await;
                match taken {
                    Ok(out) => out.e_tag().unwrap_or_default().to_string(),
                    Err(e) if precondition_failed(&e) => {
                        return Err(Error::Held {
                            date,
                            holder: "another run that took over the expired lease first".into(),
                            lock: url.clone().into(),
                        });
                    }
                    Err(e) => return Err(s3_err(&url, e)),
                }
            }
            Err(e) => return Err(s3_err(&url, e)),
        };
        Ok(Lease {
            key,
            etag,
            run_id: run_id.to_string(),
            seconds,
        })
    })
}

impl Lease {
    /// Extends the lease before a step that must not overlap another writer;
    /// fails if it was taken over meanwhile.
    pub fn renew(&mut self, store: &Store, output: &Output, date: NaiveDate) -> Result<()> {
        let aws = store.aws();
        let bucket = bucket_of(output);
        let url = format!("s3://{bucket}/{}", self.key);
        let renewed = aws.runtime.block_on(
            aws.s3
                .put_object()
                .bucket(bucket)
                .key(&self.key)
                .if_match(&self.etag)
                .body(ByteStream::from(lease_body(&self.run_id, self.seconds)))
                .send(),
        );
        match renewed {
            Ok(out) => {
                self.etag = out.e_tag().unwrap_or_default().to_string();
                Ok(())
            }
            Err(e) if precondition_failed(&e) => Err(Error::Held {
                date,
                holder: "another run (this run's lease expired and was taken over)".into(),
                lock: url.into(),
            }),
            Err(e) => Err(s3_err(&url, e)),
        }
    }

    /// Deletes the lease if it is still this run's.
    pub fn release(self, store: &Store, output: &Output) {
        let aws = store.aws();
        let bucket = bucket_of(output);
        let request = aws
            .s3
            .delete_object()
            .bucket(bucket)
            .key(&self.key)
            .if_match(&self.etag)
            .send();
        let _ = aws.runtime.block_on(request);
    }
}

/// One table in the journal: where its partition pointed before, where it
/// points after, and the files the new location must hold.
#[derive(Debug, Serialize, Deserialize)]
struct JournalTable {
    table: String,
    previous: Option<String>,
    location: String,
    files: Vec<(String, u64)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    run_id: String,
    date: NaiveDate,
    tables: Vec<JournalTable>,
}

fn journal_key(output: &Output, date: NaiveDate) -> String {
    key(output, &format!("_journal/dt={date}.json"))
}

/// Where run `run_id` publishes a table's day: `<root>/<table>/dt=D/run=<run_id>`.
pub fn run_location(output: &Output, table: &str, date: NaiveDate, run_id: &str) -> Location {
    output.root.join(&format!("{table}/dt={date}/run={run_id}"))
}

/// The run prefix of a table for a day (ends with `/`).
fn run_prefix(output: &Output, table: &str, date: NaiveDate, run_id: &str) -> String {
    key(output, &format!("{table}/dt={date}/run={run_id}/"))
}

/// The Glue side: the table's storage descriptor and the partition's location.
struct Catalog<'a> {
    aws: &'a Aws,
    glue: aws_sdk_glue::Client,
    database: &'a str,
}

impl<'a> Catalog<'a> {
    fn new(store: &'a Store, output: &'a Output) -> Self {
        let aws = store.aws();
        Self {
            aws,
            glue: aws_sdk_glue::Client::new(&aws.config),
            database: output.glue_database.as_deref().unwrap_or_default(),
        }
    }

    fn what(&self, table: &str) -> String {
        format!("glue table {}.{table}", self.database)
    }

    fn table_descriptor(&self, table: &str) -> Result<StorageDescriptor> {
        let got = self
            .aws
            .runtime
            .block_on(
                self.glue
                    .get_table()
                    .database_name(self.database)
                    .name(table)
                    .send(),
            )
            .map_err(|e| s3_err(&self.what(table), e))?;
        got.table()
            .and_then(|t| t.storage_descriptor())
            .cloned()
            .ok_or_else(|| Error::Storage {
                what: self.what(table),
                message: "has no storage descriptor".into(),
            })
    }

    /// The location the `dt=date` partition points at, if it exists.
    fn partition_location(&self, table: &str, date: NaiveDate) -> Result<Option<String>> {
        let got = self.aws.runtime.block_on(
            self.glue
                .get_partition()
                .database_name(self.database)
                .table_name(table)
                .partition_values(date.to_string())
                .send(),
        );
        match got {
            Ok(out) => Ok(out
                .partition()
                .and_then(|p| p.storage_descriptor())
                .and_then(|sd| sd.location())
                .map(str::to_string)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(s3_err(&self.what(table), e)),
        }
    }

    /// Points the `dt=date` partition at `location` (created if absent): one
    /// Glue call, so readers see the old location or the new one.
    fn point(&self, table: &str, date: NaiveDate, location: &str, exists: bool) -> Result<()> {
        let mut descriptor = self.table_descriptor(table)?;
        descriptor.location = Some(location.to_string());
        let input = PartitionInput::builder()
            .values(date.to_string())
            .storage_descriptor(descriptor)
            .build();
        let what = self.what(table);
        let errors: Vec<String> = if exists {
            let entry = BatchUpdatePartitionRequestEntry::builder()
                .partition_value_list(date.to_string())
                .partition_input(input)
                .build()
                .map_err(|e| s3_err(&what, e))?;
            let out = self
                .aws
                .runtime
                .block_on(
                    self.glue
                        .batch_update_partition()
                        .database_name(self.database)
                        .table_name(table)
                        .entries(entry)
                        .send(),
                )
                .map_err(|e| s3_err(&what, e))?;
            out.errors()
                .iter()
                .map(|e| format!("{:?}", e.error_detail()))
                .collect()
        } else {
            let out = self
                .aws
                .runtime
                .block_on(
                    self.glue
                        .batch_create_partition()
                        .database_name(self.database)
                        .table_name(table)
                        .partition_input_list(input)
                        .send(),
                )
                .map_err(|e| s3_err(&what, e))?;
            out.errors()
                .iter()
                .map(|e| format!("{:?}", e.error_detail()))
                .collect()
        };
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Storage {
                what,
                message: format!("partition dt={date}: {}", errors.join("; ")),
            })
        }
    }

    /// Every partition location of a table.
    fn locations(&self, table: &str) -> Result<BTreeSet<String>> {
        let mut found = BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .aws
                .runtime
                .block_on(
                    self.glue
                        .get_partitions()
                        .database_name(self.database)
                        .table_name(table)
                        .set_next_token(token.clone())
                        .send(),
                )
                .map_err(|e| s3_err(&self.what(table), e))?;
            for p in out.partitions() {
                if let Some(l) = p.storage_descriptor().and_then(|sd| sd.location()) {
                    found.insert(l.trim_end_matches('/').to_string() + "/");
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(found);
            }
        }
    }
}

/// What recovery did.
pub use super::publish::Recovery;

/// Finishes (or undoes, when its files are not all there) an interrupted
/// publish of `date`. Requires the day's lease.
pub fn recover(
    store: &Store,
    output: &Output,
    date: NaiveDate,
    _lease: &Lease,
) -> Result<Recovery> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let jkey = journal_key(output, date);
    let url = format!("s3://{bucket}/{jkey}");
    let got = aws
        .runtime
        .block_on(async { aws.s3.get_object().bucket(bucket).key(&jkey).send().await });
    let body = match got {
        Ok(out) => aws
            .runtime
            .block_on(out.body.collect())
            .map_err(|e| s3_err(&url, e))?
            .into_bytes(),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            return Ok(Recovery::default());
        }
        Err(e) => return Err(s3_err(&url, e)),
    };
    let journal: Journal = serde_json::from_slice(&body).map_err(|e| Error::Storage {
        what: url.clone(),
        message: format!("unreadable publish journal ({e}); inspect and delete it by hand"),
    })?;
    let catalog = Catalog::new(store, output);
    let complete = journal_complete(store, bucket, &journal)?;
    let mut recovery = Recovery::default();
    if complete {
        flip(&catalog, &journal)?;
        recovery.rolled_forward = Some(journal.run_id.clone());
    } else {
        for t in journal
            .tables
            .iter()
            .rev()
            .filter(|t| t.table != RUN_REPORTS)
        {
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
                        aws.runtime
                            .block_on(request)
                            .map_err(|e| s3_err(&catalog.what(&t.table), e))?;
                    }
                }
            }
        }
        recovery.rolled_back = Some(journal.run_id.clone());
    }
    aws.runtime
        .block_on(aws.s3.delete_object().bucket(bucket).key(&jkey).send())
        .map_err(|e| s3_err(&url, e))?;
    Ok(recovery)
}

fn journal_complete(store: &Store, bucket: &str, journal: &Journal) -> Result<bool> {
    let aws = store.aws();
    for t in &journal.tables {
        for (file, size) in &t.files {
            let head = aws
                .runtime
                .block_on(aws.s3.head_object().bucket(bucket).key(file).send());
            match head {
                Ok(h) if h.content_length() == Some(*size as i64) => {}
                Ok(_) => return Ok(false),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                    return Ok(false);
                }
                Err(e) => return Err(s3_err(&format!("s3://{bucket}/{file}"), e)),
            }
        }
    }
    Ok(true)
}

/// Points every table's partition at the journal's locations, in order
/// (reconciliation last); the run report needs no catalog entry.
fn flip(catalog: &Catalog, journal: &Journal) -> Result<()> {
    for t in &journal.tables {
        if t.table == RUN_REPORTS {
            continue;
        }
        let now = catalog.partition_location(&t.table, journal.date)?;
        if now.as_deref() != Some(t.location.as_str()) {
            catalog.point(&t.table, journal.date, &t.location, now.is_some())?;
        }
        crash_point!(&format!("publish::flipped::{}", t.table));
    }
    Ok(())
}

/// Stages every table and the run report under this run's prefixes, journals,
/// flips each table's partition (reconciliation last) and deletes the journal.
pub fn publish(
    store: &Store,
    output: &Output,
    date: NaiveDate,
    run_id: &str,
    tables: Vec<(&'static str, super::tables::Parts<'_>)>,
    report: &[u8],
    lease: &mut Lease,
) -> Result<()> {
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
            .map(|i| format!("{prefix}{}", super::parquet::part_name(i)))
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
                super::parquet::write_to(writer, &format!("s3://{bucket}/{name}"), batches)?;
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
    crash_point!("publish::staged");
    lease.renew(store, output, date)?;
    let jkey = journal_key(output, date);
    let jurl = format!("s3://{bucket}/{jkey}");
    aws.runtime
        .block_on(
            aws.s3
                .put_object()
                .bucket(bucket)
                .key(&jkey)
                .body(ByteStream::from(
                    serde_json::to_vec_pretty(&journal).expect("serializable"),
                ))
                .send(),
        )
        .map_err(|e| s3_err(&jurl, e))?;
    crash_point!("publish::journaled");
    flip(&catalog, &journal)?;
    aws.runtime
        .block_on(aws.s3.delete_object().bucket(bucket).key(&jkey).send())
        .map_err(|e| s3_err(&jurl, e))?;
    crash_point!("publish::committed");
    Ok(())
}

/// Deletes run prefixes that no partition points at (superseded runs, and
/// staging of runs that died before their journal) once their newest object is
/// older than `retain_superseded_hours`. Returns the prefixes deleted.
pub fn collect_garbage(store: &Store, output: &Output, tables: &[&str]) -> Result<Vec<String>> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let catalog = Catalog::new(store, output);
    let cutoff = Utc::now().timestamp() - (output.retain_superseded_hours * 3600) as i64;
    let mut deleted = Vec::new();
    // The run report of a day lives as long as that day's reconciliation run.
    let mut referenced = BTreeSet::new();
    for table in tables {
        for location in catalog.locations(table)? {
            if *table == "reconciliation" {
                referenced.insert(location.replacen(
                    "/reconciliation/",
                    &format!("/{RUN_REPORTS}/"),
                    1,
                ));
            }
            referenced.insert(location);
        }
    }
    for table in tables.iter().copied().chain([RUN_REPORTS]) {
        let prefix = key(output, &format!("{table}/"));
        // run prefix -> (newest modification, keys)
        let mut runs: BTreeMap<String, (i64, Vec<String>)> = BTreeMap::new();
        aws.runtime.block_on(async {
            let mut pages = aws
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| s3_err(&format!("s3://{bucket}/{prefix}"), e))?;
                for object in page.contents() {
                    let Some(k) = object.key() else { continue };
                    let Some(end) = k
                        .find("/run=")
                        .and_then(|i| k[i + 1..].find('/').map(|j| i + 1 + j + 1))
                    else {
                        continue;
                    };
                    let run = format!("s3://{bucket}/{}", &k[..end]);
                    let modified = object.last_modified().map_or(0, |t| t.secs());
                    let entry = runs.entry(run).or_default();
                    entry.0 = entry.0.max(modified);
                    entry.1.push(k.to_string());
                }
            }
            Ok::<_, Error>(())
        })?;
        for (run, (modified, keys)) in runs {
            if referenced.contains(&run) || modified > cutoff {
                continue;
            }
            for chunk in keys.chunks(1000) {
                let objects: Vec<_> = chunk
                    .iter()
                    .map(|k| {
                        aws_sdk_s3::types::ObjectIdentifier::builder()
                            .key(k)
                            .build()
                            .expect("key set")
                    })
                    .collect();
                let delete = aws_sdk_s3::types::Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()
                    .expect("objects set");
                aws.runtime
                    .block_on(aws.s3.delete_objects().bucket(bucket).delete(delete).send())
                    .map_err(|e| s3_err(&run, e))?;
            }
            deleted.push(run);
        }
    }
    Ok(deleted)
}
