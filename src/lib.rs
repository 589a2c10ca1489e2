//! costjob: what each transaction costs on AWS, to the last 1e-10 USD.
//!
//! The pipeline for one UTC day (see `docs/architecture.md`):
//! `source::cur` (CUR rows -> pools) -> `allocate::plan_pools` (driver units
//! needed) -> `source::logs` (events -> transactions, via `classify`) ->
//! `allocate::allocate` (exact split, conservation) -> `sink` (Parquet tables).
//! The library never reads the environment, never prints and never exits;
//! `main.rs` does those.

pub mod allocate;
pub mod calendar;
pub mod check;
pub mod classify;
pub mod config;
pub mod cost_basis;
pub mod error;
pub mod explain;
mod failpoint;
pub mod fast_path;
pub mod fingerprint;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod output;
pub mod pricing;
pub mod refresh;
pub mod report;
pub mod restatement;
pub mod run;
pub mod sample;
pub mod sink;
pub mod source;
pub mod storage;
#[cfg(test)]
mod test_rng;

pub use error::{Error, Result};

/// A hash map with a fast, non-cryptographic hasher (foldhash), for keys taken
/// from the input: a run is one batch job over one day's files, not a service
/// taking requests, so hash flooding is not a concern.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Progress of a long stage, for a terminal progress bar. The library calls it;
/// the binary decides whether anything is shown.
pub trait Progress: Sync {
    /// A stage starts with `total` units of work (bytes for logs).
    fn start(&self, stage: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The stage is over.
    fn finish(&self);
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
