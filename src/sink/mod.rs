//! Sinks: the stages that shape and write outputs.

mod list_leaf;
pub mod parquet;
pub mod publish;
pub mod publish_s3;
pub mod tables;
