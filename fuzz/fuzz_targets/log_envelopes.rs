//! Fuzz target: the log envelope parsers (CloudWatch export, Firehose, JSON
//! lines) on one file, gzip or not. See `fuzz/checks.rs`.
#![no_main]

#[allow(dead_code)] // each target uses one of the checks
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::log_envelopes(data));
