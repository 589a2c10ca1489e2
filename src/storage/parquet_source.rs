//! What the CUR reader reads a Parquet file through: the file's bytes, and
//! the ranges a read will need, announced once the footer is read.

use std::ops::Range;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;

use crate::Result;

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
