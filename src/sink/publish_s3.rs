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

/// The journal of `date`'s interrupted publish, if there is one.
fn read_journal(store: &Store, output: &Output, date: NaiveDate) -> Result<Option<Journal>> {
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

/// An object's bytes, or `None` when there is no such key.
fn get_if_exists(aws: &Aws, bucket: &str, key: &str) -> Result<Option<bytes::Bytes>> {
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
fn list_keys(store: &Store, output: &Output, prefix: &str) -> Result<Vec<(String, i64)>> {
    let keys = store.list_keys(bucket_of(output), &key(output, prefix))?;
    Ok(keys
        .into_iter()
        .map(|(k, modified, _)| (k, modified))
        .collect())
}

/// The day of a `.../dt=D.json` key.
fn day_of_key(key: &str) -> Option<NaiveDate> {
    key.rsplit('/')
        .next()?
        .strip_prefix("dt=")?
        .strip_suffix(".json")?
        .parse()
        .ok()
}

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
    let Some(journal) = read_journal(store, output, date)? else {
        return Ok(Recovery::default());
    };
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
        lease.release(store, output);
        done.push((date, recovery?));
    }
    Ok(done)
}

/// What `costjob check` reports on an S3 root: interrupted publishes, leases
/// of runs that died holding them, and multipart uploads left unfinished by
/// runs that hold no live lease (killed runs).
pub fn inspect(store: &Store, output: &Output) -> Result<Vec<String>> {
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
                if journal_complete(store, bucket, &j)? {
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

/// A lease object under the root: its URL and body.
type LeaseObject = (String, std::result::Result<LeaseBody, serde_json::Error>);

/// Every lease object under the root.
fn leases(store: &Store, output: &Output) -> Result<Vec<LeaseObject>> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let mut found = Vec::new();
    for (k, _) in list_keys(store, output, "_leases/")? {
        let body = get_if_exists(aws, bucket, &k)?.unwrap_or_default();
        found.push((format!("s3://{bucket}/{k}"), serde_json::from_slice(&body)));
    }
    Ok(found)
}

/// The runs holding a lease that has not expired.
fn live_runs(leases: &[LeaseObject]) -> BTreeSet<&str> {
    let now = Utc::now().timestamp();
    leases
        .iter()
        .filter_map(|(_, lease)| lease.as_ref().ok().filter(|l| l.expires_at > now))
        .map(|l| l.run_id.as_str())
        .collect()
}

/// A multipart upload under the root that no live run will finish.
struct DeadUpload {
    key: String,
    upload_id: String,
    run: Option<String>,
    initiated: i64,
}

/// Multipart uploads under the root whose run holds no live lease: runs that
/// were killed between starting and completing (or aborting) an upload.
fn dead_uploads(store: &Store, output: &Output, live: &BTreeSet<&str>) -> Result<Vec<DeadUpload>> {
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

/// Where a table's `date` partition points now (the Glue catalog's answer).
pub fn published_location(
    store: &Store,
    output: &Output,
    table: &str,
    date: NaiveDate,
) -> Result<Option<Location>> {
    let catalog = Catalog::new(store, output);
    let Some(location) = catalog.partition_location(table, date)? else {
        return Ok(None);
    };
    Location::parse(location.trim_end_matches('/'))
        .map(Some)
        .map_err(|message| Error::Storage {
            what: catalog.what(table),
            message: format!("partition dt={date} points at {location}: {message}"),
        })
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
/// older than `retain_superseded_hours`, and aborts the multipart uploads of
/// killed runs as old. Returns the prefixes deleted and the uploads aborted.
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
        // run prefix -> (newest modification, keys)
        let mut runs: BTreeMap<String, (i64, Vec<String>)> = BTreeMap::new();
        for (k, modified) in list_keys(store, output, &format!("{table}/"))? {
            let Some(end) = k
                .find("/run=")
                .and_then(|i| k[i + 1..].find('/').map(|j| i + 1 + j + 1))
            else {
                continue;
            };
            let entry = runs
                .entry(format!("s3://{bucket}/{}", &k[..end]))
                .or_default();
            entry.0 = entry.0.max(modified);
            entry.1.push(k);
        }
        for (run, (modified, keys)) in runs {
            if referenced.contains(&run) || modified > cutoff {
                continue;
            }
            store
                .delete_keys(bucket, &keys)
                .map_err(|e| s3_err(&run, e))?;
            deleted.push(run);
        }
    }
    let leases = leases(store, output)?;
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
        deleted.push(format!("{url} (multipart upload {})", upload.upload_id));
    }
    Ok(deleted)
}
