//! The shape of `costjob.toml` (SPEC 7): every section and key, with its
//! default, as serde reads it (`deny_unknown_fields`: a misspelt key is an error).

use serde::Deserialize;
use toml::Spanned;

use crate::cost_basis::CostBasis;
use crate::model::TransactionType;

/// The whole configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where the Cost and Usage Report rows come from.
    #[serde(default)]
    pub cur: CurSection,
    /// Where the application logs are and how to read them.
    #[serde(default)]
    pub logs: LogsSection,
    /// The cost allocation tag keys, as activated in the billing console.
    #[serde(default)]
    pub tags: TagsSection,
    /// Where the output tables go.
    #[serde(default)]
    pub output: OutputSection,
    /// Where the pricing models are.
    #[serde(default)]
    pub pricing: PricingSection,
    /// How costs are computed and which line item types are left out.
    #[serde(default)]
    pub allocation: AllocationSection,
    /// Whose days: the time zone of day D (SPEC 12.1).
    #[serde(default)]
    pub calendar: CalendarSection,
    /// Which days `costjob refresh` brings up to date (SPEC 12.2).
    #[serde(default)]
    pub refresh: RefreshSection,
    /// The flow catalog, in match order.
    #[serde(default, rename = "flow")]
    pub flows: Vec<FlowEntry>,
}

/// `[cur]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurSection {
    /// `local` (Parquet files) or `athena`.
    #[serde(default = "default_engine")]
    pub source: String,
    /// Local: a directory (searched recursively for `*.parquet`), a single file, a
    /// glob, or an `s3://bucket/prefix` (the Data Exports bucket read directly).
    #[serde(default = "default_cur_path")]
    pub path: String,
    /// Athena: the Glue database holding the CUR table.
    pub database: Option<String>,
    /// Athena: the CUR table.
    pub table: Option<String>,
    /// Athena: the workgroup queries run in.
    pub workgroup: Option<String>,
    /// Athena: the `s3://` location UNLOAD writes under (`unload/<run_id>/`).
    pub output_location: Option<String>,
    /// Athena: how long a query may run before it is stopped.
    #[serde(default = "default_query_timeout_s")]
    pub query_timeout_s: u64,
    /// The accounts whose costs are allocated (12-digit ids; empty: every
    /// account). Other accounts' rows are out of scope (SPEC 12.3).
    #[serde(default)]
    pub accounts: Vec<String>,
}

/// `[logs]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsSection {
    /// A directory of log files (searched recursively) or an `s3://bucket/prefix`;
    /// `{date}`, `{yyyy}`, `{mm}`, `{dd}` name the day being run.
    #[serde(default = "default_logs_path")]
    pub path: String,
    /// S3 objects read at once (each streamed through a bounded buffer); default 2 x cores.
    pub max_objects_in_flight: Option<usize>,
    /// Longest line read (SPEC 2.4); a longer one is counted `oversized` and skipped.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: u64,
    /// `cloudwatch-export`, `firehose` or `jsonl`.
    #[serde(default = "default_logs_format")]
    pub format: Spanned<String>,
    /// Who reads the logs (SPEC 14): `local` (this task streams every object)
    /// or `athena` (one UNLOAD a day over `database`.`table`, in `[cur]`'s
    /// workgroup and output location; this task only lists the objects).
    #[serde(default = "default_engine")]
    pub source: String,
    /// Athena: the Glue database of the logs table.
    pub database: Option<String>,
    /// Athena: the logs table (`sql/logs_table.sql`).
    pub table: Option<String>,
    /// JSON pointers to the event's fields.
    #[serde(default)]
    pub fields: FieldsSection,
}

/// `[logs.fields]`: JSON pointers (RFC 6901) into each event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldsSection {
    /// The transaction identifier (required in every event that counts).
    #[serde(default = "ptr_transaction_id")]
    pub transaction_id: String,
    /// The microservice that wrote the event (required).
    #[serde(default = "ptr_service")]
    pub service: String,
    /// The flow name (optional).
    #[serde(default = "ptr_flow")]
    pub flow: String,
    /// `monetary` / `non-monetary` as the service saw it (optional).
    #[serde(default = "ptr_transaction_type")]
    pub transaction_type: String,
    /// The HTTP route or message name (optional).
    #[serde(default = "ptr_route")]
    pub route: String,
    /// The outcome (optional).
    #[serde(default = "ptr_status")]
    pub status: String,
    /// Work time in milliseconds (optional, default 0).
    #[serde(default = "ptr_duration_ms")]
    pub duration_ms: String,
    /// An object of non-negative integer usage counters (optional).
    #[serde(default = "ptr_usage")]
    pub usage: String,
    /// The event's own time, used when the envelope has none.
    #[serde(default = "ptr_timestamp")]
    pub timestamp: String,
}

/// `[tags]`: cost allocation tag keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsSection {
    /// Tag holding `monetary` / `non-monetary`.
    #[serde(default = "tag_transaction_type")]
    pub transaction_type: String,
    /// Tag holding the flow name.
    #[serde(default = "tag_flow")]
    pub flow: String,
    /// Tag holding the microservice name.
    #[serde(default = "tag_service")]
    pub service: String,
}

/// `[output]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// The output root: a directory or an `s3://bucket/prefix`.
    #[serde(default = "default_output_path")]
    pub path: String,
    /// S3 only: the Glue database whose tables (partitioned by `dt`, no
    /// projection) point at each day's published run (SPEC 5.1).
    pub glue_database: Option<String>,
    /// S3 only: hours a superseded run's files are kept (longer than any query).
    #[serde(default = "default_retain_superseded_hours")]
    pub retain_superseded_hours: u64,
    /// S3 only: seconds after which a crashed run's lease on a day may be taken over.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
}

/// `[pricing]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingSection {
    /// The directory of pricing model files (SPEC 3).
    #[serde(default = "default_pricing_path")]
    pub path: String,
}

/// `[allocation]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationSection {
    /// `unblended`, `amortized` or `net-amortized`.
    #[serde(default)]
    pub cost_basis: CostBasis,
    /// Line item types reported as excluded instead of allocated.
    #[serde(default = "default_excluded")]
    pub exclude_line_item_types: Vec<String>,
    /// The final statuses of a successful transaction (`flow_summary`'s
    /// `successful_transactions` and `cost_per_success_usd`).
    #[serde(default = "default_success_statuses")]
    pub success_statuses: Vec<String>,
}

/// `[refresh]`
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshSection {
    /// How far back the open books may reach: the window starts no earlier
    /// than this many days before today.
    #[serde(default = "default_lookback_days")]
    pub lookback_days: u32,
    /// How long a day with no CUR row or no transaction yet is `waiting`
    /// (not a failure), in days after it ended.
    #[serde(default = "default_grace_days")]
    pub grace_days: u32,
    /// The most days one invocation runs (oldest first); the rest wait for the next.
    #[serde(default = "default_max_days")]
    pub max_days: u32,
}

fn default_lookback_days() -> u32 {
    62
}
fn default_grace_days() -> u32 {
    2
}
fn default_max_days() -> u32 {
    62
}

impl Default for RefreshSection {
    fn default() -> Self {
        Self {
            lookback_days: default_lookback_days(),
            grace_days: default_grace_days(),
            max_days: default_max_days(),
        }
    }
}

/// `[calendar]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSection {
    /// The IANA time zone whose midnights bound day D, for the CUR's usage
    /// periods and the log events alike (deuna: `America/Guayaquil`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

impl Default for CalendarSection {
    fn default() -> Self {
        Self {
            timezone: default_timezone(),
        }
    }
}

/// One `[[flow]]` of the catalog.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowEntry {
    /// The flow's name, as tagged and logged (`pago`).
    pub name: Spanned<String>,
    /// `monetary` or `non-monetary`.
    pub transaction_type: TransactionType,
    /// Unanchored regular expressions matched against an event's route.
    #[serde(default)]
    pub routes: Vec<Spanned<String>>,
}

macro_rules! defaults {
    ($($name:ident: $ty:ty = $value:expr;)*) => { $(fn $name() -> $ty { $value.into() })* };
}
defaults! {
    default_engine: String = "local";
    default_timezone: String = "UTC";
    default_cur_path: String = "data/cur";
    default_logs_path: String = "data/logs";
    default_output_path: String = "out";
    default_pricing_path: String = "pricing";
    ptr_transaction_id: String = "/transaction_id";
    ptr_service: String = "/service";
    ptr_flow: String = "/flow";
    ptr_transaction_type: String = "/transaction_type";
    ptr_route: String = "/route";
    ptr_status: String = "/status";
    ptr_duration_ms: String = "/duration_ms";
    ptr_usage: String = "/usage";
    ptr_timestamp: String = "/timestamp";
    tag_transaction_type: String = "user:transaction-type";
    tag_flow: String = "user:flow";
    tag_service: String = "aws:ecs:serviceName";
}
fn default_retain_superseded_hours() -> u64 {
    6
}
/// Bounds of `[output] lease_seconds`.
pub const MIN_LEASE_SECONDS: u64 = 60;
pub const MAX_LEASE_SECONDS: u64 = 86_400;
/// The bound of `[output] retain_superseded_hours` (a year; none would overflow the clock arithmetic).
pub const MAX_RETAIN_SUPERSEDED_HOURS: u64 = 8_760;

fn default_lease_seconds() -> u64 {
    900
}
fn default_query_timeout_s() -> u64 {
    1800
}
fn default_max_line_bytes() -> u64 {
    1 << 20
}
fn default_logs_format() -> Spanned<String> {
    Spanned::new(0..0, "cloudwatch-export".into())
}
fn default_success_statuses() -> Vec<String> {
    vec!["OK".to_string()]
}

fn default_excluded() -> Vec<String> {
    ["Tax", "Credit", "Refund"].map(String::from).to_vec()
}

macro_rules! impl_default_via_serde {
    ($($ty:ty),*) => { $(impl Default for $ty {
        fn default() -> Self { toml::from_str("").expect("all fields have defaults") }
    })* };
}
impl_default_via_serde!(
    CurSection,
    LogsSection,
    FieldsSection,
    TagsSection,
    OutputSection,
    PricingSection,
    AllocationSection
);
