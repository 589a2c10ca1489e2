//! Sinks: the stages that shape and write outputs.

mod list_leaf;
pub mod parquet;
pub mod tables;
