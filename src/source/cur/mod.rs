//! The CUR source (SPEC 2.1, 2.7): one trait, [`CurEngine`], and its two
//! engines, Parquet files (local or S3) and Athena, which give the same pools.

pub mod athena;
mod engine;
mod parquet;

pub use engine::{CurEngine, read_files, read_parquet_bytes};
pub use parquet::{CurScan, RowRules};
