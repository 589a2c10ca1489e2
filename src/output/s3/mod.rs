//! Publishing on an `s3://` output root through the Glue catalog.

mod catalog;
mod gc;
mod journal;
mod keys;
mod lease;
mod publish;
mod upload;

pub use publish::S3Root;
