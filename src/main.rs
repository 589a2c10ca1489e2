//! The `costjob` binary: clap definitions, logging set-up, one validated plan per
//! command, then the library; errors are printed as a chain and mapped to the
//! exit codes of SPEC 6 (0 done, 1 unexpected, 2 usage/config, 3 input, 4 conservation, 5 held by another run).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use costjob::config::{self, Overrides, RunPlan};
use costjob::cost_basis::CostBasis;
use costjob::model::money;
use costjob::storage::Store;
use costjob::{report, run, sample};

/// mimalloc instead of the system allocator: the log stage makes and drops
/// millions of small records on both cores, and the sink frees large column
/// buffers batch after batch, where glibc's free and consolidation took a
/// quarter of the sink's time (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc commits the pages of an arena as its segments take them, not the
/// whole arena when it is reserved (its default on systems that overcommit,
/// as `MIMALLOC_ARENA_EAGER_COMMIT=0` would set it). Set by a constructor, before
/// the first allocation reserves the first arena: set later, the option reaches
/// only arenas reserved after it. What it saves is measured in
/// docs/performance.md (seventh session).
#[cfg(target_os = "linux")]
#[used]
#[allow(unsafe_code)] // a constructor and one mimalloc option, SAFETY below
#[unsafe(link_section = ".init_array")]
static COMMIT_ARENAS_LAZILY: extern "C" fn() = {
    extern "C" fn commit_arenas_lazily() {
        /// `mi_option_arena_eager_commit` in mimalloc 2's `mimalloc.h`, which
        /// libmimalloc-sys does not name.
        const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
        // SAFETY: sets one integer option; it takes no pointer and may run
        // before anything else of mimalloc's has.
        unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) }
    }
    commit_arenas_lazily
};

#[derive(Parser)]
#[command(
    version,
    about = "What each transaction costs on AWS: CUR + application logs -> exact per-transaction cost tables"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Allocate one day (or a range of days) and write the output tables.
    Run(RunArgs),
    /// Bring the open books up to date: run every day of the open billing
    /// periods that was never published or whose inputs changed (the nightly task).
    Refresh(RefreshArgs),
    /// Print the unit cost per flow and the reconciliation of a day already
    /// run, a range per day or month, each flow's cost by AWS service, or the
    /// day's most expensive transactions (as a table, CSV or JSON).
    Report(ReportArgs),
    /// Compare two periods per flow (and AWS service): the change in cost,
    /// split into a volume effect and a rate effect that add up to it exactly.
    Compare(CompareArgs),
    /// Why one transaction cost what it did: every pool that charged it, exactly.
    Explain(ExplainArgs),
    /// Validate the configuration, the pricing models and the flow catalog.
    Check(ConfigArgs),
    /// Write realistic demo inputs (CUR Parquet + CloudWatch export logs) for a day.
    Sample(SampleArgs),
}

#[derive(Args)]
struct ConfigArgs {
    /// The configuration file.
    #[arg(long, env = "COSTJOB_CONFIG", default_value = "costjob.toml")]
    config: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    /// Read CUR Parquet files (local or s3://) with the built-in reader.
    Local,
    /// One Athena UNLOAD per day ([cur] database, table, workgroup, output_location).
    Athena,
}

impl Engine {
    fn name(self) -> String {
        match self {
            Engine::Local => "local",
            Engine::Athena => "athena",
        }
        .to_string()
    }
}

/// One day or a range, for `run` and `report`.
#[derive(Args)]
struct Days {
    /// The UTC day: YYYY-MM-DD, today, yesterday (what the nightly schedule passes) or today-N.
    #[arg(long, value_parser = parse_day, conflicts_with_all = ["from", "to"], required_unless_present = "from")]
    date: Option<NaiveDate>,
    /// First day of a range (inclusive), in the same forms as --date.
    #[arg(long, value_parser = parse_day, requires = "to")]
    from: Option<NaiveDate>,
    /// Last day of a range (inclusive), in the same forms as --date.
    #[arg(long, value_parser = parse_day, requires = "from")]
    to: Option<NaiveDate>,
    /// The most days a range may span (a typo in a year must not run or read decades).
    #[arg(long, default_value_t = 366, value_parser = clap::value_parser!(u32).range(1..))]
    max_days: u32,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    days: Days,
    #[command(flatten)]
    config: ConfigArgs,
    /// Where the CUR is read (overrides [cur] source).
    #[arg(long, value_enum)]
    engine: Option<Engine>,
    /// Who reads the logs (overrides [logs] source): local streams every
    /// object here; athena runs one UNLOAD a day over [logs] database and
    /// table, in [cur]'s workgroup and output location.
    #[arg(long, value_enum)]
    logs_engine: Option<Engine>,
    /// Cost basis (overrides [allocation] cost_basis).
    #[arg(long, value_enum)]
    cost_basis: Option<CostBasis>,
    /// Output root, a directory or s3:// URL (overrides [output] path).
    #[arg(long)]
    output: Option<String>,
    /// Count corrupt or truncated log files instead of failing.
    #[arg(long)]
    allow_corrupt_input: bool,
    /// Publish a day whose logs yield no transaction or whose CUR has no row
    /// for it (otherwise exit 3, the published day left as it was).
    #[arg(long)]
    allow_empty: bool,
    /// Print the CloudWatch metric documents on stdout even when it is a
    /// terminal (by default only when it is not: the task's logs).
    #[arg(long)]
    metrics: bool,
}

#[derive(Args)]
struct RefreshArgs {
    /// First day to consider instead of the open books' first (with --to).
    #[arg(long, value_parser = parse_day, requires = "to")]
    from: Option<NaiveDate>,
    /// Last day to consider instead of yesterday (with --from).
    #[arg(long, value_parser = parse_day, requires = "from")]
    to: Option<NaiveDate>,
    /// Print what would be done for each day, and why; publish nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    config: ConfigArgs,
    /// Where the CUR is read (overrides [cur] source).
    #[arg(long, value_enum)]
    engine: Option<Engine>,
    /// Who reads the logs (overrides [logs] source): local streams every
    /// object here; athena runs one UNLOAD a day over [logs] database and
    /// table, in [cur]'s workgroup and output location.
    #[arg(long, value_enum)]
    logs_engine: Option<Engine>,
    /// Output root, a directory or s3:// URL (overrides [output] path).
    #[arg(long)]
    output: Option<String>,
    /// Count corrupt or truncated log files instead of failing.
    #[arg(long)]
    allow_corrupt_input: bool,
    /// Print the CloudWatch metric documents on stdout even when it is a
    /// terminal (by default only when it is not: the task's logs).
    #[arg(long)]
    metrics: bool,
}

#[derive(Args)]
struct ReportArgs {
    #[command(flatten)]
    days: Days,
    /// `product`: each flow's cost by AWS service, over the day or range;
    /// `month`: a range rolled up by calendar month.
    #[arg(long, value_enum)]
    by: Option<Breakdown>,
    /// How to print: an aligned table, CSV (a header row, exact plain
    /// decimals) or JSON (an array of objects, money as decimal strings).
    #[arg(long, value_enum, default_value = "table", conflicts_with = "html")]
    format: Format,
    /// Write the report as one self-contained HTML page with charts to FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "by")]
    html: Option<PathBuf>,
    /// List the day's N most expensive transactions (with --date).
    #[arg(long, value_name = "N", conflicts_with_all = ["by", "html", "from"], value_parser = clap::value_parser!(u32).range(1..))]
    top: Option<u32>,
    #[command(flatten)]
    config: ConfigArgs,
    /// Output root to read (overrides [output] path).
    #[arg(long)]
    output: Option<String>,
}

#[derive(Args)]
struct ExplainArgs {
    /// The published day: YYYY-MM-DD, today, yesterday or today-N.
    #[arg(long, value_parser = parse_day)]
    date: NaiveDate,
    /// The transaction id.
    #[arg(long)]
    transaction: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArgs,
    /// Output root to read (overrides [output] path).
    #[arg(long)]
    output: Option<String>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Breakdown {
    /// Each flow's cost by AWS service (the CUR's product code).
    #[value(alias = "service")]
    Product,
    /// A range rolled up by calendar month.
    Month,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

impl From<Format> for report::table::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => report::table::Format::Table,
            Format::Csv => report::table::Format::Csv,
            Format::Json => report::table::Format::Json,
        }
    }
}

#[derive(Args)]
struct CompareArgs {
    /// The base period, FIRST:LAST (days in the forms --date takes).
    #[arg(long, value_parser = parse_period, value_name = "FIRST:LAST")]
    base: (NaiveDate, NaiveDate),
    /// The period compared with the base, FIRST:LAST.
    #[arg(long = "with", value_parser = parse_period, value_name = "FIRST:LAST")]
    with_period: (NaiveDate, NaiveDate),
    /// `product`: each flow broken down by AWS service.
    #[arg(long, value_enum)]
    by: Option<CompareBreakdown>,
    /// How to print: table, CSV or JSON.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    config: ConfigArgs,
    /// Output root to read (overrides [output] path).
    #[arg(long)]
    output: Option<String>,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum CompareBreakdown {
    /// Each flow's change by AWS service.
    #[value(alias = "service")]
    Product,
}

/// `2026-11-01:2026-11-15`: a period of days, first to last (at most 366).
fn parse_period(s: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let (first, last) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected FIRST:LAST, such as 2026-11-01:2026-11-15"))?;
    let (first, last) = (parse_day(first)?, parse_day(last)?);
    if first > last {
        return Err(format!("{s:?}: {first} is after {last}"));
    }
    if (last - first).num_days() >= 366 {
        return Err(format!("{s:?}: a period spans at most 366 days"));
    }
    Ok((first, last))
}

#[derive(Args)]
struct SampleArgs {
    /// Directory to write `cur/` and `logs/` into.
    #[arg(long)]
    out: PathBuf,
    /// The UTC day the data is for (the same forms as `run --date`).
    #[arg(long, value_parser = parse_day)]
    date: NaiveDate,
    /// Number of transactions.
    #[arg(long, default_value_t = 2_000)]
    transactions: u64,
    /// Log files (streams) per microservice.
    #[arg(long, default_value_t = 2)]
    streams_per_service: usize,
    /// CUR rows to aim for (0: one per 5 transactions, at least 600).
    #[arg(long, default_value_t = 0)]
    cur_rows: u64,
    /// Seed of the generator: the same seed gives the same files.
    #[arg(long, default_value_t = 20_261_123)]
    seed: u64,
}

/// `YYYY-MM-DD` (a four-digit year, 1000 or later), `today`, `yesterday` or
/// `today-N` (SPEC 6), in UTC, read from the clock here, at the edge.
fn parse_day(value: &str) -> Result<NaiveDate, String> {
    costjob::config::parse_day(value, chrono::Utc::now().date_naive())
}

/// `--date D`, or every day of `--from A --to B` (clap requires one of them).
fn days(days: &Days) -> Result<Vec<NaiveDate>, costjob::Error> {
    match (days.date, days.from, days.to) {
        (Some(d), _, _) => Ok(vec![d]),
        (None, Some(from), Some(to)) if from <= to => {
            let span = (to - from).num_days() + 1;
            if span > i64::from(days.max_days) {
                return Err(costjob::Error::Config(vec![format!(
                    "--from {from} --to {to} spans {span} days, more than --max-days {} allows",
                    days.max_days
                )]));
            }
            Ok(costjob::calendar::each_day(&(from..=to)).collect())
        }
        (None, Some(from), Some(to)) => Err(costjob::Error::Config(vec![format!(
            "--from {from} is after --to {to}"
        )])),
        _ => unreachable!("clap requires --date or --from/--to"),
    }
}

fn main() -> ExitCode {
    // Test builds only: `FAILPOINTS=publish::journaled=return` crashes the run there.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    let interactive = std::io::stderr().is_terminal();
    init_logging(interactive);
    match execute(cli, interactive) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = error
                .downcast_ref::<costjob::Error>()
                .map_or(1, costjob::Error::exit_code);
            eprintln!("error: {error:#}");
            ExitCode::from(code)
        }
    }
}

fn init_logging(interactive: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if interactive {
        builder.compact().init();
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    }
}

/// `COSTJOB_<SECTION>_<KEY>` settings, handed to the library as data.
fn costjob_env() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("COSTJOB_") && k != "COSTJOB_CONFIG")
        .collect()
}

fn load_plan(args: &ConfigArgs, overrides: &Overrides) -> anyhow::Result<RunPlan> {
    Ok(config::load(&args.config, &costjob_env(), overrides)?)
}

/// The plan of a command that reads a published day (`--output` may override the root).
fn load_plan_reading(args: &ConfigArgs, output: &Option<String>) -> anyhow::Result<RunPlan> {
    let overrides = Overrides {
        output: output.clone(),
        ..Default::default()
    };
    load_plan(args, &overrides)
}

fn execute(cli: Cli, interactive: bool) -> anyhow::Result<()> {
    match cli.command {
        Command::Run(args) => run_days(&args, interactive),
        Command::Refresh(args) => refresh(&args, interactive),
        Command::Report(args) => show_report(&args),
        Command::Compare(args) => compare(&args),
        Command::Explain(args) => explain_transaction(&args),
        Command::Check(args) => check(&args),
        Command::Sample(args) => make_sample(&args),
    }
}

/// `costjob run`: each day in turn, its outcome printed (and its metrics
/// where the task's logs go).
fn run_days(args: &RunArgs, interactive: bool) -> anyhow::Result<()> {
    let overrides = Overrides {
        engine: args.engine.map(Engine::name),
        logs_engine: args.logs_engine.map(Engine::name),
        cost_basis: args.cost_basis,
        output: args.output.clone(),
        allow_corrupt_input: args.allow_corrupt_input,
        allow_empty: args.allow_empty,
    };
    let mut plan = load_plan(&args.config, &overrides)?;
    plan.dates = days(&args.days)?;
    let progress = TerminalProgress::new(interactive);
    let store = Store::default();
    for &date in &plan.dates {
        let run_id = run::new_run_id();
        let outcome = run::run_day(&plan, &store, date, &run_id, &progress)
            .with_context(|| format!("run {date}"))?;
        print_outcome(&outcome);
        emit_metrics(&plan, &outcome, args.metrics);
    }
    Ok(())
}

/// CloudWatch Embedded Metric Format: one JSON line per document, at the
/// usage day's timestamp, where the task's logs go (not on a terminal).
fn emit_metrics(plan: &RunPlan, outcome: &run::DayOutcome, forced: bool) {
    let date = outcome.date;
    let day_start_ms = plan.calendar.window(date).start.div_euclid(1000);
    let now_ms = chrono::Utc::now().timestamp_millis();
    if costjob::metrics::too_old(day_start_ms, now_ms) {
        tracing::warn!(
            stage = "metrics", %date,
            "{date} began more than {} days ago, older than CloudWatch accepts: its tables are published, its metrics are not",
            costjob::metrics::MAX_AGE.num_days()
        );
    }
    // Only where the task's logs go: stdout not a terminal (a person reading
    // it on a terminal wants the summary, not metric documents), or asked for.
    if forced || !std::io::stdout().is_terminal() {
        for document in costjob::metrics::emf(outcome, day_start_ms, now_ms) {
            println!("{document}");
        }
    }
}

/// `costjob refresh`: the open books' days, one line each, then a summary;
/// the exit code is the worst day's.
fn refresh(args: &RefreshArgs, interactive: bool) -> anyhow::Result<()> {
    let overrides = Overrides {
        engine: args.engine.map(Engine::name),
        logs_engine: args.logs_engine.map(Engine::name),
        output: args.output.clone(),
        allow_corrupt_input: args.allow_corrupt_input,
        ..Default::default()
    };
    let plan = load_plan(&args.config, &overrides)?;
    let now = chrono::Utc::now();
    let request = costjob::refresh::Request {
        today: plan.calendar.date_of(now.timestamp_micros()),
        days: args.from.zip(args.to),
        dry_run: args.dry_run,
        now_micros: now.timestamp_micros(),
    };
    let progress = TerminalProgress::new(interactive);
    let store = Store::default();
    let mut on_day = |day: &costjob::refresh::DayReport| {
        let line = day.line(args.dry_run);
        println!("{line}");
        tracing::info!(stage = "refresh", date = %day.date, "{line}");
        if let Some(outcome) = &day.outcome {
            print_outcome(outcome);
            emit_metrics(&plan, outcome, args.metrics);
        }
    };
    let report = costjob::refresh::refresh(&plan, &store, &request, &progress, &mut on_day)?;
    let summary = report.summary(args.dry_run);
    println!("{summary}");
    tracing::info!(stage = "refresh", "{summary}");
    Ok(report.result()?)
}

/// `costjob report`: the terminal tables, or the HTML page.
fn show_report(args: &ReportArgs) -> anyhow::Result<()> {
    let plan = load_plan_reading(&args.config, &args.output)?;
    let store = Store::default();
    let days = days(&args.days)?;
    if let Some(file) = &args.html {
        let page = report::html::render(&store, &plan.output, &days)?;
        std::fs::write(file, page).with_context(|| format!("cannot write {}", file.display()))?;
        eprintln!("wrote {}", file.display());
        return Ok(());
    }
    let (store, output) = (&store, &plan.output);
    let tabular = match (args.by, days.as_slice()) {
        _ if args.top.is_some() => {
            let n = args.top.unwrap_or(1) as usize;
            report::top(store, output, days[0], n)?
        }
        (Some(Breakdown::Product), _) => report::by_product(store, output, &days)?,
        (Some(Breakdown::Month), _) => report::range(store, output, &days, report::Period::Month)?,
        (None, [day]) => report::day(store, output, *day)?,
        (None, _) => report::range(store, output, &days, report::Period::Day)?,
    };
    print_tabular(&tabular, args.format);
    Ok(())
}

/// Prints a report; in CSV and JSON its warnings go to stderr (stdout is data).
fn print_tabular(tabular: &report::table::Tabular, format: Format) {
    let format = format.into();
    print!("{}", tabular.render(format));
    if format != report::table::Format::Table && !tabular.warnings.is_empty() {
        eprint!("{}", tabular.warnings.trim_start());
    }
}

/// `costjob compare`.
fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let plan = load_plan_reading(&args.config, &args.output)?;
    let store = Store::default();
    let period = |(first, last)| costjob::calendar::each_day(&(first..=last)).collect::<Vec<_>>();
    let (base, with) = (period(args.base), period(args.with_period));
    let periods = report::compare::Periods {
        base: &base,
        with: &with,
        by_product: args.by == Some(CompareBreakdown::Product),
    };
    let tabular = report::compare::compare(&store, &plan.output, &periods)?;
    print_tabular(&tabular, args.format);
    Ok(())
}

/// `costjob explain`: every pool that charged one transaction.
fn explain_transaction(args: &ExplainArgs) -> anyhow::Result<()> {
    let plan = load_plan_reading(&args.config, &args.output)?;
    let store = Store::default();
    let read = |table| costjob::output::read_day(&store, &plan.output, table, args.date);
    let explanation = costjob::explain::explain(
        args.date,
        &read("transactions")?,
        &read("pools")?,
        &args.transaction,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&explanation)?);
    } else {
        print!("{}", costjob::explain::render(&explanation));
    }
    Ok(())
}

/// `costjob check`: the configuration, the pricing, the output root, and
/// the inputs (each listed, one object of each read).
fn check(args: &ConfigArgs) -> anyhow::Result<()> {
    let plan = load_plan(args, &Overrides::default())?;
    let store = Store::default();
    let findings = costjob::output::root(&store, &plan.output).inspect()?;
    if !findings.is_empty() {
        anyhow::bail!(
            "output {}: {} problem(s):\n  {}",
            plan.output.root,
            findings.len(),
            findings.join("\n  ")
        );
    }
    let now = chrono::Utc::now().timestamp_micros();
    let yesterday = plan
        .calendar
        .date_of(now)
        .pred_opt()
        .unwrap_or(NaiveDate::MIN);
    match costjob::check::inputs(&plan, &store, yesterday) {
        Ok(found) => found.iter().for_each(|line| println!("{line}")),
        Err(problems) => {
            return Err(costjob::Error::Input {
                path: PathBuf::new(),
                message: format!(
                    "{} input problem(s):\n  {}",
                    problems.len(),
                    problems.join("\n  ")
                ),
            }
            .into());
        }
    }
    let rules: usize = plan.pricing.models().iter().map(|m| m.rules.len()).sum();
    println!(
        "{}: ok ({} flows, {} pricing files, {} rules, pricing sha256 {})",
        args.config.display(),
        plan.catalog.flows().len(),
        plan.pricing.models().len(),
        rules,
        plan.pricing.sha256
    );
    Ok(())
}

/// `costjob sample`: demo inputs for a day.
fn make_sample(args: &SampleArgs) -> anyhow::Result<()> {
    let spec = sample::SampleSpec {
        date: args.date,
        transactions: args.transactions,
        streams_per_service: args.streams_per_service,
        cur_rows: args.cur_rows,
        seed: args.seed,
    };
    let summary = sample::generate(&args.out, &spec)?;
    println!(
        "wrote {} ({} CUR rows) and {} log files ({} lines, {} transactions) under {}",
        summary.cur_file.display(),
        summary.cur_rows,
        summary.log_files,
        summary.log_lines,
        summary.transactions,
        args.out.join("logs").display()
    );
    Ok(())
}

fn print_outcome(o: &run::DayOutcome) {
    let t = &o.totals;
    let usd = |v| money::format_usd_rounded(v, 4);
    let out_of_scope = match t.out_of_scope {
        0 => String::new(),
        v => format!(" + out of scope {}", usd(v)),
    };
    println!(
        "{}: {} transactions, {} pools ({} cost); CUR {} = allocated {} + unallocated {} + excluded {}{out_of_scope} USD",
        o.date,
        o.transactions,
        o.pools,
        o.cost_basis,
        usd(t.cur_total),
        usd(t.allocated),
        usd(t.unallocated),
        usd(t.excluded)
    );
    let query = |q: &costjob::source::athena::QueryStats| {
        format!(
            "athena query {}, {} bytes scanned, {} USD",
            q.query_id,
            q.bytes_scanned,
            money::format_usd(q.cost_usd)
        )
    };
    if let Some(q) = &o.cur_query {
        println!("  CUR read by {}", query(q));
    }
    match &o.logs_query {
        Some(q) => println!("  logs read by {}", query(q)),
        None => println!("  logs read here: {} files", o.log_counters.files),
    }
    for note in &o.notes {
        println!("  note: {note}");
    }
    let report = o.files_written.last().map_or("", String::as_str);
    if o.log_counters.malformed > 0 || o.log_counters.corrupt_files > 0 {
        println!(
            "  {} malformed log lines, {} corrupt files: see {report}",
            o.log_counters.malformed, o.log_counters.corrupt_files,
        );
    }
    for file in &o.files_written {
        println!("  wrote {file}");
    }
}

/// A progress bar on a terminal; nothing otherwise.
struct TerminalProgress {
    bar: Option<indicatif::ProgressBar>,
}

impl TerminalProgress {
    fn new(interactive: bool) -> Self {
        Self {
            bar: interactive.then(indicatif::ProgressBar::hidden),
        }
    }
}

impl costjob::Progress for TerminalProgress {
    fn start(&self, stage: &str, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:>6} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_message(stage.to_string());
            bar.set_length(total);
            bar.set_position(0);
            // Drawn only now, with its style set.
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
    fn advance(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }
    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
