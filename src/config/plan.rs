//! The validated plan a run follows: what the configuration means once every
//! path is resolved and every value checked, before any data I/O.

use crate::calendar::Calendar;
use chrono::NaiveDate;

use super::file::FieldsSection;
use crate::classify::FlowCatalog;
use crate::cost_basis::CostBasis;
use crate::pricing::Pricing;
use crate::storage::Location;

/// The envelope the log events arrive in (SPEC 2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `<timestamp> <message>` per line, from `CreateExportTask`.
    CloudwatchExport,
    /// Concatenated CloudWatch Logs subscription records, via Firehose.
    Firehose,
    /// One event JSON per line.
    Jsonl,
}

impl LogFormat {
    pub(super) fn parse(value: &str) -> Option<Self> {
        match value {
            "cloudwatch-export" => Some(Self::CloudwatchExport),
            "firehose" => Some(Self::Firehose),
            "jsonl" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// The CUR columns (CUR 1.0) and map keys (CUR 2.0) of the three allocation tags.
#[derive(Debug, Clone)]
pub struct TagColumns {
    /// CUR 1.0 column names: transaction type, flow, service.
    pub columns: [String; 3],
    /// CUR 2.0 `resource_tags` map keys, same order.
    pub map_keys: [String; 3],
}

/// Where the day's CUR rows come from (SPEC 2.1, 2.7).
#[derive(Debug, Clone)]
pub enum CurSource {
    /// Parquet files under a local path or an `s3://` prefix.
    Files(Location),
    /// One Athena UNLOAD per day.
    Athena(AthenaPlan),
}

/// The Athena engine's settings, validated: identifiers match
/// `^[A-Za-z_][A-Za-z0-9_]*$`, the output location is `s3://`.
#[derive(Debug, Clone)]
pub struct AthenaPlan {
    pub database: String,
    pub table: String,
    pub workgroup: String,
    pub output_location: Location,
    pub query_timeout: std::time::Duration,
}

/// Command-line settings that override the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--cost-basis`
    pub cost_basis: Option<CostBasis>,
    /// `--output`
    pub output: Option<String>,
    /// `--allow-corrupt-input`
    pub allow_corrupt_input: bool,
    /// `--allow-empty`
    pub allow_empty: bool,
    /// `--engine`: `local` or `athena` (overrides `[cur] source`).
    pub engine: Option<String>,
    /// `--logs-engine`: `local` or `athena` (overrides `[logs] source`).
    pub logs_engine: Option<String>,
}

/// Where the tables go.
#[derive(Debug, Clone)]
pub struct Output {
    /// The root: a local directory or an S3 prefix.
    pub root: Location,
    /// S3: the Glue database of the output tables.
    pub glue_database: Option<String>,
    /// S3: how long superseded runs are kept.
    pub retain_superseded_hours: u64,
    /// S3: how long a lease lives without its holder.
    pub lease_seconds: u64,
}

/// Everything a run needs, validated: built once, before any data is read.
#[derive(Debug)]
pub struct RunPlan {
    /// The days to compute, in order.
    pub dates: Vec<NaiveDate>,
    /// CUR Parquet: a local directory, file or glob, or an S3 prefix.
    pub cur: CurSource,
    /// Log directory or S3 prefix, possibly with `{date}` placeholders.
    pub logs_path: Location,
    /// S3 log objects read at once.
    pub max_objects_in_flight: usize,
    /// Longest log line read.
    pub max_line_bytes: usize,
    /// Log envelope.
    pub log_format: LogFormat,
    /// SPEC 14: the logs read through Athena (`[logs] database` and
    /// `table`, `[cur]`'s workgroup and output location); `None`: read here.
    pub logs_athena: Option<AthenaPlan>,
    /// JSON pointers into events.
    pub fields: FieldsSection,
    /// Allocation tag columns.
    pub tags: TagColumns,
    /// Output root, and for S3 how it is published.
    pub output: Output,
    /// The pricing models.
    pub pricing: Pricing,
    /// The flow catalog.
    pub catalog: FlowCatalog,
    /// Cost basis.
    pub cost_basis: CostBasis,
    /// Whose days (`[calendar] timezone`).
    pub calendar: Calendar,
    /// Line item types not allocated.
    pub excluded_types: Vec<String>,
    /// The final statuses of a successful transaction.
    pub success_statuses: Vec<String>,
    /// The accounts allocated (empty: every account; SPEC 12.3).
    pub accounts: Vec<String>,
    /// Count corrupt gzip files instead of failing.
    pub allow_corrupt_input: bool,
    /// Publish a day without transactions or without CUR rows (SPEC 2.4).
    pub allow_empty: bool,
    /// SHA-256 of the settings that change the allocation (SPEC 12.2).
    pub config_sha256: String,
    /// Which days `refresh` brings up to date.
    pub refresh: super::file::RefreshSection,
}
