//! One day's run, end to end: read the CUR, read the logs, allocate, check
//! conservation, publish the tables and the run report. Logs one summary event
//! per stage.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use tracing::info;

use crate::allocate::{self, Totals};
use crate::config::RunPlan;
use crate::sink::{parquet, tables};
use crate::source::cur;
use crate::source::logs::{LogCounters, LogReader, Sample};
use crate::{Error, Progress, Result};

/// What a finished day produced.
#[derive(Debug, Serialize)]
pub struct DayOutcome {
    pub date: NaiveDate,
    pub run_id: String,
    pub cost_basis: &'static str,
    #[serde(skip)]
    pub totals: Totals,
    pub transactions: usize,
    pub pools: usize,
    pub log_counters: LogCounters,
    pub malformed_samples: Vec<Sample>,
    pub corrupt_files: Vec<Sample>,
    pub files_written: Vec<PathBuf>,
    pub report_path: PathBuf,
}

/// The process's peak resident memory so far, in MiB (Linux; `None` elsewhere).
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kib| kib / 1024)
}

/// A run identifier unique enough for staging directory names and audit.
pub fn new_run_id() -> String {
    format!(
        "{}-{:x}",
        Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    )
}

/// Runs `date` with `plan`: the whole pipeline, then an atomic publish.
pub fn run_day(
    plan: &RunPlan,
    date: NaiveDate,
    run_id: &str,
    progress: &dyn Progress,
) -> Result<DayOutcome> {
    let started_at = Utc::now();
    let clock = Instant::now();
    let (day, scan) = cur::read_day(
        &plan.cur_path,
        date,
        plan.cost_basis,
        &plan.excluded_types,
        &plan.tags,
        &plan.pricing,
    )?;
    info!(
        stage = "cur", %date, files = scan.files, row_groups_read = scan.row_groups_read,
        row_groups_pruned = scan.row_groups_pruned, rows_scanned = scan.rows_scanned,
        rows_of_day = day.rows, pools = day.pools.len(), seconds = clock.elapsed().as_secs_f64(), peak_rss_mib = peak_rss_mib(),
        "read the CUR"
    );
    let (pools, keys) = allocate::plan_pools(&day, &plan.pricing, &plan.catalog);

    let clock = Instant::now();
    let reader = LogReader {
        format: plan.log_format,
        fields: &plan.fields,
        date,
        catalog: &plan.catalog,
        keys: &keys,
        allow_corrupt_input: plan.allow_corrupt_input,
    };
    let logs = reader.read(&plan.logs_path, progress)?;
    let c = &logs.counters;
    if !c.balanced() {
        return Err(Error::input(
            &plan.logs_path,
            format!("log line counters do not add up: {c:?}"),
        ));
    }
    let seconds = clock.elapsed().as_secs_f64();
    info!(
        stage = "logs", %date, files = c.files, mb = c.bytes as f64 / 1e6, lines = c.lines, events = c.events,
        transactions = logs.transactions.len(), out_of_day = c.out_of_day, non_json = c.non_json,
        no_transaction = c.no_transaction, malformed = c.malformed, corrupt_files = c.corrupt_files,
        events_per_second = (c.events as f64 / seconds.max(1e-9)).round(), seconds, peak_rss_mib = peak_rss_mib(),
        "read the logs"
    );

    let clock = Instant::now();
    let allocation = allocate::allocate(date, &day, &pools, &logs.transactions, &plan.pricing)?;
    let t = &allocation.totals;
    info!(
        stage = "allocate", %date, pools = pools.len(), unallocated_pools = allocation.unallocated.len(),
        cur_total_usd = %crate::money::format_usd(t.cur_total), allocated_usd = %crate::money::format_usd(t.allocated),
        unallocated_usd = %crate::money::format_usd(t.unallocated), excluded_usd = %crate::money::format_usd(t.excluded),
        seconds = clock.elapsed().as_secs_f64(), peak_rss_mib = peak_rss_mib(), "allocated; conservation holds"
    );

    let clock = Instant::now();
    let info_row = tables::RunInfo {
        run_id,
        cost_basis: plan.cost_basis.as_str(),
        pricing_sha256: &plan.pricing.sha256,
        started_at_ms: started_at.timestamp_millis(),
        finished_at_ms: Utc::now().timestamp_millis(),
    };
    let batches = tables::build(
        &logs.transactions,
        &allocation,
        &logs.counters,
        &plan.pricing,
        &info_row,
    )?;
    let files_written = parquet::publish(&plan.output, date, run_id, batches)?;
    let mut outcome = DayOutcome {
        date,
        run_id: run_id.to_string(),
        cost_basis: plan.cost_basis.as_str(),
        totals: allocation.totals.clone(),
        transactions: logs.transactions.len(),
        pools: pools.len(),
        log_counters: logs.counters.clone(),
        malformed_samples: logs.malformed,
        corrupt_files: logs.corrupt,
        files_written,
        report_path: parquet::partition_dir(&plan.output, "_run_reports", date).join("report.json"),
    };
    write_report(&outcome)?;
    outcome.files_written.push(outcome.report_path.clone());
    info!(stage = "sink", %date, files = outcome.files_written.len(), seconds = clock.elapsed().as_secs_f64(), peak_rss_mib = peak_rss_mib(), "published");
    Ok(outcome)
}

fn write_report(outcome: &DayOutcome) -> Result<()> {
    let path = &outcome.report_path;
    let dir = path.parent().expect("report has a directory");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let t = &outcome.totals;
    let money = crate::money::format_usd;
    let body = serde_json::json!({
        "run": outcome,
        "totals_usd": {
            "cur_total": money(t.cur_total), "allocated": money(t.allocated),
            "unallocated": money(t.unallocated), "excluded": money(t.excluded),
            "excluded_by_type": t.excluded_by_type.iter().map(|(k, v)| (k.clone(), money(*v))).collect::<std::collections::BTreeMap<_, _>>(),
        },
        "cur_rows": t.cur_rows,
        "cur_final": t.cur_final,
    });
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(&body).expect("serializable"),
    )
    .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
