//! One day's run, end to end: read the CUR, read the logs, allocate, check
//! conservation, publish the tables and the run report. Logs one summary event
//! per stage.

use std::time::Instant;

use chrono::{NaiveDate, Utc};
use serde::Serialize;
use tracing::info;

use crate::allocate::{self, Totals};
use crate::config::{CurSource, LogFormat, RunPlan};
use crate::cost_basis::CostBasis;
use crate::model::Fingerprints;
use crate::model::RestatementRow;
use crate::model::money::Money;
use crate::model::{CurDay, LogCounters, Sample};
use crate::output::{self, DayHold, Recovery};
use crate::pricing::UnitKeys;
use crate::restatement::{self, DayFigures};
use crate::sink::tables;
use crate::source::athena::QueryStats;
use crate::source::cur::{self, CurEngine, CurScan};
use crate::source::logs::{LogDay, LogReader};
use crate::storage::{Location, Store};
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
    /// Names not read under the log paths (hidden, not regular files).
    pub skipped_files: Vec<String>,
    /// The Athena query that read the CUR (engine `athena`): id, bytes scanned, cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cur_query: Option<crate::source::athena::QueryStats>,
    /// Who read the logs: `local` (this task) or `athena` (SPEC 14).
    pub logs_engine: &'static str,
    /// The Athena query that read the logs (logs engine `athena`): id, bytes scanned, cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs_query: Option<crate::source::athena::QueryStats>,
    /// Every file published, the run report last.
    pub files_written: Vec<String>,
    /// Unit cost per flow (the `flow_summary` table), for the run's metrics.
    #[serde(skip)]
    pub flow_summary: Vec<allocate::FlowSummary>,
    /// When the run started, and how long the day took (seconds).
    #[serde(skip)]
    pub started_at: chrono::DateTime<Utc>,
    pub seconds: f64,
    /// What the reader should know about how the costs were taken.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The publish this run replaced, if the day was published before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restated: Option<Restated>,
    /// What produced the day (SPEC 12.2).
    #[serde(skip)]
    pub fingerprints: Fingerprints,
}

/// A day's CUR as read: its pools, the Athena query that read it, and what
/// the run report says about how its costs were taken.
pub struct CurRead {
    pub day: CurDay,
    pub query: Option<QueryStats>,
    pub notes: Vec<String>,
}

/// What a republish replaced, and why.
#[derive(Debug, Serialize)]
pub struct Restated {
    pub previous_run_id: String,
    /// The inputs that changed (`cur`, `logs`, `pricing`, `config`); empty: none.
    pub reasons: Vec<&'static str>,
    #[serde(serialize_with = "crate::model::money::serialize_usd")]
    pub previous_cur_total: Money,
    #[serde(serialize_with = "crate::model::money::serialize_usd")]
    pub previous_allocated: Money,
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
    store: &Store,
    date: NaiveDate,
    run_id: &str,
    progress: &dyn Progress,
) -> Result<DayOutcome> {
    run_day_with(plan, store, date, run_id, progress, None)
}

/// [`run_day`] with the day's CUR already read (`refresh` reads its window's
/// once), or read here when `cur` is `None`.
pub fn run_day_with(
    plan: &RunPlan,
    store: &Store,
    date: NaiveDate,
    run_id: &str,
    progress: &dyn Progress,
    cur: Option<CurRead>,
) -> Result<DayOutcome> {
    let started_at = Utc::now();
    let publisher = output::root(store, &plan.output);
    let output::Taken { mut hold, repaired } = publisher.take(date, run_id)?;
    for (day, r) in repaired {
        if r != Recovery::default() {
            info!(stage = "recover", date = %day, rolled_forward = r.rolled_forward.as_deref().unwrap_or(""),
                rolled_back = r.rolled_back.as_deref().unwrap_or(""), debris_removed = r.debris_removed,
                "repaired an interrupted publish");
        }
    }
    let outcome = compute_and_publish(
        plan,
        store,
        (date, run_id, started_at),
        cur,
        progress,
        hold.as_mut(),
    );
    let released = hold.release();
    let outcome = outcome?;
    // The day is published; a hold left behind would block its next run.
    released.map_err(|e| Error::Storage {
        what: format!("{date} was published by run {run_id}"),
        message: e.to_string(),
    })?;
    Ok(outcome)
}

/// The log locations of `date`: the configured path with its placeholders
/// filled with each UTC date the local day overlaps (dated prefixes are
/// UTC: one in UTC, two in any other zone); for Firehose, the next UTC
/// day's too (records buffered past midnight). Dated local directories that
/// do not exist are left out, as an S3 prefix without objects lists nothing.
pub fn log_sources(plan: &RunPlan, date: NaiveDate) -> Vec<Location> {
    if !plan.logs_path.has_placeholders() {
        return vec![plan.logs_path.clone()];
    }
    let mut dates = plan.calendar.utc_dates(date);
    if plan.log_format == LogFormat::Firehose
        && let Some(&last) = dates.last()
    {
        dates.push(last + chrono::Days::new(1));
    }
    // A dated local directory not written yet reads as an S3 prefix with no
    // object does: no file (the day waits for its logs), not a path error.
    (dates.iter())
        .map(|&d| plan.logs_path.for_date(d))
        .filter(|l| l.local().is_none_or(|p| p.exists()))
        .collect()
}

fn compute_and_publish(
    plan: &RunPlan,
    store: &Store,
    (date, run_id, started_at): (NaiveDate, &str, chrono::DateTime<Utc>),
    cur: Option<CurRead>,
    progress: &dyn Progress,
    hold: &mut dyn DayHold,
) -> Result<DayOutcome> {
    crate::failpoint::pause_point!("run::inputs");
    let CurRead { day, query, notes } = match cur {
        Some(read) => read,
        None => read_cur(plan, store, date, run_id)?,
    };
    let cur_fingerprint = crate::fingerprint::cur(&day, &plan.pricing);
    let (pools, keys) = allocate::plan_pools(&day, &plan.pricing, &plan.catalog);
    // The CUR's decoding buffers, freed across threads, returned before the logs.
    crate::memory::release_freed();
    let (logs, logs_query) = read_logs(plan, store, (date, run_id), &keys, progress)?;
    let allocation = allocate_day(plan, date, &day, &pools, &logs)?;
    // The allocation's scope lists, freed across threads, returned before the sink.
    crate::memory::release_freed();

    let clock = Instant::now();
    let fingerprints = crate::fingerprint::of_run(
        plan,
        cur_fingerprint,
        &logs.listing_fingerprint,
        allocation.totals.cur_final,
    );
    let (restatements, restated) = restate(
        plan,
        store,
        (date, run_id, started_at),
        &fingerprints,
        &allocation,
        logs.transactions.len(),
    )?;
    let info_row = tables::RunInfo {
        run_id,
        cost_basis: plan.cost_basis.as_str(),
        fingerprints: &fingerprints,
        restatements: &restatements,
        started_at_ms: started_at.timestamp_millis(),
        finished_at_ms: Utc::now().timestamp_millis(),
    };
    // The allocation hands the sink finished rows, chunk by chunk, one run of
    // chunks per core (the sink computes no money).
    let rows = allocation.row_parts(
        &logs.transactions,
        rayon::current_num_threads(),
        tables::TRANSACTIONS_PER_BATCH,
    );
    let batches = tables::build(
        &logs.transactions,
        rows,
        &allocation,
        &logs.counters,
        &plan.pricing,
        &keys,
        &info_row,
    )?;
    // The day's transactions and allocation are written once staged: freed,
    // and their pages returned, on another thread while the commit flips the
    // tables and removes what they supersede.
    let parts: Vec<(&str, usize)> = batches.iter().map(|(t, p)| (*t, p.len())).collect();
    let outcome = DayOutcome {
        date,
        run_id: run_id.to_string(),
        cost_basis: plan.cost_basis.as_str(),
        totals: allocation.totals.clone(),
        transactions: logs.transactions.len(),
        pools: pools.len(),
        log_counters: logs.counters.clone(),
        malformed_samples: logs.malformed,
        corrupt_files: logs.corrupt,
        skipped_files: logs.skipped,
        cur_query: query,
        logs_engine: engine(&logs_query),
        logs_query,
        files_written: hold.files(&parts),
        flow_summary: allocation.flow_summary.clone(),
        started_at,
        seconds: (Utc::now() - started_at).as_seconds_f64(),
        restated,
        notes,
        fingerprints: fingerprints.clone(),
    };
    let report = report_json(&outcome);
    hold.stage(batches, &report)?;
    let (transactions, allocation) = (logs.transactions, allocation);
    std::thread::scope(|s| {
        s.spawn(move || {
            drop((transactions, allocation));
            crate::memory::release_freed_here();
        });
        hold.commit()
    })?;
    info!(stage = "sink", %date, files = outcome.files_written.len(), seconds = clock.elapsed().as_secs_f64(), peak_rss_mib = peak_rss_mib(), "published");
    Ok(outcome)
}

/// The allocation of the day (SPEC 4), conservation checked, logged.
fn allocate_day(
    plan: &RunPlan,
    date: NaiveDate,
    day: &CurDay,
    pools: &[allocate::Pool],
    logs: &LogDay,
) -> Result<allocate::Allocation> {
    let clock = Instant::now();
    let allocation = allocate::allocate(
        date,
        day,
        pools,
        &logs.transactions,
        &plan.pricing,
        &plan.success_statuses,
    )?;
    let t = &allocation.totals;
    let usd = crate::model::money::format_usd;
    info!(
        stage = "allocate", %date, pools = pools.len(), unallocated_pools = allocation.unallocated.len(),
        cur_total_usd = %usd(t.cur_total), allocated_usd = %usd(t.allocated),
        unallocated_usd = %usd(t.unallocated), excluded_usd = %usd(t.excluded),
        seconds = clock.elapsed().as_secs_f64(), peak_rss_mib = peak_rss_mib(), "allocated; conservation holds"
    );
    Ok(allocation)
}

/// The day's restatements (SPEC 12.2): its earlier publish, if any, read
/// back and compared with this run's figures; its history carried forward
/// with this run's rows added.
fn restate(
    plan: &RunPlan,
    store: &Store,
    (date, run_id, started_at): (NaiveDate, &str, chrono::DateTime<Utc>),
    fingerprints: &Fingerprints,
    allocation: &allocate::Allocation,
    transactions: usize,
) -> Result<(Vec<RestatementRow>, Option<Restated>)> {
    let Some(previous) = restatement::published(store, &plan.output, date)? else {
        return Ok((Vec::new(), None));
    };
    let figures = DayFigures::of_run(
        run_id,
        fingerprints.clone(),
        &allocation.totals,
        transactions,
        &allocation.flow_summary,
    );
    let mut rows = previous.history;
    rows.extend(restatement::restate(
        &previous.figures,
        &figures,
        started_at.timestamp_millis(),
    ));
    let restated = Restated {
        reasons: fingerprints.reasons(&previous.figures.fingerprints),
        previous_run_id: previous.figures.run_id,
        previous_cur_total: previous.figures.cur_total,
        previous_allocated: previous.figures.allocated,
    };
    Ok((rows, Some(restated)))
}

/// The day's CUR, through the configured engine: its pools, and the Athena
/// query that read them, if one did. A day without a row is exit 3 unless
/// `--allow-empty`.
fn read_cur(plan: &RunPlan, store: &Store, date: NaiveDate, run_id: &str) -> Result<CurRead> {
    let clock = Instant::now();
    let (engine, rules) = cur_reading(plan);
    let (day, scan) = engine.read_day(store, date, run_id, &rules)?;
    let query = scan.query.clone();
    info!(
        stage = "cur", %date, files = scan.files, row_groups_read = scan.row_groups_read,
        row_groups_pruned = scan.row_groups_pruned, rows_scanned = scan.rows_scanned, bytes_fetched = scan.bytes_fetched,
        query_id = query.as_ref().map(|q| q.query_id.as_str()),
        bytes_scanned = query.as_ref().map(|q| q.bytes_scanned),
        scan_cost_usd = query.as_ref().map(|q| crate::model::money::format_usd(q.cost_usd)),
        rows_of_day = day.rows, pools = day.pools.len(), seconds = clock.elapsed().as_secs_f64(), peak_rss_mib = peak_rss_mib(),
        "read the CUR"
    );
    if day.rows == 0 && !plan.allow_empty {
        return Err(Error::NotYet {
            path: cur_name(plan).into(),
            message: format!(
                "no CUR row for {date} ({} rows in {} files, {} row groups of other days pruned): the export may not be delivered yet, or [cur] path is wrong; pass --allow-empty to publish an empty day",
                scan.rows_scanned, scan.files, scan.row_groups_pruned
            ),
        });
    }
    let notes = basis_notes(plan, &scan);
    Ok(CurRead { day, query, notes })
}

/// What the run report says about how the CUR's costs were taken: the
/// net-amortized basis on a CUR without `_net_` columns is the amortized
/// one (no discount to net out), said once, as a warning and a note.
pub(crate) fn basis_notes(plan: &RunPlan, scan: &CurScan) -> Vec<String> {
    if plan.cost_basis != CostBasis::NetAmortized
        || scan.files == 0
        || scan.files_with_net_columns > 0
    {
        return Vec::new();
    }
    let note = format!(
        "cost basis net-amortized: the CUR has no _net_ column (in {} files read), so every cost is the amortized one",
        scan.files
    );
    tracing::warn!(stage = "cur", "{note}");
    vec![note]
}

/// The day's transactions from the logs, every line counted (exit 3 when
/// the counters do not add up, or when no transaction is found unless
/// `--allow-empty`).
fn read_logs(
    plan: &RunPlan,
    store: &Store,
    (date, run_id): (NaiveDate, &str),
    keys: &UnitKeys,
    progress: &dyn Progress,
) -> Result<(LogDay, Option<QueryStats>)> {
    let clock = Instant::now();
    let reader = LogReader {
        format: plan.log_format,
        fields: &plan.fields,
        date,
        calendar: plan.calendar,
        catalog: &plan.catalog,
        keys,
        allow_corrupt_input: plan.allow_corrupt_input,
        max_line_bytes: plan.max_line_bytes,
    };
    let sources = log_sources(plan, date);
    let (logs, query) = match &plan.logs_athena {
        Some(athena) => {
            let (logs, query) = reader.read_athena(store, athena, &sources, run_id)?;
            (logs, Some(query))
        }
        None => (
            reader.read(store, &sources, plan.max_objects_in_flight, progress)?,
            None,
        ),
    };
    let c = &logs.counters;
    if !c.balanced() {
        return Err(Error::input(
            plan.logs_path.to_string(),
            format!("log line counters do not add up: {c:?}"),
        ));
    }
    if logs.transactions.is_empty() && !plan.allow_empty {
        return Err(no_transactions(plan, date, &logs));
    }
    let seconds = clock.elapsed().as_secs_f64();
    info!(
        stage = "logs", %date, files = c.files, mb = c.bytes as f64 / 1e6, lines = c.lines, events = c.events,
        transactions = logs.transactions.len(), out_of_day = c.out_of_day, non_json = c.non_json,
        no_transaction = c.no_transaction, malformed = c.malformed, corrupt_files = c.corrupt_files,
        events_per_second = (c.events as f64 / seconds.max(1e-9)).round(), seconds, peak_rss_mib = peak_rss_mib(),
        engine = engine(&query),
        query_id = query.as_ref().map(|q| q.query_id.as_str()),
        bytes_scanned = query.as_ref().map(|q| q.bytes_scanned),
        scan_cost_usd = query.as_ref().map(|q| crate::model::money::format_usd(q.cost_usd)),
        unloaded_bytes = query.as_ref().map(|q| q.unloaded_bytes),
        "read the logs"
    );
    Ok((logs, query))
}

/// Who read an input: `athena` when a query did, else `local`.
fn engine(query: &Option<QueryStats>) -> &'static str {
    if query.is_some() { "athena" } else { "local" }
}

/// The plan's CUR engine, and how its rows become money and pools.
pub(crate) fn cur_reading(plan: &RunPlan) -> (&dyn CurEngine, cur::RowRules<'_>) {
    let rules = cur::RowRules {
        basis: plan.cost_basis,
        accounts: &plan.accounts,
        calendar: plan.calendar,
        excluded_types: &plan.excluded_types,
        tags: &plan.tags,
        pricing: &plan.pricing,
    };
    let engine: &dyn CurEngine = match &plan.cur {
        CurSource::Files(location) => location,
        CurSource::Athena(athena) => athena,
    };
    (engine, rules)
}

/// The CUR source, as errors name it.
pub(crate) fn cur_name(plan: &RunPlan) -> String {
    match &plan.cur {
        CurSource::Files(location) => location.to_string(),
        CurSource::Athena(a) => format!("athena table {}.{}", a.database, a.table),
    }
}

/// SPEC 2.4: logs that yield no transaction are suspicious. Says what was
/// found, what the first unused line looks like, and the likely cause.
fn no_transactions(plan: &RunPlan, date: NaiveDate, logs: &LogDay) -> Error {
    let c = &logs.counters;
    let sources: Vec<String> = log_sources(plan, date)
        .iter()
        .map(|l| l.to_string())
        .collect();
    let mut message = if c.files == 0 {
        format!("no log files for {date}")
    } else {
        format!(
            "no transaction for {date} in {} lines of {} files ({} events of the day, {} outside it, {} not JSON, {} without {}, {} malformed)",
            c.lines,
            c.files,
            c.events,
            c.out_of_day,
            c.non_json,
            c.no_transaction,
            plan.fields.transaction_id,
            c.malformed
        )
    };
    if let Some(s) = &logs.first_unused {
        message.push_str(&format!(
            "; the first line not used, {}:{}, looks like: {}",
            s.file.display(),
            s.line,
            s.error
        ));
        let export_line = s.error.len() > 25
            && s.error.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && s.error.contains("T")
            && s.error.contains(" {");
        if plan.log_format != crate::config::LogFormat::CloudwatchExport && export_line {
            message.push_str(" (a CloudWatch export line: format = \"cloudwatch-export\"?)");
        }
    }
    message.push_str(
        "; check [logs] path, format and [logs.fields], or pass --allow-empty to publish an empty day",
    );
    Error::NotYet {
        path: sources.join(", ").into(),
        message,
    }
}

/// The run report (`_run_reports/dt=D/report.json`), published with the tables.
fn report_json(outcome: &DayOutcome) -> Vec<u8> {
    let t = &outcome.totals;
    let money = crate::model::money::format_usd;
    let body = serde_json::json!({
        "run": outcome,
        "totals_usd": {
            "cur_total": money(t.cur_total), "allocated": money(t.allocated),
            "unallocated": money(t.unallocated), "excluded": money(t.excluded),
            "excluded_by_type": t.excluded_by_type.iter().map(|(k, v)| (k.clone(), money(*v))).collect::<std::collections::BTreeMap<_, _>>(),
            "out_of_scope_usd": money(t.out_of_scope),
            "out_of_scope_by_account": t.out_of_scope_by_account.iter().map(|(k, v)| (k.clone(), money(*v))).collect::<std::collections::BTreeMap<_, _>>(),
        },
        "cur_rows": t.cur_rows,
        "cur_final": t.cur_final,
        "fingerprints": {
            "cur": outcome.fingerprints.cur, "logs": outcome.fingerprints.logs,
            "pricing_sha256": outcome.fingerprints.pricing, "config_sha256": outcome.fingerprints.config,
        },
    });
    serde_json::to_vec_pretty(&body).expect("serializable")
}
