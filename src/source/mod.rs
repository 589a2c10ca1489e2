//! Sources: the stages that read inputs (CUR Parquet or Athena, application logs).

pub mod athena;
pub mod cur;
pub mod files;
pub mod logs;
mod scan;
mod uuid_table;
