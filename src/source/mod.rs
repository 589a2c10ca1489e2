//! Sources: the stages that read inputs (CUR Parquet or Athena, application logs).

pub mod athena;
pub mod cur;
pub mod logs;
pub mod timestamps;
