//! Fuzz target: the CUR row reader on one Parquet file. See `fuzz/checks.rs`.
#![no_main]

#[allow(dead_code)] // each target uses one of the checks
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cur_parquet(data));
