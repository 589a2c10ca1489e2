//! Sources: the stages that read inputs (CUR Parquet, application logs).

pub mod cur;
pub mod files;
pub mod logs;
