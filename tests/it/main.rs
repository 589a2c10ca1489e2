//! The integration test binary: one module per area. CLI tests run the real
//! `costjob` binary in a fresh temporary directory; fixtures live in `tests/data/`.

mod allocation;
mod athena;
mod bad_input;
mod calendar;
mod cli;
mod config;
#[cfg(feature = "failpoints")]
mod fast_paths;
mod finance;
mod fuzz_corpus;
mod golden;
mod helpers;
mod logs;
mod metrics;
mod parquet;
#[cfg(feature = "failpoints")]
mod publish;
mod real_cur;
mod refresh;
mod report_html;
mod s3;
