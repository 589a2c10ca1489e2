//! The Athena engine (SPEC 2.7): the day's CUR rows through one `UNLOAD` to
//! Parquet under `[cur] output_location`, read back by the same reader as CUR
//! files, then deleted. The SQL is built here from the table's schema (Glue
//! `GetTable`) and a date; identifiers are validated and double-quoted, and
//! nothing else in it comes from configuration or input.

use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate};

use super::{self as cur, CurEngine, CurScan, RowRules};
use crate::calendar::{Calendar, each_day};
use crate::config::{AthenaPlan, is_identifier};
use crate::config::{OPTIONAL, REQUIRED, USAGE_END, USAGE_START};
use crate::model::CurDay;
use crate::source::athena::{self, TableShape, table_shape};
use crate::storage::{Location, Store};
use crate::{Error, Result};

/// The `UNLOAD` of SPEC 2.7 for `days` (one query for them all), into
/// `target` (an `s3://` prefix).
pub fn unload_sql(
    plan: &AthenaPlan,
    table: &TableShape,
    tag_columns: &[String],
    days: &RangeInclusive<NaiveDate>,
    calendar: &Calendar,
    target: &Location,
) -> Result<String> {
    let what = || format!("glue table {}.{}", plan.database, plan.table);
    for name in [&plan.database, &plan.table] {
        if !is_identifier(name) {
            return Err(Error::config(format!(
                "{name:?} is not an Athena identifier"
            )));
        }
    }
    let has = |c: &str| table.columns.iter().any(|(n, _)| n == c);
    if let Some(missing) = REQUIRED.iter().find(|c| !has(c)) {
        return Err(Error::input(what(), format!("missing column {missing}")));
    }
    let wanted = REQUIRED
        .iter()
        .chain(OPTIONAL.iter())
        .copied()
        .chain(tag_columns.iter().map(String::as_str));
    let mut selected: Vec<String> = Vec::new();
    for column in wanted {
        if has(column) && is_identifier(column) && !selected.iter().any(|s| s == column) {
            selected.push(format!("\"{column}\""));
        }
    }
    let window = calendar.window(*days.start()).start..calendar.window(*days.end()).end;
    let mut predicate = Vec::new();
    predicate.extend(partition_predicate(&table.partition_keys, calendar, days));
    predicate.push(day_predicate(table, &window));
    let (bucket, key) = athena::checked_target(target)?;
    Ok(format!(
        "UNLOAD (SELECT {}\n        FROM \"{}\".\"{}\"\n        WHERE {})\nTO 's3://{bucket}/{key}/'\nWITH (format = 'PARQUET', compression = 'ZSTD')",
        selected.join(",\n               "),
        plan.database,
        plan.table,
        predicate.join("\n          AND ")
    ))
}

/// The partitions of every billing period the days' windows overlap (one
/// for a UTC day; a local day at a month's end overlaps two), by the table's
/// keys: CUR 1.0 `year`/`month`, CUR 2.0 `billing_period`, or none.
fn partition_predicate(
    keys: &[String],
    calendar: &Calendar,
    days: &RangeInclusive<NaiveDate>,
) -> Option<String> {
    let utc_first = calendar.utc_dates(*days.start())[0];
    let utc_last = *calendar
        .utc_dates(*days.end())
        .last()
        .expect("a day overlaps a UTC date");
    let mut months: Vec<(i32, u32)> = each_day(&(utc_first..=utc_last))
        .map(|d| (d.year(), d.month()))
        .collect();
    months.dedup();
    if keys.iter().any(|k| k == "year") && keys.iter().any(|k| k == "month") {
        // CUR 1.0's Athena integration: strings, the month not zero-padded.
        let terms: Vec<String> = (months.iter())
            .map(|(y, m)| format!("\"year\" = '{y}' AND \"month\" = '{m}'"))
            .collect();
        Some(match terms.len() {
            1 => terms.concat(),
            _ => format!("(({}))", terms.join(") OR (")),
        })
    } else if keys.iter().any(|k| k == "billing_period") {
        let periods: Vec<String> = (months.iter())
            .map(|(y, m)| format!("'{y:04}-{m:02}'"))
            .collect();
        Some(match periods.len() {
            1 => format!("\"billing_period\" = {}", periods[0]),
            _ => format!("\"billing_period\" IN ({})", periods.join(", ")),
        })
    } else {
        None
    }
}

/// Every row whose usage period touches the day's `window` (SPEC 12.1): it
/// starts in the day, or before it and ends after its start (by the start
/// alone when the table has no end column).
fn day_predicate(table: &TableShape, window: &std::ops::Range<i64>) -> String {
    // A timestamp column as is, an ISO-8601 text one converted.
    let usage = |column: &str| {
        let column_type = (table.columns.iter())
            .find(|(n, _)| n == column)
            .map(|(_, t)| t.as_str())
            .unwrap_or("timestamp");
        if column_type.starts_with("timestamp") {
            format!("\"{column}\"")
        } else {
            let text = format!("\"{column}\"");
            format!("from_iso8601_timestamp({})", athena::iso8601(&text))
        }
    };
    let (start, end) = (usage(USAGE_START), usage(USAGE_END));
    let timestamp = |micros: i64| {
        let t = chrono::DateTime::from_timestamp_micros(micros).expect("a day of chrono's range");
        format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S"))
    };
    let (day, next) = (timestamp(window.start), timestamp(window.end));
    if table.columns.iter().any(|(n, _)| n == USAGE_END) {
        format!("{start} < {next} AND ({start} >= {day} OR {end} > {day})")
    } else {
        format!("{start} >= {day} AND {start} < {next}")
    }
}

impl CurEngine for AthenaPlan {
    fn read_days(
        &self,
        store: &Store,
        days: &RangeInclusive<NaiveDate>,
        run_id: &str,
        rules: &RowRules<'_>,
    ) -> Result<(Vec<CurDay>, CurScan)> {
        let table = table_shape(store.aws(), self)?;
        let target = self.output_location.join(&format!("unload/{run_id}"));
        let sql = unload_sql(
            self,
            &table,
            &rules.tags.columns,
            days,
            &rules.calendar,
            &target,
        )?;
        // The run id makes a retried start idempotent (Athena's token: 32-128 characters).
        let token = format!("costjob-{run_id}-unload-cur-day-query");
        let ((day, mut scan), stats) =
            athena::unload(store, self, &sql, &target, &token, |files| {
                if files.is_empty() {
                    let none = each_day(days).map(|_| CurDay::default()).collect();
                    Ok((none, CurScan::default())) // no row
                } else {
                    cur::read_files(store, &files, days, rules)
                }
            })?;
        scan.query = Some(stats);
        Ok((day, scan))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> Calendar {
        Calendar::default()
    }

    /// A local day at a month's end reads both billing periods, and the
    /// window's UTC bounds.
    #[test]
    fn a_local_day_reads_every_billing_period_it_overlaps() {
        let quito = Calendar::parse("America/Guayaquil").unwrap();
        let target = Location::parse("s3://results/costjob/unload/r").unwrap();
        let day = "2026-11-30".parse().unwrap();
        let cur2 = unload_sql(
            &plan(),
            &shape(&["billing_period"], &[USAGE_END]),
            &[],
            &(day..=day),
            &quito,
            &target,
        )
        .unwrap();
        assert!(
            cur2.contains("\"billing_period\" IN ('2026-11', '2026-12')"),
            "{cur2}"
        );
        assert!(cur2.contains("< TIMESTAMP '2026-12-01 05:00:00'"), "{cur2}");
        assert!(
            cur2.contains(">= TIMESTAMP '2026-11-30 05:00:00'"),
            "{cur2}"
        );
        let cur1 = unload_sql(
            &plan(),
            &shape(&["year", "month"], &[]),
            &[],
            &(day..=day),
            &quito,
            &target,
        )
        .unwrap();
        assert!(
            cur1.contains("((\"year\" = '2026' AND \"month\" = '11') OR (\"year\" = '2026' AND \"month\" = '12'))"),
            "{cur1}"
        );
        let mid_month = unload_sql(
            &plan(),
            &shape(&["billing_period"], &[]),
            &[],
            &(d("2026-11-23")..=d("2026-11-23")),
            &quito,
            &target,
        )
        .unwrap();
        assert!(
            mid_month.contains("\"billing_period\" = '2026-11'"),
            "{mid_month}"
        );
        // A refresh's window: one query, every billing period it overlaps.
        let window = unload_sql(
            &plan(),
            &shape(&["billing_period"], &[USAGE_END]),
            &[],
            &(d("2026-10-20")..=d("2026-12-06")),
            &quito,
            &target,
        )
        .unwrap();
        assert!(
            window.contains("\"billing_period\" IN ('2026-10', '2026-11', '2026-12')"),
            "{window}"
        );
        assert!(
            window.contains("< TIMESTAMP '2026-12-07 05:00:00'"),
            "{window}"
        );
        assert!(
            window.contains("> TIMESTAMP '2026-10-20 05:00:00'"),
            "{window}"
        );
    }

    fn d(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn plan() -> AthenaPlan {
        AthenaPlan {
            database: "cur".into(),
            table: "deuna_cur".into(),
            workgroup: "costjob".into(),
            output_location: Location::parse("s3://results/costjob").unwrap(),
            query_timeout: std::time::Duration::from_secs(60),
        }
    }

    fn shape(keys: &[&str], extra: &[&str]) -> TableShape {
        TableShape {
            columns: REQUIRED
                .iter()
                .chain(extra)
                .map(|c| {
                    let ty = if *c == USAGE_START || *c == USAGE_END {
                        "timestamp"
                    } else {
                        "string"
                    };
                    (c.to_string(), ty.to_string())
                })
                .collect(),
            partition_keys: keys.iter().map(|k| k.to_string()).collect(),
        }
    }

    #[test]
    fn partition_predicates_by_layout() {
        let target = Location::parse("s3://results/costjob/unload/r1").unwrap();
        let day: NaiveDate = "2026-03-05".parse().unwrap();
        let sql = |keys: &[&str]| {
            unload_sql(
                &plan(),
                &shape(keys, &[]),
                &[],
                &(day..=day),
                &utc(),
                &target,
            )
            .unwrap()
        };
        assert!(sql(&["year", "month"]).contains("\"year\" = '2026' AND \"month\" = '3'"));
        assert!(sql(&["billing_period"]).contains("\"billing_period\" = '2026-03'"));
        let none = sql(&[]);
        assert!(!none.contains("year") && !none.contains("billing_period"));
        assert!(none.contains(
            "\"line_item_usage_start_date\" >= TIMESTAMP '2026-03-05 00:00:00' AND \"line_item_usage_start_date\" < TIMESTAMP '2026-03-06 00:00:00'"
        ));
        assert!(none.contains("TO 's3://results/costjob/unload/r1/'"));
    }

    #[test]
    fn columns_come_from_the_table() {
        let target = Location::parse("s3://results/costjob/unload/r1").unwrap();
        let day: NaiveDate = "2026-03-05".parse().unwrap();
        let tags = [
            "resource_tags_user_flow".to_string(),
            "bad\"name".to_string(),
        ];
        let sql = unload_sql(
            &plan(),
            &shape(
                &[],
                &["resource_tags", "resource_tags_user_flow", "bad\"name"],
            ),
            &tags,
            &(day..=day),
            &utc(),
            &target,
        )
        .unwrap();
        assert!(sql.contains("\"resource_tags\",\n               \"resource_tags_user_flow\""));
        assert!(
            !sql.contains("bad"),
            "a column that is not an identifier is never spliced"
        );
        assert!(
            !sql.contains("bill_invoice_id"),
            "absent optional columns are not selected"
        );
        let mut missing = shape(&[], &[]);
        missing.columns.retain(|(n, _)| n != "line_item_operation");
        let err = unload_sql(&plan(), &missing, &[], &(day..=day), &utc(), &target).unwrap_err();
        assert!(
            err.to_string()
                .contains("missing column line_item_operation")
        );
        assert_eq!(err.exit_code(), 3);
    }

    /// `sql/cur_query.sql` is the query the engine sends for the Terraform
    /// `athena` module's CUR table (CUR 2.0, every SPEC 2.1 column) on 2026-11-23.
    #[test]
    fn sql_cur_query_is_what_the_engine_sends() {
        let file = include_str!("../../../sql/cur_query.sql");
        let statement: String = file
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let plan = AthenaPlan {
            database: "costjob_prod_cur".into(),
            table: "cur".into(),
            ..plan()
        };
        let mut table = shape(&["billing_period"], &OPTIONAL);
        table
            .columns
            .push(("resource_tags".into(), "map<string,string>".into()));
        let target =
            Location::parse("s3://deuna-costjob-output/athena-results/unload/RUN_ID").unwrap();
        let sql = unload_sql(
            &plan,
            &table,
            &[],
            &(d("2026-11-23")..=d("2026-11-23")),
            &utc(),
            &target,
        )
        .unwrap();
        assert_eq!(statement.trim().trim_end_matches(';'), sql, "\n{sql}");
    }
}
