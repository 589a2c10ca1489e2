//! `costjob sample`: realistic demo and benchmark inputs for one day, the
//! CUR's hourly usage lines a data file (`hourly_usage.csv`).

mod generate;

pub use generate::{SampleSpec, SampleSummary, generate};
