//! The Athena log engine's query (SPEC 14): one `UNLOAD` that reads a day's
//! lines from the logs table (`sql/logs_table.sql`: a line a row, the day a
//! partition) and computes, per transaction, what [`super::LogReader`]
//! computes, by the same rules (SPEC 2.4, 2.5), plus every line's counter.
//! Pure: text from the plan, the flow catalog and the unit keys.
//!
//! What reaches the SQL from configuration is checked and quoted: database
//! and table are identifiers (double-quoted); field pointers and usage
//! counters are member names (`^[A-Za-z_][A-Za-z0-9_]*$`, in JSON paths);
//! service names, route patterns and dates are string literals with every
//! `'` doubled, and numbers are formatted by costjob.
//!
//! The rows unloaded (one schema, `row_kind` says which):
//! - `transaction`: `transaction_id`, the earliest non-empty `flow` (ties: the
//!   smaller), the number of the catalog flow the earliest matching route
//!   names (`route_flow`), the latest non-empty `status` (ties: the larger),
//!   `first_ms`, `last_ms`, `events`, `duration_ms`, the explicit types
//!   counted (`monetary`, `non_monetary`, `other_type`) and `u<key>` per unit key;
//! - `counter`: `detail` names a counter of [`crate::model::LogCounters`], `events` its value;
//! - `malformed` (the first 20 by file) and `unused` (the first): `file`, `detail`;
//! - `corrupt`: a file with a line that is not a subscription record;
//! - `file`: each object the table read (`file`) and its lines (`events`).

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::classify::FlowCatalog;
use crate::config::{AthenaPlan, FieldsSection, LogFormat, is_identifier};
use crate::pricing::{Driver, UnitKeys};
use crate::source::athena::checked_target;
use crate::storage::Location;
use crate::{Error, Result};

/// What the query computes for one day.
pub struct LogQuery<'a> {
    pub format: LogFormat,
    pub fields: &'a FieldsSection,
    pub catalog: &'a FlowCatalog,
    pub keys: &'a UnitKeys,
    /// The day's window in epoch milliseconds (`[calendar] timezone`).
    pub day_ms: std::ops::Range<i64>,
    /// The partitions read (the UTC dates of the day's folders).
    pub partitions: Vec<NaiveDate>,
    /// The table's partition key, when it has one.
    pub partition_key: Option<String>,
    pub max_line_bytes: usize,
}

/// Malformed lines kept as samples (as the file engine keeps).
const SAMPLES: usize = super::MALFORMED_SAMPLES;

/// An SQL string literal: `'` doubled. Athena's and DuckDB's literals know no
/// other escape.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The JSON path of a field's pointer (`/usage` -> `$.usage`); `None` for an
/// empty pointer (the field is not read).
fn json_path(field: &str, pointer: &str) -> Result<Option<String>> {
    if pointer.is_empty() {
        return Ok(None);
    }
    let tokens: Vec<&str> = pointer.strip_prefix('/').unwrap_or("").split('/').collect();
    if !pointer.starts_with('/') || !tokens.iter().all(|t| is_identifier(t)) {
        return Err(Error::config(format!(
            "[logs.fields] {field} = {pointer:?}: the athena log engine reads members named ^[A-Za-z_][A-Za-z0-9_]*$ (/a/b), not {pointer:?}"
        )));
    }
    Ok(Some(format!("$.{}", tokens.join("."))))
}

/// The first character of a JSON value's text: `n` for null or absent, `"`
/// a string, `{` an object, `[` an array, `t`/`f` a boolean, else a number.
fn kind(json: &str) -> String {
    format!("substr(COALESCE(json_format({json}), 'null'), 1, 1)")
}

/// A JSON value that is a number, an integer in [0, 2^53) (`12`, `12.0`,
/// `1e2`), as BIGINT; NULL for anything else.
fn driver_value(json: &str) -> String {
    let number = format!("TRY_CAST({json} AS DOUBLE)");
    format!(
        "CASE WHEN regexp_like({kind}, '^[-0-9]$') AND {number} >= 0 AND {number} < 9007199254740992 AND {number} = floor({number}) THEN CAST({number} AS BIGINT) END",
        kind = kind(json)
    )
}

/// A line (or message) of ASCII whitespace only.
const BLANK: &str = r"'^[ \t\n\f\r]*$'";

/// The `UNLOAD` for `query`, into `target`.
pub fn unload_sql(plan: &AthenaPlan, query: &LogQuery<'_>, target: &Location) -> Result<String> {
    for name in [&plan.database, &plan.table] {
        if !is_identifier(name) {
            return Err(Error::config(format!(
                "{name:?} is not an Athena identifier"
            )));
        }
    }
    let (bucket, key) = checked_target(target)?;
    let mut sql = String::from("UNLOAD (WITH\n");
    let partitions: Vec<String> = (query.partitions.iter())
        .map(|d| literal(&d.format("%Y-%m-%d").to_string()))
        .collect();
    let filter = match &query.partition_key {
        Some(k) if is_identifier(k) => format!(" WHERE \"{k}\" IN ({})", partitions.join(", ")),
        Some(k) => {
            return Err(Error::config(format!(
                "partition key {k:?} is not an Athena identifier"
            )));
        }
        None => String::new(),
    };
    writeln!(
        sql,
        "lines AS (SELECT \"$path\" AS file, line FROM \"{}\".\"{}\"{filter}),",
        plan.database, plan.table
    )
    .expect("a String");
    match query.format {
        LogFormat::Firehose => firehose_messages(&mut sql),
        LogFormat::CloudwatchExport | LogFormat::Jsonl => line_messages(&mut sql, query),
    }
    let pointers = fields(query.fields)?;
    events(&mut sql, query, &pointers);
    let usage = pointers
        .iter()
        .find(|(n, _)| *n == "usage")
        .and_then(|(_, p)| p.as_deref());
    let units = unit_columns(query, usage)?;
    rows(&mut sql, query, &units)?;
    write!(
        sql,
        ")\nTO 's3://{bucket}/{key}/'\nWITH (format = 'PARQUET', compression = 'ZSTD')"
    )
    .expect("a String");
    Ok(sql)
}

/// `messages`: per line of the export or JSON lines, its bucket when it is
/// none of an event's (oversized, blank, no export timestamp), its envelope
/// time and its message.
fn line_messages(sql: &mut String, query: &LogQuery<'_>) {
    let export = query.format == LogFormat::CloudwatchExport;
    let epoch = "from_iso8601_timestamp('1970-01-01T00:00:00Z')";
    let stamp = "try(from_iso8601_timestamp(substr(line, 1, space - 1)))";
    let (no_stamp, envelope, message) = if export {
        (
            format!(
                "WHEN NOT (space > 1 AND regexp_like(line, '^[0-9]') AND {stamp} IS NOT NULL) THEN 'non_json'"
            ),
            format!("date_diff('millisecond', {epoch}, {stamp})"),
            "substr(line, space + 1)",
        )
    } else {
        (String::new(), "CAST(NULL AS BIGINT)".to_string(), "line")
    };
    writeln!(
        sql,
        "spaced AS (SELECT file, line, strpos(line, ' ') AS space FROM lines),\n\
         messages AS (SELECT file, 0 AS record_error,\n  \
           CASE WHEN length(to_utf8(line)) > {max} THEN 'oversized' WHEN regexp_like(line, {BLANK}) THEN 'blank' {no_stamp} END AS bucket,\n  \
           {envelope} AS envelope_ms, {message} AS message FROM spaced),",
        max = query.max_line_bytes,
    )
    .expect("a String");
}

/// `records` (each line a subscription record, or not) and `messages` (each
/// data record's log events: a re-delivery of `(logGroup, logStream, id)`
/// counted `duplicate`, a blank message `blank`).
fn firehose_messages(sql: &mut String) {
    let record = "try(json_parse(line))";
    writeln!(
        sql,
        "records AS (SELECT file, {record} AS record FROM lines WHERE NOT regexp_like(line, {BLANK})),\n\
         typed AS (SELECT file, record,\n  \
           CASE WHEN record IS NULL OR {mt} <> '\"' OR {lg} NOT IN ('n', '\"') OR {ls} NOT IN ('n', '\"') OR {le} NOT IN ('n', '[') THEN 'corrupt'\n    \
           WHEN json_extract_scalar(record, '$.messageType') = 'CONTROL_MESSAGE' THEN 'control' ELSE 'data' END AS kind FROM records),\n\
         log_events AS (SELECT t.file, COALESCE(json_extract_scalar(t.record, '$.logGroup'), '') AS log_group,\n  \
           COALESCE(json_extract_scalar(t.record, '$.logStream'), '') AS log_stream, e.event\n  \
           FROM typed t CROSS JOIN UNNEST(TRY_CAST(json_extract(t.record, '$.logEvents') AS ARRAY(JSON))) AS e (event) WHERE t.kind = 'data'),\n\
         delivered AS (SELECT file, log_group, log_stream, event,\n  \
           CASE WHEN {id} = '\"' THEN json_extract_scalar(event, '$.id') END AS event_id,\n  \
           CASE WHEN {id} NOT IN ('n', '\"') OR {msg} <> '\"' OR NOT ({ts} = 'n' OR regexp_like(COALESCE(json_format(json_extract(event, '$.timestamp')), ''), '^-?[0-9]+$')) THEN 1 ELSE 0 END AS record_error\n  \
           FROM log_events),\n\
         numbered AS (SELECT d.*, CASE WHEN event_id IS NULL THEN 1 ELSE row_number() OVER (PARTITION BY log_group, log_stream, event_id ORDER BY file) END AS delivery FROM delivered d),\n\
         messages AS (SELECT file, record_error,\n  \
           CASE WHEN delivery > 1 THEN 'duplicate' WHEN regexp_like(json_extract_scalar(event, '$.message'), {BLANK}) THEN 'blank' END AS bucket,\n  \
           TRY_CAST(json_format(json_extract(event, '$.timestamp')) AS BIGINT) AS envelope_ms,\n  \
           json_extract_scalar(event, '$.message') AS message FROM numbered),",
        mt = kind("json_extract(record, '$.messageType')"),
        lg = kind("json_extract(record, '$.logGroup')"),
        ls = kind("json_extract(record, '$.logStream')"),
        le = kind("json_extract(record, '$.logEvents')"),
        id = kind("json_extract(event, '$.id')"),
        msg = kind("json_extract(event, '$.message')"),
        ts = kind("json_extract(event, '$.timestamp')"),
    )
    .expect("a String");
}

/// The JSON path of every field's pointer, or the first that the query
/// cannot read (a member that is not a plain name).
pub fn fields(f: &FieldsSection) -> Result<[(&'static str, Option<String>); 9]> {
    let path = |field: &str, pointer: &str| json_path(field, pointer);
    Ok([
        ("transaction_id", path("transaction_id", &f.transaction_id)?),
        ("service", path("service", &f.service)?),
        ("flow", path("flow", &f.flow)?),
        (
            "transaction_type",
            path("transaction_type", &f.transaction_type)?,
        ),
        ("route", path("route", &f.route)?),
        ("status", path("status", &f.status)?),
        ("duration_ms", path("duration_ms", &f.duration_ms)?),
        ("usage", path("usage", &f.usage)?),
        ("timestamp", path("timestamp", &f.timestamp)?),
    ])
}

/// `parsed`, `fielded` and `classified`: each message's fields read as the
/// file engine reads them, and its one bucket, in the file engine's order
/// (not JSON, malformed, no transaction, no service, no time, another day,
/// malformed driver values, an event).
fn events(sql: &mut String, query: &LogQuery<'_>, pointers: &[(&str, Option<String>)]) {
    // A field's JSON path, `None` when it is not read.
    let pointer = |name: &str| {
        let (_, p) = pointers.iter().find(|(n, _)| *n == name).expect("a field");
        p.as_deref()
    };
    let json = |name: &str| match pointer(name) {
        Some(p) => format!("json_extract(doc, {})", literal(p)),
        None => "CAST(NULL AS JSON)".to_string(),
    };
    let text = |name: &str| match pointer(name) {
        Some(p) => format!(
            "CASE WHEN {} = '\"' THEN json_extract_scalar(doc, {}) END",
            kind(&json(name)),
            literal(p)
        ),
        None => "CAST(NULL AS VARCHAR)".to_string(),
    };
    let id = json("transaction_id");
    let timestamp = json("timestamp");
    let usage = json("usage");
    let (start, end) = (query.day_ms.start, query.day_ms.end);
    let epoch = "from_iso8601_timestamp('1970-01-01T00:00:00Z')";
    writeln!(
        sql,
        "parsed AS (SELECT m.*, regexp_like(message, '^[ \\t\\n\\f\\r]*[{brace}\\[]') AS json_like, try(json_parse(message)) AS doc FROM messages m),\n\
         fielded AS (SELECT file, record_error, bucket, message, json_like, doc,\n  \
           CASE {id_kind} WHEN 'n' THEN '' WHEN '\"' THEN {id_text} ELSE (CASE WHEN regexp_like(json_format({id}), '^-?[0-9]+$') THEN json_format({id}) END) END AS transaction_id,\n  \
           {service} AS service, {flow} AS flow, {ttype} AS transaction_type, {route} AS route, {status} AS status,\n  \
           COALESCE(envelope_ms, CASE WHEN {ts_kind} = '\"' THEN date_diff('millisecond', {epoch}, try(from_iso8601_timestamp({ts_text}))) WHEN regexp_like(COALESCE(json_format({timestamp}), ''), '^-?[0-9]+$') THEN TRY_CAST(json_format({timestamp}) AS BIGINT) END) AS ts,\n  \
           CASE WHEN {duration_kind} = 'n' THEN 0 ELSE {duration} END AS duration_ms,\n  \
           ({usage_kind} = 'n' OR ({usage_kind} = '{brace}' AND cardinality(filter(map_values(TRY_CAST({usage} AS MAP(VARCHAR, JSON))), v -> NOT COALESCE({valid_v} IS NOT NULL, false))) = 0)) AS usage_ok,\n  \
           length(to_utf8(message)) AS message_bytes\n  \
           FROM parsed),\n\
         classified AS (SELECT *, CASE WHEN record_error > 0 THEN 'corrupt' WHEN bucket IS NOT NULL THEN bucket WHEN NOT json_like THEN 'non_json' WHEN doc IS NULL THEN 'malformed'\n  \
           WHEN transaction_id IS NULL THEN 'malformed' WHEN transaction_id = '' THEN 'no_transaction' WHEN service IS NULL OR service = '' THEN 'missing_service'\n  \
           WHEN ts IS NULL THEN 'bad_timestamp' WHEN ts < {start} OR ts >= {end} THEN 'out_of_day'\n  \
           WHEN duration_ms IS NULL OR NOT usage_ok THEN 'malformed' ELSE 'event' END AS outcome FROM fielded),",
        id_kind = kind(&id),
        id_text = text("transaction_id"),
        service = text("service"),
        flow = text("flow"),
        ttype = text("transaction_type"),
        route = text("route"),
        status = text("status"),
        ts_kind = kind(&timestamp),
        // Trimmed, and `2026-11-23 09:00:00` read as the file engine reads it.
        ts_text = match pointer("timestamp") {
            Some(p) => crate::source::athena::iso8601(&format!(
                "trim(json_extract_scalar(doc, {}))",
                literal(p)
            )),
            None => "CAST(NULL AS VARCHAR)".to_string(),
        },
        duration_kind = kind(&json("duration_ms")),
        duration = driver_value(&json("duration_ms")),
        usage_kind = kind(&usage),
        valid_v = driver_value("v"),
        brace = "{",
    )
    .expect("a String");
}

/// `(column, aggregate)` for every unit key the day's pools need, in key
/// order; `usage`: the usage object's JSON path, if it is read.
fn unit_columns(query: &LogQuery<'_>, usage: Option<&str>) -> Result<Vec<(String, String)>> {
    let mut columns = Vec::new();
    for key in 0..query.keys.len() as u16 {
        let when = match query.keys.service(key) {
            Some(service) => format!("service = {}", literal(service)),
            None => "TRUE".to_string(),
        };
        let sum = |value: &str| format!("sum(CASE WHEN {when} THEN {value} ELSE 0 END)");
        let aggregate = match query.keys.driver(key) {
            Driver::Transactions => format!("max(CASE WHEN {when} THEN 1 ELSE 0 END)"),
            Driver::Events => format!("count_if({when})"),
            Driver::DurationMs => sum("duration_ms"),
            Driver::Bytes => sum("message_bytes"),
            Driver::Usage(counter) => {
                let name = query.keys.counter_name(counter);
                let Some(usage) = usage else {
                    columns.push((format!("u{key}"), "CAST(0 AS BIGINT)".to_string()));
                    continue;
                };
                if !is_identifier(name) {
                    return Err(Error::config(format!(
                        "driver usage.{name}: the athena log engine reads counters named ^[A-Za-z_][A-Za-z0-9_]*$"
                    )));
                }
                let value = driver_value(&format!(
                    "json_extract(doc, {})",
                    literal(&format!("{usage}.{name}"))
                ));
                sum(&format!("COALESCE({value}, 0)"))
            }
            Driver::None => "0".to_string(),
        };
        columns.push((format!("u{key}"), format!("CAST({aggregate} AS BIGINT)")));
    }
    Ok(columns)
}

/// The columns every row has, in order, with their types.
fn row_columns(units: &[(String, String)]) -> Vec<(String, &'static str)> {
    let mut columns: Vec<(String, &'static str)> = [
        ("row_kind", "VARCHAR"),
        ("transaction_id", "VARCHAR"),
        ("flow", "VARCHAR"),
        ("route_flow", "INTEGER"),
        ("status", "VARCHAR"),
        ("first_ms", "BIGINT"),
        ("last_ms", "BIGINT"),
        ("events", "BIGINT"),
        ("duration_ms", "BIGINT"),
        ("monetary", "BIGINT"),
        ("non_monetary", "BIGINT"),
        ("other_type", "BIGINT"),
        ("file", "VARCHAR"),
        ("detail", "VARCHAR"),
    ]
    .into_iter()
    .map(|(n, t)| (n.to_string(), t))
    .collect();
    columns.extend(units.iter().map(|(n, _)| (n.clone(), "BIGINT")));
    columns
}

/// One `SELECT` of the union: `given` columns as written, every other a typed NULL.
fn select(columns: &[(String, &str)], given: &[(&str, String)], rest: &str) -> String {
    let list: Vec<String> = (columns.iter())
        .map(|(name, ty)| match given.iter().find(|(n, _)| n == name) {
            Some((_, expr)) => format!("CAST({expr} AS {ty}) AS {name}"),
            None => format!("CAST(NULL AS {ty}) AS {name}"),
        })
        .collect();
    format!("SELECT {}\n  {rest}", list.join(", "))
}

/// A route's flow: the number of the first catalog flow one of whose
/// patterns matches it (unanchored), as the file engine's `match_route`.
fn route_flow(catalog: &FlowCatalog) -> String {
    let mut route_flow = String::from("CASE");
    for (number, flow) in catalog.flows().iter().enumerate() {
        if flow.routes.is_empty() {
            continue;
        }
        let any: Vec<String> = (flow.routes.iter())
            .map(|re| format!("regexp_like(route, {})", literal(re.as_str())))
            .collect();
        write!(route_flow, " WHEN {} THEN {}", any.join(" OR "), number + 1).expect("a String");
    }
    route_flow.push_str(" END");
    if route_flow == "CASE END" {
        route_flow = "CAST(NULL AS INTEGER)".to_string();
    }
    route_flow
}

/// The transactions, the counters, the samples and the corrupt files.
fn rows(sql: &mut String, query: &LogQuery<'_>, units: &[(String, String)]) -> Result<()> {
    let route_flow = route_flow(query.catalog);
    writeln!(
        sql,
        "day_events AS (SELECT *, CASE WHEN COALESCE(flow, '') = '' AND COALESCE(route, '') <> '' THEN {route_flow} END AS route_flow\n  \
           FROM classified WHERE outcome = 'event')"
    )
    .expect("a String");
    let columns = row_columns(units);
    let mut transaction: Vec<(&str, String)> = vec![
        ("row_kind", "'transaction'".into()),
        ("transaction_id", "transaction_id".into()),
        ("flow", "element_at(array_agg(flow ORDER BY ts, flow) FILTER (WHERE flow <> ''), 1)".into()),
        ("route_flow", "element_at(array_agg(route_flow ORDER BY ts, route_flow) FILTER (WHERE route_flow IS NOT NULL), 1)".into()),
        ("status", "element_at(array_agg(status ORDER BY ts DESC, status DESC) FILTER (WHERE status <> ''), 1)".into()),
        ("first_ms", "min(ts)".into()),
        ("last_ms", "max(ts)".into()),
        ("events", "count(*)".into()),
        ("duration_ms", "sum(duration_ms)".into()),
        ("monetary", "count_if(transaction_type = 'monetary')".into()),
        ("non_monetary", "count_if(transaction_type = 'non-monetary')".into()),
        ("other_type", "count_if(transaction_type <> '' AND transaction_type NOT IN ('monetary', 'non-monetary'))".into()),
    ];
    transaction.extend(units.iter().map(|(n, a)| (n.as_str(), a.clone())));
    let mut union = vec![
        select(
            &columns,
            &transaction,
            "FROM day_events GROUP BY transaction_id",
        ),
        select(
            &columns,
            &[
                ("row_kind", "'counter'".into()),
                ("detail", "outcome".into()),
                ("events", "count(*)".into()),
            ],
            "FROM classified GROUP BY outcome",
        ),
        format!(
            "({}\n  ORDER BY file LIMIT {SAMPLES})",
            select(
                &columns,
                &[
                    ("row_kind", "'malformed'".into()),
                    ("file", "file".into()),
                    ("detail", "substr(message, 1, 160)".into())
                ],
                "FROM classified WHERE outcome = 'malformed'",
            )
        ),
        format!(
            "({}\n  ORDER BY file LIMIT 1)",
            select(
                &columns,
                &[
                    ("row_kind", "'unused'".into()),
                    ("file", "file".into()),
                    ("detail", "substr(message, 1, 160)".into())
                ],
                "FROM classified WHERE outcome IN ('non_json', 'no_transaction')",
            )
        ),
        select(
            &columns,
            &[
                ("row_kind", "'file'".into()),
                ("file", "file".into()),
                ("events", "count(*)".into()),
            ],
            "FROM lines GROUP BY file",
        ),
    ];
    if query.format == LogFormat::Firehose {
        union.push(select(
            &columns,
            &[
                ("row_kind", "'counter'".into()),
                ("detail", "'control_messages'".into()),
                ("events", "count(*)".into()),
            ],
            "FROM typed WHERE kind = 'control'",
        ));
        union.push(format!(
            "({}\n  ORDER BY file LIMIT 1)",
            select(
                &columns,
                &[("row_kind", "'corrupt'".into()), ("file", "file".into())],
                "FROM typed WHERE kind = 'corrupt'",
            )
        ));
    }
    sql.push_str(&union.join("\nUNION ALL\n"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Flow;
    use crate::model::TransactionType;
    use regex::Regex;

    fn catalog(routes: &[&str]) -> FlowCatalog {
        let flow = |name: &str, ty, route: &str| Flow {
            name: name.into(),
            transaction_type: ty,
            routes: vec![Regex::new(route).unwrap()],
        };
        FlowCatalog::new(vec![
            flow("recarga", TransactionType::Monetary, routes[0]),
            flow("pago", TransactionType::Monetary, routes[1]),
            flow("onboarding", TransactionType::NonMonetary, routes[2]),
        ])
    }

    fn keys(service: &str) -> UnitKeys {
        let mut keys = UnitKeys::default();
        keys.intern("transactions", None);
        keys.intern("usage.kms_requests", None);
        keys.intern("duration_ms", Some("ledger-svc"));
        keys.intern("bytes", None);
        keys.intern("events", Some(service));
        keys
    }

    fn plan() -> AthenaPlan {
        AthenaPlan {
            database: "costjob_prod".into(),
            table: "logs".into(),
            workgroup: "costjob-prod".into(),
            output_location: Location::parse("s3://deuna-costjob-output/athena-results").unwrap(),
            query_timeout: std::time::Duration::from_secs(60),
        }
    }

    fn sql(fields: &FieldsSection, catalog: &FlowCatalog, keys: &UnitKeys) -> Result<String> {
        let day: NaiveDate = "2026-11-23".parse().unwrap();
        let query = LogQuery {
            format: LogFormat::Firehose,
            fields,
            catalog,
            keys,
            day_ms: 1_795_392_000_000..1_795_478_400_000,
            partitions: vec![day, day.succ_opt().unwrap()],
            partition_key: Some("day".into()),
            max_line_bytes: 1 << 20,
        };
        let target = Location::parse(
            "s3://deuna-costjob-output/athena-results/unload/RUN_ID-logs-2026-11-23",
        )
        .unwrap();
        unload_sql(&plan(), &query, &target)
    }

    fn defaults() -> FieldsSection {
        serde_json::from_str("{}").unwrap()
    }

    /// `sql/logs_query.sql` is the query the engine sends for the Terraform
    /// `athena` module's logs table, Firehose's envelope, on 2026-11-23 (a
    /// catalog of the demo's three flows, five unit keys).
    #[test]
    fn sql_logs_query_is_what_the_engine_sends() {
        let file = include_str!("../../../sql/logs_query.sql");
        let statement: String = (file.lines())
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let routes = [
            "^POST /v1/recargas",
            "^POST /v1/pagos",
            "^POST /v1/onboarding",
        ];
        let sent = sql(&defaults(), &catalog(&routes), &keys("kyc-svc")).unwrap();
        assert_eq!(statement.trim().trim_end_matches(';'), sent, "\n{sent}");
    }

    /// What configuration puts in the SQL is checked or quoted: a service
    /// name and a route pattern are literals with `'` doubled; a field
    /// pointer, a counter, the database and the table that are not plain
    /// names are refused, as is an UNLOAD target with a quote.
    #[test]
    fn nothing_from_configuration_reaches_the_sql_unchecked() {
        let routes = [
            "^POST /v1/recargas",
            "it's'; DROP TABLE x; --",
            "^POST /v1/onboarding",
        ];
        let sent = sql(&defaults(), &catalog(&routes), &keys("o'brien-svc")).unwrap();
        assert!(sent.contains("service = 'o''brien-svc'"), "{sent}");
        assert!(
            sent.contains("regexp_like(route, 'it''s''; DROP TABLE x; --')"),
            "{sent}"
        );
        let nested = FieldsSection {
            transaction_id: "/ctx/tx".into(),
            ..defaults()
        };
        let sent = sql(&nested, &catalog(&routes), &keys("kyc-svc")).unwrap();
        assert!(sent.contains("json_extract(doc, '$.ctx.tx')"), "{sent}");
        for pointer in ["/a\"b", "/a'b", "/a.b", "/0", "tx", "/a/", "/a~1b"] {
            let odd = FieldsSection {
                service: pointer.into(),
                ..defaults()
            };
            let err = sql(&odd, &catalog(&routes), &keys("kyc-svc")).unwrap_err();
            assert!(
                err.to_string().contains("[logs.fields] service"),
                "{pointer}: {err}"
            );
        }
        let mut counters = UnitKeys::default();
        counters.intern("usage.kms-requests'", None);
        let err = sql(&defaults(), &catalog(&routes), &counters).unwrap_err();
        assert!(err.to_string().contains("usage.kms-requests'"), "{err}");
        let mut query_plan = plan();
        query_plan.table = "logs\"; --".into();
        let day: NaiveDate = "2026-11-23".parse().unwrap();
        let (fields, flows, unit_keys) = (defaults(), catalog(&routes), keys("kyc-svc"));
        let query = LogQuery {
            format: LogFormat::CloudwatchExport,
            fields: &fields,
            catalog: &flows,
            keys: &unit_keys,
            day_ms: 0..1,
            partitions: vec![day],
            partition_key: None,
            max_line_bytes: 1,
        };
        let target = Location::parse("s3://bkt/unload/r").unwrap();
        assert!(unload_sql(&query_plan, &query, &target).is_err());
        let quoted = Location::S3 {
            bucket: "bkt".into(),
            key: "unload/it's".into(),
        };
        assert!(unload_sql(&plan(), &query, &quoted).is_err());
        let unpartitioned = unload_sql(&plan(), &query, &target).unwrap();
        assert!(
            unpartitioned.contains("FROM \"costjob_prod\".\"logs\"),"),
            "{unpartitioned}"
        );
    }
}
