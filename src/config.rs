//! `costjob.toml` (SPEC 7): the file's shape, environment overrides
//! (`COSTJOB_<SECTION>_<KEY>`), and validation into a [`RunPlan`] before any data I/O.
//! Precedence, lowest first: built-in defaults, the file, the environment, CLI flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::classify::{Flow, FlowCatalog};
use crate::cost_basis::CostBasis;
use crate::model::TransactionType;
use crate::pricing::Pricing;
use crate::storage::Location;
use crate::{Error, Result};

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
    /// The flow catalog, in match order.
    #[serde(default, rename = "flow")]
    pub flows: Vec<FlowEntry>,
}

/// `[cur]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurSection {
    /// `local` (Parquet files) or `athena`.
    #[serde(default = "default_cur_source")]
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
    default_cur_source: String = "local";
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
    fn parse(value: &str) -> Option<Self> {
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
    /// Line item types not allocated.
    pub excluded_types: Vec<String>,
    /// Count corrupt gzip files instead of failing.
    pub allow_corrupt_input: bool,
    /// Publish a day without transactions or without CUR rows (SPEC 2.4).
    pub allow_empty: bool,
}

/// Reads `path`, applies the `COSTJOB_*`
/// environment entries and the flag overrides, and validates the result.
pub fn load(path: &Path, env: &BTreeMap<String, String>, overrides: &Overrides) -> Result<RunPlan> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(vec![format!(
            "{}: cannot read the configuration file: {e}",
            path.display()
        )])
    })?;
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut file: ConfigFile = toml::from_str(&text).map_err(|e| {
        Error::config(format!(
            "{}: {}",
            path.display(),
            e.to_string().trim_end().replace('\n', "\n    ")
        ))
    })?;
    let mut problems = Vec::new();
    let mut from_env = Vec::new();
    for (key, value) in env {
        // An empty `COSTJOB_*` variable is an error, whatever the setting: a
        // task definition's blank value is ambiguous, and must never quietly
        // mean "none" (an empty exclusion list would allocate Tax, Credit and
        // Refund) nor quietly mean "the file's value".
        if value.trim().is_empty() {
            problems.push(format!(
                "environment {key} is set but empty (an empty path, list or value): unset it to use the file's setting, or give a value"
            ));
            continue;
        }
        match apply_env(&mut file, key, value) {
            Ok(field) => from_env.push(field),
            Err(message) => problems.push(format!("environment {key}: {message}")),
        }
    }
    let resolve = |value: &str, field: &str| -> PathBuf {
        let p = PathBuf::from(value);
        if p.is_absolute() || from_env.iter().any(|f| f == field) {
            p
        } else {
            normalize(&base.join(p))
        }
    };
    // A path setting: an s3:// URL as is, a local path resolved like the others.
    let mut locate = |value: &str, field: &str| -> Location {
        match Location::parse(value) {
            Ok(Location::Local(_)) => Location::Local(resolve(value, field)),
            Ok(s3) => s3,
            Err(message) => {
                problems.push(format!(
                    "{}: [{}] path: {message}",
                    path.display(),
                    field.split('.').next().unwrap_or(field)
                ));
                Location::Local(PathBuf::new())
            }
        }
    };
    let cur_path = locate(&file.cur.path, "cur.path");
    let logs_path = locate(&file.logs.path, "logs.path");
    let output_root = match &overrides.output {
        Some(flag) => match Location::parse(flag) {
            Ok(location) => location,
            Err(message) => {
                problems.push(format!("--output: {message}"));
                Location::Local(PathBuf::new())
            }
        },
        None => locate(&file.output.path, "output.path"),
    };
    if cur_path.has_placeholders() {
        problems.push(format!(
            "{}: [cur] path: placeholders such as {{date}} are for [logs] path",
            path.display()
        ));
    }
    if output_root.has_placeholders() {
        problems.push(format!(
            "{}: [output] path: placeholders such as {{date}} are for [logs] path",
            path.display()
        ));
    }
    match (&output_root, &file.output.glue_database) {
        (Location::S3 { .. }, None) => problems.push(format!(
            "{}: [output] path is on S3 ({output_root}): set [output] glue_database, the Glue database whose tables readers query",
            path.display()
        )),
        (_, Some(db)) if !is_identifier(db) => problems.push(format!(
            "{}: [output] glue_database = {db:?}: expected a name matching ^[A-Za-z_][A-Za-z0-9_]*$",
            path.display()
        )),
        _ => {}
    }
    if !(MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&file.output.lease_seconds) {
        problems.push(format!(
            "{}: [output] lease_seconds = {}: from {MIN_LEASE_SECONDS} (the lease is renewed every third of it) to {MAX_LEASE_SECONDS} (a day: how long a crashed run's lease blocks the day)",
            path.display(),
            file.output.lease_seconds
        ));
    }
    if file.output.retain_superseded_hours > MAX_RETAIN_SUPERSEDED_HOURS {
        problems.push(format!(
            "{}: [output] retain_superseded_hours = {}: at most {MAX_RETAIN_SUPERSEDED_HOURS} (a year)",
            path.display(),
            file.output.retain_superseded_hours
        ));
    }
    if file.logs.max_line_bytes < 1024 {
        problems.push(format!(
            "{}: [logs] max_line_bytes = {}: at least 1024",
            path.display(),
            file.logs.max_line_bytes
        ));
    }
    if file.logs.max_objects_in_flight == Some(0) {
        problems.push(format!(
            "{}: [logs] max_objects_in_flight = 0: at least 1",
            path.display()
        ));
    }
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let at = |span: std::ops::Range<usize>| {
        if span.is_empty() {
            path.display().to_string()
        } else {
            format!("{}:{}", path.display(), line_of(span.start))
        }
    };

    let cur = match overrides.engine.as_deref().unwrap_or(&file.cur.source) {
        "local" => CurSource::Files(cur_path.clone()),
        "athena" => CurSource::Athena(athena_plan(&file.cur, path, &mut problems)),
        other => {
            problems.push(format!(
                "{}: [cur] source = {other:?}: expected \"local\" or \"athena\"",
                path.display()
            ));
            CurSource::Files(cur_path.clone())
        }
    };
    let log_format = LogFormat::parse(file.logs.format.get_ref()).unwrap_or_else(|| {
        problems.push(format!(
            "{}: [logs] format = {:?}: expected cloudwatch-export, firehose or jsonl",
            at(file.logs.format.span()),
            file.logs.format.get_ref()
        ));
        LogFormat::Jsonl
    });
    let fields = &file.logs.fields;
    for (name, pointer) in [
        ("transaction_id", &fields.transaction_id),
        ("service", &fields.service),
        ("flow", &fields.flow),
        ("transaction_type", &fields.transaction_type),
        ("route", &fields.route),
        ("status", &fields.status),
        ("duration_ms", &fields.duration_ms),
        ("usage", &fields.usage),
        ("timestamp", &fields.timestamp),
    ] {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            problems.push(format!(
                "{}: [logs.fields] {name} = {pointer:?}: a JSON pointer starts with '/'",
                path.display()
            ));
        }
    }
    let mut tag_columns: Vec<String> = Vec::new();
    let mut tag_keys: Vec<String> = Vec::new();
    for (name, key) in [
        ("transaction_type", &file.tags.transaction_type),
        ("flow", &file.tags.flow),
        ("service", &file.tags.service),
    ] {
        match crate::source::cur::tag_column(key) {
            Some(column) => {
                tag_keys.push(column.trim_start_matches("resource_tags_").to_string());
                tag_columns.push(column);
            }
            None => {
                problems.push(format!(
                    "{}: [tags] {name} = {key:?}: a tag key starts with \"user:\" or \"aws:\"",
                    path.display()
                ));
                tag_columns.push(String::new());
                tag_keys.push(String::new());
            }
        }
    }

    let mut flows = Vec::new();
    for entry in &file.flows {
        let name = entry.name.get_ref().trim().to_string();
        if name.is_empty() || name == crate::model::UNCLASSIFIED {
            problems.push(format!(
                "{}: flow name {name:?} is reserved or empty",
                at(entry.name.span())
            ));
        }
        if flows.iter().any(|f: &Flow| f.name == name) {
            problems.push(format!(
                "{}: flow {name:?} is defined twice",
                at(entry.name.span())
            ));
        }
        let mut routes = Vec::new();
        for pattern in &entry.routes {
            match Regex::new(pattern.get_ref()) {
                Ok(re) => routes.push(re),
                Err(e) => problems.push(format!(
                    "{}: flow {name:?}: route pattern {:?} is not a valid regular expression: {}",
                    at(pattern.span()),
                    pattern.get_ref(),
                    e.to_string().lines().last().unwrap_or_default()
                )),
            }
        }
        flows.push(Flow {
            name,
            transaction_type: entry.transaction_type,
            routes,
        });
    }
    if flows.is_empty() {
        problems.push(format!(
            "{}: no [[flow]] defined: the flow catalog is empty",
            path.display()
        ));
    }
    if flows.len() > FlowCatalog::MAX_FLOWS {
        problems.push(format!(
            "{}: {} [[flow]]s: the catalog holds at most {}",
            path.display(),
            flows.len(),
            FlowCatalog::MAX_FLOWS
        ));
    }

    let pricing_dir = resolve(&file.pricing.path, "pricing.path");
    let pricing = match Pricing::load(&pricing_dir) {
        Ok(pricing) => Some(pricing),
        Err(Error::Config(found)) => {
            problems.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    if !problems.is_empty() {
        return Err(Error::Config(problems));
    }
    Ok(RunPlan {
        dates: Vec::new(),
        cur,
        logs_path,
        max_line_bytes: file.logs.max_line_bytes as usize,
        max_objects_in_flight: file.logs.max_objects_in_flight.unwrap_or_else(|| {
            2 * std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        }),
        log_format,
        fields: file.logs.fields.clone(),
        tags: TagColumns {
            columns: tag_columns.try_into().expect("three tags"),
            map_keys: tag_keys.try_into().expect("three tags"),
        },
        output: Output {
            root: output_root,
            glue_database: file.output.glue_database.clone(),
            retain_superseded_hours: file.output.retain_superseded_hours,
            lease_seconds: file.output.lease_seconds,
        },
        pricing: pricing.expect("no problems means pricing loaded"),
        catalog: FlowCatalog::new(flows),
        cost_basis: overrides.cost_basis.unwrap_or(file.allocation.cost_basis),
        excluded_types: file.allocation.exclude_line_item_types.clone(),
        allow_corrupt_input: overrides.allow_corrupt_input,
        allow_empty: overrides.allow_empty,
    })
}

/// A Glue/Athena identifier costjob accepts (SPEC 2.7): `^[A-Za-z_][A-Za-z0-9_]*$`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `examples/../out` -> `out`: lexical, so it works for paths that do not exist yet.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

/// The `[cur]` Athena settings, every problem pushed with its key.
fn athena_plan(cur: &CurSection, path: &Path, problems: &mut Vec<String>) -> AthenaPlan {
    let mut identifier = |key: &str, value: &Option<String>| -> String {
        match value.as_deref() {
            Some(v) if is_identifier(v) => v.to_string(),
            Some(v) => {
                problems.push(format!(
                    "{}: [cur] {key} = {v:?}: an Athena identifier must match ^[A-Za-z_][A-Za-z0-9_]*$",
                    path.display()
                ));
                String::new()
            }
            None => {
                problems.push(format!(
                    "{}: [cur] {key} is required with source = \"athena\"",
                    path.display()
                ));
                String::new()
            }
        }
    };
    let database = identifier("database", &cur.database);
    let table = identifier("table", &cur.table);
    let workgroup = match cur.workgroup.as_deref() {
        // Workgroup names also allow '.' and '-' (AWS: [a-zA-Z0-9._-]{1,128}); they are
        // an API parameter, never spliced into SQL.
        Some(w)
            if (1..=128).contains(&w.len())
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
        {
            w.to_string()
        }
        Some(w) => {
            problems.push(format!(
                "{}: [cur] workgroup = {w:?}: expected 1 to 128 of [A-Za-z0-9._-]",
                path.display()
            ));
            String::new()
        }
        None => "primary".to_string(),
    };
    let output_location = match cur.output_location.as_deref().map(Location::parse) {
        Some(Ok(location @ Location::S3 { .. })) if !location.has_placeholders() => location,
        Some(Ok(_)) | Some(Err(_)) => {
            problems.push(format!(
                "{}: [cur] output_location = {:?}: expected an s3://bucket/prefix URL",
                path.display(),
                cur.output_location.as_deref().unwrap_or_default()
            ));
            Location::Local(PathBuf::new())
        }
        None => {
            problems.push(format!(
                "{}: [cur] output_location is required with source = \"athena\" (where UNLOAD writes)",
                path.display()
            ));
            Location::Local(PathBuf::new())
        }
    };
    if cur.query_timeout_s == 0 {
        problems.push(format!(
            "{}: [cur] query_timeout_s = 0: at least 1",
            path.display()
        ));
    }
    AthenaPlan {
        database,
        table,
        workgroup,
        output_location,
        query_timeout: std::time::Duration::from_secs(cur.query_timeout_s),
    }
}

/// Applies one `COSTJOB_<SECTION>_<KEY>` entry; returns the dotted key it set.
fn apply_env(file: &mut ConfigFile, key: &str, value: &str) -> std::result::Result<String, String> {
    let name = key
        .strip_prefix("COSTJOB_")
        .ok_or("not a COSTJOB_ variable")?
        .to_ascii_lowercase();
    let v = value.to_string();
    let f = &mut file.logs.fields;
    let target: &mut String = match name.as_str() {
        "cur_source" => &mut file.cur.source,
        "cur_path" => &mut file.cur.path,
        "cur_database" => file.cur.database.get_or_insert_default(),
        "cur_table" => file.cur.table.get_or_insert_default(),
        "cur_workgroup" => file.cur.workgroup.get_or_insert_default(),
        "cur_output_location" => file.cur.output_location.get_or_insert_default(),
        "cur_query_timeout_s" => {
            file.cur.query_timeout_s = value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?}: expected a whole number"))?;
            return Ok("cur.query_timeout_s".into());
        }
        "logs_path" => &mut file.logs.path,
        "logs_format" => {
            file.logs.format = Spanned::new(0..0, v);
            return Ok("logs.format".into());
        }
        "logs_fields_transaction_id" => &mut f.transaction_id,
        "logs_fields_service" => &mut f.service,
        "logs_fields_flow" => &mut f.flow,
        "logs_fields_transaction_type" => &mut f.transaction_type,
        "logs_fields_route" => &mut f.route,
        "logs_fields_status" => &mut f.status,
        "logs_fields_duration_ms" => &mut f.duration_ms,
        "logs_fields_usage" => &mut f.usage,
        "logs_fields_timestamp" => &mut f.timestamp,
        "tags_transaction_type" => &mut file.tags.transaction_type,
        "tags_flow" => &mut file.tags.flow,
        "tags_service" => &mut file.tags.service,
        "output_path" => &mut file.output.path,
        "output_glue_database" => file.output.glue_database.get_or_insert_default(),
        "output_retain_superseded_hours"
        | "output_lease_seconds"
        | "logs_max_objects_in_flight"
        | "logs_max_line_bytes" => {
            let n: u64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?}: expected a whole number"))?;
            match name.as_str() {
                "output_retain_superseded_hours" => file.output.retain_superseded_hours = n,
                "output_lease_seconds" => file.output.lease_seconds = n,
                "logs_max_line_bytes" => file.logs.max_line_bytes = n,
                _ => file.logs.max_objects_in_flight = Some(n as usize),
            }
            return Ok(name.replacen('_', ".", 1));
        }
        "pricing_path" => &mut file.pricing.path,
        "allocation_cost_basis" => {
            file.allocation.cost_basis = CostBasis::parse(value).ok_or_else(|| {
                format!("{value:?}: expected unblended, amortized or net-amortized")
            })?;
            return Ok("allocation.cost_basis".into());
        }
        "allocation_exclude_line_item_types" => {
            file.allocation.exclude_line_item_types = value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            return Ok("allocation.exclude_line_item_types".into());
        }
        _ => return Err("no such setting (see the configuration reference in README.md)".into()),
    };
    *target = v;
    let (section, rest) = name.split_once('_').unwrap_or((&name, ""));
    let dotted = if section == "logs" && rest.starts_with("fields_") {
        format!("logs.fields.{}", &rest[7..])
    } else {
        format!("{section}.{rest}")
    };
    Ok(dotted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_normalized() {
        assert_eq!(
            normalize(Path::new("examples/../out")),
            PathBuf::from("out")
        );
        assert_eq!(
            normalize(Path::new("../pricing")),
            PathBuf::from("../pricing")
        );
        assert_eq!(normalize(Path::new("a/./b/../../..")), PathBuf::from(".."));
        assert_eq!(normalize(Path::new("examples/..")), PathBuf::from("."));
    }

    #[test]
    fn env_keys_map_to_sections() {
        let mut file = ConfigFile::default();
        assert_eq!(
            apply_env(&mut file, "COSTJOB_OUTPUT_PATH", "/tmp/x").unwrap(),
            "output.path"
        );
        assert_eq!(file.output.path, "/tmp/x");
        apply_env(
            &mut file,
            "COSTJOB_ALLOCATION_EXCLUDE_LINE_ITEM_TYPES",
            "Tax, Credit",
        )
        .unwrap();
        assert_eq!(file.allocation.exclude_line_item_types, ["Tax", "Credit"]);
        assert!(apply_env(&mut file, "COSTJOB_ALLOCATION_COST_BASIS", "blended").is_err());
        assert!(apply_env(&mut file, "COSTJOB_NOPE", "1").is_err());
        assert_eq!(
            apply_env(&mut file, "COSTJOB_LOGS_FIELDS_SERVICE", "/svc").unwrap(),
            "logs.fields.service"
        );
    }
}
