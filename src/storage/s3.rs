//! S3 at the I/O edge: objects streamed chunk by chunk (resumed by a ranged
//! GET where a transient error or a short body cut them), Parquet files read
//! by ranged GETs, retries with backoff, and the SDK's errors described.

use std::io::Read;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;

use super::parquet_source::ParquetSource;
use super::unreadable::Unreadable;
use super::{Location, Object};
use crate::{Error, Result};

/// How S3 reads are retried.
pub(super) const ATTEMPTS: u32 = 5;

/// The async edge: a small runtime and the clients of one credential chain.
pub struct Aws {
    pub runtime: tokio::runtime::Runtime,
    pub s3: aws_sdk_s3::Client,
    pub config: aws_config::SdkConfig,
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
    pub(super) fn new(aws: std::sync::Arc<Aws>, object: &Object) -> Self {
        Self {
            aws,
            object: object.clone(),
            cache: Mutex::default(),
            fetched: Default::default(),
        }
    }

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

/// Ranged GETs one Parquet read keeps in flight.
const PREFETCH_IN_FLIGHT: usize = 16;

/// The bytes `range` of an S3 object, retried with backoff.
pub(super) fn get_range(aws: &Aws, object: &Object, range: Range<u64>) -> Result<Bytes> {
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

pub(super) fn s3_error<E: std::error::Error>(url: &str, e: E) -> Error {
    Error::input(url, describe(&e))
}

/// `s3://bucket/key` as a `Read`: streamed by a background task into a
/// bounded buffer (memory does not grow with the object), checked against
/// its listed `size`.
pub(super) fn stream(aws: &Aws, bucket: &str, key: &str, size: u64) -> Box<dyn Read + Send> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let client = aws.s3.clone();
    let (bucket, key) = (bucket.to_string(), key.to_string());
    aws.runtime
        .spawn(async move { stream_object(client, bucket, key, size, tx).await });
    Box::new(ChannelReader {
        rx,
        current: Bytes::new(),
    })
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
