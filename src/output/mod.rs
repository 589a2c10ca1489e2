//! Outputs: where published days live (a directory or an `s3://` root read
//! through Glue), behind one [`Publisher`], and reading them back.

pub mod local;
mod publisher;
pub mod read;
mod s3;

pub use publisher::{DayHold, Publisher, RUN_REPORTS, Recovery, Taken, root};
pub use read::{
    BatchExt, not_published, read_day, read_day_columns, read_partition, read_published,
};
pub use s3::S3Root;
