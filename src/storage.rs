//! Storage addressed by URL (SPEC 2.6): every input and output path is a local
//! path or an `s3://bucket/prefix` URL, resolved once into a [`Location`]; the
//! [`Store`] lists and streams objects the same way for both, so the sources
//! see a plain `Read` whatever the bytes come from. The AWS SDK (async) lives
//! here and nowhere in the pure stages: one tokio runtime, one S3 client, built
//! on first use from the SDK's default credential chain (`AWS_ENDPOINT_URL`
//! points it at a local stand-in in tests).

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use chrono::{Datelike, NaiveDate};

use crate::{Error, Result};

/// A place: a local path or an S3 prefix/key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

impl Location {
    /// `s3://bucket/prefix` or a local path (relative paths taken from `base`).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if text.trim().is_empty() {
            return Err("an empty path".into());
        }
        match text.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                let valid = (3..=63).contains(&bucket.len())
                    && bucket.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                    });
                if !valid {
                    return Err(format!("{text:?}: {bucket:?} is not an S3 bucket name"));
                }
                let key = key.strip_suffix('/').unwrap_or(key);
                // S3 takes any key, so a typo would silently name another
                // place: no empty, `.` or `..` segment, no space or control character.
                if !key.is_empty() {
                    if let Some(bad) = key
                        .split('/')
                        .find(|s| s.is_empty() || *s == "." || *s == "..")
                    {
                        return Err(format!(
                            "{text:?}: the key has a {} segment; write the prefix without it",
                            if bad.is_empty() {
                                "empty (`//`)"
                            } else {
                                "`.` or `..`"
                            }
                        ));
                    }
                    if let Some(c) = key
                        .chars()
                        .find(|c| c.is_whitespace() || c.is_control() || *c == '\\')
                    {
                        return Err(format!(
                            "{text:?}: the key has the character {c:?}, which costjob refuses in S3 prefixes"
                        ));
                    }
                }
                Ok(Self::S3 {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                })
            }
            None if text.contains("://") => Err(format!(
                "{text:?}: only local paths and s3:// URLs are supported"
            )),
            None => Ok(Self::Local(PathBuf::from(text))),
        }
    }

    /// The location with `{date}`, `{yyyy}`, `{mm}` and `{dd}` filled in for `date`.
    pub fn for_date(&self, date: NaiveDate) -> Self {
        let fill = |s: &str| {
            s.replace("{date}", &date.to_string())
                .replace("{yyyy}", &format!("{:04}", date.year()))
                .replace("{mm}", &format!("{:02}", date.month()))
                .replace("{dd}", &format!("{:02}", date.day()))
        };
        match self {
            Self::Local(p) => Self::Local(PathBuf::from(fill(&p.to_string_lossy()))),
            Self::S3 { bucket, key } => Self::S3 {
                bucket: bucket.clone(),
                key: fill(key),
            },
        }
    }

    /// Whether the location names a day by a placeholder.
    pub fn has_placeholders(&self) -> bool {
        let text = self.to_string();
        ["{date}", "{yyyy}", "{mm}", "{dd}"]
            .iter()
            .any(|p| text.contains(p))
    }

    /// A child: `root/a/b`.
    pub fn join(&self, part: &str) -> Self {
        match self {
            Self::Local(p) => Self::Local(p.join(part)),
            Self::S3 { bucket, key } => Self::S3 {
                bucket: bucket.clone(),
                key: if key.is_empty() {
                    part.to_string()
                } else {
                    format!("{key}/{part}")
                },
            },
        }
    }

    /// The local path, if local.
    pub fn local(&self) -> Option<&Path> {
        match self {
            Self::Local(p) => Some(p),
            Self::S3 { .. } => None,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// One listed object or file: where it is and how large.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Object {
    pub location: Location,
    pub size: u64,
}

impl Object {
    /// How the object is named in errors and reports (`s3://...` or a path).
    pub fn name(&self) -> PathBuf {
        PathBuf::from(self.location.to_string())
    }
}

/// How S3 reads are retried.
const ATTEMPTS: u32 = 5;

/// Access to local files and S3 objects; the S3 client is made on first use.
#[derive(Default)]
pub struct Store {
    aws: OnceLock<std::sync::Arc<Aws>>,
}

/// The async edge: a small runtime and the clients of one credential chain.
pub struct Aws {
    pub runtime: tokio::runtime::Runtime,
    pub s3: aws_sdk_s3::Client,
    pub config: aws_config::SdkConfig,
}

impl Store {
    /// The runtime and clients, built once (the SDK's default chain: environment,
    /// profile, ECS task role, instance profile; `AWS_ENDPOINT_URL`).
    pub fn aws(&self) -> &Aws {
        self.aws_shared_ref()
    }

    fn aws_shared(&self) -> std::sync::Arc<Aws> {
        self.aws_shared_ref().clone()
    }

    fn aws_shared_ref(&self) -> &std::sync::Arc<Aws> {
        self.aws.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("costjob-io")
                .enable_all()
                .build()
                .expect("a tokio runtime starts");
            let config = runtime.block_on(aws_config::load_defaults(
                aws_config::BehaviorVersion::latest(),
            ));
            let s3_config = aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build();
            std::sync::Arc::new(Aws {
                s3: aws_sdk_s3::Client::from_conf(s3_config),
                runtime,
                config,
            })
        })
    }

    /// Every object under `location` (a file, a directory searched recursively,
    /// or a prefix), sorted, and the names skipped (`.`/`_` names, non-regular files).
    pub fn list(&self, location: &Location) -> Result<Listing> {
        match location {
            Location::Local(path) => {
                let (files, skipped) = crate::source::files::list_with_skipped(path)?;
                let objects = files
                    .into_iter()
                    .map(|(path, size)| Object {
                        location: Location::Local(path),
                        size,
                    })
                    .collect();
                Ok(Listing {
                    objects,
                    skipped: skipped
                        .into_iter()
                        .map(|p| p.display().to_string())
                        .collect(),
                })
            }
            Location::S3 { bucket, key } => self.list_s3(bucket, key),
        }
    }

    fn list_s3(&self, bucket: &str, key: &str) -> Result<Listing> {
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        let mut listing = Listing::default();
        for (name, _, size) in self.list_keys(bucket, &prefix)? {
            let relative = &name[prefix.len().min(name.len())..];
            let hidden = relative
                .split('/')
                .any(|part| part.starts_with('.') || part.starts_with('_'));
            if hidden {
                listing.skipped.push(format!("s3://{bucket}/{name}"));
            } else if !name.ends_with('/') {
                listing.objects.push(Object {
                    location: Location::S3 {
                        bucket: bucket.to_string(),
                        key: name,
                    },
                    size,
                });
            }
        }
        listing.objects.sort();
        Ok(listing)
    }

    /// Every key under an S3 prefix (ListObjectsV2, all pages): key, last
    /// modification (Unix seconds) and size.
    pub(crate) fn list_keys(&self, bucket: &str, prefix: &str) -> Result<Vec<(String, i64, u64)>> {
        let aws = self.aws();
        let url = format!("s3://{bucket}/{prefix}");
        aws.runtime.block_on(async {
            let mut keys = Vec::new();
            let mut pages = aws
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| s3_error(&url, e))?;
                for object in page.contents() {
                    if let Some(k) = object.key() {
                        keys.push((
                            k.to_string(),
                            object.last_modified().map_or(0, |t| t.secs()),
                            object.size().unwrap_or(0).max(0) as u64,
                        ));
                    }
                }
            }
            Ok(keys)
        })
    }

    /// Deletes `keys` of `bucket` (DeleteObjects, 1000 at a time).
    pub(crate) fn delete_keys(&self, bucket: &str, keys: &[String]) -> Result<()> {
        let aws = self.aws();
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
            let request = aws.s3.delete_objects().bucket(bucket).delete(delete).send();
            aws.runtime
                .block_on(request)
                .map_err(|e| s3_error(&format!("s3://{bucket}"), e))?;
        }
        Ok(())
    }

    /// Streams an object: a local file, or an S3 object read in chunks by a
    /// background task (a bounded buffer, so memory does not grow with the
    /// object), resumed by a ranged GET where a transient error cut it.
    pub fn open(&self, object: &Object) -> Result<Box<dyn Read + Send>> {
        match &object.location {
            Location::Local(path) => {
                let file = std::fs::File::open(path).map_err(|e| Error::unreadable(path, &e))?;
                Ok(Box::new(file))
            }
            Location::S3 { bucket, key } => {
                let aws = self.aws();
                let (tx, rx) = tokio::sync::mpsc::channel(16);
                let client = aws.s3.clone();
                let (bucket, key, size) = (bucket.clone(), key.clone(), object.size);
                aws.runtime
                    .spawn(async move { stream_object(client, bucket, key, size, tx).await });
                Ok(Box::new(ChannelReader {
                    rx,
                    current: Bytes::new(),
                }))
            }
        }
    }
}

/// Random access to a Parquet file for the CUR reader: the local file, or
/// ranged GETs of an S3 object (only the footer and the column chunks of the
/// row groups the day's statistics keep are fetched).
pub enum Chunks {
    Local(std::fs::File),
    S3(RemoteFile),
}

/// A Parquet file that is told, once the footer is read, which byte ranges the
/// read needs: an S3 object fetches them with concurrent ranged GETs and then
/// serves the reader from memory; a local file needs nothing.
pub trait ParquetSource: parquet::file::reader::ChunkReader + 'static {
    fn prefetch(&self, ranges: &[Range<u64>]) -> Result<()>;
    /// The bytes fetched over the network, counted as they arrive.
    fn fetched(&self) -> std::sync::Arc<AtomicU64>;
}

impl ParquetSource for std::fs::File {
    fn prefetch(&self, _: &[Range<u64>]) -> Result<()> {
        Ok(())
    }

    fn fetched(&self) -> std::sync::Arc<AtomicU64> {
        Default::default()
    }
}

impl ParquetSource for Bytes {
    fn prefetch(&self, _: &[Range<u64>]) -> Result<()> {
        Ok(())
    }

    fn fetched(&self) -> std::sync::Arc<AtomicU64> {
        Default::default()
    }
}

/// An S3 object read by ranged GETs: the footer on demand, the column chunks
/// of a read all at once ([`ParquetSource::prefetch`]).
pub struct RemoteFile {
    aws: std::sync::Arc<Aws>,
    object: Object,
    /// Prefetched ranges (start, bytes), sorted by start.
    cache: Mutex<Vec<(u64, Bytes)>>,
    fetched: std::sync::Arc<AtomicU64>,
}

impl RemoteFile {
    /// The cached bytes from `start` to the end of the range holding it.
    fn cached(&self, start: u64) -> Option<Bytes> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .iter()
            .find(|(s, b)| *s <= start && start < s + b.len() as u64)
            .map(|(s, b)| b.slice((start - s) as usize..))
    }

    fn get(&self, range: Range<u64>) -> Result<Bytes> {
        let bytes = get_range(&self.aws, &self.object, range)?;
        self.fetched
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes)
    }
}

impl ParquetSource for RemoteFile {
    fn prefetch(&self, ranges: &[Range<u64>]) -> Result<()> {
        let got = self.aws.runtime.block_on(async {
            let mut pending = ranges.iter().cloned();
            let mut running = tokio::task::JoinSet::new();
            let mut got = Vec::with_capacity(ranges.len());
            loop {
                while running.len() < PREFETCH_IN_FLIGHT {
                    let Some(range) = pending.next() else { break };
                    let (s3, object) = (self.aws.s3.clone(), self.object.clone());
                    running.spawn(async move {
                        fetch_range(&s3, &object, range.clone())
                            .await
                            .map(|b| (range.start, b))
                    });
                }
                let Some(done) = running.join_next().await else {
                    return Ok::<_, Error>(got);
                };
                let (start, bytes) =
                    done.map_err(|e| Error::input(self.object.name(), e.to_string()))??;
                self.fetched
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                got.push((start, bytes));
            }
        })?;
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.extend(got);
        cache.sort_by_key(|(start, _)| *start);
        Ok(())
    }

    fn fetched(&self) -> std::sync::Arc<AtomicU64> {
        self.fetched.clone()
    }
}

impl parquet::file::reader::Length for RemoteFile {
    fn len(&self) -> u64 {
        self.object.size
    }
}

impl parquet::file::reader::ChunkReader for RemoteFile {
    type T = std::io::Cursor<Bytes>;

    /// From `start` to the end of its prefetched range (page headers are read
    /// this way), else to the end of the object (the footer's last 8 bytes).
    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        if let Some(bytes) = self.cached(start) {
            return Ok(std::io::Cursor::new(bytes));
        }
        self.get(start.min(self.object.size)..self.object.size)
            .map(std::io::Cursor::new)
            .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        if let Some(bytes) = self.cached(start).filter(|b| b.len() >= length) {
            return Ok(bytes.slice(..length));
        }
        self.get(start..start + length as u64)
            .map_err(|e| parquet::errors::ParquetError::External(Box::new(e)))
    }
}

impl Store {
    /// A Parquet file's bytes, ready for `ParquetRecordBatchReaderBuilder`.
    pub fn chunk_reader(&self, object: &Object) -> Result<Chunks> {
        match &object.location {
            Location::Local(path) => std::fs::File::open(path)
                .map(Chunks::Local)
                .map_err(|e| Error::unreadable(path, &e)),
            Location::S3 { .. } => Ok(Chunks::S3(RemoteFile {
                aws: self.aws_shared(),
                object: object.clone(),
                cache: Mutex::default(),
                fetched: Default::default(),
            })),
        }
    }
}

/// What a listing found.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<Object>,
    /// Names not read: hidden (`.`/`_`) and non-regular files, for the run report.
    pub skipped: Vec<String>,
}

/// Ranged GETs one Parquet read keeps in flight.
const PREFETCH_IN_FLIGHT: usize = 16;

/// The bytes `range` of an S3 object, retried with backoff.
fn get_range(aws: &Aws, object: &Object, range: Range<u64>) -> Result<Bytes> {
    aws.runtime.block_on(fetch_range(&aws.s3, object, range))
}

async fn fetch_range(s3: &aws_sdk_s3::Client, object: &Object, range: Range<u64>) -> Result<Bytes> {
    let Location::S3 { bucket, key } = &object.location else {
        unreachable!("ranged GETs are for S3 objects");
    };
    let url = object.location.to_string();
    let want = range.end - range.start;
    if want == 0 {
        return Ok(Bytes::new());
    }
    {
        let mut attempt = 0;
        loop {
            let got = s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .range(format!("bytes={}-{}", range.start, range.end - 1))
                .send()
                .await;
            let result = match got {
                Ok(out) => out
                    .body
                    .collect()
                    .await
                    .map(|b| b.into_bytes())
                    .map_err(|e| describe(&e)),
                Err(e) => Err(describe(&e)),
            };
            let message = match result {
                Ok(bytes) if bytes.len() as u64 == want => return Ok(bytes),
                Ok(bytes) => format!("short read: {} of {want} bytes", bytes.len()),
                Err(message) => message,
            };
            attempt += 1;
            if attempt >= ATTEMPTS {
                return Err(Error::input(
                    &url,
                    format!("unreadable after {ATTEMPTS} attempts: {message}"),
                ));
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
}

pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 100u64 << attempt.min(6);
    let jitter = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0) as u64)
        % base;
    Duration::from_millis(base / 2 + jitter / 2)
}

/// An error with its whole source chain, for messages that cross the SDK boundary.
pub(crate) fn describe<E: std::error::Error>(e: &E) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn s3_error<E: std::error::Error>(url: &str, e: E) -> Error {
    Error::input(url, describe(&e))
}

/// An input whose bytes could not be read (a network failure that outlived
/// its retries, a short body, a local I/O error), as opposed to bytes that were
/// read and do not decode. Travels inside a `std::io::Error` through the
/// decompressor and the line reader, so the sources can tell one from the
/// other: `--allow-corrupt-input` covers corrupt content only.
#[derive(Debug)]
pub struct Unreadable(pub String);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreadable {}

impl Unreadable {
    /// Whether an I/O error is (or wraps) an [`Unreadable`] input.
    pub fn is(e: &std::io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<Unreadable>())
    }
}

/// A source's bytes with every read error marked [`Unreadable`].
pub struct MarkUnreadable<R>(pub R);

impl<R: Read> Read for MarkUnreadable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::Interrupted || Unreadable::is(&e) {
                e
            } else {
                std::io::Error::other(Unreadable(e.to_string()))
            }
        })
    }
}

/// Reads `s3://bucket/key` into `tx` chunk by chunk; on a transient error or a
/// body that ends before the object's listed `size`, resumes at the byte it
/// stopped with a ranged GET of the same version (ETag). An object that keeps
/// failing, or whose length is not the listed one, ends the stream with an error.
async fn stream_object(
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    size: u64,
    tx: tokio::sync::mpsc::Sender<std::result::Result<Bytes, String>>,
) {
    let mut offset = 0u64;
    let mut etag: Option<String> = None;
    let mut failures = 0;
    loop {
        let mut request = client.get_object().bucket(&bucket).key(&key);
        if offset > 0 {
            request = request.range(format!("bytes={offset}-"));
        }
        if let Some(tag) = &etag {
            request = request.if_match(tag);
        }
        let error = match request.send().await {
            Ok(mut out) => {
                etag = etag.or(out.e_tag().map(str::to_string));
                let mut cut = None;
                loop {
                    match out.body.next().await {
                        Some(Ok(chunk)) => {
                            offset += chunk.len() as u64;
                            if offset > size {
                                let _ = tx
                                    .send(Err(format!(
                                        "the object is longer than the {size} bytes it was listed with: it changed while being read"
                                    )))
                                    .await;
                                return;
                            }
                            failures = 0;
                            if tx.send(Ok(chunk)).await.is_err() {
                                return; // the reader is gone
                            }
                        }
                        Some(Err(e)) => {
                            cut = Some(describe(&e));
                            break;
                        }
                        None => break,
                    }
                }
                match cut {
                    None if offset == size => return,
                    // A body that ends early without an error (a short
                    // Content-Length, a proxy): resumed like a cut one.
                    None => format!("short body: the object ended at byte {offset} of {size}"),
                    Some(message) => message,
                }
            }
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let message = describe(&e);
                // 4xx other than throttling will not get better by retrying.
                if status.is_some_and(|s| (400..500).contains(&s) && s != 429) {
                    let _ = tx.send(Err(message)).await;
                    return;
                }
                message
            }
        };
        failures += 1;
        if failures >= ATTEMPTS {
            let _ = tx
                .send(Err(format!(
                    "unreadable after {ATTEMPTS} attempts: {error}"
                )))
                .await;
            return;
        }
        tokio::time::sleep(backoff(failures)).await;
    }
}

/// The synchronous end of [`stream_object`]; its errors are [`Unreadable`].
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::result::Result<Bytes, String>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(message)) => {
                    return Err(std::io::Error::other(Unreadable(message)));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_placeholders() {
        let l = Location::parse("s3://logs-bucket/exports/{yyyy}/{mm}/{dd}/").unwrap();
        let d: NaiveDate = "2026-11-03".parse().unwrap();
        assert_eq!(
            l.for_date(d).to_string(),
            "s3://logs-bucket/exports/2026/11/03"
        );
        assert_eq!(
            Location::parse("out/{date}").unwrap().for_date(d),
            Location::Local("out/2026-11-03".into())
        );
        assert!(Location::parse("").is_err());
        assert!(Location::parse("s3://A_B/x").is_err());
        assert!(Location::parse("gs://bucket/x").is_err());
        // Issue 34.8: keys that name another place than they seem to.
        for bad in [
            "s3://bucket/../x",
            "s3://bucket//x",
            "s3://bucket/a//b",
            "s3://bucket/a/./b",
            "s3://bucket/a/..",
            "s3://bucket/my logs",
            "s3://bucket/tab\tx",
            "s3://bucket/a\\b",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "s3://bucket",
            "s3://bucket/",
            "s3://bucket/a/b/",
            "s3://bucket/x/{date}/y=1",
        ] {
            assert!(Location::parse(good).is_ok(), "{good}");
        }
        assert_eq!(
            Location::parse("s3://bucket/a/b/").unwrap().to_string(),
            "s3://bucket/a/b"
        );
        assert_eq!(
            Location::parse("s3://bucket")
                .unwrap()
                .join("t")
                .to_string(),
            "s3://bucket/t"
        );
    }
}
