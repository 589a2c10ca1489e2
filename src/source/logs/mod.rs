//! The log source (SPEC 2.4, 2.5): every day's log object streamed, every
//! line counted in one bucket, every event folded into its transaction.

mod athena;
mod athena_sql;
mod envelopes;
mod event;
mod json_scan;
mod lines;
mod reader;
mod shards;
mod uuid_table;

pub use athena_sql::fields as athena_fields;
pub use reader::{LogDay, LogReader, MALFORMED_SAMPLES};
