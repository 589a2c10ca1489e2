//! Sinks: the stages that shape and write outputs.

mod labels;
pub mod parquet;
pub mod publish;
pub mod publish_s3;
pub mod tables;
