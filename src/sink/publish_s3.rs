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

use std::sync::PoisonError;

use super::publish::{RUN_REPORTS, crash_point, pause_point};
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

/// A held lease on (root, day), kept alive by a heartbeat for as long as the
/// run lives and released on [`Lease::release`]; a crashed holder's lease
/// expires after `lease_seconds`.
///
/// The heartbeat renews the lease (`If-Match` on its ETag) every third of
/// `lease_seconds`. Before every step that must not overlap another writer
/// the run calls [`Lease::ensure`], which renews at once when less than a
/// third is left, and fails when the lease was taken over ([`Error::Held`],
/// naming the new holder) or cannot be renewed: the run then stops rather
/// than write over a day someone else may hold.
pub struct Lease {
    renewer: Renewer,
    date: NaiveDate,
    runtime: tokio::runtime::Handle,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
}

/// What renews a lease: shared by the heartbeat and the run, one renewal at
/// a time (two with the same ETag would make the second look taken over).
#[derive(Clone)]
struct Renewer {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    run_id: String,
    seconds: u64,
    state: std::sync::Arc<std::sync::Mutex<LeaseState>>,
    one_at_a_time: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Where a lease stands.
struct LeaseState {
    etag: String,
    /// When the lease runs out unless renewed (the last renewal's request
    /// time, plus `lease_seconds`).
    valid_until: std::time::Instant,
    /// Set when a renewal found the lease taken over: the new holder.
    lost_to: Option<String>,
    /// The last renewal's error, while renewals fail.
    failing: Option<String>,
}

impl Renewer {
    fn state(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Renews the lease once; afterwards the state says how it went.
    async fn renew(&self) {
        let _one = self.one_at_a_time.lock().await;
        if self.state().lost_to.is_some() {
            return;
        }
        let etag = self.state().etag.clone();
        let requested = std::time::Instant::now();
        let renewed = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .if_match(&etag)
            .body(ByteStream::from(lease_body(&self.run_id, self.seconds)))
            .send()
            .await;
        match renewed {
            Ok(out) => {
                let mut state = self.state();
                state.etag = out.e_tag().unwrap_or_default().to_string();
                state.valid_until = requested + std::time::Duration::from_secs(self.seconds);
                state.failing = None;
                drop(state);
                crash_point!("lease::renewed");
            }
            Err(e) if precondition_failed(&e) => {
                let holder = current_holder(&self.s3, &self.bucket, &self.key).await;
                self.state().lost_to = Some(holder);
            }
            // Tried again at the next beat; the lease still runs.
            Err(e) => self.state().failing = Some(describe(&e)),
        }
    }

    /// Renews every third of the lease's life until it is lost (or aborted).
    async fn heartbeat(self) {
        let period = std::time::Duration::from_millis(self.seconds * 1000 / 3);
        loop {
            tokio::time::sleep(period).await;
            self.renew().await;
            if self.state().lost_to.is_some() {
                return;
            }
        }
    }
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

/// Whether an S3 error is a failed precondition (another writer got there
/// first), or the conditional write found no object (the lease was taken
/// over and released meanwhile).
fn precondition_failed<E, R>(e: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| {
            c == "PreconditionFailed" || c == "ConditionalRequestConflict" || c == "NoSuchKey"
        })
}

/// How long a lease lives: `[output] lease_seconds` (the tests shorten it
/// with the `lease::seconds` failpoint, compiled in only for them).
fn lease_seconds(output: &Output) -> u64 {
    #[cfg(feature = "failpoints")]
    if let Some(Some(seconds)) =
        fail::eval("lease::seconds", |arg| arg.and_then(|a| a.parse().ok()))
    {
        return seconds;
    }
    output.lease_seconds
}

/// The run named by the lease object now, for an error that names the holder.
async fn current_holder(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> String {
    let got = s3.get_object().bucket(bucket).key(key).send().await;
    let body = match got {
        Ok(out) => out.body.collect().await.ok().map(|b| b.into_bytes()),
        Err(_) => None,
    };
    body.and_then(|b| serde_json::from_slice::<LeaseBody>(&b).ok())
        .map_or_else(
            || "another run (which has released the lease since)".to_string(),
            |l| l.run_id,
        )
}

/// Creates the day's lease (`If-None-Match: *`), or takes over an expired one
/// (`If-Match` on its ETag); a live lease of another run is [`Error::Held`].
/// The lease is renewed in the background until released.
pub fn acquire(store: &Store, output: &Output, date: NaiveDate, run_id: &str) -> Result<Lease> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let key = lease_key(output, date);
    let url = format!("s3://{bucket}/{key}");
    let seconds = lease_seconds(output);
    let requested = std::time::Instant::now();
    let etag = aws.runtime.block_on(async {
        let created = aws
            .s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .if_none_match("*")
            .body(ByteStream::from(lease_body(run_id, seconds)))
            .send()
            .await;
        match created {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
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
                    Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
                    Err(e) if precondition_failed(&e) => Err(Error::Held {
                        date,
                        holder: current_holder(&aws.s3, bucket, &key).await,
                        lock: url.clone().into(),
                    }),
                    Err(e) => Err(s3_err(&url, e)),
                }
            }
            Err(e) => Err(s3_err(&url, e)),
        }
    })?;
    let state = std::sync::Arc::new(std::sync::Mutex::new(LeaseState {
        etag,
        valid_until: requested + std::time::Duration::from_secs(seconds),
        lost_to: None,
        failing: None,
    }));
    let renewer = Renewer {
        s3: aws.s3.clone(),
        bucket: bucket.to_string(),
        key,
        run_id: run_id.to_string(),
        seconds,
        state,
        one_at_a_time: Default::default(),
    };
    // The `lease::heartbeat` failpoint turns the heartbeat off, for the tests.
    #[cfg(feature = "failpoints")]
    let beat = fail::eval("lease::heartbeat", |_| ()).is_none();
    #[cfg(not(feature = "failpoints"))]
    let beat = true;
    let heartbeat = beat.then(|| aws.runtime.spawn(renewer.clone().heartbeat()));
    Ok(Lease {
        renewer,
        date,
        runtime: aws.runtime.handle().clone(),
        heartbeat,
    })
}

impl Lease {
    /// Fails unless the lease is still this run's with at least a third of
    /// its life left (renewing it at once when less is): called before every
    /// step another writer must not overlap.
    pub fn ensure(&self) -> Result<()> {
        let third = std::time::Duration::from_secs(self.renewer.seconds) / 3;
        let left = || {
            (self.renewer.state().valid_until).saturating_duration_since(std::time::Instant::now())
        };
        if left() < third {
            self.runtime.block_on(self.renewer.renew());
        }
        let state = self.renewer.state();
        if let Some(holder) = &state.lost_to {
            return Err(Error::Held {
                date: self.date,
                holder: format!("{holder} (this run's lease expired and was taken over)"),
                lock: self.renewer.url().into(),
            });
        }
        drop(state);
        if left() < third {
            return Err(Error::Storage {
                what: self.renewer.url(),
                message: format!(
                    "the lease could not be renewed ({}); stopping before another run may take the day over",
                    (self.renewer.state().failing.clone())
                        .unwrap_or_else(|| "no renewal succeeded in time".into())
                ),
            });
        }
        Ok(())
    }

    /// Stops the heartbeat (between renewals) and deletes the lease if it is
    /// still this run's. A lease that cannot be deleted blocks the day's next
    /// run until it expires, so that is an error.
    pub fn release(mut self, store: &Store) -> Result<()> {
        let renewer = self.renewer.clone();
        let heartbeat = self.heartbeat.take();
        self.runtime.block_on(async {
            let _one = renewer.one_at_a_time.lock().await;
            if let Some(heartbeat) = heartbeat {
                heartbeat.abort();
            }
        });
        if renewer.state().lost_to.is_some() {
            return Ok(()); // another run's now
        }
        let aws = store.aws();
        let etag = renewer.state().etag.clone();
        let request = aws
            .s3
            .delete_object()
            .bucket(&renewer.bucket)
            .key(&renewer.key)
            .if_match(etag)
            .send();
        match aws.runtime.block_on(request) {
            Ok(_) => Ok(()),
            Err(e) if precondition_failed(&e) => Ok(()), // taken over meanwhile
            Err(e) => Err(Error::Storage {
                what: renewer.url(),
                message: format!(
                    "the lease could not be released ({}); the day's next run waits until it expires ({} s)",
                    describe(&e),
                    renewer.seconds
                ),
            }),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(heartbeat) = self.heartbeat.take() {
            heartbeat.abort();
        }
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

/// Deletes the day's journal: the publish it described is finished or undone.
fn delete_journal(store: &Store, output: &Output, date: NaiveDate) -> Result<()> {
    let aws = store.aws();
    let bucket = bucket_of(output);
    let jkey = journal_key(output, date);
    aws.runtime
        .block_on(aws.s3.delete_object().bucket(bucket).key(&jkey).send())
        .map_err(|e| s3_err(&format!("s3://{bucket}/{jkey}"), e))?;
    Ok(())
}

/// Points every table the journal moved back where it was before (or drops
/// the partition it created), in reverse flip order. Idempotent.
fn unflip(catalog: &Catalog, journal: &Journal, lease: &Lease) -> Result<()> {
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

/// The first file the journal names that is not in place with its size
/// (`None` when every one is): a publish whose files are all there can be
/// flipped to, one that lacks any must not be.
fn journal_complete(store: &Store, bucket: &str, journal: &Journal) -> Result<Option<String>> {
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
fn flip(catalog: &Catalog, journal: &Journal, lease: &Lease) -> Result<()> {
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

/// Stages every table and the run report under this run's prefixes, journals,
/// checks that every staged object is still there, flips each table's
/// partition (reconciliation last) and deletes the journal.
///
/// On a failure the run cleans up after itself: before the journal, it deletes
/// what it staged; after it, it points every table back at its previous run,
/// deletes the journal and what it staged, so a reader never sees the day
/// half-flipped until the next run. Only when that fails too is the journal
/// left for the next run to roll forward or back. A lease found lost stops the
/// run at once and touches nothing more: the day is the new holder's.
pub fn publish(
    store: &Store,
    output: &Output,
    date: NaiveDate,
    run_id: &str,
    tables: Vec<(&'static str, super::tables::Parts<'_>)>,
    report: &[u8],
    lease: &Lease,
) -> Result<()> {
    let names: Vec<&str> = tables
        .iter()
        .map(|(t, _)| *t)
        .chain([RUN_REPORTS])
        .collect();
    let journal = match stage(store, output, date, run_id, tables, report) {
        Ok(journal) => journal,
        Err(e) => return Err(discard_staged(store, output, date, run_id, &names, e)),
    };
    crash_point!("publish::staged");
    pause_point!("publish::staged");
    if let Err(e) = lease
        .ensure()
        .and_then(|()| write_journal(store, output, &journal))
    {
        return Err(discard_staged(store, output, date, run_id, &names, e));
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
        None => flip(&catalog, &journal, lease),
    });
    match flipped {
        Ok(()) => {}
        Err(e @ Error::Held { .. }) => return Err(e),
        Err(e) => {
            let undone = unflip(&catalog, &journal, lease)
                .and_then(|()| delete_journal(store, output, date));
            return Err(match undone {
                Ok(()) => {
                    let e = Error::Storage {
                        what: format!("the publish of {date}"),
                        message: format!(
                            "{e}; every table was pointed back at the run it had before"
                        ),
                    };
                    discard_staged(store, output, date, run_id, &names, e)
                }
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
    Ok(())
}

/// Writes every table's parts and the run report under this run's prefixes;
/// returns the journal naming them with their sizes.
fn stage(
    store: &Store,
    output: &Output,
    date: NaiveDate,
    run_id: &str,
    tables: Vec<(&'static str, super::tables::Parts<'_>)>,
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
    Ok(journal)
}

/// Writes the journal: from here a crash is rolled forward or back.
fn write_journal(store: &Store, output: &Output, journal: &Journal) -> Result<()> {
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

/// A run prefix under the root, `<table>/dt=D/run=R/`, as its parts.
struct RunPrefix {
    table: String,
    date: NaiveDate,
    run: String,
    /// `s3://bucket/<root>/<table>/dt=D/run=R/`, as partitions name it.
    url: String,
}

/// A run prefix's objects: their keys and the newest one's modification.
struct RunObjects {
    prefix: RunPrefix,
    newest: i64,
    keys: Vec<String>,
}

/// The run prefix a key under the root belongs to, if it is in one.
fn run_prefix_of(output: &Output, bucket: &str, k: &str) -> Option<RunPrefix> {
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
    let aws = store.aws();
    let bucket = bucket_of(output);
    let catalog = Catalog::new(store, output);
    let cutoff = Utc::now().timestamp() - (output.retain_superseded_hours * 3600) as i64;
    let mut deleted = Vec::new();
    // day -> run prefix URL -> its objects
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
    for (date, runs) in days {
        let old: Vec<_> = runs
            .into_values()
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
        let judged = (|| -> Result<Vec<String>> {
            if read_journal(store, output, date)?.is_some() {
                return Ok(Vec::new()); // an interrupted publish: recovery's
            }
            let mut live: BTreeMap<&str, Option<String>> = BTreeMap::new();
            let mut removed = Vec::new();
            for RunObjects { prefix, keys, .. } in &old {
                lease.ensure()?;
                // The run report lives as long as the day's reconciliation run.
                let table = if prefix.table == RUN_REPORTS {
                    "reconciliation"
                } else {
                    prefix.table.as_str()
                };
                if !live.contains_key(table) {
                    let location = catalog.partition_location(table, date)?;
                    live.insert(table, location);
                }
                let points_here = live[table].as_deref().is_some_and(|l| {
                    l.trim_end_matches('/')
                        .ends_with(&format!("/dt={date}/run={}", prefix.run))
                });
                if points_here {
                    continue;
                }
                store
                    .delete_keys(bucket, keys)
                    .map_err(|e| s3_err(&prefix.url, e))?;
                removed.push(prefix.url.clone());
            }
            Ok(removed)
        })();
        // A lease taken for the judgement is released whatever it found.
        let released = taken.map_or(Ok(()), |lease| lease.release(store));
        deleted.extend(judged?);
        released?;
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
