//! `costjob.toml` (SPEC 7): the file's shape, environment overrides
//! (`COSTJOB_<SECTION>_<KEY>`), and validation into a [`RunPlan`] before any data I/O.
//! Precedence, lowest first: built-in defaults, the file, the environment, CLI flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

use super::env::apply_env;
use super::file::{
    ConfigFile, CurSection, FieldsSection, FlowEntry, MAX_LEASE_SECONDS,
    MAX_RETAIN_SUPERSEDED_HOURS, MIN_LEASE_SECONDS, TagsSection,
};
use super::plan::{AthenaPlan, CurSource, LogFormat, Output, Overrides, RunPlan, TagColumns};
use crate::calendar::Calendar;
use crate::classify::{Flow, FlowCatalog};
use crate::pricing::Pricing;
use crate::storage::Location;
use crate::{Error, Result};

/// Reads `path`, applies the `COSTJOB_*`
/// environment entries and the flag overrides, and validates the result.
pub fn load(path: &Path, env: &BTreeMap<String, String>, overrides: &Overrides) -> Result<RunPlan> {
    let (text, mut file) = read_file(path)?;
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut problems = Vec::new();
    let from_env = apply_environment(&mut file, env, &mut problems);
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
    check_settings(&file, path, &cur_path, &output_root, &mut problems);
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let at = |span: std::ops::Range<usize>| {
        if span.is_empty() {
            path.display().to_string()
        } else {
            format!("{}:{}", path.display(), line_of(span.start))
        }
    };
    let (cur, logs_athena) = sources(&file, overrides, &cur_path, path, &mut problems);
    let log_format = LogFormat::parse(file.logs.format.get_ref()).unwrap_or_else(|| {
        problems.push(format!(
            "{}: [logs] format = {:?}: expected cloudwatch-export, firehose or jsonl",
            at(file.logs.format.span()),
            file.logs.format.get_ref()
        ));
        LogFormat::Jsonl
    });
    check_fields(&file.logs.fields, path, &mut problems);
    let tags = tag_columns(&file.tags, path, &mut problems);
    let flows = flow_list(&file.flows, path, &at, &mut problems);
    let calendar = calendar(&file.calendar.timezone, path, &mut problems);
    let accounts = scope(&file.cur.accounts, path, &mut problems);
    let pricing = load_pricing(&resolve(&file.pricing.path, "pricing.path"), &mut problems)?;
    if !problems.is_empty() {
        blame_environment(&mut problems, path, &from_env);
        return Err(Error::Config(problems));
    }
    let mut plan = RunPlan {
        dates: Vec::new(),
        config_sha256: String::new(),
        refresh: file.refresh,
        cur,
        logs_path,
        max_line_bytes: file.logs.max_line_bytes as usize,
        max_objects_in_flight: (file.logs.max_objects_in_flight)
            .unwrap_or_else(|| 2 * std::thread::available_parallelism().map_or(2, |n| n.get())),
        log_format,
        logs_athena,
        fields: file.logs.fields.clone(),
        tags,
        output: Output {
            root: output_root,
            glue_database: file.output.glue_database.clone(),
            retain_superseded_hours: file.output.retain_superseded_hours,
            lease_seconds: file.output.lease_seconds,
        },
        pricing: pricing.expect("no problems means pricing loaded"),
        catalog: FlowCatalog::new(flows),
        cost_basis: overrides.cost_basis.unwrap_or(file.allocation.cost_basis),
        calendar,
        excluded_types: file.allocation.exclude_line_item_types.clone(),
        success_statuses: file.allocation.success_statuses.clone(),
        accounts,
        allow_corrupt_input: overrides.allow_corrupt_input,
        allow_empty: overrides.allow_empty,
    };
    plan.config_sha256 = allocation_settings_sha256(&plan);
    Ok(plan)
}

/// SHA-256 of the settings that change what a day's tables say (SPEC
/// 12.2's `config_sha256`; not where they are read or written, or how
/// fast), each written out by name in a fixed order.
fn allocation_settings_sha256(plan: &RunPlan) -> String {
    let flows: Vec<String> = (plan.catalog.flows().iter())
        .map(|f| {
            let routes: Vec<&str> = f.routes.iter().map(Regex::as_str).collect();
            format!(
                "{}|{}|{}",
                f.name,
                f.transaction_type.as_str(),
                routes.join("|")
            )
        })
        .collect();
    let text = serde_json::json!({
        "cost_basis": plan.cost_basis.as_str(),
        "calendar_timezone": plan.calendar.name(),
        "accounts": plan.accounts,
        "exclude_line_item_types": plan.excluded_types,
        "success_statuses": plan.success_statuses,
        "tag_columns": plan.tags.columns,
        "tag_map_keys": plan.tags.map_keys,
        "log_format": format!("{:?}", plan.log_format),
        "fields": format!("{:?}", plan.fields),
        "max_line_bytes": plan.max_line_bytes,
        "flows": flows,
    });
    let digest = <sha2::Sha256 as sha2::Digest>::digest(text.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The accounts of `[cur] accounts` (SPEC 12.3), trimmed; one that is not
/// a 12-digit id is a problem.
fn scope(accounts: &[String], path: &Path, problems: &mut Vec<String>) -> Vec<String> {
    for account in accounts {
        let id = account.trim();
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            problems.push(format!(
                "{}: [cur] accounts: {account:?} is not a 12-digit AWS account id",
                path.display()
            ));
        }
    }
    accounts.iter().map(|a| a.trim().to_string()).collect()
}

/// The calendar of `[calendar] timezone`; a name that is not an IANA zone
/// is a problem (UTC then).
fn calendar(timezone: &str, path: &Path, problems: &mut Vec<String>) -> Calendar {
    Calendar::parse(timezone.trim()).unwrap_or_else(|| {
        problems.push(format!(
            "{}: [calendar] timezone = {timezone:?}: not an IANA time zone (such as \"UTC\" or \"America/Guayaquil\")",
            path.display(),
        ));
        Calendar::default()
    })
}

/// The pricing models, their problems added to the configuration's (`None` then).
fn load_pricing(dir: &Path, problems: &mut Vec<String>) -> Result<Option<Pricing>> {
    match Pricing::load(dir) {
        Ok(pricing) => Ok(Some(pricing)),
        Err(Error::Config(found)) => {
            problems.extend(found);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// Where the CUR and the logs are read (`--engine`, `--logs-engine` before the file).
fn sources(
    file: &ConfigFile,
    overrides: &Overrides,
    cur_path: &Location,
    path: &Path,
    problems: &mut Vec<String>,
) -> (CurSource, Option<AthenaPlan>) {
    let engine = overrides.engine.as_deref().unwrap_or(&file.cur.source);
    let cur = cur_source(engine, &file.cur, cur_path, path, problems);
    let logs_engine = (overrides.logs_engine.as_deref()).unwrap_or(&file.logs.source);
    let logs = logs_athena(logs_engine, file, &cur, path, problems);
    (cur, logs)
}

/// Where the logs are read: `[logs] source` (or `--logs-engine`), `local`
/// (`None`) or `athena` (SPEC 14: `[logs]` database and table, `[cur]`'s
/// workgroup and output location).
fn logs_athena(
    engine: &str,
    file: &ConfigFile,
    cur: &CurSource,
    path: &Path,
    problems: &mut Vec<String>,
) -> Option<AthenaPlan> {
    match engine {
        "local" => None,
        "athena" => {
            let (database, table) = athena_table(
                "logs",
                &file.logs.database,
                &file.logs.table,
                path,
                problems,
            );
            // The workgroup and output location are [cur]'s; their problems
            // are said once when the CUR goes through Athena too.
            let mut shared = Vec::new();
            let plan = athena_run(&file.cur, database, table, path, &mut shared);
            if !matches!(cur, CurSource::Athena(_)) {
                problems.extend(shared);
            }
            Some(plan)
        }
        other => {
            problems.push(format!(
                "{}: [logs] source = {other:?}: expected \"local\" or \"athena\"",
                path.display()
            ));
            None
        }
    }
}

/// Where the CUR is read: `[cur] source` (or `--engine`), `local` or `athena`.
fn cur_source(
    engine: &str,
    cur: &CurSection,
    cur_path: &Location,
    path: &Path,
    problems: &mut Vec<String>,
) -> CurSource {
    match engine {
        "local" => CurSource::Files(cur_path.clone()),
        "athena" => CurSource::Athena(athena_plan(cur, path, problems)),
        other => {
            problems.push(format!(
                "{}: [cur] source = {other:?}: expected \"local\" or \"athena\"",
                path.display()
            ));
            CurSource::Files(cur_path.clone())
        }
    }
}

/// The file's text and its parse (a missing file or a TOML error is exit 2).
fn read_file(path: &Path) -> Result<(String, ConfigFile)> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(vec![format!(
            "{}: cannot read the configuration file: {e}",
            path.display()
        )])
    })?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| {
        Error::config(format!(
            "{}: {}",
            path.display(),
            e.to_string().trim_end().replace('\n', "\n    ")
        ))
    })?;
    Ok((text, file))
}

/// Applies every `COSTJOB_*` entry over the file; returns the dotted keys set
/// (their paths are taken as given, not relative to the file).
fn apply_environment(
    file: &mut ConfigFile,
    env: &BTreeMap<String, String>,
    problems: &mut Vec<String>,
) -> Vec<String> {
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
        match apply_env(file, key, value) {
            Ok(field) => from_env.push(field),
            Err(message) => problems.push(format!("environment {key}: {message}")),
        }
    }
    from_env
}

/// A problem with a setting the environment gave (`COSTJOB_<SECTION>_<KEY>`)
/// is the environment's, not the file's: `costjob.toml: [logs] format =
/// "csv"` becomes `environment COSTJOB_LOGS_FORMAT: [logs] format = "csv"`.
fn blame_environment(problems: &mut [String], path: &Path, from_env: &[String]) {
    let file = format!("{}: [", path.display());
    for problem in problems.iter_mut() {
        let Some(rest) = problem.strip_prefix(&file) else {
            continue;
        };
        let Some((section, after)) = rest.split_once("] ") else {
            continue;
        };
        let key: String = (after.chars())
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let dotted = format!("{section}.{key}");
        if from_env.contains(&dotted) {
            let variable = format!("COSTJOB_{}", dotted.replace('.', "_").to_ascii_uppercase());
            *problem = format!("environment {variable}: [{rest}");
        }
    }
}

/// The settings' own checks: placeholders only where they belong, the Glue
/// database an S3 root needs, and the numbers' bounds.
fn check_settings(
    file: &ConfigFile,
    path: &Path,
    cur_path: &Location,
    output_root: &Location,
    problems: &mut Vec<String>,
) {
    if file.allocation.success_statuses.is_empty() {
        problems.push(format!(
            "{}: [allocation] success_statuses is empty: list the final statuses of a successful transaction, such as [\"OK\"]",
            path.display()
        ));
    }
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
    if file.refresh.max_days == 0 || file.refresh.lookback_days == 0 {
        problems.push(format!(
            "{}: [refresh] lookback_days and max_days must be at least 1",
            path.display()
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
}

/// Every `[logs.fields]` entry is a JSON pointer.
fn check_fields(fields: &FieldsSection, path: &Path, problems: &mut Vec<String>) {
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
}

/// The CUR columns (and CUR 2.0 map keys) of the three tag keys.
fn tag_columns(tags: &TagsSection, path: &Path, problems: &mut Vec<String>) -> TagColumns {
    let mut tag_columns: Vec<String> = Vec::new();
    let mut tag_keys: Vec<String> = Vec::new();
    for (name, key) in [
        ("transaction_type", &tags.transaction_type),
        ("flow", &tags.flow),
        ("service", &tags.service),
    ] {
        match crate::config::tag_column(key) {
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
    TagColumns {
        columns: tag_columns.try_into().expect("three tags"),
        map_keys: tag_keys.try_into().expect("three tags"),
    }
}

/// The flow catalog's entries, each name unique and every route a regular expression.
fn flow_list(
    entries: &[FlowEntry],
    path: &Path,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
    problems: &mut Vec<String>,
) -> Vec<Flow> {
    let mut flows = Vec::new();
    for entry in entries {
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
    flows
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
    let (database, table) = athena_table("cur", &cur.database, &cur.table, path, problems);
    athena_run(cur, database, table, path, problems)
}

/// A section's `database` and `table`: Athena identifiers, both required.
fn athena_table(
    section: &str,
    database: &Option<String>,
    table: &Option<String>,
    path: &Path,
    problems: &mut Vec<String>,
) -> (String, String) {
    let mut identifier = |key: &str, value: &Option<String>| -> String {
        match value.as_deref() {
            Some(v) if is_identifier(v) => v.to_string(),
            Some(v) => {
                problems.push(format!(
                    "{}: [{section}] {key} = {v:?}: an Athena identifier must match ^[A-Za-z_][A-Za-z0-9_]*$",
                    path.display()
                ));
                String::new()
            }
            None => {
                problems.push(format!(
                    "{}: [{section}] {key} is required with source = \"athena\"",
                    path.display()
                ));
                String::new()
            }
        }
    };
    (identifier("database", database), identifier("table", table))
}

/// The Athena plan of a table: `[cur]`'s workgroup, output location and timeout.
fn athena_run(
    cur: &CurSection,
    database: String,
    table: String,
    path: &Path,
    problems: &mut Vec<String>,
) -> AthenaPlan {
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
